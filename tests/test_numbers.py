"""Numbers written with grouped thousands read as one number everywhere: core, BM25, answerers, metrics."""

from __future__ import annotations

import pytest

from assistant.core.answering.spans import spans_of_kind
from assistant.core.coverage import Evidence, coverage, specifics
from assistant.core.models import Chunk
from assistant.core.numbers import is_year, join_digit_groups, numbers_in
from assistant.core.retrieval import anchors_of
from assistant.gazetteer import build_gazetteer
from eval import metrics
from vectorstore.lexical import BM25Index
from vectorstore.stemming import analyze, tokenize

# Space, no-break space, figure space, thin space, narrow no-break space: each groups thousands in print.
SPACES = [" ", "\u00a0", "\u2007", "\u2009", "\u202f"]
GAZETTEER = build_gazetteer(frozenset({"KG"}))


def spaced(number: str, space: str) -> str:
    return number.replace(" ", space)


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(id=cid, document_id=f"{cid}.txt", position=0, text=text, start=0, end=len(text), lang="ky")


@pytest.mark.parametrize("space", SPACES)
def test_every_grouping_space_joins_the_number(space: str) -> None:
    assert join_digit_groups(spaced("1 447 717", space) + " окуучу") == "1447717 окуучу"
    assert join_digit_groups(spaced("16 000дей", space)) == "16000дей"


def test_only_groups_of_three_digits_join() -> None:
    assert join_digit_groups("2023 2024") == "2023 2024"
    assert join_digit_groups("1834 бала, 12 34") == "1834 бала, 12 34"
    assert join_digit_groups("1 447\n717") == "1447\n717"  # a line break ends a number (table cells)


def test_years_are_1900_to_2099() -> None:
    assert is_year("1900") and is_year(" 2023 ") and is_year("2041")
    assert not is_year("1899") and not is_year("2100") and not is_year("375") and not is_year("20231")


@pytest.mark.parametrize("space", SPACES)
def test_bm25_tokens_join_the_number(space: str) -> None:
    assert tokenize(spaced("1 447 717 окуучу", space)) == ["1447717", "окуучу"]
    assert analyze(spaced("16 000дей студент", space), "ky") == ["16000", "студент"]


@pytest.mark.parametrize("space", SPACES)
def test_bm25_finds_a_thin_spaced_number_asked_with_plain_spaces(space: str) -> None:
    index = BM25Index()
    index.rebuild(
        [chunk("pupils", spaced("Жыл сайын 1 447 717 окуучу окуйт.", space)), chunk("other", "Мектептер 375 окуучу.")],
        generation=1,
    )
    assert index.search("1 447 717 окуучу", "ky", k=2)[0][0].id == "pupils"


@pytest.mark.parametrize("space", SPACES)
def test_count_spans_take_the_whole_number(space: str) -> None:
    sentence = spaced("2023-жылы 1 447 717 окуучу окуду [5].", space)
    assert [s.text for s in spans_of_kind(sentence, "count")] == [spaced("1 447 717", space)]


@pytest.mark.parametrize("space", SPACES)
def test_anchors_coverage_and_metrics_read_one_number(space: str) -> None:
    text = spaced("Бейшеналиев 1 447 717 окуучу", space)
    assert anchors_of(text) == ["1447717"]
    assert coverage(specifics("How many of the 1 447 717 pupils?", GAZETTEER), [Evidence.of(text, GAZETTEER)]) == 1.0
    assert metrics.fact_present(["1447717"], text) and metrics.numbers_in(text) == {"1447717"}


@pytest.mark.parametrize(
    ("text", "values", "percent", "written"),
    [
        ("375тин", {375.0}, False, "375"),
        ("3 миң", {3000.0}, False, "3 миң"),
        ("3 тысячи", {3000.0}, False, "3 тысячи"),
        ("3,000", {3000.0}, False, "3,000"),
        ("26,4", {26.4}, False, "26,4"),
        ("26.4", {26.4}, False, "26.4"),
        ("50%", {50.0}, True, "50%"),
        ("50 пайыз", {50.0}, True, "50 пайыз"),
        ("2023-жылы", {2023.0}, False, "2023"),
        ("1 447 717", {1447717.0}, False, "1 447 717"),
        ("1,5 млн", {1500000.0}, False, "1,5 млн"),
        ("15.03.2023", {15.0, 3.0, 2023.0}, False, "15.03.2023"),
        ("1,234.5", {1234.5}, False, "1,234.5"),
        ("5,6,7-класстарда", {5.0, 6.0, 7.0}, False, "5,6,7"),  # a list of grades (the policy summary has one)
    ],
)
def test_numbers_are_read_with_their_spellings_multipliers_and_percent(
    text: str, values: set[float], percent: bool, written: str
) -> None:
    (number,) = numbers_in(text)
    assert set(number.values) == values and number.percent is percent and text[number.start : number.end] == written


def test_a_percentage_matches_only_a_percentage_and_a_plain_number_matches_both() -> None:
    (fifty_percent,) = numbers_in("50%")
    (fifty,) = numbers_in("50 орун")
    assert fifty.matches(fifty_percent) and fifty.matches(fifty)
    assert fifty_percent.matches(fifty_percent) and not fifty_percent.matches(fifty)
