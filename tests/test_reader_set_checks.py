"""The reader training set's checker rejects what it should: copied questions, non-verbatim evidence, present terms."""

from __future__ import annotations

from typing import Any

from eval.reader_set import language_error, row_errors, set_errors, sources_from

ARTICLE = {
    "id": "a1",
    "labels": "politics",
    "text": "Бишкекте жаңы мектеп ачылды. Анда 1200 окуучу окуйт.\nМектепти курууга 300 миллион сом жумшалды.",
}
SOURCES = sources_from([ARTICLE])


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "x1",
        "lang": "ru",
        "question": "Сколько учеников будет учиться в новой школе?",
        "kind": "count",
        "source": "a1",
        "answerable": True,
        "evidence": ["Анда 1200 окуучу окуйт."],
        "answer": "1200",
        "style": [],
    }
    return {**base, **changes}


def test_a_good_answerable_row_passes() -> None:
    assert row_errors(row(), SOURCES) == []


def test_evidence_must_be_verbatim_but_may_cross_a_line_break() -> None:
    across = "Анда 1200 окуучу окуйт. Мектепти курууга 300 миллион сом жумшалды."
    assert row_errors(row(evidence=[across]), SOURCES) == []
    assert any("not verbatim" in e for e in row_errors(row(evidence=["Анда 1300 окуучу окуйт."]), SOURCES))


def test_the_answer_must_lie_inside_the_evidence() -> None:
    assert any("not inside the evidence" in e for e in row_errors(row(answer="300 миллион"), SOURCES))


def test_a_question_may_not_copy_five_words_in_a_row() -> None:
    copied = row(lang="ky", question="Мектепти курууга 300 миллион сом канча?")
    assert any("copies 5 words" in e for e in row_errors(copied, SOURCES))


def test_the_absent_term_of_a_near_miss_must_be_absent_even_inflected() -> None:
    near = row(answerable=False, answer=None, absent="Ош", question="Сколько учеников в новой школе в Оше?")
    del near["answer"]
    assert row_errors(near, SOURCES) == []
    assert any("occurs in the source" in e for e in row_errors({**near, "absent": "Бишкек"}, SOURCES))
    assert any("inflected" in e for e in row_errors({**near, "absent": "мектепке"}, SOURCES))


def test_sources_outside_the_allowed_set_are_rejected() -> None:
    assert any("not an allowed source" in e for e in row_errors(row(source="24kg-reserved"), SOURCES))


def test_language_checks_follow_script_and_kyrgyz_markers() -> None:
    assert language_error("en", "How many pupils?", []) is None
    assert language_error("en", "Сколько учеников?", []) is not None
    assert language_error("ky", "Мектепте канча окуучу окуйт?", []) is None
    assert language_error("ky", "Сколько учеников?", []) is not None
    assert language_error("ru", "Мектепте канча окуучу өстү?", []) is not None
    assert language_error("ky", "mektepte kancha okuuchu?", ["translit"]) is None


def test_the_whole_set_needs_size_balance_and_unique_questions() -> None:
    rows = [row(), row(id="x2")]
    errors = set_errors(rows, complete=True)
    assert any("duplicate question" in e for e in errors)
    assert any("fewer than 4000" in e for e in errors)
    assert any("unanswerable" in e for e in errors)
    assert set_errors([row()], complete=False) == []
    assert set_errors([row(), row(id="x2", source="a2")], complete=False) == []  # the same words about another article
