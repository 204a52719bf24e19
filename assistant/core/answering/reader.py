"""The trained reader as a scorer: the fitted ranker picks the candidates worth reading, a `PairReader` (a
cross-encoder that compares the question with each sentence jointly) re-ranks them and says how likely it is that
none of them answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from assistant.core.answering.candidates import Candidate
from assistant.core.answering.reading import Asked
from assistant.core.answering.scoring import FittedScorer
from assistant.core.answering.spans import Span

# The reader's probability that no candidate answers, kept with the candidates it read (one question's state
# travels with its candidates: a scorer serves many questions at once).
NO_ANSWER = "reader_no_answer"


class PairReader(Protocol):
    """Reads a question against passages ("title. sentence") jointly."""

    def read(
        self, question: str, passages: Sequence[str], cosines: Sequence[float], priors: Sequence[float]
    ) -> tuple[list[float], float]:
        """Each passage's probability of answering the question, and the probability that none does, given their e5
        cosines to the question and the fitted ranker's probabilities (`priors`)."""
        ...


def passage_text(candidate: Candidate) -> str:
    """A candidate as the reader was trained to see it: its document's title, then the sentence."""
    title = candidate.scored.chunk.title
    return f"{title}. {candidate.sentence.text}" if title else candidate.sentence.text


class ReaderScorer:
    """The fitted ranker's best `top` candidates re-ranked by the reader; answerability is the reader's; the lead
    span is the fitted span model's pick in the reader's best sentence; refuses below `threshold`."""

    name = "reader"

    def __init__(self, first: FittedScorer, reader: PairReader, top: int, threshold: float | None) -> None:
        self.first = first
        self.reader = reader
        self.top = top
        self.policy = replace(first.policy, threshold=threshold)

    def rank(self, asked: Asked, candidates: list[Candidate]) -> list[Candidate]:
        """The fitted order, its head re-ranked by the reader (the rest keep their place, after the head)."""
        ranked = self.first.rank(asked, candidates)
        head, rest = ranked[: self.top], ranked[self.top :]
        if not head:
            return ranked
        probabilities, none = self.reader.read(
            asked.question.search_text,
            [passage_text(c) for c in head],
            [c.features.get("cos", 0.0) for c in head],
            [c.probability for c in head],
        )
        answered = max(1e-9, 1.0 - none)
        for candidate, probability in zip(head, probabilities, strict=True):
            candidate.probability = probability / answered  # a share among the sentences read, like the fitted one
            candidate.features[NO_ANSWER] = none
        for candidate in rest:
            candidate.probability = 0.0
        head.sort(key=lambda c: (-c.probability, c.rank, c.sentence.start))
        return [*head, *rest]

    def lead_span(self, asked: Asked, candidate: Candidate, answerability: float | None) -> tuple[Span | None, float]:
        """The fitted span model's pick in the sentence the reader chose."""
        return self.first.lead_span(asked, candidate, answerability)

    def answerability(self, asked: Asked, ranked: Sequence[Candidate]) -> float | None:
        """One minus the reader's probability that none of the sentences it read answers."""
        if not ranked or NO_ANSWER not in ranked[0].features:
            return None
        return 1.0 - ranked[0].features[NO_ANSWER]
