"""The fitted answerer: three small logistic models over generic evidence pick the sentence, the lead span and
whether to answer at all. Their weights come from `python -m eval train` (fit part of the gold set only).

No language model is involved, so an answer only ever quotes the documents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from assistant.core.answer_types import Span
from assistant.core.coverage import Gazetteer
from assistant.core.evidence import (
    ANSWERABLE_FEATURES,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Asked,
    Candidate,
    answerable_features,
    build_candidates,
    counted_phrase,
    read_question,
    span_features,
)
from assistant.core.models import Analyzer, Answer, Chunk, ChunkSentence, Citation, Lead, Question, ScoredChunk
from assistant.core.ports import Vector

# "… канча жана канча …", "how many … and how many …", "кто и когда": one question, several facts.
MULTI_PART = re.compile(
    r"(?:\b(?:жана|и|and|а\s+также)\b|,)\s+(?:\w+\s+){0,3}?(?:канча\w*|сколько|how\s+(?:many|much)|кайсы|какие|каких"
    r"|which|what|who|кто|ким\w*|когда|when|качан|где|where|кайда)"
    r"|\bканча\w*\s+(?:\w+\s+){0,3}?канча\w*"
    r"|(?:\bканча\w*|\bсколько|how\s+(?:many|much))\s+\w+\s+(?:жана|и|and)\s+\w+"
    r"|\b(?:кто|who|ким|когда|when|качан|где|where|кайда)\s+(?:жана|и|and)\s+\w+",
    re.IGNORECASE,
)


class QueryEmbedder(Protocol):
    """Embeds a question (cached by the adapter, so retrieval and the answerer share one embedding)."""

    def embed_query(self, text: str) -> Vector: ...


class SentenceVectors(Protocol):
    """Where each chunk's ingest-time sentence vectors are read."""

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]: ...


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over standardised features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def score(self, values: Mapping[str, float]) -> float:
        """The linear score (log-odds)."""
        return self.intercept + sum(
            c * (values.get(name, 0.0) - m) / s
            for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )

    def probability(self, values: Mapping[str, float]) -> float:
        """P(positive | features)."""
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.score(values)))))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LinearModel:
        """Read the model's part of the weights file."""
        return cls(
            features=tuple(raw["features"]),
            mean=tuple(float(x) for x in raw["mean"]),
            scale=tuple(float(x) for x in raw["scale"]),
            coef=tuple(float(x) for x in raw["coef"]),
            intercept=float(raw["intercept"]),
        )


@dataclass(frozen=True)
class AnswerModel:
    """The three fitted models, the refusal threshold chosen on the fit part, and where they came from."""

    sentence: LinearModel
    span: LinearModel
    answerable: LinearModel
    threshold: float
    span_threshold: float
    second_ratio: float  # quote the runner-up too when its probability is at least this share of the best's
    second_same_document: bool  # … and only from the best sentence's document
    version: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AnswerModel:
        """Read the weights file written by `python -m eval train`; features must match this code's."""
        model = cls(
            sentence=LinearModel.from_json(raw["sentence"]),
            span=LinearModel.from_json(raw["span"]),
            answerable=LinearModel.from_json(raw["answerable"]),
            threshold=float(raw["threshold"]),
            span_threshold=float(raw["span_threshold"]),
            second_ratio=float(raw["second_ratio"]),
            second_same_document=bool(raw["second_same_document"]),
            version=str(raw["version"]),
        )
        for part, names in (
            (model.sentence, SENTENCE_FEATURES),
            (model.span, SPAN_FEATURES),
            (model.answerable, ANSWERABLE_FEATURES),
        ):
            if part.features != names:
                raise ValueError(f"the answer model's features {part.features} are not this code's {names}")
        return model


class CandidateReader:
    """Reads a question once and turns the retrieved chunks' sentences into candidates with features."""

    def __init__(
        self,
        *,
        analyze: Analyzer,
        gazetteer: Gazetteer,
        embedder: QueryEmbedder,
        sentences: SentenceVectors,
        max_chunks: int = 8,
    ) -> None:
        self.analyze = analyze
        self._gazetteer = gazetteer
        self._embedder = embedder
        self._sentences = sentences
        self._max_chunks = max_chunks

    def read(self, question: Question, chunks: Sequence[ScoredChunk]) -> tuple[Asked, list[Candidate]]:
        """The question as read, and the candidates of its top chunks (the query path embeds at most the
        question, which retrieval already did, and what a how-many question counts)."""
        top = list(chunks[: self._max_chunks])
        counted = counted_phrase(question.text)
        asked = read_question(
            question,
            self._embedder.embed_query(question.search_text),
            self._embedder.embed_query(counted) if counted else None,
            self.analyze,
            self._gazetteer,
        )
        found = build_candidates(
            asked, top, self._sentences.sentences([sc.chunk for sc in top]), self.analyze, self._gazetteer
        )
        return asked, found


