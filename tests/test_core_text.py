"""Pure text logic of the core: language id, sentences, question types, answer spans, follow-ups."""

from __future__ import annotations

import pytest

from assistant.core.answering import MULTI_PART, find_span, question_type, specific_names
from assistant.core.errors import InvalidInput
from assistant.core.followup import is_followup
from assistant.core.language import detect_language
from assistant.core.lexicon import concepts_in, skeleton
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
def test_question_type(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_count_span_prefers_the_counted_noun_and_skips_years_and_references() -> None:
    sentence = "2022-2023-жылдары 1084 мектеп директору дайындалган, 1 447 717 окуучу окуду [5]."

    def pupils(words: list[str]) -> float:
        return 1.0 if any(w.startswith("окуучу") for w in words) else 0.0

    span, strength = find_span(sentence, "count", pupils)
    assert span is not None and sentence[span[0] : span[1]] == "1 447 717" and strength == 1.0
    span, strength = find_span("Булар [5] жана 2019-жылы.", "count")
    assert span is None and strength == 0.0


def test_count_span_reads_the_numbers_own_clause_and_breaks_ties_by_question_words() -> None:
    sentence = "Камтуу 2350 мектепте (мамлекеттик -2164, менчик-186 мектеп) болду."

    def private_schools(words: list[str]) -> float:
        shared = sum(w.startswith(("мектеп", "менчик")) for w in words)
        return (1.0 + 0.01 * shared) if any(w.startswith("мектеп") for w in words) else 0.0

    span, strength = find_span(sentence, "count", private_schools)
    assert span is not None and sentence[span[0] : span[1]] == "186" and strength == 1.0


def test_count_span_keeps_units_and_number_words() -> None:
    span, _ = find_span("ай сайын 25 миң сомго чейин стипендия", "count")
    assert span is not None and "ай сайын 25 миң сомго"[span[0] : span[1]] == "25 миң"
    sentence = "Кыргызстандын жети облусунун жети мамлекеттик жогорку окуу жайларынын ректорлору кол коюшкан."
    span, strength = find_span(sentence, "count", lambda words: 1.0 if "жогорку" in words else 0.0)
    assert span is not None and sentence[span[0] : span[1]] == "жети" and strength == 1.0


def test_percent_questions_take_the_number_written_with_a_percent_sign() -> None:
    sentence = "1834 бала бакчада 220 миң бала, бардык балдардын 26,4% түздү, бул 2,5 пайыз көп."
    span, strength = find_span(sentence, "count", lambda words: 0.7, percent=True)
    assert span is not None and sentence[span[0] : span[1]] == "26,4%" and strength == 1.0
    span, strength = find_span("1834 бала бакчада 220 миң бала.", "count", lambda words: 0.7, percent=True)
    assert strength <= 0.3


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
    span, _ = find_span(sentence, "date")
    assert span is not None and sentence[span[0] : span[1]] == "1996-жылы"
    sentence = "Орусия Федерациясынын илим жана жогорку билим берүү министри Валерий Фальков менен жолугушту."
    span, _ = find_span(sentence, "who")
    assert span is not None and sentence[span[0] : span[1]] == "Валерий Фальков"


def test_specific_names_skip_question_openers_but_keep_acronyms() -> None:
    assert specific_names("Какая ежемесячная стипендия по программе DAAD?") == ["DAAD"]
    assert specific_names("Эразмус+ программасы боюнча ай сайын канча стипендия төлөнөт?") == ["Эразмус"]
    assert specific_names("Сколько бюджетных мест в вузах России?") == []


def test_cross_lingual_concepts_and_name_skeletons() -> None:
    assert {"orphan", "place"} <= concepts_in("How many places are for orphans?")
    assert {"orphan", "place"} <= concepts_in("50 орун жетим балдарга бөлүнмөкчү")
    assert {"place", "university", "russia"} <= concepts_in("skolko mest v vuzah rossii")
    assert skeleton("Falkov")[:5] == skeleton("Фальков")[:5]
    assert skeleton("Beishenaliev")[:5] == skeleton("Бейшеналиев")[:5]


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
