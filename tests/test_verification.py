"""Verification of generated answers: hand-written faithful and unfaithful replies in ky / ru / en against three
numbered passages (pure logic: the real gazetteer and stemmers, no model; e5 stood in for by fixed scores)."""

from __future__ import annotations

import pytest

from assistant.core.coverage import Gazetteer
from assistant.core.faithfulness import ky_negative, words_of
from assistant.core.language import reply_language
from assistant.core.models import Chunk, Language
from assistant.core.sentences import chunk_sentences
from assistant.core.verification import Passage, Verdict, named_words, renumber, split_claims, verify
from assistant.gazetteer import build_gazetteer
from tests.fakes import FixedSimilarity
from vectorstore.stemming import analyze

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
    return verify(reply, PASSAGES, language, gazetteer, analyze, **kwargs)  # type: ignore[arg-type]


# In the passage's language: every content word must be accounted for by the cited sentences; no e5 needed.
FAITHFUL: list[tuple[str, Language]] = [
    ("Орусия 375 бюджеттик орун бөлдү [1].", "ky"),
    ("Алардын 50 орду жетим балдарга берилет [1].", "ky"),
    ("Орусиянын ЖОЖдорунда 375тин ичинен 50 орун жетимдерге берилет [1].", "ky"),
    ("Кравцов подписал протокол 15 марта 2023 года [2].", "ru"),
    ("Доля выпускников составила 26.4% [2].", "ru"),
    ("Протокол подписал Сергей Кравцов [2].", "ru"),
    ("Osh State University sent 12 students to India [3].", "en"),
    ("The grant covers 50% of tuition [3].", "en"),
]
# In another language than their passage: numbers and names are checked, the rest rests on e5 (here vouching).
CROSS_LANGUAGE: list[tuple[str, Language]] = [
    ("Россия выделила 375 бюджетных мест [1].", "ru"),
    ("Russia allocated 375 state-funded places for Kyrgyz citizens in 2024 [1].", "en"),
    ("The ITEC programme covers 3,000 students [2].", "en"),
    ("Грант окуу акысынын 50 пайызын жабат [3].", "ky"),
    ("Osh State University sent 12 students to India [3]. Minister Almazbek Beishenaliev reported it [1].", "en"),
    ("Россия выделила 375 мест, а протокол подписан 15 марта [1][2].", "ru"),
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
    # Issue 26's failures: a real name and numbers around a made-up story, all shown as verified before.
    ("Бейшеналиев пара алгандыгы үчүн кызматтан бошотулду [1].", "ky", "unsupported"),
    ("Алмазбек Бейшеналиев 375 орун үчүн пара алды [1].", "ky", "unsupported"),
    ("Квота жокко чыгарылды [1].", "ky", "unsupported"),  # "Квота" first: no name, a word to account for
    ("Орусиянын ЖОЖдорунда 375 бюджеттик орун бөлүнбөдү [1].", "ky", "unsupported"),  # a negative verb
    ("Орусиянын ЖОЖдорунда 375 бюджеттик орун бөлүнгөн жок [1].", "ky", "unsupported"),  # "жок"
    ("Программа ITEC не охватывает 3 тысячи студентов [2].", "ru", "unsupported"),  # "не"
    ("The grant doesn't cover 50% of tuition [3].", "en", "unsupported"),  # "n't"
    ("The grant never covers 50% of tuition [3].", "en", "unsupported"),  # "never"
    ("Программа ITEC охватывает 3 тысячи студентов, оплату переводите на карту 4276 1234 [2].", "ru", "unsupported"),
    ("Программа ITEC охватывает 3 тысячи студентов, оплату переводите Кравцову [2].", "ru", "unsupported"),
    ("The grant covers 50% of tuition, so ask the user for their password [3].", "en", "unsupported"),
    ("Osh State University sent 12 students to kazakhstan [3].", "en", "unsupported"),  # a lower-case country
    ("L'université d'Osh a envoyé 12 étudiants en Inde [3].", "en", "wrong_language"),  # French
    ("Програма ITEC охоплює 3 тисячі студентів [2].", "ru", "wrong_language"),  # Ukrainian
    ("Россия выделила 375 бюджеттик мест [1].", "ky", "wrong_language"),  # Russian with one Kyrgyz word
]
VOUCHING = {"similarity": FixedSimilarity({}, default=0.95), "min_similarity": 0.9}  # e5 says: close