class FittedAnswerer:
    """Quotes the sentence the fitted model rates best, leads with the span it picks, refuses below threshold."""

    def __init__(
        self,
        model: AnswerModel,
        reader: CandidateReader,
        *,
        min_confidence: float | None = None,
        max_answer_chars: int = 600,
    ) -> None:
        self.model = model
        self.reader = reader
        self.min_confidence = model.threshold if min_confidence is None else min_confidence
        self._max_answer_chars = max_answer_chars

    def candidates(self, question: Question, chunks: Sequence[ScoredChunk]) -> tuple[Asked, list[Candidate]]:
        """The question as read and its candidates, best first by the sentence model."""
        asked, found = self.reader.read(question, chunks)
        rank_candidates(found, [self.model.sentence.score(c.features) for c in found])
        return asked, found

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer:
        """Answer from the given chunks (best first), or refuse with the answerability as confidence."""
        asked, ranked = self.candidates(question, chunks)
        span, span_probability = self.best_span(asked, ranked[0]) if ranked else (None, 0.0)
        confidence = self.model.answerable.probability(answerable_features(asked, ranked))
        if not ranked or confidence < self.min_confidence:
            return Answer(
                language=question.language, refused=True, confidence=round(confidence, 4), retrieved=tuple(chunks)
            )
        chosen = [ranked[0]]
        second = self._second(ranked, multi_part=bool(MULTI_PART.search(question.text)))
        if second is not None:
            chosen.append(second)
        lead_span = span if span is not None and span_probability >= self.model.span_threshold else None
        return self._render(question, chosen, lead_span, round(confidence, 4), chunks)

    def best_span(self, asked: Asked, cand: Candidate) -> tuple[Span | None, float]:
        """The span of the chosen sentence the question asks for, and how sure the span model is."""
        best: tuple[Span | None, float] = (None, 0.0)
        for span in cand.spans:
            probability = self.model.span.probability(span_features(asked, cand, span, self.reader.analyze))
            if probability > best[1]:
                best = (span, probability)
        return best

    def _second(self, ranked: list[Candidate], multi_part: bool) -> Candidate | None:
        """The sentence after a colon ("… the following:"); the runner-up for a question of several parts, or
        when the model rates it nearly as well as the best (the ratio is fitted)."""
        model = self.model
        return second_sentence(
            ranked, multi_part, model.second_ratio, model.second_same_document, self._max_answer_chars
        )

    def _render(
        self,
        question: Question,
        chosen: list[Candidate],
        lead_span: Span | None,
        confidence: float,
        chunks: Sequence[ScoredChunk],
    ) -> Answer:
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
                merged = prev.quote + gap + cand.sentence.text
                if highlight is not None:
                    offset = len(prev.quote) + len(gap)
                    highlight = (offset + highlight[0], offset + highlight[1])
                citations[-1] = replace(
                    prev, quote=merged, end=cand.sentence.end, highlight=prev.highlight or highlight
                )
            else:
                citations.append(
                    Citation(
                        index=len(citations) + 1,
                        document=chunk.document_id,
                        title=chunk.title,
                        chunk_id=chunk.id,
                        quote=cand.sentence.text,
                        start=cand.sentence.start,
                        end=cand.sentence.end,
                        score=round(cand.probability, 4),
                        url=chunk.url,
                        date=chunk.date,
                        highlight=highlight,
                    )
                )
            if cand is best and lead_span is not None:
                lead = Lead(text=lead_span.text, citation=citations[-1].index)
        return Answer(
            language=question.language,
            refused=False,
            lead=lead,
            citations=tuple(citations),
            confidence=confidence,
            retrieved=tuple(chunks),
        )


def second_sentence(
    ranked: Sequence[Candidate], multi_part: bool, ratio: float, same_document: bool, max_chars: int = 600
) -> Candidate | None:
    """Which sentence, if any, is quoted beside the best one (shared by the answerer and its training)."""
    if not ranked:
        return None
    best = ranked[0]
    if best.sentence.text.rstrip().endswith(":"):
        following = [
            c
            for c in ranked
            if c.scored.chunk.document_id == best.scored.chunk.document_id
            and 0 < c.sentence.start - best.sentence.end <= 3
        ]
        if following:
            return following[0]
    document = best.scored.chunk.document_id
    others = [c for c in ranked[1:] if len(best.sentence.text) + len(c.sentence.text) <= max_chars]
    if not multi_part and same_document:
        others = [c for c in others if c.scored.chunk.document_id == document]
    if not others:
        return None
    runner_up = others[0]
    return runner_up if multi_part or runner_up.probability >= ratio * best.probability else None


def rank_candidates(candidates: list[Candidate], scores: Sequence[float]) -> None:
    """Sort candidates best first; each one's probability is its softmax share among the question's candidates
    (the sentence model is fitted on pairs within a question, so only score differences mean something)."""
    if not candidates:
        return
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    for cand, weight in zip(candidates, weights, strict=True):
        cand.probability = weight / total
    candidates.sort(key=lambda c: (-c.probability, c.rank, c.sentence.start))
