"""Prometheus metrics of one app instance (its own registry, so tests can build several apps).

With several uvicorn workers, `python -m assistant serve` sets PROMETHEUS_MULTIPROC_DIR before the workers start:
each worker then writes its values to files there and a scrape, whichever worker answers it, sums them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class Metrics:
    """Requests and latency by route, answers, refusals, feedback, generated answers and the stored chunks."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "bilim_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "bilim_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.answers = Counter("bilim_answers_total", "answers given", ["language"], registry=self.registry)
        self.refusals = Counter("bilim_refusals_total", "questions refused", ["language"], registry=self.registry)
        self.feedback = Counter("bilim_feedback_total", "feedback received", ["rating"], registry=self.registry)
        # Every worker sees the same store: a scrape reports the largest of their (equal) counts, not their sum.
        self.chunks = Gauge(
            "bilim_ingested_chunks", "chunks in the store", registry=self.registry, multiprocess_mode="max"
        )
        self.ingested = Counter(
            "bilim_ingested_documents_total", "documents ingested through the API", registry=self.registry
        )
        # With BILIM_LLM_URL: the model's replies, those verification passed (shown), and the extractive answers
        # given instead, by why (busy, timeout, unsupported, …).
        self.generated = Counter("bilim_generated_answers_total", "replies the model wrote", registry=self.registry)
        self.verified = Counter(
            "bilim_verified_answers_total",
            "generated answers shown (verified, or its NO_ANSWER)",
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "bilim_generation_fallbacks_total",
            "extractive answers given instead of a generated one",
            ["reason"],
            registry=self.registry,
        )

        # What this worker's start-up reconciliation of the uploads with the store found, by outcome (agreed,
        # reingested, removed, …): an agreeing store shows only `agreed`, and nothing was embedded.
        self.reconciled = Gauge(
            "bilim_startup_reconciled_documents",
            "uploaded documents by what start-up reconciliation did with them",
            ["outcome"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.long_questions_waiting = Gauge(
            "bilim_long_questions_waiting",
            "long questions waiting for a slot of the bounded pool",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.long_questions_turned_away = Counter(
            "bilim_long_questions_turned_away_total",
            "long questions answered 503 busy: no slot within the wait",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format: of this process, or of every worker in multiprocess mode."""
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
