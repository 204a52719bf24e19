"""Verification of generated answers: hand-written faithful and unfaithful replies in ky / ru / en against three
numbered passages (pure logic: the real gazetteer, no model)."""

from __future__ import annotations

import pytest

from assistant.core.coverage import Gazetteer
from assistant.core.models import Chunk, Language
from assistant.core.sentences import chunk_sentences
from assistant.core.verification import Passage, Verdict, in_language, renumber, split_claims, verify
from assistant.gazetteer import build_gazetteer
from tests.fakes import FixedSimilarity

KY = (
    "Орусиянын ЖОЖдорунда 2024-жылы кыргызстандыктар үчүн 375 бюджеттик орун бөлүндү. "
    "Алардын 50 орду жетим балдарга берилет. Бул тууралуу министр Алмазбек Бейшеналиев билдирди."
)
RU = (
    "15 марта 2023 года министр просвещения России Сергей Кравцов подписал протокол. "
    "Программа ITEC охватывает 3 тысячи студентов. Доля выпускников составила 26,4%."
)
EN = "Osh State University sent 12 students to India under the ITEC programme. The grant covers 50% of tuition."


def passage(number: int, text: str, lang: Language) -> Passage:
    chunk = Chunk(id=f"c{number}", document_id=f"d{number}", position=0, text=text, start=0, end=len(text), lang=lang)
    return Passage(number=number, chunk=chunk, sentences=tuple(chunk_sentences(chunk)))


PASSAGES = [passage(1, KY, "ky"), passage(2, RU, "ru"), passage(3, EN, "en")]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return build_gazetteer(frozenset({"KG"}))  # as the service builds it: the home country names nothing specific


def check(reply: str, language: Language, gazetteer: Gazetteer, **kwargs: object) -> Verdict:
    return verify(reply, PASSAGES, language, gazetteer, **kwargs)  # type: ignore[arg-type]


FAITHFUL: list[tuple[str, Language]] = [
    ("Орусия 375 бюджеттик орун бөлдү [1].", "ky"),
    ("Алардын 50 орду жетим балдарга берилет [1].", "ky"),
    ("Орусиянын ЖОЖдорунда 375тин ичинен 50 орун жетимдерге берилет [1].", "ky"),
    ("Россия выделила 375 бюджетных мест [1].", "ru"),
    ("Russia allocated 375 state-funded places for Kyrgyz citizens in 2024 [1].", "en"),
    ("Кравцов подписал протокол 15 марта 2023 года [2].", "ru"),
    ("The ITEC programme covers 3,000 students [2].", "en"),
    ("Доля выпускников составила 26.4% [2].", "ru"),
    ("Грант окуу акысынын 50 пайызын жабат [3].", "ky"),
    ("Osh State University sent 12 students to India [3]. Minister Almazbek Beishenaliev reported it [1].", "en"),
    ("Россия выделила 375 мест, а протокол подписан 15 марта [1][2].", "ru"),
    ("Протокол подписал Сергей Кравцов [2].", "ru"),
]

UNFAITHFUL: list[tuple[str, Language, str]] = [
    ("Орусия 400 бюджеттик орун бөлдү [1].", "ky", "unsupported"),  # an invented number
    ("Протокол подписал Иванов [2].", "ru", "unsupported"),  # an invented name in Cyrillic
    ("The protocol was signed by John Smith [2].", "en", "unsupported"),  # an invented name in Latin
    ("Иванов подписал протокол 15 марта [2].", "ru", "unsupported"),  # invented, and first in its sentence
    ("Программа охватывает 3 тысячи студентов [1].", "ru", "unsupported"),  # passage 2's number cited as [1]
    ("Казакстан 375 орун бөлдү [1].", "ky", "unsupported"),  # another country
    ("Доля выпускников составила 62,4% [2].", "ru", "unsupported"),  # an invented percentage
    ("Жетим балдарга 50 пайыз орун берилет [1].", "ky", "unsupported"),  # a count made a percentage
    ("Протокол подписан 15 марта 2022 года [2].", "ru", "unsupported"),  # the wrong year
    ("Орусия 375 орун бөлдү [7].", "ky", "unknown_citation"),  # a marker past the passages
    ("Орусия 375 бюджеттик орун бөлдү.", "ky", "no_citation"),  # no marker at all
    ("Russia allocated 375 places [1].", "ru", "wrong_language"),  # asked in Russian, answered in English
    ("Орусия 375 орун бөлдү [1]. Дагы 100 орун кошулат.", "ky", "uncited"),  # an uncited tail
    ("", "ky", "empty"),
    ("   \n ", "en", "empty"),
    ("[1]", "ky", "no_citation"),  # a marker with no claim
    ("Россия выделила 375 мест [1]" * 100, "ru", "too_long"),
    ("NO ANSWER: not in the documents", "en", "no_citation"),  # malformed refusal
]


