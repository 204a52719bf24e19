"""Assembly: the one way an answer is built from chosen sentences — quotes in reading order (adjacent sentences
of a chunk merged), the lead span highlighted inside its quote, citations numbered from 1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from assistant.core.answering.candidates import Candidate
from assistant.core.answering.spans import Span
from assistant.core.models import Answer, Citation, Language, Lead, ScoredChunk, paragraph_around


def assemble(
    language: Language,
    chosen: Sequence[Candidate],
    lead_span: Span | None,
    confidence: float | None,
    chunks: Sequence[ScoredChunk],
) -> Answer:
    """The answer quoting `chosen` (the first is the best; `lead_span` lies in it)."""
    best = chosen[0]
    ordered = sorted(chosen, key=lambda c: (c.scored.chunk.document_id, c.sentence.start))
    citations: list[Citation] = []
    lead: Lead | None = None
    for cand in ordered:
        highlight = (lead_span.start, lead_span.end) if cand is best and lead_span is not None else None
        chunk = cand.scored.chunk
        if citations and citations[-1].chunk_id == chunk.id and 0 < cand.sentence.start - citations[-1].end <= 3:
            prev = citations[-1]
            gap = chunk.text[prev.end - chunk.start : cand.sentence.start - chunk.start]
            if highlight is not None:
                offset = len(prev.quote) + len(gap)
                highlight = (offset + highlight[0], offset + highlight[1])
            context, context_quote = paragraph_around(chunk, prev.start, cand.sentence.end)
            citations[-1] = replace(
                prev,
                quote=prev.quote + gap + cand.sentence.text,
                end=cand.sentence.end,
                highlight=prev.highlight or highlight,
                context=context,
                context_quote=context_quote,
            )
        else:
            span = (cand.sentence.start, cand.sentence.end, cand.sentence.text)
            citations.append(Citation.quoting(chunk, len(citations) + 1, span, round(cand.probability, 4), highlight))
        if cand is best and lead_span is not None:
            lead = Lead(text=lead_span.text, citation=citations[-1].index)
    return Answer(
        language=language,
        refused=False,
        lead=lead,
        citations=tuple(citations),
        confidence=confidence,
        retrieved=tuple(chunks),
    )


def refusal(language: Language, confidence: float | None, chunks: Sequence[ScoredChunk]) -> Answer:
    """The "not in the documents" answer, in the question's language."""
    return Answer(language=language, refused=True, confidence=confidence, retrieved=tuple(chunks))
