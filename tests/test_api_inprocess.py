"""Every API route in-process (httpx's ASGI transport, no server), over adapters registered through the root.

The fake embedder, the in-memory store and a no-op reranker are plugged in with `register_*` of
`assistant.wiring` and chosen by settings, exactly as a second store adapter or a real reranker would be:
nothing else of the project changes for them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from assistant import answer_json, wiring
from assistant.api.app import create_app
from assistant.core.models import Answer, Question, ScoredChunk
from assistant.settings import Settings
from tests.fakes import FakeEmbedder, InMemoryChunkStore, NoOpReranker, registered_fakes

ADMIN = {"Authorization": "Bearer admin-key"}
GRANTS = (
    "Scholarships for applicants.\n\n"
    "The ministry grants 120 scholarships to graduates of rural schools every year. "
    "Applications are accepted from the first of June at the admission office."
)
EXCHANGE = (
    "Student exchange with Turkey.\n\n"
    "Forty students of the agrarian university will study in Ankara for one semester. "
    "The exchange covers tuition and a monthly allowance."
)


class CountingReranker(NoOpReranker):
    """The no-op reranker, counting its calls: proof that the pipeline runs the registered one."""

    calls = 0

    def rerank(self, question: Question, chunks: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The chunks unchanged."""
        CountingReranker.calls += 1
        return super().rerank(question, chunks)


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio."""
    return "asyncio"


@pytest.fixture
def registered() -> Iterator[dict[Path, InMemoryChunkStore]]:
    """The fakes and a counting no-op reranker registered through the composition root."""
    with registered_fakes() as stores:
        wiring.register_reranker("noop", lambda settings, embedder: CountingReranker())
        yield stores
        wiring.RERANKERS.pop("noop")


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "embedder": "fake",
        "store": "memory",
        "reranker": "noop",
        "admin_keys": "admin-key",
        "rate_limit": "1000/hour",
        # The fake embedder's cosines run far below e5's, and so does the fitted answerability: never refuse here.
        "min_answer_confidence": 0.0,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (lifespan) and a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bilim.test") as client:
            yield client


async def _upload(client: httpx.AsyncClient, *files: tuple[str, str]) -> httpx.Response:
    parts = [("files", (name, text.encode(), "text/plain")) for name, text in files]
    return await client.post("/v1/documents", files=parts, headers=ADMIN)


EXERCISED: set[tuple[str, str]] = set()  # (method, route path) of every request these tests made


def _app(settings: Settings) -> FastAPI:
    """The app built by the root from settings alone, noting which routes the tests reach."""
    app = create_app(settings)

    @app.middleware("http")
    async def note_route(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        if isinstance(route, APIRoute):
            EXERCISED.add((request.method, route.path))
        return response

    return app


@pytest.fixture
def app(tmp_path: Path, registered: dict[Path, InMemoryChunkStore]) -> FastAPI:
    """The app over the registered fakes."""
    return _app(_settings(tmp_path))


@pytest.mark.anyio
async def test_the_root_builds_the_registered_adapters(app: FastAPI, registered: dict[Path, Any]) -> None:
    async with serving(app) as client:
        service = app.state.bilim.service
        assert isinstance(service.embedder, FakeEmbedder)
        assert isinstance(service.store, InMemoryChunkStore)
        assert service.store is next(iter(registered.values()))
        assert isinstance(service.reranker, CountingReranker)
        assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.anyio
async def test_an_empty_store_is_not_ready_then_an_upload_makes_it_answerable(app: FastAPI) -> None:
    async with serving(app) as client:
        empty = await client.get("/readyz")
        assert empty.status_code == 503
        assert empty.json()["code"] == "empty_store"

        uploaded = await _upload(client, ("grants.txt", GRANTS), ("exchange.txt", EXCHANGE))
        assert uploaded.status_code == 200, uploaded.text
        body = uploaded.json()
        assert [(d["id"], d["status"]) for d in body["ingested"]] == [
            ("grants.txt", "added"),
            ("exchange.txt", "added"),
        ]
        assert body["failed"] == []
        assert all(d["chunks"] >= 1 for d in body["ingested"])

        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert ready["chunks"] == sum(d["chunks"] for d in body["ingested"])

        listed = (await client.get("/v1/documents")).json()["documents"]
        assert [d["id"] for d in listed] == ["exchange.txt", "grants.txt"]
        assert listed[1]["title"] == "Scholarships for applicants."

        calls = CountingReranker.calls
        asked = await client.post("/v1/ask", json={"question": "How many scholarships does the ministry grant?"})
        assert asked.status_code == 200, asked.text
        answer = asked.json()
        assert not answer["refused"]
        assert answer["citations"][0]["document"] == "grants.txt"
        assert "120 scholarships" in answer["citations"][0]["quote"]
        assert "120" in answer["answer"]
        assert CountingReranker.calls == calls + 1


@pytest.mark.anyio
async def test_an_asked_answer_is_rendered_once_and_served_as_stored(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    real = answer_json.answer_to_json

    def counting(answer: Answer) -> dict[str, Any]:
        renders.append(answer.language)
        return real(answer)

    for module in list(sys.modules.values()):  # wherever the project imported it
        if module.__name__.startswith("assistant") and getattr(module, "answer_to_json", None) is real:
            monkeypatch.setattr(module, "answer_to_json", counting)
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS))
        asked = (
            await client.post("/v1/ask", json={"question": "How many scholarships does the ministry grant?"})
        ).json()
        assert renders == ["en"]  # once: what is recorded is what the client gets
        stored = (await client.get(f"/v1/answers/{asked['answer_id']}")).json()
        assert {k: stored[k] for k in asked} == asked


@pytest.mark.anyio
async def test_a_conversation_continues_and_its_answers_are_stored(app: FastAPI) -> None:
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS), ("exchange.txt", EXCHANGE))
        first = (await client.post("/v1/ask", json={"question": "How many students will study in Ankara?"})).json()
        follow = await client.post(
            "/v1/ask",
            json={"question": "And what does the exchange cover?", "conversation_id": first["conversation_id"]},
        )
        assert follow.status_code == 200
        assert follow.json()["conversation_id"] == first["conversation_id"]
        assert follow.json()["citations"][0]["document"] == "exchange.txt"

        stored = await client.get(f"/v1/answers/{first['answer_id']}")
        assert stored.status_code == 200
        assert stored.json()["question"] == "How many students will study in Ankara?"

        rated = await client.post("/v1/feedback", json={"answer_id": first["answer_id"], "rating": "up"})
        assert rated.status_code == 201
        assert isinstance(rated.json()["id"], int)

        unknown = await client.post("/v1/ask", json={"question": "Who signed it?", "conversation_id": "c_nope"})
        assert unknown.status_code == 404
        assert (await client.get("/v1/answers/a_nope")).status_code == 404


@pytest.mark.anyio
async def test_the_stream_gives_the_same_answer_as_events(app: FastAPI) -> None:
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS))
        question = {"question": "How many scholarships does the ministry grant?"}
        plain = (await client.post("/v1/ask", json=question)).json()
        streamed = await client.post("/v1/ask/stream", json=question)
        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = [
            (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
            for block in streamed.text.strip().split("\n\n")
        ]
        names = [name for name, _ in events]
        assert names[0] == "status" and names[-2:] == ["citations", "done"]
        assert "".join(data["delta"] for name, data in events if name == "answer") == plain["answer"]
        assert events[-2][1]["citations"] == plain["citations"]

        bad = await client.post("/v1/ask/stream", json={"question": "   "})
        assert bad.status_code == 422  # checked by the same use case before the stream starts


@pytest.mark.anyio
async def test_bad_questions_get_clear_4xx(app: FastAPI) -> None:
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS))
        cases = [
            ({"question": ""}, 422, "invalid_input"),
            ({"question": "🙂🙂"}, 422, "not_a_question"),
            ({"question": "x" * 1001}, 422, "invalid_input"),
            ({"question": "ok?", "language": "de"}, 422, "invalid_input"),
        ]
        for body, status, code in cases:
            response = await client.post("/v1/ask", json=body)
            assert (response.status_code, response.json()["code"]) == (status, code), body
        broken = await client.post("/v1/ask", content=b"{", headers={"content-type": "application/json"})
        assert (broken.status_code, broken.json()["code"]) == (400, "invalid_body")
        wrong_method = await client.put("/v1/ask", json={"question": "x"})
        assert wrong_method.status_code == 405
        assert wrong_method.headers["allow"] == "POST"


@pytest.mark.anyio
async def test_documents_are_replaced_refused_and_deleted(app: FastAPI) -> None:
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS))
        again = (await _upload(client, ("grants.txt", GRANTS))).json()
        assert again["ingested"][0]["status"] == "unchanged"
        changed = (await _upload(client, ("grants.txt", GRANTS.replace("120", "150")))).json()
        assert changed["ingested"][0]["status"] == "replaced"

        mixed = (await _upload(client, ("notes.exe", "binary"), ("exchange.txt", EXCHANGE))).json()
        assert [d["id"] for d in mixed["ingested"]] == ["exchange.txt"]
        assert mixed["failed"][0]["file"] == "notes.exe"
        assert "unsupported file type" in mixed["failed"][0]["error"]
        only_bad = await _upload(client, ("notes.exe", "binary"))
        assert only_bad.status_code == 415

        no_key = await client.post("/v1/documents", files=[("files", ("a.txt", b"text", "text/plain"))])
        assert no_key.status_code == 401

        deleted = await client.delete("/v1/documents/grants.txt", headers=ADMIN)
        assert deleted.status_code == 200
        assert deleted.json()["deleted"] == "grants.txt" and deleted.json()["chunks"] >= 1
        assert [d["id"] for d in (await client.get("/v1/documents")).json()["documents"]] == ["exchange.txt"]
        assert (await client.delete("/v1/documents/grants.txt", headers=ADMIN)).status_code == 404

        asked = await client.post("/v1/ask", json={"question": "How many scholarships does the ministry grant?"})
        assert all(c["document"] != "grants.txt" for c in asked.json()["citations"])


@pytest.mark.anyio
async def test_system_routes_answer(app: FastAPI) -> None:
    async with serving(app) as client:
        config = (await client.get("/v1/config")).json()
        assert config["max_question_chars"] == 1000
        assert config["admin_enabled"] is True and config["auth_required"] is False
        page = await client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert "content-security-policy" in page.headers
        assert (await client.get("/docs")).status_code == 200
        schema = (await client.get("/openapi.json")).json()
        assert "/v1/ask" in schema["paths"]
        asked = await client.post("/v1/ask", json={"question": "How many scholarships?"})
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        for response in (asked, missing, page):  # every response, found or not, carries the security headers
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
        assert asked.headers["x-served-by"] == missing.headers["x-served-by"] != ""
        metrics = (await client.get("/metrics")).text
        assert 'bilim_requests_total{method="POST",route="/v1/ask",status="200"} 1.0' in metrics
        assert 'bilim_requests_total{method="GET",route="unmatched",status="404"} 1.0' in metrics


@pytest.mark.anyio
async def test_keys_guard_asking_when_configured(tmp_path: Path, registered: dict[Path, Any]) -> None:
    app = _app(_settings(tmp_path, api_keys="ask-key"))
    async with serving(app) as client:
        assert (await client.get("/v1/documents")).status_code == 401
        ok = await client.get("/v1/documents", headers={"Authorization": "Bearer ask-key"})
        assert ok.status_code == 200
        forbidden = await client.delete("/v1/documents/x.txt", headers={"Authorization": "Bearer ask-key"})
        assert forbidden.status_code == 403


def test_an_unknown_adapter_name_is_a_clear_configuration_error(tmp_path: Path, registered: dict[Path, Any]) -> None:
    from assistant.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="unknown store 'nowhere'"):
        wiring.build_service(_settings(tmp_path, store="nowhere"))
    with pytest.raises(ConfigurationError, match=r"unknown reranker 'nowhere'.*noop"):
        wiring.build_service(_settings(tmp_path, reranker="nowhere"))


@pytest.mark.anyio
async def test_an_upload_and_a_delete_read_only_their_own_documents(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into a large store an upload must cost its own chunks, not a read of every document's metadata."""
    async with serving(app) as client:
        await _upload(client, ("grants.txt", GRANTS))
        store = app.state.bilim.service.store
        asked_for: list[Any] = []
        read = store.documents

        def documents(ids: Any = None) -> Any:
            asked_for.append(None if ids is None else sorted(ids))
            return read(ids)

        monkeypatch.setattr(store, "documents", documents)
        assert (await _upload(client, ("exchange.txt", EXCHANGE))).json()["ingested"][0]["status"] == "added"
        assert (await client.delete("/v1/documents/grants.txt", headers=ADMIN)).status_code == 200
        assert asked_for and None not in asked_for
        assert {name for ids in asked_for for name in ids} == {"exchange.txt", "grants.txt"}


def test_every_route_was_exercised_in_process(tmp_path: Path, registered: dict[Path, Any]) -> None:
    """Runs last in this file: a new route fails here until a test above reaches it."""
    routes = {
        (method, route.path)
        for route in create_app(_settings(tmp_path)).routes
        if isinstance(route, APIRoute)  # ours; FastAPI's /openapi.json is asked for above too
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes - EXERCISED == set()
