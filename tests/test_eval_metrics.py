"""The evaluator's metric functions (pure logic)."""

from __future__ import annotations

import math

import pytest

from eval import metrics


def test_facts_match_case_insensitively_with_digit_groups_joined() -> None:
    assert metrics.normalize("1 447 717 Окуучу") == "1447717 окуучу"
    assert metrics.fact_present(["16000"], "Орусияда 16 000дей студент")
    assert metrics.all_facts_present([["750"], ["Жетим", "orphan"]], "750 орун, 50 жетим балдарга")
    assert not metrics.all_facts_present([["750"], ["200"]], "750 орун")
    assert not metrics.fact_present(["1500"], "15 000") and not metrics.fact_present(["50"], "750 орун")
    assert metrics.fact_present(["50"], "50 орун жетим") and metrics.fact_present(["25 миң"], "ай сайын 25 миң сом")
    assert metrics.fact_present(["26,4%"], "балдардын 26,4% түздү") and not metrics.fact_present(["6,4"], "26,4%")


def test_lead_in_is_the_text_before_the_quote_when_the_answer_has_a_span() -> None:
    answer = "Жооп: 375 [1]\n«Жыл сайын 375тин тегерегинде бюджеттик орундар, 16 000 студент.» [1]"
    assert metrics.lead_in(answer, has_span=True) == "Жооп: 375 [1]\n"
    assert metrics.lead_in(answer, has_span=False) == answer
    assert not metrics.fact_present(["16 000"], metrics.lead_in(answer, has_span=True))


def test_document_ranking_metrics() -> None:
    ranking = metrics.document_ranking(["b", "a", "b", "c"])
    assert ranking == ["b", "a", "c"]
    assert metrics.hit_at(ranking, "a", 1) == 0.0 and metrics.hit_at(ranking, "a", 2) == 1.0
    assert metrics.reciprocal_rank(ranking, "a") == 0.5 and metrics.reciprocal_rank(ranking, "z") == 0.0
    assert metrics.ndcg_at(ranking, "b") == 1.0
    assert metrics.ndcg_at(ranking, "c") == pytest.approx(1 / math.log2(4))
    assert metrics.reciprocal_rank(ranking, "c", k=2) == 0.0


def test_unsupported_numbers_ignore_markers_and_join_groups() -> None:
    quotes = ["Жыл сайын 1 447 717 окуучу [5]."]
    assert metrics.unsupported_numbers("Жооп: 1447717 [1]", quotes) == set()
    assert metrics.unsupported_numbers("Жооп: 1500 [2]", quotes) == {"1500"}


def test_percentiles_and_median() -> None:
    assert metrics.percentile([], 50) == 0.0
    assert metrics.percentile([1, 2, 3, 4], 50) == 2.5
    assert metrics.percentile([10, 20], 95) == pytest.approx(19.5)
    assert metrics.median([3, 1, 2]) == 2.0 and metrics.median([]) == 0.0