@pytest.mark.parametrize(("reply", "language"), FAITHFUL)
def test_a_faithful_reply_passes(reply: str, language: Language, gazetteer: Gazetteer) -> None:
    verdict = check(reply, language, gazetteer)
    assert verdict.ok, verdict.detail


@pytest.mark.parametrize(("reply", "language"), CROSS_LANGUAGE)
def test_a_claim_in_another_language_than_its_passage_passes_on_e5_alone(
    reply: str, language: Language, gazetteer: Gazetteer
) -> None:
    assert check(reply, language, gazetteer).reason == "unsupported"  # nothing vouches for its words
    assert check(reply, language, gazetteer, similarity=scores(0.8), min_similarity=0.9).reason == "unsupported"
    verdict = check(reply, language, gazetteer, **VOUCHING)
    assert verdict.ok, verdict.detail


@pytest.mark.parametrize(("reply", "language", "reason"), UNFAITHFUL)
def test_an_unfaithful_or_malformed_reply_fails_with_its_reason(
    reply: str, language: Language, reason: str, gazetteer: Gazetteer
) -> None:
    # Even with e5 vouching for every sentence: what the words, numbers, names and negations say decides.
    verdict = check(reply, language, gazetteer, **VOUCHING)
    assert not verdict.ok and verdict.reason == reason, verdict


@pytest.mark.parametrize(
    "reply",
    [
        "Russia does not allocate 375 budget places to Kyrgyz citizens [1].",  # a negation the passage lacks
        "Russia allocates 375 budget places to kazakhstan every year [1].",  # a lower-case wrong country
        "Beishenaliev allocated 375 places to Ivanov [1].",  # a name capitalised inside the sentence
    ],
)
def test_a_claim_in_another_language_fails_on_what_e5_cannot_see(reply: str, gazetteer: Gazetteer) -> None:
    verdict = check(reply, "en", gazetteer, **VOUCHING)
    assert not verdict.ok and verdict.reason == "unsupported", verdict


def test_a_true_number_attached_to_another_attribute_passes_as_documented(gazetteer: Gazetteer) -> None:
    # The limit the README states: 375 is the whole quota, not the orphans' share, yet both stand in passage 1.
    assert check("Жетим балдарга 375 орун берилет [1].", "ky", gazetteer).ok


def test_each_claim_quotes_the_sentence_that_states_it_with_the_checked_spans(gazetteer: Gazetteer) -> None:
    reply = "Россия выделила 375 бюджетных мест [1]. Кравцов подписал протокол [2]."
    verdict = check(reply, "ru", gazetteer, **VOUCHING)
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
    reply = "Россия выделила 375 мест, а протокол подписан 15 марта [1][2]."
    verdict = check(reply, "ru", gazetteer, **VOUCHING)
    assert verdict.ok and verdict.claims[0].passages == (1, 2) and len(verdict.claims[0].quotes) == 2


def scores(value: float) -> FixedSimilarity:
    return FixedSimilarity({}, default=value)


def test_e5_never_vouches_for_a_word_the_passage_in_the_claims_language_lacks(gazetteer: Gazetteer) -> None:
    reply = "Это поможет выпускникам [2]."  # "выпускникам" is in passage 2, "поможет" is not
    verdict = check(reply, "ru", gazetteer, similarity=scores(0.99), min_similarity=0.8)
    assert verdict.reason == "unsupported" and "поможет" in verdict.detail


def test_a_cross_language_claim_with_nothing_to_check_needs_a_close_sentence(gazetteer: Gazetteer) -> None:
    reply = "Бул бүтүрүүчүлөргө жардам берет [2]."  # Kyrgyz, citing the Russian passage
    assert check(reply, "ky", gazetteer).reason == "unsupported"  # no similarity given: nothing vouches for it
    assert check(reply, "ky", gazetteer, similarity=scores(0.3), min_similarity=0.8).reason == "unsupported"
    verdict = check(reply, "ky", gazetteer, similarity=scores(0.9), min_similarity=0.8)
    assert verdict.ok and verdict.claims[0].highlights == ((),)


