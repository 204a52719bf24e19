"""The floor every answerer is measured against: the sentences most similar to the question, nothing else."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.models import Answer, Citation, Question, ScoredChunk
from assistant.core.ports import SentenceSimilarity
from assistant.core.sentences import split_sentences

_HAS_WORD = re.compile(r"\w{2}")


class CosinePicker:
    """Quotes the `sentences` sentences of the top `chunks` chunks with the highest e5 cosine to the question.

    No lead, no refusal (unless nothing was retrieved): a floor, not a product.
    """

    def __init__(self, similarity: SentenceSimilarity, chunks: int = 4, sentences: int = 2) -> None:
        self._similarity = similarity
        self._chunks = chunks
        self._sentences = sentences

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer:
        """Answer from the given chunks (best first)."""
        seen: set[tuple[str, int]] = set()
        candidates: list[tuple[ScoredChunk, int, int, str]] = []  # chunk, start, end (in the document), text
        for scored in chunks[: self._chunks]:
            chunk = scored.chunk
            for sentence in split_sentences(chunk.text, offset=chunk.start):
                key = (chunk.document_id, sentence.start)
                if key not in seen and _HAS_WORD.search(sentence.text):
                    seen.add(key)
                    candidates.append((scored, sentence.start, sentence.end, sentence.text))
        if not candidates:
            return Answer(language=question.language, refused=True, retrieved=tuple(chunks))
        # Each sentence is embedded under its document's title, as e5 passages usually are ("title. text").
        cosines = self._similarity.similarities(question.search_text, [(c[0].chunk, c[3]) for c in candidates])
        best = sorted(range(len(candidates)), key=lambda i: -cosines[i])[: self._sentences]
        chosen = sorted(best, key=lambda i: (candidates[i][0].chunk.document_id, candidates[i][1]))
        citations = tuple(
            Citation(
                index=n,
                document=candidates[i][0].chunk.document_id,
                title=candidates[i][0].chunk.title,
                chunk_id=candidates[i][0].chunk.id,
                quote=candidates[i][3],
                start=candidates[i][1],
                end=candidates[i][2],
                score=round(cosines[i], 4),
                url=candidates[i][0].chunk.url,
                date=candidates[i][0].chunk.date,
            )
            for n, i in enumerate(chosen, start=1)
        )
        return Answer(language=question.language, refused=False, citations=citations, retrieved=tuple(chunks))