@pytest.mark.parametrize(("reply", "language"), FAITHFUL)
def test_a_faithful_reply_passes(reply: str, language: Language, gazetteer: Gazetteer) -> None:
    verdict = check(reply, language, gazetteer)
    assert verdict.ok, verdict.detail


@pytest.mark.parametrize(("reply", "language", "reason"), UNFAITHFUL)
def test_an_unfaithful_or_malformed_reply_fails_with_its_reason(
    reply: str, language: Language, reason: str, gazetteer: Gazetteer
) -> None:
    verdict = check(reply, language, gazetteer)
    assert not verdict.ok and verdict.reason == reason, verdict


def test_a_true_number_attached_to_another_attribute_passes_as_documented(gazetteer: Gazetteer) -> None:
    # The limit the README states: 375 is the whole quota, not the orphans' share, yet both stand in passage 1.
    assert check("Жетим балдарга 375 орун берилет [1].", "ky", gazetteer).ok


def test_each_claim_quotes_the_sentence_that_states_it_with_the_checked_spans(gazetteer: Gazetteer) -> None:
    verdict = check("Россия выделила 375 бюджетных мест [1]. Кравцов подписал протокол [2].", "ru", gazetteer)
    assert verdict.ok
    first, second = verdict.claims
    assert first.passages == (1,) and [q.text for q in first.quotes] == [PASSAGES[0].sentences[0].text]
    quote = first.quotes[0].text
    assert [quote[a:b] for a, b in first.highlights[0]] == ["Орусиянын", "375"]
    assert second.passages == (2,) and "Кравцов" in second.quotes[0].text
    assert [second.quotes[0].text[a:b] for a, b in second.highlights[0]] == ["Кравцов"]


def test_a_claim_joining_two_adjacent_sentences_quotes_both(gazetteer: Gazetteer) -> None:
    verdict = check("Орусия 375 орун бөлдү, анын 50 орду жетимдерге [1].", "ky", gazetteer)
    assert verdict.ok and len(verdict.claims[0].quotes) == 2


def test_two_markers_lend_one_sentence_each(gazetteer: Gazetteer) -> None:
    verdict = check("Россия выделила 375 мест, а протокол подписан 15 марта [1][2].", "ru", gazetteer)
    assert verdict.ok and verdict.claims[0].passages == (1, 2) and len(verdict.claims[0].quotes) == 2


def scores(value: float) -> FixedSimilarity:
    return FixedSimilarity({}, default=value)


def test_a_claim_with_nothing_to_check_needs_a_close_sentence(gazetteer: Gazetteer) -> None:
    reply = "Это поможет выпускникам [2]."
    assert check(reply, "ru", gazetteer).reason == "unsupported"  # no similarity given: nothing vouches for it
    assert check(reply, "ru", gazetteer, similarity=scores(0.3), min_similarity=0.8).reason == "unsupported"
    verdict = check(reply, "ru", gazetteer, similarity=scores(0.9), min_similarity=0.8)
    assert verdict.ok and verdict.claims[0].highlights == ((),)


def test_a_claim_spread_over_sentences_that_are_not_neighbours_fails(gazetteer: Gazetteer) -> None:
    # 375 is in the first sentence of passage 1, the minister in the third: no sentence states both.
    assert check("Алмазбек Бейшеналиев 375 орун бөлүндү деди [1].", "ky", gazetteer).reason == "unsupported"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Протокол подписан 15 марта 2022 года", "ru", True),
        ("Протокол подписан 15 марта 2022 года", "ky", True),  # a detector alone cannot tell: not refused for it
        ("Орусия 375 бюджеттик орун бөлдү", "ru", False),
        ("Орусия 375 бюджеттик орун бөлдү", "ky", True),
        ("Өмүрбек Бабанов подписал протокол", "ru", True),  # Kyrgyz letters in a name only
        ("Russia allocated 375 places", "ky", False),
        ("Россия выделила 375 мест", "en", False),
        ("Osh State University sent 12 students", "en", True),
    ],
)
def test_the_reply_language_is_told_by_script_then_by_kyrgyz_letters(
    text: str, language: Language, expected: bool
) -> None:
    assert in_language(text, language) is expected


def test_claims_are_cut_at_their_markers() -> None:
    claims, rest = split_claims("Бир [1]. Эки [2, 3]. Үч [1] [2] калды")
    assert claims == [("Бир", (1,)), ("Эки", (2, 3)), ("Үч", (1, 2))] and rest.strip() == "калды"


def test_markers_are_renumbered_claim_by_claim() -> None:
    reply = "Бир [3]. Эки [1, 2]. [4] Үч [2][3]."
    assert renumber(reply, [[1], [2, 3], [1]]) == "Бир [1]. Эки [2][3]. Үч [1]."  # "[4]" continued "Эки"
