"""Hybrid retrieval: dense (vector store) and lexical (BM25) rankings fused by language-weighted RRF."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from assistant.core.models import Chunk, Question, ScoredChunk
from assistant.core.numbers import is_year, join_digit_groups
from assistant.core.ports import ChunkStore, Embedder, LexicalIndex

RRF_K = 60
# A Kyrgyz suffix may be glued on: "750гө", "ITECтин".
_ANCHOR = re.compile(r"(?<![\w.,])(?:\d{2,}(?!\d)|[A-Z]{3,}(?![A-Za-z]))")


@dataclass(frozen=True)
class FusionConfig:
    """How much each retriever counts, per question language (lexical scores are noise across languages)."""

    dense: bool = True
    lexical_weight: Mapping[str, float] = field(default_factory=lambda: {"ky": 1.0, "ru": 0.0, "en": 0.0})
    candidates: int = 30
    same_language_lexical: bool = True
    agreement_window: int = 5
    anchors: bool = True


class HybridRetriever:
    """Ranks chunks by fusing dense similarity with BM25, weighting BM25 by the question's language."""

    def __init__(
        self,
        embedder: Embedder,
        store: ChunkStore,
        lexical: LexicalIndex | None,
        config: FusionConfig | None = None,
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._lexical = lexical
        self.config = config or FusionConfig()

    def retrieve(self, question: Question, k: int) -> list[ScoredChunk]:
        """The k best chunks for the question, best first."""
        cfg = self.config
        dense: list[tuple[Chunk, float]] = []
        if cfg.dense:
            dense = self._store.query(self._embedder.embed_query(question.search_text), cfg.candidates)
        weight = cfg.lexical_weight.get(question.language, 0.0)
        lexical: list[tuple[Chunk, float]] = []
        if self._lexical is not None and weight > 0:
            lexical = self._lexical.search(question.search_text, question.language, cfg.candidates)
            if cfg.same_language_lexical and cfg.dense:
                lexical = [(c, s) for c, s in lexical if c.lang == question.language]
                # When dense retrieval says the answer lies in text of another language (a Kyrgyz question
                # about an English article), same-language keyword hits are noise: scale them down.
                top = dense[: cfg.agreement_window]
                if top and top[0][0].lang != question.language:
                    weight = 0.0
                elif top:
                    weight *= sum(1 for c, _ in top if c.lang == question.language) / len(top)
        fused = fuse(dense, lexical, weight if cfg.dense else 1.0, k=max(k, cfg.candidates))
        return (rank_by_anchors(fused, anchors_of(question.text)) if cfg.anchors else fused)[:k]


def anchors_of(text: str) -> list[str]:
    """Tokens that read the same in every language: numbers of two digits or more (not years), acronyms."""
    return sorted({a for a in _ANCHOR.findall(join_digit_groups(text)) if not is_year(a)})


def rank_by_anchors(ranked: list[ScoredChunk], anchors: list[str]) -> list[ScoredChunk]:
    """Chunks holding every anchor of the question first, each group in its fused order.

    "116 school principals" written in an English question finds the Kyrgyz passage with "116 мектеп
    директору" that dense retrieval ranked low; a passage without the number cannot answer anyway.
    """
    if not anchors:
        return ranked

    wanted = set(anchors)
    holds = [wanted <= set(_ANCHOR.findall(join_digit_groups(sc.chunk.text))) for sc in ranked]
    if not any(holds):
        return ranked
    return [sc for sc, h in zip(ranked, holds, strict=True) if h] + [
        sc for sc, h in zip(ranked, holds, strict=True) if not h
    ]


def fuse(
    dense: list[tuple[Chunk, float]], lexical: list[tuple[Chunk, float]], lexical_weight: float, k: int
) -> list[ScoredChunk]:
    """Reciprocal-rank fusion; ties keep the dense order."""
    chunks: dict[str, Chunk] = {}
    scores: dict[str, float] = {}
    dense_rank: dict[str, int] = {}
    lexical_rank: dict[str, int] = {}
    similarity: dict[str, float] = {}
    for rank, (chunk, sim) in enumerate(dense, start=1):
        chunks[chunk.id] = chunk
        dense_rank[chunk.id] = rank
        similarity[chunk.id] = sim
        scores[chunk.id] = 1.0 / (RRF_K + rank)
    for rank, (chunk, _score) in enumerate(lexical, start=1):
        chunks.setdefault(chunk.id, chunk)
        lexical_rank[chunk.id] = rank
        scores[chunk.id] = scores.get(chunk.id, 0.0) + lexical_weight / (RRF_K + rank)
    order = sorted(scores, key=lambda cid: (-scores[cid], dense_rank.get(cid, 10**6)))
    return [
        ScoredChunk(
            chunk=chunks[cid],
            score=scores[cid],
            dense_rank=dense_rank.get(cid),
            lexical_rank=lexical_rank.get(cid),
            dense_similarity=similarity.get(cid),
        )
        for cid in order[:k]
    ]
