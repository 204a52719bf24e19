"""Scorers: what ranks the candidates, proposes the lead span and estimates answerability for the answering
kernel. `FittedScorer` reads three small logistic models fitted by `python -m eval train` (fit part of the gold
set only); `CosineScorer` is the floor every answerer is measured against (e5 cosine, nothing else).

No language model is involved, so an answer only ever quotes the documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.core.answering.candidates import (
    ANSWERABLE_FEATURES,
    LEAD_FEATURES,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Candidate,
    answerable_features,
    lead_features,
    span_features,
)
from assistant.core.answering.reading import Asked
from assistant.core.answering.spans import Span
from assistant.core.models import Analyzer


@dataclass(frozen=True)
class QuotePolicy:
    """How many sentences an answer quotes: the runner-up beside the best when its probability is at least
    `second_ratio` of the best's (0: always), from the best's document only when `second_same_document`; the answer
    refuses below `threshold` answerability (None: never refuses), and below `typeless_threshold` when no candidate
    holds a span of the type the question asks for."""

    second_ratio: float = 0.0
    second_same_document: bool = False
    unsure_below: float = 0.0  # below this probability of the best, the runner-up is quoted from any document …
    unsure_floor: int = 0  # … or, when above 0, this many of the floor's sentences (most similar to the question)
    threshold: float | None = None
    typeless_threshold: float = 0.0  # refuse below this answerability when no candidate holds the asked type
    span_threshold: float = 0.0  # below this probability that the lead is right, no lead is shown
    max_chunks: int = 8
    max_answer_chars: int = 600


class Scorer(Protocol):
    """Ranks a question's candidates, proposes the lead span of the best one and estimates answerability."""

    name: str
    policy: QuotePolicy

    def rank(self, asked: Asked, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates best first, each with its `probability` among them."""
        ...

    def lead_span(self, asked: Asked, candidate: Candidate, answerability: float | None) -> tuple[Span | None, float]:
        """The span of the candidate the question asks for, and how sure the scorer is that it is the answer."""
        ...

    def answerability(self, asked: Asked, ranked: Sequence[Candidate]) -> float | None:
        """The probability that the candidates answer the question (None: not estimated)."""
        ...


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
    unsure_below: float = 0.0  # … but from any document when the best's probability is below this
    unsure_floor: int = 0  # … or, when above 0, this many of the floor's sentences
    typeless_threshold: float = 0.0  # refuse below this answerability when no candidate holds the asked type
    safe_threshold: float = 0.0  # the highest threshold that refused no answerable fit question out of fold
    lead: LinearModel | None = None  # P(the proposed lead is right); None: the span model's probability decides
    lead_threshold: float = 0.5  # a lead is shown when it is more likely right than wrong
    answer_embedder: str = ""  # the embedder whose cosines it was fitted on ("" not recorded)

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
            unsure_below=float(raw.get("unsure_below", 0.0)),
            unsure_floor=int(raw.get("unsure_floor", 0)),
            typeless_threshold=float(raw.get("typeless_threshold", 0.0)),
            safe_threshold=float(raw.get("safe_threshold", 0.0)),
            lead=LinearModel.from_json(raw["lead"]) if raw.get("lead") else None,
            lead_threshold=float(raw.get("lead_threshold", 0.5)),
            answer_embedder=str(raw.get("answer_embedder", "")),
        )
        for part, names in (
            (model.sentence, SENTENCE_FEATURES),
            (model.span, SPAN_FEATURES),
            (model.answerable, ANSWERABLE_FEATURES),
            *(((model.lead, LEAD_FEATURES),) if model.lead is not None else ()),
        ):
            if part.features != names:
                raise ValueError(f"the answer model's features {part.features} are not this code's {names}")
        return model


class FittedScorer:
    """The fitted models: a pairwise sentence ranker, a span ranker and an answerability model; it refuses below
    `min_confidence`, else below the fitted threshold (`safe`: the one that refused no answerable fit question), and
    with `likely_leads` shows a lead only when the lead model finds it more likely right than wrong."""

    name = "fitted"

    def __init__(
        self,
        model: AnswerModel,
        analyze: Analyzer,
        min_confidence: float | None = None,
        max_chunks: int = 8,
        max_answer_chars: int = 600,
        safe: bool = False,
        likely_leads: bool = False,
    ) -> None:
        # Leads only when the lead model finds them more likely right than wrong (when the weights hold one).
        self._lead_model = model.lead if likely_leads else None
        self.model = model
        self._analyze = analyze
        self.policy = QuotePolicy(
            second_ratio=model.second_ratio,
            second_same_document=model.second_same_document,
            unsure_below=model.unsure_below,
            unsure_floor=model.unsure_floor,
            threshold=(model.safe_threshold if safe else model.threshold) if min_confidence is None else min_confidence,
            typeless_threshold=model.typeless_threshold,
            span_threshold=model.lead_threshold if self._lead_model is not None else model.span_threshold,
            max_chunks=max_chunks,
            max_answer_chars=max_answer_chars,
        )

    def rank(self, asked: Asked, candidates: list[Candidate]) -> list[Candidate]:
        """Sort by the sentence model's score."""
        rank_candidates(candidates, [self.model.sentence.score(c.features) for c in candidates])
        return candidates

    def lead_span(self, asked: Asked, candidate: Candidate, answerability: float | None) -> tuple[Span | None, float]:
        """The candidate's span the span model rates best, and the lead model's probability that it is right (the
        span model's, without a lead model)."""
        chosen, probability, values = best_span(self.model.span, asked, candidate, self._analyze)
        if chosen is None or self._lead_model is None:
            return chosen, probability
        features = lead_features(candidate, values, probability, 1.0 if answerability is None else answerability)
        return chosen, self._lead_model.probability(features)

    def answerability(self, asked: Asked, ranked: Sequence[Candidate]) -> float | None:
        """The answerability model's probability."""
        return self.model.answerable.probability(answerable_features(asked, ranked))


def best_span(
    model: LinearModel, asked: Asked, candidate: Candidate, analyze: Analyzer
) -> tuple[Span | None, float, dict[str, float]]:
    """The candidate's span the span model rates best, its probability and its features (shared with training)."""
    best: tuple[Span | None, float, dict[str, float]] = (None, 0.0, {})
    for span in candidate.spans:
        values = span_features(asked, candidate, span, analyze)
        probability = model.probability(values)
        if probability > best[1]:
            best = (span, probability, values)
    return best


class CosineScorer:
    """The floor: the sentences of the top 4 chunks by e5 cosine to the question (each sentence embedded under its
    document title), two quoted, no lead, no refusal."""

    name = "cosine"
    policy = QuotePolicy(
        second_ratio=0.0, second_same_document=False, threshold=None, max_chunks=4, max_answer_chars=10**6
    )

    def rank(self, asked: Asked, candidates: list[Candidate]) -> list[Candidate]:
        """Sort by cosine."""
        rank_candidates(candidates, [c.features["cos"] * 100 for c in candidates])
        return candidates

    def lead_span(self, asked: Asked, candidate: Candidate, answerability: float | None) -> tuple[Span | None, float]:
        """No lead: a floor, not a product."""
        return None, 0.0

    def answerability(self, asked: Asked, ranked: Sequence[Candidate]) -> float | None:
        """Not estimated: the floor never refuses."""
        return None


def quoted(ranked: Sequence[Candidate], multi_part: bool, policy: QuotePolicy) -> list[Candidate]:
    """The sentences an answer quotes, the best first (shared by the answerer and its training)."""
    if not ranked:
        return []
    best = ranked[0]
    if best.probability < policy.unsure_below and policy.unsure_floor > 0:
        # Unsure of its own pick, the answer also quotes what the floor would: the sentences of the top four chunks
        # most similar to the question.
        floor = sorted((c for c in ranked[1:] if c.rank < 4), key=lambda c: -c.features["cos"])
        return [best, *floor[: policy.unsure_floor]]
    second = second_sentence(ranked, multi_part, policy)
    return [best] if second is None else [best, second]


def second_sentence(ranked: Sequence[Candidate], multi_part: bool, policy: QuotePolicy) -> Candidate | None:
    """Which sentence, if any, is quoted beside the best one."""
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
    # Unsure of the best, quote the runner-up wherever it stands.
    unsure = best.probability < policy.unsure_below
    document = best.scored.chunk.document_id
    others = [c for c in ranked[1:] if len(best.sentence.text) + len(c.sentence.text) <= policy.max_answer_chars]
    if not multi_part and not unsure and policy.second_same_document:
        others = [c for c in others if c.scored.chunk.document_id == document]
    if not others:
        return None
    runner_up = others[0]
    return (
        runner_up if multi_part or unsure or runner_up.probability >= policy.second_ratio * best.probability else None
    )


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
