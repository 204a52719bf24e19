"""The answering kernel: read the question once, turn the top chunks' sentences into candidates, let a scorer
rank them, then quote, lead and refuse by one set of rules for every scorer."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.core.answering.assembly import assemble, refusal
from assistant.core.answering.candidates import Candidate, CandidateReader
from assistant.core.answering.reading import ANSWER_TYPES, Asked
from assistant.core.answering.scoring import Scorer, quoted
from assistant.core.answering.spans import Span
from assistant.core.models import Answer, Question, ScoredChunk

# Answer types whose lead is a span: for these a candidate without such a span cannot state the answer.
SPAN_TYPES = frozenset(ANSWER_TYPES) - {"passage"}


class ExtractiveAnswerer:
    """Quotes the sentences a scorer ranks best, leads with a span of the type the question asks for, and refuses
    when the scorer's answerability is low."""

    def __init__(self, reader: CandidateReader, scorer: Scorer) -> None:
        self.reader = reader
        self.scorer = scorer

    @property
    def name(self) -> str:
        """The scorer's name: what the registry and the evaluation call this answerer."""
        return self.scorer.name

    def candidates(self, question: Question, chunks: Sequence[ScoredChunk]) -> tuple[Asked, list[Candidate]]:
        """The question as read and its candidates, best first by the scorer."""
        asked, found = self.reader.read(question, chunks[: self.scorer.policy.max_chunks])
        return asked, self.scorer.rank(asked, found)

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer:
        """Answer from the given chunks (best first), or refuse."""
        asked, ranked = self.candidates(question, chunks)
        policy = self.scorer.policy
        confidence = self.scorer.answerability(asked, ranked)
        shown = round(confidence, 4) if confidence is not None else None
        if not ranked or (confidence is not None and policy.threshold is not None and confidence < policy.threshold):
            return refusal(question.language, shown, chunks)
        # "How much is tuition?" over passages that state no amount of money cannot be answered, unless the
        # documents otherwise look very much like they answer it.
        if lacks_asked_type(asked, ranked) and confidence is not None and confidence < policy.typeless_threshold:
            return refusal(question.language, shown, chunks)
        chosen = quoted(ranked, asked.multi_part, policy)
        return assemble(question.language, chosen, self._lead(asked, ranked[0], confidence), shown, chunks)

    def _lead(self, asked: Asked, best: Candidate, confidence: float | None) -> Span | None:
        """The span the scorer proposes, when the question asks for a span and the scorer thinks it more likely
        right than not: candidates only hold spans of the asked type, so a money question never leads with a
        count, and an amount from an unrelated sentence is quoted, not put in bold."""
        if asked.expected not in SPAN_TYPES:
            return None
        span, probability = self.scorer.lead_span(asked, best, confidence)
        return span if span is not None and probability >= self.scorer.policy.span_threshold else None


def lacks_asked_type(asked: Asked, candidates: Sequence[Candidate]) -> bool:
    """Whether the question asks for a span (an amount, a date, a name…) that no candidate holds."""
    return asked.expected in SPAN_TYPES and not any(c.spans for c in candidates)
