"""Pure text logic of the core: language id, sentences, question types, answer spans, follow-ups."""

from __future__ import annotations

import pytest

from assistant.core.answering.reading import MULTI_PART, answer_type, question_kind
from assistant.core.answering.spans import spans_of_kind, spans_of_type
from assistant.core.errors import InvalidInput
from assistant.core.followup import is_followup
from assistant.core.language import detect_language
from assistant.core.pipeline import make_question
from assistant.core.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?", "ky"),
        ("Алардын ичинен жетимдерге канчасы?", "ky"),  # no Kyrgyz-only letters
        ("Министр квотаны канчага чейин көбөйтүүнү сунуштады?", "ky"),
        ("Сколько бюджетных мест выделяется гражданам Кыргызстана в вузах России?", "ru"),
        ("Кто такой Фальков?", "ru"),
        ("skolko mest v vuzah rossii dlya kyrgyzstancev", "ru"),
        ("How many state-funded places do Russian universities give Kyrgyz citizens?", "en"),
        ("Аннотация: В статье рассматривается проблемы интеграции высшего образование.", "ru"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_sentences_keep_exact_offsets_and_initials() -> None:
    text = "Деди А. Бейшеналиев өз сөзүндө. Жыл сайын 375тин тегерегинде орун бөлүнөт!\n- Биринчи пункт;\n- экинчи."
    sentences = split_sentences(text, offset=10)
    assert [s.text for s in sentences] == [
        "Деди А. Бейшеналиев өз сөзүндө.",
        "Жыл сайын 375тин тегерегинде орун бөлүнөт!",
        "- Биринчи пункт;",
        "- экинчи.",
    ]
    assert all(text[s.start - 10 : s.end - 10] == s.text for s in sentences)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Орусиянын ЖОЖдорунда канча бюджеттик орун бар?", "count"),
        ("Сколько мест?", "count"),
        ("How many teachers?", "count"),
        ("ОшМУнун эл аралык байланыштар бөлүмү качан ачылган?", "date"),
        ("В каком году открыли отдел?", "date"),
        ("When was the protocol signed?", "date"),
        ("Ким протоколго кол койду?", "who"),
        ("Who is the Russian minister of science?", "who"),
        ("Где проходят практику студенты?", "where"),
        ("Что предлагает статья?", "other"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_count_spans_skip_years_and_references_and_keep_units_and_number_words() -> None:
    sentence = "2022-2023-жылдары 1084 мектеп директору дайындалган, 1 447 717 окуучу окуду [5]."
    assert [s.text for s in spans_of_kind(sentence, "count")] == ["1084", "1 447 717"]
    assert spans_of_kind("Булар [5] жана 2019-жылы.", "count") == []
    assert [s.text for s in spans_of_kind("ай сайын 25 миң сомго чейин стипендия", "count")] == ["25 миң"]
    sentence = "Кыргызстандын жети облусунун жети мамлекеттик жогорку окуу жайларынын ректорлору кол коюшкан."
    assert [s.text for s in spans_of_kind(sentence, "count")] == ["жети", "жети"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Окуу акысы канча сом?", "money"),
        ("Сколько стоит обучение в магистратуре?", "money"),
        ("How much is the tuition fee?", "money"),
        ("What is the registration fee for the test?", "money"),
        ("Жатакананын баасы канча?", "money"),
        ("Какая зарплата у учителей?", "money"),
        ("Канча пайыз окуучу тест тапшырды?", "percent"),
        ("What percentage of schools have internet?", "percent"),
        ("How far is the school from the city?", "distance"),
        ("Сколько мест выделено?", "count"),
        ("2023-жылы Орусияда канча бюджеттик орун бар, 375 пайызбы?", "count"),
        ("Когда подписали протокол?", "date"),
        ("Кто подписал протокол?", "person"),
        ("Which organisation funds the project?", "organisation"),
        ("Где учатся студенты?", "place"),
        ("Что предлагает статья?", "passage"),
    ],
)
def test_the_type_of_answer_a_question_expects(question: str, expected: str) -> None:
    assert answer_type(question) == expected


def test_spans_of_a_type_carry_their_currency_sign_or_unit() -> None:
    sentence = "Окуу акысы 80 миң сом, жатакана $50, 120 студент, 30 % жана 12 км."
    assert [s.text for s in spans_of_type(sentence, "count", "money")] == ["80 миң сом", "$50"]
    assert [s.text for s in spans_of_type(sentence, "count", "count")] == ["120", "30 %", "12"]
    assert [s.text for s in spans_of_type(sentence, "count", "percent")] == ["30 %"]
    assert [s.text for s in spans_of_type(sentence, "count", "distance")] == ["12 км"]
    assert [s.text for s in spans_of_type(sentence, "other", "money")] == ["80 миң сом", "$50"]
    assert spans_of_type("Мектепке 640 окуучу барат.", "count", "money") == []


@pytest.mark.parametrize(
    ("question", "multi"),
    [
        ("Өлкөдө жалпы канча мектеп бар, алардын канчасы менчик?", True),
        ("Сколько детей охвачено детскими садами и сколько всего детсадов?", True),
        ("How many workshops and dormitories were renovated?", True),
        ("Кто и когда подписал протокол?", True),
        ("Орусия канча квота берет?", False),
        ("Сколько мест из предложенных 750 пойдут на педагогические специальности?", False),
    ],
)
def test_multi_part_questions_are_recognised(question: str, multi: bool) -> None:
    assert bool(MULTI_PART.search(question)) is multi


def test_date_and_name_spans() -> None:
    sentence = "Ал 1996-жылы октябрь айында ачылып, иштеп келүүдө."
    assert [s.text for s in spans_of_kind(sentence, "date")] == ["1996-жылы октябрь"]
    sentence = "Орусия Федерациясынын илим жана жогорку билим берүү министри Валерий Фальков менен жолугушту."
    assert "Валерий Фальков" in [s.text for s in spans_of_kind(sentence, "who")]


def test_make_question_validates_and_attaches_followup_context() -> None:
    with pytest.raises(InvalidInput):
        make_question("   ")
    with pytest.raises(InvalidInput, match="too long"):
        make_question("а" * 1001)
    q = make_question(
        "Алардын ичинен жетимдерге канчасы?", history=["Министр квотаны канчага чейин көбөйтүүнү сунуштады?"]
    )
    assert q.previous == "Министр квотаны канчага чейин көбөйтүүнү сунуштады?"
    assert q.search_text.startswith("Министр квотаны") and q.language == "ky"
    standalone = make_question(
        "Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?", history=["x y z"]
    )
    assert standalone.previous is None
    assert is_followup("And in Kazakhstan?") and not is_followup("How many teachers work in rural schools of Osh?")
