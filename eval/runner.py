"""Runs a QA file through the same pipeline the service uses and scores retrieval and answers."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer_json import answer_text, answer_to_json
from assistant.core.errors import ConfigurationError, InvalidInput
from assistant.core.models import Answer
from assistant.core.ports import Embedder
from assistant.core.sentence_vectors import sentence_vectors_version
from assistant.settings import Settings
from assistant.wiring import IngestReport, Service, build_service, ingest_into
from eval import metrics
from eval.configs import RunConfig

Progress = Callable[[int, str], Any]


GOLD_PARTS = ("fit", "test")
SPAN_KINDS = frozenset({"count", "date", "who", "where"})


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
    kind: str = "other"  # count / date / who / where ask for a span; other for a passage
    evidence: tuple[str, ...] = ()  # the reader set's verbatim passages: a sentence is the answer only inside them

    @property
    def wants_span(self) -> bool:
        """Whether the question asks for a number, date, name or place (a null lead is then a miss)."""
        return self.kind in SPAN_KINDS


def qa_files(path: Path, split: str = "all") -> list[Path]:
    """The files of a gold set: one JSONL file, or a folder's `fit.jsonl` and/or `test.jsonl` parts."""
    path = Path(path)
    if path.is_dir():
        return [path / f"{part}.jsonl" for part in (GOLD_PARTS if split == "all" else (split,))]
    if split != "all":
        raise InvalidInput(f"--split {split} needs a gold set folder with fit.jsonl and test.jsonl, not {path}")
    return [path]


def load_qa(path: Path, split: str = "all") -> list[QAItem]:
    """Read a gold set (a JSONL file, or a folder's parts: `split` is all, fit or test)."""
    return [item for file in qa_files(path, split) for item in _read_items(file, "gold-set", _gold_item)]


def load_reader_set(path: Path) -> list[QAItem]:
    """Read a reader training set file (eval/datasets/reader/): its answer span becomes the one fact."""
    return _read_items(path, "reader-set", _reader_item)


def _gold_item(raw: dict[str, Any]) -> QAItem:
    return QAItem(
        id=str(raw["id"]),
        lang=raw["lang"],
        question=raw["question"],
        must=raw.get("must", []),
        source=raw.get("source"),
        answerable=bool(raw.get("answerable", True)),
        context=raw.get("context", []),
        kind=raw.get("kind", "other"),
    )


def _reader_item(raw: dict[str, Any]) -> QAItem:
    answerable = bool(raw["answerable"])
    return QAItem(
        id=str(raw["id"]),
        lang=raw["lang"],
        question=raw["question"],
        must=[[raw["answer"]]] if answerable else [],
        source=raw["source"],
        answerable=answerable,
        context=[],
        kind=raw.get("kind", "other"),
        evidence=tuple(raw["evidence"]),
    )


def _read_items(file: Path, what: str, build: Callable[[dict[str, Any]], QAItem]) -> list[QAItem]:
    """The questions of one JSON-lines file; a line that is not one is named in the error."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the {what.replace('-', ' ')} {file}: {exc}") from exc
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(build(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{file}, line {number}: not a {what} question ({exc!r})") from exc
    return items


def store_dir_for(corpora: Sequence[Path], embedder: Embedder, base: Path) -> Path:
    """A store directory of its own for each set of corpora, embedder and sentence-vector version (a new chunker
    re-chunks in place; an answer embedder's sentence vectors get a store of their own, not re-embedded back and
    forth)."""
    key = "\n".join(sorted(str(Path(c).resolve()) for c in corpora))
    key += f"\n{embedder.name}\n{sentence_vectors_version(embedder)}"
    return base / hashlib.sha256(key.encode()).hexdigest()[:12]


def prepare_store(corpora: Sequence[Path], data_dir: Path, embedder: Embedder, progress: Progress) -> IngestReport:
    """Ingest the corpora into the evaluation store (incremental: quick when already done)."""
    return ingest_into(Settings(data_dir=data_dir), corpora, embedder=embedder, progress=progress)


def score_item(item: QAItem, answer: Answer) -> dict[str, Any]:
    """Per-question retrieval and answer scores, read from the answer's parts (never from its rendered text)."""
    ranking = metrics.document_ranking(sc.chunk.document_id for sc in answer.retrieved)
    quotes = [c.quote for c in answer.citations]
    lead = answer.lead.text if answer.lead is not None else None
    said = " ".join(segment.text for segment in answer.segments)  # a generated answer's verified sentences
    stated = "\n".join([lead or "", said, *quotes])
    # A question that asks for a span is answered in the lead (or the generated sentences); a passage question by
    # its quotes.
    if lead is None and said:
        lead = said
    lead_part = lead if lead is not None else ("" if item.wants_span else "\n".join(quotes))
    row: dict[str, Any] = {
        "refused": answer.refused,
        "has_lead": lead is not None,
        # A lead shown in bold that doesn't hold the answer (any lead of an unanswerable question): what users
        # are misled by most.
        "wrong_lead": (not answer.refused)
        and lead is not None
        and not (item.answerable and metrics.all_facts_present(item.must, lead)),
        "length": len(answer_text(answer)),
        "unsupported_numbers": sorted(metrics.unsupported_numbers(lead or "", quotes)) if not answer.refused else [],
        "latency_ms": answer.timings_ms.get("total", 0.0),
    }
    if item.answerable and item.source:
        given = "\n".join(sc.chunk.text for sc in answer.retrieved)
        top3 = "\n".join(sc.chunk.text for sc in answer.retrieved[:3])
        row.update(
            hit1=metrics.hit_at(ranking, item.source, 1),
            hit5=metrics.hit_at(ranking, item.source, 5),
            mrr10=metrics.reciprocal_rank(ranking, item.source, 10),
            ndcg10=metrics.ndcg_at(ranking, item.source, 10),
            fact_recall3=1.0 if metrics.all_facts_present(item.must, top3) else 0.0,
            ceiling=1.0 if metrics.all_facts_present(item.must, given) else 0.0,
            correct=(not answer.refused) and metrics.all_facts_present(item.must, stated),
            lead_correct=(not answer.refused) and metrics.all_facts_present(item.must, lead_part),
            gold_cited=(not answer.refused) and any(c.document == item.source for c in answer.citations),
            citations_ok=[
                c.document == item.source or any(metrics.fact_present(f, c.quote) for f in item.must)
                for c in answer.citations
            ],
        )
    return row


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


