"""Greetings, politeness and thanks around a question are taken off before it is read; the question stays."""

from __future__ import annotations

import pytest

from assistant.core.pipeline import make_question
from assistant.core.pleasantries import strip_pleasantries


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Здравствуйте! Сколько бюджетных мест выделено?", "Сколько бюджетных мест выделено?"),
        ("Добрый день. Вопрос: сколько мест?", "Сколько мест?"),
        ("подскажите пожалуйста, сколько мест?", "Сколько мест?"),
        ("Извините за беспокойство. Когда подписали протокол?", "Когда подписали протокол?"),
        ("Привет) Кто подписал протокол?", "Кто подписал протокол?"),
        ("Сколько мест? Заранее спасибо.", "Сколько мест?"),
        ("Саламатсызбы! Канча орун бар?", "Канча орун бар?"),
        ("Саламатсызбы, бир суроом бар эле. Канча орун бар?", "Канча орун бар?"),
        ("Кечиресиз, билгим келет: канча орун бар?", "Канча орун бар?"),
        ("Ассалоому алейкум! Канча орун бар? Рахмат.", "Канча орун бар?"),
        ("Канча орун бар? Алдын ала рахмат!", "Канча орун бар?"),
        ("Hi there! How many places are there?", "How many places are there?"),
        ("hello, quick question - how many places?", "How many places?"),
        ("Sorry to bother you, but who signed it?", "Who signed it?"),
        ("Hello! I was wondering: who signed it?", "Who signed it?"),
        ("Good morning. Who signed it? Thanks in advance!", "Who signed it?"),
    ],
)
def test_greetings_politeness_and_thanks_are_taken_off(text: str, question: str) -> None:
    assert strip_pleasantries(text) == question


@pytest.mark.parametrize(
    "text",
    [
        "Вопрос о квотах решён?",  # "вопрос" is the subject here, not an announcement
        "Коллеги из Оша приедут?",
        "Сколько мест?",
        "Hello",  # nothing but a greeting: kept, so the message still says something
        "Саламатсызбы",
        "Thanks",
    ],
)
def test_a_question_without_pleasantries_or_with_nothing_else_is_kept(text: str) -> None:
    assert strip_pleasantries(text) == text


def test_make_question_reads_the_question_without_its_greeting_and_so_does_a_followup() -> None:
    bare = make_question("Сколько бюджетных мест выделено в вузах России?")
    greeted = make_question("Здравствуйте! Сколько бюджетных мест выделено в вузах России? Спасибо")
    assert greeted == bare
    followup = make_question("А в Казахстане?", history=["Здравствуйте! Сколько мест в России?"])
    assert followup.previous == "Сколько мест в России?"
