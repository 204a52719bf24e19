"""`python -m eval bench` with every mode at tiny sizes: the JSON it prints has the keys and types the README names.

Only the shape is checked, never a timing (speed is judged by ratios in a benchmark run, not by tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.bench_profile import STAGES as STAGE_RULES
from tests.conftest import CORPUS, ROOT
from tests.support import run_module

# Starts the ingester and two API servers, and loads the model.
pytestmark = pytest.mark.slow

ARTICLES = ROOT / "eval" / "datasets" / "gold" / "gate-slice.jsonl"  # non-reserved articles kept in the repository
LATENCY = {"p50_ms": float, "p95_ms": float}
STAGES = {"embed_query", "dense_retrieve", "lexical_search", "hybrid_retrieve", "answer_total"}


def check(section: dict[str, Any], types: dict[str, Any]) -> None:
    """Every key present with a value of its type (int accepted where a float is: JSON writes 2.0 as 2.0 but
    a rounded 0 as 0)."""
    missing = types.keys() - section.keys()
    assert not missing, missing
    for key, kind in types.items():
        value = section[key]
        if isinstance(kind, dict):
            check(value, kind)
        elif kind is float:
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        else:
            assert isinstance(value, kind), (key, value)


def check_stages(stages: dict[str, Any]) -> None:
    assert set(stages) == STAGES
    for stage in stages.values():
        check(stage, {**LATENCY, "x_dense_p50": float})


def test_bench_prints_one_json_with_every_mode(writable_store_dir: Path) -> None:
    result = run_module(
        "eval",
        "bench",
        "--corpus",
        CORPUS,
        "--data-dir",
        writable_store_dir,
        "--questions",
        "3",
        "--repeat",
        "1",
        "--distractors",
        ARTICLES,
        "--ingest",
        "--ingest-articles",
        "3",
        "--sync",
        "--sync-pages",
        "3",
        "--http",
        "--http-clients",
        "2",
        "--http-seconds",
        "2",
        "--http-asks",
        "30",
        "--scale",
        "2000",
        "--scale-pool",
        "150",
        "--profile",
        "--profile-rate",
        "1000",
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    report = json.loads(lines[0])  # one JSON line, then the tables
    assert "x dense p50" in result.stdout and "Traceback" not in result.stderr

    check(report, {"questions": int, "chunks": int, "answerer": str, "stages": dict, "passages_per_s": float})
    assert report["questions"] == 3
    check_stages(report["stages"])

    sync = report["sync"]
    check(
        sync,
        {"pages": int, "ingest_from_disk": dict, "first_sync": dict, "second_sync": dict, "x_ingest_seconds": float},
    )
    assert sync["pages"] == 3 and sync["first_sync"]["added"] == 3 and sync["first_sync"]["failed"] == 0
    assert sync["second_sync"]["chunks_embedded"] == 0 and sync["second_sync"]["not_modified"] == 3
    assert sync["first_sync"]["chunks"] <= sync["ingest_from_disk"]["chunks"]  # no navigation or footer chunks
    assert "pages from disk" in result.stdout

    ingest = report["ingest"]
    check(
        ingest,
        {
            "articles": int,
            "chunks": int,
            "chunk_texts": int,
            "sentence_passages": int,
            "tokens": int,
            "tokens_counted_by": str,
            "x_bare_tokens_per_s": float,
            "x_bare_tokens_per_s_net": float,
            "x_bare_paired": list,
            "x_bare_paired_median": float,
            "x_bare_process_paired": list,
            "x_bare_process_paired_median": float,
            "bare_process": {"rounds_s": list, "seconds": float, "tokens_per_s": float},
            "same_texts": bool,
            "bare": {
                "seconds": float,
                "tokens_per_s": float,
                "chunks_only_chunks_per_s": float,
                "chunks_only_tokens_per_s": float,
            },
            "ingest": {"seconds": float, "tokens_per_s": float, "chunks_per_s": float, "rerun_unchanged_s": float},
        },
    )
    assert ingest["articles"] == 3 and ingest["same_texts"] and "tokenizer" in ingest["tokens_counted_by"]
    assert ingest["ingest"]["rerun_embedded"] == 0
    # Four rounds by default: each side's fastest, and each round's own ratio with their median.
    assert len(ingest["bare"]["rounds_s"]) == len(ingest["ingest"]["rounds_s"]) == len(ingest["x_bare_paired"]) == 4
    assert ingest["bare"]["seconds"] == min(ingest["bare"]["rounds_s"])
    assert ingest["ingest"]["seconds"] == min(ingest["ingest"]["rounds_s"])
    assert min(ingest["x_bare_paired"]) <= ingest["x_bare_paired_median"] <= max(ingest["x_bare_paired"])
    assert len(ingest["bare_process"]["rounds_s"]) == len(ingest["x_bare_process_paired"]) == 4
    # Its fastest round is what is reported; which floor is faster is the machine's business, not the test's
    # (a busy CI once ran the in-process floor slower than the process one).
    assert ingest["bare_process"]["seconds"] == min(ingest["bare_process"]["rounds_s"]) > 0

    http = report["http"]
    with_floor = {**LATENCY, "x_floor_p50": float, "x_floor_p95": float}
    check(
        http,
        {
            "startup_s": float,
            "floor": LATENCY,
            "first": with_floor,
            "repeated": with_floor,
            "concurrent": {"clients": int, "requests": int, "errors": int, "req_per_s": float, **LATENCY},
            "asks": int,
            "rss_mb": {"ready": float, "after_first": float, "end": float},
            "rss_mb_at_ask": dict,
            "rss_growth_pct": float,
            "rss_growth_between": list,
        },
    )
    assert http["asks"] >= 30 and http["rss_growth_between"] == [10, 30]
    assert {"10", "30"} <= set(http["rss_mb_at_ask"]) and http["concurrent"]["errors"] == 0

    profile = report["profile"]
    check(
        profile,
        {
            "questions": int,
            "rate_hz": int,
            "samples": int,
            "busy_ms_per_question": float,
            "wall_ms_per_question": float,
            "stages": dict,
        },
    )
    assert profile["questions"] == 3 and profile["samples"] > 0 and "ms/question" in result.stdout
    assert set(profile["stages"]) <= {stage for stage, _ in STAGE_RULES} | {"other"}
    assert abs(sum(s["share"] for s in profile["stages"].values()) - 1) < 0.01

    scale = report["scale"]
    check(
        scale,
        {
            "chunks": int,
            "sentences": int,
            "pool_sentences": int,
            "build_s": float,
            "service_build_s": float,
            "server_startup_s": float,
            "stages": dict,
            "floor": LATENCY,
            "http_first": with_floor,
            "rss_mb": {"ready": float, "after_first": float, "after_upload": float},
            "upload": {"document": str, "upload_s": float, "bare_embed_s": float, "chunk_texts": int},
        },
    )
    assert scale["chunks"] == 2000 and scale["sentences"] >= 4000 and scale["pool_sentences"] >= 150
    check_stages(scale["stages"])
    upload = scale["upload"]
    assert upload["answerable_s"] is None or upload["answerable_s"] >= upload["upload_s"]
