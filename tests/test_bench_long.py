"""`python -m eval bench --long-questions`: its flag, its questions and its report (the run itself is timed, so
it is a benchmark, not a test)."""

from __future__ import annotations

import pytest

from eval.bench_long import corpus_words, long_question, long_questions_lines, long_questions_report
from eval.cli import build_parser, print_bench
from tests.conftest import CORPUS

IDLE = {"p50_ms": 60.0, "p95_ms": 100.0}


def test_the_flag_selects_the_mode() -> None:
    assert build_parser().parse_args(["bench", "--long-questions"]).long_questions is True
    assert build_parser().parse_args(["bench"]).long_questions is False


def test_long_questions_are_the_longest_the_api_takes_and_the_same_for_a_seed() -> None:
    words = corpus_words([CORPUS])
    question = long_question(words, 7)
    assert len(question) == 1000 and question.endswith("?")
    assert long_question(words, 7) == question != long_question(words, 8)


@pytest.mark.parametrize(("loaded_p95", "ratio", "verdict"), [(190.0, 1.9, "met"), (521.0, 5.21, "NOT met")])
def test_the_report_puts_the_p95_ratio_beside_the_goal(
    loaded_p95: float, ratio: float, verdict: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = long_questions_report(80, IDLE, {"p50_ms": 90.0, "p95_ms": loaded_p95}, {"200": 12, "429": 18})
    assert report["x_idle_p95"] == ratio and report["x_idle_p50"] == 1.5
    assert report["goal_met"] is (verdict == "met")
    print_bench(
        {
            "questions": 80,
            "chunks": 138,
            "answerer": "fitted",
            "passages_per_s": 1.0,
            "stages": {},
            "long_questions": report,
        }
    )
    printed = capsys.readouterr().out
    assert f"{ratio:9.2f}   goal p95 <= 2x: {verdict}\n" in printed
    assert "long questions answered: 200: 12, 429: 18" in printed
    assert long_questions_lines(report)[-1] in printed
