"""An evaluation's Markdown tables (each figure beside its floor and the ceiling, 95 % intervals) and summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.configs import ANSWER_FLOOR, RETRIEVAL_FLOOR

ALL_CONFIG_METRICS = [
    "hit@1",
    "hit@5",
    "mrr@10",
    "fact_recall@3",
    "ceiling",
    "answer_accuracy",
    "lead_accuracy",
    "lead_share",
    "wrong_leads",
    "gold_cited",
    "citation_precision",
    "refusal_recall",
    "false_refusals",
    "median_answer_chars",
    "latency_p50_ms",
]
INTERVAL_NOTE = (
    "Brackets: bootstrap 95 % intervals over questions. With ~20 questions a language one standard error is "
    "~9 points, so differences inside the intervals are noise."
)
ANSWER_HEADER = (
    "| set | lang | questions | accuracy | cosine floor | ceiling | lead accuracy | lead share | wrong leads "
    "| gold cited | citation precision | refusal recall | false refusals | unsupported numbers | median chars |"
)
RETRIEVAL_HEADER = "| set | lang | hit@1 | dense hit@1 | hit@5 | dense hit@5 | MRR@10 | facts@3 | dense facts@3 |"
# The console summary of a set: (header, metric, format) per column, split in two tables to fit a terminal.
SUMMARY_RETRIEVAL = (
    ("questions", "questions", "d"),
    ("unanswerable", "unanswerable", "d"),
    ("hit@1", "hit@1", ".3f"),
    ("hit@5", "hit@5", ".3f"),
    ("facts@3", "fact_recall@3", ".3f"),
    ("ceiling", "ceiling", ".3f"),
    ("p50 ms", "latency_p50_ms", ".0f"),
)
SUMMARY_ANSWERS = (
    ("accuracy", "answer_accuracy", ".3f"),
    ("lead accuracy", "lead_accuracy", ".3f"),
    ("wrong leads", "wrong_leads", ".3f"),
    ("citation precision", "citation_precision", ".3f"),
    ("refusal recall", "refusal_recall", ".3f"),
    ("false refusals", "false_refusals", ".3f"),
    ("unsupported numbers", "unsupported_numbers", "d"),
    ("median chars", "median_answer_chars", ".0f"),
)


def with_interval(agg: dict[str, Any], metric: str) -> str:
    """A figure with its interval: `0.721 (0.64–0.80)`."""
    interval = agg.get("interval95", {}).get(metric)
    value = f"{agg[metric]:.3f}"
    return f"{value} ({interval[0]:.2f}–{interval[1]:.2f})" if interval else value


def _scopes(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("all", report["overall"]), *report["by_language"].items()]


def answer_rows(name: str, figure: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """Rows of the answer table for one set: overall and per language."""
    floors = dict(_scopes(floor))
    rows = []
    for lang, agg in _scopes(figure):
        rows.append(
            f"| {name} | {lang} | {agg['questions']} ({agg['unanswerable']} unanswerable) "
            f"| {with_interval(agg, 'answer_accuracy')} | {with_interval(floors[lang], 'answer_accuracy')} "
            f"| {with_interval(agg, 'ceiling')} | {with_interval(agg, 'lead_accuracy')} | {agg['lead_share']:.3f} "
            f"| {agg['wrong_leads']:.3f} | {agg['gold_cited']:.3f} | {agg['citation_precision']:.3f} "
            f"| {with_interval(agg, 'refusal_recall')} "
            f"| {with_interval(agg, 'false_refusals')} | {agg['unsupported_numbers']} "
            f"| {agg['median_answer_chars']:.0f} |"
        )
    return rows


def retrieval_rows(name: str, figure: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """Rows of the retrieval table for one set: the figure beside dense retrieval."""
    floors = dict(_scopes(floor))
    return [
        f"| {name} | {lang} | {with_interval(agg, 'hit@1')} | {with_interval(floors[lang], 'hit@1')} "
        f"| {agg['hit@5']:.3f} | {floors[lang]['hit@5']:.3f} | {agg['mrr@10']:.3f} "
        f"| {agg['fact_recall@3']:.3f} | {floors[lang]['fact_recall@3']:.3f} |"
        for lang, agg in _scopes(figure)
    ]


def tables(
    sets: Sequence[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]], retrieval: bool = True
) -> list[str]:
    """The answer (and retrieval) tables for (set name, figure report, answer floor, retrieval floor) tuples."""
    figure_name = sets[0][1]["config"] if sets else "hybrid"
    lines = [
        f"### Answers: `{figure_name}` beside the `{ANSWER_FLOOR}` floor and the retrieval ceiling",
        "",
        "Ceiling: every fact inside the chunks handed to the answerer. " + INTERVAL_NOTE,
        "",
        ANSWER_HEADER,
        "|" + "---|" * (ANSWER_HEADER.count("|") - 1),
    ]
    for name, figure, floor, _ in sets:
        lines += answer_rows(name, figure, floor)
    if not retrieval:
        return lines
    lines += [
        "",
        f"### Retrieval: `{figure_name}` beside the `{RETRIEVAL_FLOOR}` floor (gold document, answerable questions)",
        "",
        RETRIEVAL_HEADER,
        "|" + "---|" * (RETRIEVAL_HEADER.count("|") - 1),
    ]
    for name, figure, _, dense in sets:
        lines += retrieval_rows(name, figure, dense)
    return lines


def markdown_report(reports: list[dict[str, Any]], set_name: str) -> str:
    """The report of one `eval run`: figure/floor/ceiling tables, every configuration, then the failures."""
    by_name = {rep["config"]: rep for rep in reports}
    first = reports[0]
    lines = ["# Evaluation report", ""]
    lines += [f"Corpora: {', '.join(first.get('corpora', []))}; questions: {set_name}.", ""]
    lines += tables([(set_name, first, by_name[ANSWER_FLOOR], by_name[RETRIEVAL_FLOOR])])
    lines += [
        "",
        "### Every configuration",
        "",
        "| config | " + " | ".join(ALL_CONFIG_METRICS) + " |",
        "|---|" + "---|" * len(ALL_CONFIG_METRICS),
    ]
    for rep in reports:
        lines.append(f"| {rep['config']} | " + " | ".join(str(rep["overall"][m]) for m in ALL_CONFIG_METRICS) + " |")
    lines += ["", f"### Failures ({first['config']}: {len(first['failures'])})", ""]
    for f in first["failures"]:
        given = f["given"].replace("\n", " ")[:300]
        lines.append(
            f"- **{f['id']}** ({f['lang']}) {f['question']} — expected {f['expected']} in "
            f"{f['source']}; cited {f['cited']}; given: {given}"
        )
    return "\n".join(lines) + "\n"


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 2) -> list[str]:
    """A header and rows in columns as wide as their widest cell: the first `text_columns` left, figures right."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in (header, *rows)
    ]


def summary(set_name: str, reports: Sequence[dict[str, Any]]) -> str:
    """The console summary of one set: every configuration overall and per language, each figure under its name."""
    lines: list[str] = []
    for title, columns in (("questions and retrieval", SUMMARY_RETRIEVAL), ("answers", SUMMARY_ANSWERS)):
        rows = [
            [report["config"], lang, *(format(agg[metric], spec) for _, metric, spec in columns)]
            for report in reports
            for lang, agg in _scopes(report)
        ]
        lines += ["", f"{set_name} — {title}:", *aligned(["config", "lang", *(h for h, _, _ in columns)], rows)]
    return "\n".join(lines)