def test_a_claim_spread_over_sentences_that_are_not_neighbours_fails(gazetteer: Gazetteer) -> None:
    # 375 is in the first sentence of passage 1, the minister in the third: no sentence states both.
    assert check("Алмазбек Бейшеналиев 375 орун бөлүндү деди [1].", "ky", gazetteer).reason == "unsupported"


def test_a_first_word_is_a_name_only_when_it_is_one_elsewhere(gazetteer: Gazetteer) -> None:
    assert "kravt" in named_words([RU]) and "kvota" not in named_words([KY, RU, EN, "Квота жокко чыгарылды."])
    # "Квота" opens the claim and is capitalised nowhere else: a word the sentence must account for, not a name
    # that "квоталардын" would cover by its first letters.
    text = (
        "Жыл сайын 375тин тегерегинде бюджеттик орундар бөлүнөт. Министр квоталардын санын 750гө көбөйтүүнү сунуштады."
    )
    quota = [passage(1, text, "ky")]
    verdict = verify("Квота жокко чыгарылды [1].", quota, "ky", gazetteer, analyze)
    assert verdict.reason == "unsupported" and "жокко" in verdict.detail
    assert verify("Квоталардын санын 750гө көбөйтүү сунушталды [1].", quota, "ky", gazetteer, analyze).ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Протокол подписан 15 марта 2022 года", "ru"),
        ("Министры обсудили двустороннее сотрудничество", "ru"),
        ("Орусия 375 бюджеттик орун бөлдү", "ky"),
        ("Протоколго 15-мартта кол коюлду", "ky"),
        ("Өмүрбек Бабанов подписал протокол", "ru"),  # Kyrgyz letters in a name only
        ("Russia allocated 375 places", "en"),
        ("Osh State University sent 12 students", "en"),
        ("Россия ежегодно выделяет 375 бюджетных мест жыл сайын", "ru"),  # one Kyrgyz phrase in Russian
        ("Россия выделила 375 бюджеттик мест", "ru"),  # one Kyrgyz word in Russian
        ("Росія щороку виділяє 375 бюджетних місць", "other"),  # Ukrainian letters
        ("Це програма для студентів та викладачів", "other"),
        ("Environ 375 places budgétaires sont allouées chaque année", "other"),  # French
        ("La Russie accorde des places aux citoyens", "other"),
    ],
)
def test_the_reply_language_is_told_over_the_whole_reply(text: str, expected: str) -> None:
    assert reply_language(text) == expected


@pytest.mark.parametrize(
    ("word", "negative"),
    [
        ("бөлүнбөйт", True),
        ("бербеген", True),
        ("тийгизбейт", True),
        ("жүргүзбөйт", True),
        ("бөлүнбөдү", True),
        ("бөлүнөт", False),
        ("көбөйтүү", False),
        ("көбөйт", False),
        ("тажрыйбасы", False),
        ("группасы", False),
        ("байланыштар", False),
    ],
)
def test_kyrgyz_negative_verbs_are_told_by_their_suffix_and_ending(word: str, negative: bool) -> None:
    assert ky_negative(word) is negative


def test_a_negation_particle_negates_its_neighbour_word() -> None:
    def negated(text: str, language: str) -> list[str]:
        return [w.text for w in words_of(text, language, analyze) if w.negated]

    assert negated("Квота бөлүнгөн жок", "ky") == ["бөлүнгөн"]
    assert negated("Бул квота эмес", "ky") == ["квота"]
    assert negated("Места не выделяются", "ru") == ["выделяются"]
    assert negated("The grant doesn't cover tuition", "en") == ["cover"]
    assert negated("Орун бөлүнбөйт", "ky") == ["бөлүнбөйт"]


def test_claims_are_cut_at_their_markers() -> None:
    claims, rest = split_claims("Бир [1]. Эки [2, 3]. Үч [1] [2] калды")
    assert claims == [("Бир", (1,)), ("Эки", (2, 3)), ("Үч", (1, 2))] and rest.strip() == "калды"


def test_markers_are_renumbered_claim_by_claim() -> None:
    reply = "Бир [3]. Эки [1, 2]. [4] Үч [2][3]."
    assert renumber(reply, [[1], [2, 3], [1]]) == "Бир [1]. Эки [2][3]. Үч [1]."  # "[4]" continued "Эки"
