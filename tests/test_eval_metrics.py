"""The evaluator's metric functions (pure logic)."""

from __future__ import annotations

import math

import pytest

from assistant.core.models import Answer, Citation, Lead
from eval import metrics
from eval.report import ANSWER_HEADER, RETRIEVAL_HEADER, SUMMARY_ANSWERS, SUMMARY_RETRIEVAL, summary, tables
from eval.runner import QAItem, aggregate, score_item


def test_facts_match_case_insensitively_with_digit_groups_joined() -> None:
    assert metrics.normalize("1 447 717 Окуучу") == "1447717 окуучу"
    assert metrics.fact_present(["16000"], "Орусияда 16 000дей студент")
    assert metrics.all_facts_present([["750"], ["Жетим", "orphan"]], "750 орун, 50 жетим балдарга")
    assert not metrics.all_facts_present([["750"], ["200"]], "750 орун")
    assert not metrics.fact_present(["1500"], "15 000") and not metrics.fact_present(["50"], "750 орун")
    assert metrics.fact_present(["50"], "50 орун жетим") and metrics.fact_present(["25 миң"], "ай сайын 25 миң сом")
    assert metrics.fact_present(["26,4%"], "балдардын 26,4% түздү") and not metrics.fact_present(["6,4"], "26,4%")


def citation(index: int, quote: str, highlight: tuple[int, int] | None = None) -> Citation:
    return Citation(index, "doc.txt", "", "c", quote, 0, len(quote), 1.0, highlight=highlight)


QUOTE = "Жыл сайын 375тин тегерегинде бюджеттик орундар, 16 000 студент."


@pytest.mark.parametrize(
    ("kind", "lead", "must", "correct", "lead_correct"),
    [
        ("count", Lead("375", 1), [["375"]], True, True),
        ("count", Lead("375", 1), [["16 000"]], True, False),  # in the quote, not in the lead the user reads
        ("count", None, [["375"]], True, False),  # a how-many question without a lead misses
        ("other", None, [["бюджеттик"]], True, True),  # a passage question is answered by its quote
    ],
)
def test_answers_are_scored_from_their_parts(
    kind: str, lead: Lead | None, must: list[list[str]], correct: bool, lead_correct: bool
) -> None:
    item = QAItem("x1", "ky", "?", must, "doc.txt", True, [], kind)
    answer = Answer("ky", False, lead=lead, citations=(citation(1, QUOTE, (10, 13)),))
    score = score_item(item, answer)
    assert (score["correct"], score["lead_correct"], score["has_lead"]) == (correct, lead_correct, lead is not None)
    assert score["gold_cited"] and score["unsupported_numbers"] == []
    wrong_lead = score_item(item, Answer("ky", False, lead=Lead("1500", 1), citations=(citation(1, QUOTE),)))
    assert wrong_lead["unsupported_numbers"] == ["1500"]


def test_bootstrap_interval_brackets_the_mean() -> None:
    assert metrics.bootstrap_interval([]) is None
    low, high = metrics.bootstrap_interval([1.0] * 15 + [0.0] * 5) or (0.0, 0.0)
    assert low < 0.75 < high and low > 0.5 and high < 0.95
    assert metrics.bootstrap_interval([1.0, 1.0]) == [1.0, 1.0]


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


def test_report_tables_put_each_figure_beside_its_floor_and_ceiling() -> None:
    item = QAItem("x1", "ky", "?", [["375"]], "doc.txt", True, [], "count")
    right = {"item": item, "score": score_item(item, Answer("ky", False, Lead("375", 1), (citation(1, QUOTE),)))}
    wrong = {"item": item, "score": score_item(item, Answer("ky", False, None, (citation(1, "жок"),)))}
    figure = {
        "config": "hybrid",
        "overall": aggregate([right, right]),
        "by_language": {"ky": aggregate([right, right])},
    }
    floor = {"config": "cosine", "overall": aggregate([right, wrong]), "by_language": {"ky": aggregate([right, wrong])}}
    lines = tables([("dev", figure, floor, floor)])
    rows = [line for line in lines if line.startswith("| dev |")]
    assert len(rows) == 4  # answers and retrieval, overall and Kyrgyz
    assert rows[0].startswith("| dev | all | 2 (0 unanswerable) | 1.000 (1.00–1.00) | 0.500 (")
    answers_at, retrieval_at = lines.index(ANSWER_HEADER), lines.index(RETRIEVAL_HEADER)
    assert all(line.count("|") == ANSWER_HEADER.count("|") for line in lines[answers_at : answers_at + 4])
    assert all(line.count("|") == RETRIEVAL_HEADER.count("|") for line in lines[retrieval_at : retrieval_at + 4])


def test_the_console_summary_names_every_figure_in_aligned_columns() -> None:
    item = QAItem("x1", "ky", "?", [["375"]], "doc.txt", True, [], "count")
    right = {"item": item, "score": score_item(item, Answer("ky", False, Lead("375", 1), (citation(1, QUOTE),)))}
    wrong = {"item": item, "score": score_item(item, Answer("ky", False, None, (citation(1, "жок"),)))}
    reports = [
        {"config": config, "overall": aggregate(rows), "by_language": {"ky": aggregate(rows)}}
        for config, rows in (("hybrid-noanchors", [right, right]), ("cosine", [right, wrong]))
    ]
    lines = summary("gold fit, + distractors", reports).splitlines()
    for title, columns in (("questions and retrieval", SUMMARY_RETRIEVAL), ("answers", SUMMARY_ANSWERS)):
        at = lines.index(f"gold fit, + distractors — {title}:")
        header, *rows = lines[at + 1 : at + 6]
        names = ["config", "lang", *(name for name, _, _ in columns)]
        assert header.split() == " ".join(names).split()  # every column named, in order
        scopes = [(config, lang) for config in ("hybrid-noanchors", "cosine") for lang in ("all", "ky")]
        assert [tuple(row.split()[:2]) for row in rows] == scopes
        assert all(len(row.split()) == len(names) for row in rows)  # one figure under each name
        # Figures end where their name ends (right-aligned); the config and lang start where theirs start.
        ends = [header.index(name) + len(name) for name in names[2:]]
        for row in rows:
            assert len(row) == len(header) and row.index(row.split()[1]) == header.index("lang")
            assert all(row[end - 1] != " " and (end == len(row) or row[end] == " ") for end in ends), row
    assert "0.500" in lines[lines.index("gold fit, + distractors — answers:") + 4]  # cosine's accuracy, all