# Figures reported with a bootstrap 95 % interval: with ~20 questions a language, one standard error is ~9 points.
INTERVAL_METRICS = ("answer_accuracy", "lead_accuracy", "ceiling", "hit@1", "refusal_recall", "false_refusals")


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summary metrics over scored rows (each row has `item` and `score`), with 95 % intervals."""
    answerable = [r for r in rows if r["item"].answerable]
    unanswerable = [r for r in rows if not r["item"].answerable]
    scored = [r["score"] for r in answerable]
    cites = [ok for s in scored for ok in s["citations_ok"]]
    refused_all = [r for r in rows if r["score"]["refused"]]
    correct_refusals = [r for r in refused_all if not r["item"].answerable]
    answered = [r["score"] for r in rows if not r["score"]["refused"]]
    per_question = {
        "answer_accuracy": [1.0 if s["correct"] else 0.0 for s in scored],
        "lead_accuracy": [1.0 if s["lead_correct"] else 0.0 for s in scored],
        "ceiling": [s["ceiling"] for s in scored],
        "hit@1": [s["hit1"] for s in scored],
        "refusal_recall": [1.0 if r["score"]["refused"] else 0.0 for r in unanswerable],
        "false_refusals": [1.0 if s["refused"] else 0.0 for s in scored],
    }
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": _mean(per_question["hit@1"]),
        "hit@5": _mean([s["hit5"] for s in scored]),
        "mrr@10": _mean([s["mrr10"] for s in scored]),
        "ndcg@10": _mean([s["ndcg10"] for s in scored]),
        "fact_recall@3": _mean([s["fact_recall3"] for s in scored]),
        "ceiling": _mean(per_question["ceiling"]),
        "answer_accuracy": _mean(per_question["answer_accuracy"]),
        "lead_accuracy": _mean(per_question["lead_accuracy"]),
        "lead_share": _mean([1.0 if s["has_lead"] else 0.0 for s in answered]),
        "wrong_leads": _mean([1.0 if s["wrong_lead"] else 0.0 for s in answered]),
        "gold_cited": _mean([1.0 if s["gold_cited"] else 0.0 for s in scored]),
        "citation_precision": _mean([1.0 if ok else 0.0 for ok in cites]),
        "unsupported_numbers": sum(len(r["score"]["unsupported_numbers"]) for r in rows),
        "refusal_precision": round(len(correct_refusals) / len(refused_all), 4) if refused_all else 1.0,
        "refusal_recall": round(len(correct_refusals) / len(unanswerable), 4) if unanswerable else 1.0,
        "false_refusals": _mean(per_question["false_refusals"]),
        "median_answer_chars": metrics.median([s["length"] for s in answered]),
        "latency_p50_ms": round(metrics.percentile([r["score"]["latency_ms"] for r in rows], 50), 1),
        "latency_p95_ms": round(metrics.percentile([r["score"]["latency_ms"] for r in rows], 95), 1),
        "interval95": {name: metrics.bootstrap_interval(per_question[name]) for name in INTERVAL_METRICS},
    }


def configured_service(config: RunConfig, data_dir: Path, embedder: Embedder) -> Service:
    """The service a configuration names, over the store at `data_dir`."""
    # Only the `llm` configuration talks to a model: every other one ignores BILIM_LLM_URL, so figures never move
    # with the environment.
    settings = Settings(data_dir=data_dir, answerer=config.answerer, refusal=config.refusal, leads=config.leads)
    if not config.generated:
        settings = settings.model_copy(update={"llm_url": None})
    if config.generated and not settings.llm_url:
        raise ConfigurationError("--config llm needs a model server: set BILIM_LLM_URL (and BILIM_LLM_MODEL)")
    return build_service(settings, fusion=config.fusion, embedder=embedder, stemmed=config.stemmed)


def evaluate(
    items: Sequence[QAItem],
    *,
    data_dir: Path,
    embedder: Embedder,
    config: RunConfig,
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ask every question through the service pipeline; return per-question results and the report."""
    service = configured_service(config, data_dir, embedder)
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
    if config.generated:
        answers = [r["answer"] for r in rows if not r["answer"].refused or r["answer"].generator == "llm"]
        reasons = Counter(a.fallback_reason for a in answers if a.fallback_reason)
        report["generation"] = {
            "verified_rate": _mean([1.0 if a.generator == "llm" else 0.0 for a in answers]),
            "fallback_rate": _mean([1.0 if a.fallback_reason else 0.0 for a in answers]),
            "fallbacks": dict(reasons.most_common()),
        }
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
            "given": answer_text(r["answer"]),
            "cited": [c.document for c in r["answer"].citations],
        }
        for r in rows
        if (r["item"].answerable and not r["score"]["correct"])
        or (not r["item"].answerable and not r["score"]["refused"])
    ]
    return results, report
