"""Question kinds, answer spans and coverage of a question's specifics across scripts (pure logic)."""

from __future__ import annotations

import pytest

from assistant.core import coverage as coverage_module
from assistant.core.answering.reading import question_kind
from assistant.core.answering.spans import spans_of_kind
from assistant.core.coverage import Evidence, coverage, specifics, to_latin
from assistant.gazetteer import build_gazetteer

GAZETTEER = build_gazetteer(frozenset({"KG"}))


@pytest.mark.parametrize(
    ("words", "code"),
    [
        (["Орусия", "Орусиянын", "Россия", "России", "Russia", "Russian"], "RU"),
        (["Кытай", "Кытайга", "Китай", "China"], "CN"),
        (["Казакстандын", "Казахстан", "Kazakhstan"], "KZ"),
        (["мартта", "марта", "March", "март"], "M03"),
        (["май", "мая", "майда", "May"], "M05"),
    ],
)
def test_country_and_month_names_map_to_one_code_in_every_language(words: list[str], code: str) -> None:
    assert {GAZETTEER.code(word) for word in words} == {code}


def test_the_home_country_and_common_words_are_no_specifics() -> None:
    assert GAZETTEER.code("Кыргызстан") == GAZETTEER.code("Kyrgyzstan") == "KG" and "KG" in GAZETTEER.implicit
    assert specifics("How many schools does Kyrgyzstan have, says the КР ministry?", GAZETTEER) == []
    assert GAZETTEER.code("may") is None and GAZETTEER.code("May") == "M05"  # English capitalises names
    assert GAZETTEER.code("индивидуальный") is None  # shares "инди" with India, but runs on too long


def test_specifics_are_numbers_codes_and_names_but_not_the_opening_word() -> None:
    found = specifics("Who chairs the OshSU board in Russia since 2019, Mr Beishenaliev?", GAZETTEER)
    assert {(s.kind, s.key, s.words) for s in found} == {
        ("number", "2019", ()),
        ("code", "RU", ()),
        ("name", "oshsu", ("oshsu",)),
        ("name", "mr", ("mr", "beishenaliev")),  # a run of capitalised words is one name, any word names it
    }


def test_coverage_matches_across_scripts_and_inflection() -> None:
    wanted = specifics("How many places did Beishenaliev get in Russia in 2023?", GAZETTEER)
    kyrgyz = Evidence.of("Бейшеналиев Орусиянын ЖОЖдоруна 2023-жылы 375 орун алды.", GAZETTEER)
    assert coverage(wanted, [kyrgyz]) == 1.0
    other_year = Evidence.of("Бейшеналиев Орусиянын ЖОЖдоруна 2021-жылы 375 орун алды.", GAZETTEER)
    assert coverage(wanted, [other_year]) == pytest.approx(2 / 3)
    other_country = Evidence.of("Бейшеналиев Казакстандын ЖОЖдоруна 2023-жылы орун алды.", GAZETTEER)
    assert coverage(wanted, [other_country]) == pytest.approx(2 / 3)
    assert coverage([], [other_country]) == 1.0
    assert to_latin("Ош") == "osh" and to_latin("Шевченко") == "shevchenko"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Орусиянын ЖОЖдорунда канча орун бар?", "count"),
        ("Какой процент детей охвачен?", "count"),
        ("Когда подписали протокол?", "date"),
        ("ОшМУ кайсы жылы ачылган?", "date"),
        ("Who is the Russian minister of science?", "who"),
        ("Кайсы уюм каржылайт?", "who"),
        ("Где прошли курсы?", "where"),
        ("In which city was the title defended?", "where"),
        ("What is the ITEC programme?", "other"),
    ],
)
def test_question_kinds(question: str, kind: str) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("sentence", "kind", "spans"),
    [
        ("Жыл сайын 375тин тегерегинде бюджеттик орундар бөлүнөт.", "count", ["375"]),
        ("2023-жылы 1 447 717 окуучу, 220 миң бала, 26,4% камтылган [5].", "count", ["1 447 717", "220 миң", "26,4%"]),
        ("Бөлүм 1996-жылы октябрда ачылган.", "date", ["1996-жылы октябрда"]),
        ("Протокол 15-мартта кол коюлду.", "date", ["15-мартта"]),
        ("Министр С. Кравцов жана Нурсултан Мейкин уулу жолугушту.", "who", ["С. Кравцов", "Нурсултан Мейкин уулу"]),
        ("Бакудан Бишкекке AstraZeneca вакцинасы келди.", "where", ["Бакудан", "Бишкекке"]),
    ],
)
def test_spans_of_the_asked_kind(sentence: str, kind: str, spans: list[str]) -> None:
    assert [s.text for s in spans_of_kind(sentence, kind)] == spans  # type: ignore[arg-type]


def test_a_passage_is_read_once_while_it_stays_among_the_last_ones_read() -> None:
    gazetteer = build_gazetteer(frozenset({"KG"}))
    text = "Орусияда 2023-жылы 375 орун бар; Beishenaliev 15-мартта келди."
    first = gazetteer.evidence(text)
    assert first == Evidence.of(text, gazetteer) and gazetteer.evidence(text) is first
    assert gazetteer.code("Орусияда") == "RU" == gazetteer.code("Орусияда")  # the cached reading is the same
    for n in range(coverage_module._TEXTS_KEPT + 1):
        gazetteer.evidence(f"text {n}")
    assert gazetteer.evidence(text) is not first and gazetteer.evidence(text) == first  # evicted, read again
