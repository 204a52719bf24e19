"""BM25 keyword index over the stored chunks, with a Kyrgyz-aware stemmer (Snowball for ru/en)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import bm25s
import numpy as np

from assistant.core.models import Analyzer, Chunk
from vectorstore.stemming import STEMMER_VERSION, analyze


def plain_analyzer(text: str, language: str) -> list[str]:
    """Lowercased whitespace-and-punctuation tokens, no stemming (the ablation baseline)."""
    from vectorstore.stemming import tokenize

    return tokenize(text)


class BM25Index:
    """An in-memory BM25 index; rebuilt from the store, never a second source of truth."""

    def __init__(self, analyzer: Analyzer = analyze) -> None:
        self._analyzer = analyzer
        self._lock = threading.Lock()
        self._chunks: list[Chunk] = []
        self._bm25: bm25s.BM25 | None = None
        self.generation = -1
        self.version = STEMMER_VERSION

    def __len__(self) -> int:
        return len(self._chunks)

    def rebuild(self, chunks: Sequence[Chunk], generation: int) -> None:
        """Replace the index content with these chunks (analysed in each chunk's own language)."""
        corpus = [self._analyzer(c.text, c.lang) or [""] for c in chunks]
        bm25 = bm25s.BM25()
        if chunks:
            bm25.index(corpus, show_progress=False)
        with self._lock:
            self._chunks = list(chunks)
            self._bm25 = bm25 if chunks else None
            self.generation = generation

    def search(self, text: str, language: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25 score for the question analysed in its language (zero scores dropped)."""
        with self._lock:
            bm25, chunks = self._bm25, self._chunks
        tokens = self._analyzer(text, language)
        if bm25 is None or not tokens:
            return []
        known = [t for t in tokens if t in bm25.vocab_dict]
        if not known:
            return []
        scores = np.asarray(bm25.get_scores(known))
        top = np.argsort(-scores)[:k]
        return [(chunks[i], float(scores[i])) for i in top if scores[i] > 0]
