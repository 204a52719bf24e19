"""The one visible question-answering pipeline: validate → detect language → retrieve → answer."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace

from assistant.core.errors import InvalidInput
from assistant.core.language import detect_language
from assistant.core.models import Answer, Language, Question
from assistant.core.ports import AnswerGenerator, Retriever

MAX_QUESTION_CHARS = 1000


# Pronouns and openers that make a question lean on the previous one ("Алардын ичинен…", "А в Казахстане?").
_ANAPHORA = re.compile(
    r"\b(алардын|аларды|алар|анын|ошол|ошолордун|андан|ал эми|из них|их|них|этого|этих|там|а в|а для|а как|а сколько"
    r"|of them|of those|those|them|that|these|there|it|its|and in|and for|what about|how about)\b",
    re.IGNORECASE,
)
_SHORT_FOLLOWUP_WORDS = 4


def is_followup(text: str) -> bool:
    """Whether a question is elliptical and needs the previous turn to be understood."""
    return bool(_ANAPHORA.search(text)) or len(text.split()) <= _SHORT_FOLLOWUP_WORDS


def make_question(
    text: str,
    language: Language | None = None,
    max_chars: int = MAX_QUESTION_CHARS,
    history: Sequence[str] = (),
) -> Question:
    """Validate a raw question, attach its language (given, or detected) and, for a follow-up, the last turn."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the question is empty")
    text = " ".join(text.split())
    if len(text) > max_chars:
        raise InvalidInput(f"the question is too long ({len(text)} characters; the limit is {max_chars})")
    previous = next((h for h in reversed(history) if h and h.strip()), None)
    return Question(
        text=text,
        language=language or detect_language(text),
        previous=" ".join(previous.split()) if previous and is_followup(text) else None,
    )


def answer_question(question: Question, *, retriever: Retriever, generator: AnswerGenerator, k: int) -> Answer:
    """Retrieve the k best chunks and write a cited answer (or a refusal), with timings."""
    started = time.perf_counter()
    chunks = retriever.retrieve(question, k)
    retrieved = time.perf_counter()
    answer = generator.generate(question, chunks)
    done = time.perf_counter()
    timings = {
        "retrieve": round((retrieved - started) * 1000, 2),
        "answer": round((done - retrieved) * 1000, 2),
        "total": round((done - started) * 1000, 2),
    }
    return replace(answer, timings_ms=timings, retrieved=tuple(chunks))
