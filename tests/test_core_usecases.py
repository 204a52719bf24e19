"""Asking in a conversation: validated before any work, the question read once, answered, and recorded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from assistant.core import pipeline, usecases
from assistant.core.errors import InvalidInput, NotFound
from assistant.core.models import Answer, Question
from assistant.core.ports import Recorded, Vector
from assistant.core.usecases import AskInConversation


class Answering:
    """Answers every question the same way and keeps the questions it was given, as read."""

    max_question_chars = 100

    def __init__(self) -> None:
        self.answered: list[Question] = []
        self.embedded: list[Question] = []

    def answer(self, question: Question) -> Answer:
        self.answered.append(question)
        return Answer(language=question.language, refused=True)

    def question_vector(self, question: Question) -> Vector:
        self.embedded.append(question)
        return np.zeros(4, dtype=np.float32)


class Conversations:
    """One conversation, "c1", holding one earlier question; records what it is given."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str | None, str, str]] = []

    def history(self, conversation_id: str, owner: str) -> list[str]:
        if conversation_id != "c1":
            raise NotFound("no such conversation")
        return ["Орусияда канча орун бар?"]

    def record(
        self, conversation_id: str | None, owner: str, question: str, answer: Answer, question_vector: Vector
    ) -> Recorded:
        self.recorded.append((conversation_id, owner, question))
        return Recorded(conversation_id or "c2", "a1", {"refused": answer.refused})


def test_a_question_is_read_once_answered_and_recorded_with_its_history(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Sequence[str]] = []
    real = pipeline.make_question

    def counting(text: str, language: None = None, max_chars: int = 100, history: Sequence[str] = ()) -> Question:
        calls.append(history)
        return real(text, language, max_chars, history)

    monkeypatch.setattr(usecases, "make_question", counting)
    answering, conversations = Answering(), Conversations()
    asked = AskInConversation(answering, conversations)("Здравствуйте!  А в Казахстане?", None, "c1", "u")
    assert calls == [["Орусияда канча орун бар?"]]  # read once, with the conversation's history
    (question,) = answering.answered
    assert answering.embedded == [question] and question.previous == "Орусияда канча орун бар?"
    assert question.text == "А в Казахстане?"
    assert conversations.recorded == [("c1", "u", "Здравствуйте! А в Казахстане?")]  # kept as the user wrote it
    assert (asked.conversation_id, asked.answer_id, asked.answer.refused) == ("c1", "a1", True)
    assert asked.kept == {"refused": True}  # the answer as kept, handed on rather than rendered again


def test_bad_input_is_refused_before_the_conversation_is_looked_up() -> None:
    answering, conversations = Answering(), Conversations()
    ask = AskInConversation(answering, conversations)
    with pytest.raises(InvalidInput):
        ask(" ", None, "unknown", "u")  # a 422, not the unknown conversation's 404
    with pytest.raises(NotFound):
        ask("Канча?", None, "unknown", "u")
    assert answering.answered == [] and conversations.recorded == []
