"""Runs a QA file through the same pipeline the service uses and scores retrieval and answers."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer_json import answer_to_json
from assistant.core.errors import InvalidInput
from assistant.core.models import Answer
from assistant.core.ports import Embedder
from assistant.settings import Settings
from assistant.wiring import build_service, open_store
from eval import metrics
from eval.configs import RunConfig
from ingest.pipeline import IngestReport, ingest_paths, writer_lock

Progress = Callable[[int, str], Any]


@dataclass(frozen=True)
class QAItem:
    """One gold question."""

    id: str
    lang: str
    question: str
    must: list[list[str]]
    source: str | None
    answerable: bool
    context: list[str]


def load_qa(path: Path, split: str = "all") -> list[QAItem]:
    """Read a gold-set JSONL file; `split` "tune" keeps odd ids, "test" even ids."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the gold set {path}: {exc}") from exc
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = QAItem(
                id=str(raw["id"]),
                lang=raw["lang"],
                question=raw["question"],
                must=raw.get("must", []),
                source=raw.get("source"),
                answerable=bool(raw.get("answerable", True)),
                context=raw.get("context", []),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}, line {number}: not a gold-set question ({exc!r})") from exc
        digits = int("".join(ch for ch in item.id if ch.isdigit()) or 0)
        if split == "all" or (split == "tune") == (digits % 2 == 1):
            items.append(item)
    return items


def store_dir_for(corpora: Sequence[Path], embedder_name: str, base: Path) -> Path:
    """A store directory of its own for each set of corpora and embedder (a new chunker re-chunks in place)."""
    key = "\n".join(sorted(str(Path(c).resolve()) for c in corpora)) + f"\n{embedder_name}"
    return base / hashlib.sha256(key.encode()).hexdigest()[:12]


def prepare_store(corpora: Sequence[Path], data_dir: Path, embedder: Embedder, progress: Progress) -> IngestReport:
    """Ingest the corpora into the evaluation store (incremental: quick when already done)."""
    with writer_lock(data_dir):
        store = open_store(Settings(data_dir=data_dir), embedder)
        return ingest_paths(list(corpora), store=store, embedder=embedder, progress=progress)


def score_item(item: QAItem, answer: Answer) -> dict[str, Any]:
    """Per-question retrieval and answer scores."""
    ranking = metrics.document_ranking(sc.chunk.document_id for sc in answer.retrieved)
    quotes = [c.quote for c in answer.citations]
    lead = metrics.lead_in(answer.text, has_span=bool(answer.citations) and answer.citations[0].highlight is not None)
    row: dict[str, Any] = {
        "refused": answer.refused,
        "length": len(answer.text),
        "unsupported_numbers": sorted(metrics.unsupported_numbers(answer.text, quotes)) if not answer.refused else [],
        "latency_ms": answer.timings_ms.get("total", 0.0),
    }
    if item.answerable and item.source:
        top5_text = "\n".join(sc.chunk.text for sc in answer.retrieved[:5])
        row.update(
            hit1=metrics.hit_at(ranking, item.source, 1),
            hit5=metrics.hit_at(ranking, item.source, 5),
            mrr10=metrics.reciprocal_rank(ranking, item.source, 10),
            ndcg10=metrics.ndcg_at(ranking, item.source, 10),
            fact_recall5=1.0 if metrics.all_facts_present(item.must, top5_text) else 0.0,
            correct=(not answer.refused) and metrics.all_facts_present(item.must, answer.text),
            lead_correct=(not answer.refused) and metrics.all_facts_present(item.must, lead),
            citations_ok=[
                c.document == item.source or any(metrics.fact_present(f, c.quote) for f in item.must)
                for c in answer.citations
            ],
        )
    return row


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summary metrics over scored rows (each row has `item` and `score`)."""
    answerable = [r for r in rows if r["item"].answerable]
    unanswerable = [r for r in rows if not r["item"].answerable]
    scored = [r["score"] for r in answerable]
    cites = [ok for s in scored for ok in s["citations_ok"]]
    refused_all = [r for r in rows if r["score"]["refused"]]
    correct_refusals = [r for r in refused_all if not r["item"].answerable]
    answered = [r["score"] for r in rows if not r["score"]["refused"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": _mean([s["hit1"] for s in scored]),
        "hit@5": _mean([s["hit5"] for s in scored]),
        "mrr@10": _mean([s["mrr10"] for s in scored]),
        "ndcg@10": _mean([s["ndcg10"] for s in scored]),
        "fact_recall@5": _mean([s["fact_recall5"] for s in scored]),
        "answer_accuracy": _mean([1.0 if s["correct"] else 0.0 for s in scored]),
        "lead_accuracy": _mean([1.0 if s["lead_correct"] else 0.0 for s in scored]),
        "citation_precision": _mean([1.0 if ok else 0.0 for ok in cites]),
        "unsupported_numbers": sum(len(r["score"]["unsupported_numbers"]) for r in rows),
        "refusal_precision": round(len(correct_refusals) / len(refused_all), 4) if refused_all else 1.0,
        "refusal_recall": round(len(correct_refusals) / len(unanswerable), 4) if unanswerable else 1.0,
        "false_refusals": _mean([1.0 if s["refused"] else 0.0 for s in scored]),
        "median_answer_chars": metrics.median([s["length"] for s in answered]),
        "latency_p50_ms": round(metrics.percentile([r["score"]["latency_ms"] for r in rows], 50), 1),
        "latency_p95_ms": round(metrics.percentile([r["score"]["latency_ms"] for r in rows], 95), 1),
    }


def evaluate(
    items: Sequence[QAItem],
    *,
    data_dir: Path,
    embedder: Embedder,
    config: RunConfig,
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ask every question through the service pipeline; return per-question results and the report."""
    service = build_service(
        Settings(data_dir=data_dir), fusion=config.fusion, embedder=embedder, stemmed=config.stemmed
    )
    rows: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    with progress(len(items), f"asking ({config.name})") as advance:
        for item in items:
            started = time.perf_counter()
            answer = service.ask(item.question, history=item.context)
            elapsed = (time.perf_counter() - started) * 1000
            score = score_item(item, answer)
            score["latency_ms"] = round(elapsed, 2)
            rows.append({"item": item, "score": score, "answer": answer})
            results.append(
                {
                    "id": item.id,
                    "question": item.question,
                    "lang": item.lang,
                    "answer": answer_to_json(answer),
                    "retrieved": [
                        {
                            "document": sc.chunk.document_id,
                            "chunk_id": sc.chunk.id,
                            "rank": rank,
                            "score": round(sc.score, 6),
                        }
                        for rank, sc in enumerate(answer.retrieved, start=1)
                    ],
                    "score": {k: v for k, v in score.items() if k != "citations_ok"},
                }
            )
            advance(1)
    report: dict[str, Any] = {"config": config.name, "overall": aggregate(rows), "by_language": {}}
    for lang in ("ky", "ru", "en"):
        subset = [r for r in rows if r["item"].lang == lang]
        if subset:
            report["by_language"][lang] = aggregate(subset)
    report["failures"] = [
        {
            "id": r["item"].id,
            "lang": r["item"].lang,
            "question": r["item"].question,
            "expected": r["item"].must if r["item"].answerable else "refusal",
            "source": r["item"].source,
            "given": r["answer"].text,
            "cited": [c.document for c in r["answer"].citations],
        }
        for r in rows
        if (r["item"].answerable and not r["score"]["correct"])
        or (not r["item"].answerable and not r["score"]["refused"])
    ]
    return results, report
