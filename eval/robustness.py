"""`python -m eval robustness`: what users hit beside accuracy — questions whose answer type the documents lack,
greetings and filler, names in the other script, elliptical follow-ups — over the gate corpus.

The sets (`eval/datasets/robustness/`) were written from the gold fit part's documents only, by a helper that never
saw the answerer's code; every figure stands beside the cosine floor's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.answer_json import answer_text
from assistant.core.models import Answer
from eval import metrics

ROBUSTNESS = Path(__file__).parent / "datasets" / "robustness"
RETRIEVED_DOCUMENTS = 5  # a name "finds" its document when it is among the first five documents retrieved


class Ask(Protocol):
    """Answers a question, given the conversation's earlier questions (the wired service's `ask`)."""

    def __call__(self, text: str, *, history: Sequence[str] = ()) -> Answer: ...


@dataclass(frozen=True)
class Targets:
    """What each set must reach (the answer-kernel issue's goals)."""

    absent_without_lead: float = 0.85
    present_losing_lead: float = 0.05
    greetings_same_answer: float = 0.95
    transliteration_same_document: float = 0.90
    followups_right: float = 0.80


def read_set(name: str, folder: Path = ROBUSTNESS) -> list[dict[str, Any]]:
    """One robustness set's items."""
    path = folder / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stated(answer: Answer) -> str:
    """Everything an answer states: its lead and quotes."""
    return "\n".join([answer.lead.text if answer.lead else "", *(c.quote for c in answer.citations)])


def _share(values: Sequence[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def answer_types(ask: Ask, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Absent-type questions refused or shown without a lead; present-type ones keeping (a right) lead."""
    absent = [i for i in items if not i["present"]]
    present = [i for i in items if i["present"]]
    absent_answers = [ask(i["question"]) for i in absent]
    present_answers = [ask(i["question"]) for i in present]
    failures = [
        {"id": i["id"], "question": i["question"], "lead": a.lead.text if a.lead else None}
        for i, a in zip(absent, absent_answers, strict=True)
        if not a.refused and a.lead is not None
    ]
    return {
        "absent": len(absent),
        "absent_refused": _share([a.refused for a in absent_answers]),
        "absent_without_lead": _share([a.refused or a.lead is None for a in absent_answers]),
        "present": len(present),
        "present_losing_lead": _share([a.refused or a.lead is None for a in present_answers]),
        "present_lead_right": _share(
            [
                a.lead is not None and metrics.all_facts_present(i["must"], a.lead.text)
                for i, a in zip(present, present_answers, strict=True)
            ]
        ),
        "present_lead_wrong": _share(
            [
                not a.refused and a.lead is not None and not metrics.all_facts_present(i["must"], a.lead.text)
                for i, a in zip(present, present_answers, strict=True)
            ]
        ),
        "present_right": _share(
            [
                not a.refused and metrics.all_facts_present(i["must"], _stated(a))
                for i, a in zip(present, present_answers, strict=True)
            ]
        ),
        "absent_with_lead": failures,
    }


def greetings(ask: Ask, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A greeting, politeness or filler around a question leaves its answer text as it was."""
    same, differing = [], []
    for item in items:
        bare, greeted = answer_text(ask(item["question"])), answer_text(ask(item["variant"]))
        same.append(bare == greeted)
        if bare != greeted:
            differing.append({"id": item["id"], "variant": item["variant"]})
    return {"pairs": len(items), "same_answer": _share(same), "differing": differing}


def transliteration(ask: Ask, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A name asked in either script retrieves the document that holds it."""
    found_both, found_as_written, found_other, missed = [], [], [], []
    for item in items:
        hits = []
        for text in (item["question"], item["variant"]):
            ranking = metrics.document_ranking(sc.chunk.document_id for sc in ask(text).retrieved)
            hits.append(item["source"] in ranking[:RETRIEVED_DOCUMENTS])
        found_as_written.append(hits[0])
        found_other.append(hits[1])
        found_both.append(all(hits))
        if not all(hits):
            missed.append({"id": item["id"], "name": item["name"], "variant": item["name_variant"], "hits": hits})
    return {
        "pairs": len(items),
        "same_document": _share(found_both),
        "as_written": _share(found_as_written),
        "other_script": _share(found_other),
        "missed": missed,
    }


def followups(ask: Ask, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An elliptical follow-up, asked after its first turn, is answered with its own facts."""
    right, wrong = [], []
    for item in items:
        first, second = item["turns"]
        answer = ask(second, history=(first,))
        ok = not answer.refused and metrics.all_facts_present(item["must"], _stated(answer))
        right.append(ok)
        if not ok:
            wrong.append({"id": item["id"], "turns": item["turns"], "stated": _stated(answer)[:160]})
    return {"conversations": len(items), "right": _share(right), "wrong": wrong}


def robustness_report(ask: Ask, folder: Path = ROBUSTNESS) -> dict[str, Any]:
    """Every robustness figure of one answerer."""
    return {
        "answer_types": answer_types(ask, read_set("answer-types", folder)),
        "greetings": greetings(ask, read_set("greetings", folder)),
        "transliteration": transliteration(ask, read_set("transliteration", folder)),
        "followups": followups(ask, read_set("followups", folder)),
    }


def robustness_table(reports: dict[str, dict[str, Any]], targets: Targets = Targets()) -> str:
    """A markdown table: each answerer's figures side by side, with the goal."""
    rows = [
        (
            "absent-type questions refused or without a lead",
            "answer_types",
            "absent_without_lead",
            "≥",
            targets.absent_without_lead,
        ),
        (
            "present-type questions losing their lead",
            "answer_types",
            "present_losing_lead",
            "≤",
            targets.present_losing_lead,
        ),
        ("present-type questions with the right lead", "answer_types", "present_lead_right", "", None),
        ("present-type questions with a wrong lead", "answer_types", "present_lead_wrong", "", None),
        ("greeting variants with the same answer", "greetings", "same_answer", "≥", targets.greetings_same_answer),
        (
            "names in either script finding their document",
            "transliteration",
            "same_document",
            "≥",
            targets.transliteration_same_document,
        ),
        ("follow-ups answered right", "followups", "right", "≥", targets.followups_right),
    ]
    names = list(reports)
    lines = ["| figure | " + " | ".join(names) + " | goal |", "|---|" + "---|" * (len(names) + 1)]
    for label, part, key, sign, goal in rows:
        cells = " | ".join(f"{reports[n][part][key]:.3f}" for n in names)
        lines.append(f"| {label} | {cells} | {f'{sign} {goal:.2f}' if goal is not None else '—'} |")
    return "\n".join(lines)
