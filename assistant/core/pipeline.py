"""The one visible question-answering pipeline: validate → detect language → retrieve → rerank → answer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from assistant.core.errors import InvalidInput, NotAQuestion
from assistant.core.followup import is_followup
from assistant.core.language import detect_language
from assistant.core.models import Answer, Language, Question
from assistant.core.pleasantries import strip_pleasantries
from assistant.core.ports import AnswerGenerator, Reranker, Retriever

MAX_QUESTION_CHARS = 1000


NO_WORDS = "please ask a question: this one has only emoji, punctuation or invisible characters"


def has_words(text: str) -> bool:
    """Whether a text holds a letter or a digit: emoji, punctuation and zero-width characters alone ask nothing."""
    return any(ch.isalnum() for ch in text)


def clean_question(text: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """A raw question with its runs of whitespace collapsed, or the error that says why it is no question."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the question is empty")
    text = " ".join(text.split())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"the question is not valid Unicode (a lone surrogate at position {exc.start})") from exc
    if not has_words(text):
        raise NotAQuestion(NO_WORDS)
    if len(text) > max_chars:
        raise InvalidInput(f"the question is too long ({len(text)} characters; the limit is {max_chars})")
    return text


def make_question(
    text: str,
    language: Language | None = None,
    max_chars: int = MAX_QUESTION_CHARS,
    history: Sequence[str] = (),
) -> Question:
    """Validate a raw question, attach its language (given, or detected) and, for a follow-up, the last turn."""
    # "Здравствуйте! Сколько мест?" asks what "Сколько мест?" does.
    text = strip_pleasantries(clean_question(text, max_chars))
    previous = next((h for h in reversed(history) if h and h.strip()), None)
    if previous:
        previous = strip_pleasantries(" ".join(previous.split()))
    return Question(
        text=text,
        language=language or detect_language(text),
        previous=previous if previous and is_followup(text) else None,
        history=tuple(" ".join(h.split()) for h in history if h and h.strip()),
    )


def answer_question(
    question: Question,
    *,
    retriever: Retriever,
    generator: AnswerGenerator,
    k: int,
    reranker: Reranker | None = None,
) -> Answer:
    """Retrieve the k best chunks, let the reranker reorder them, and write a cited answer (or a refusal)."""
    started = time.perf_counter()
    chunks = retriever.retrieve(question, k)
    if reranker is not None:
        chunks = reranker.rerank(question, chunks)
    retrieved = time.perf_counter()
    answer = generator.generate(question, chunks)
    done = time.perf_counter()
    timings = {
        "retrieve": round((retrieved - started) * 1000, 2),
        "answer": round((done - retrieved) * 1000, 2),
        "total": round((done - started) * 1000, 2),
    }
    return replace(answer, timings_ms=timings, retrieved=tuple(chunks))
