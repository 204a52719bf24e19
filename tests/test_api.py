"""The HTTP API through real HTTP: `python -m assistant serve` over a copy of the ingested sample store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import IngestReport
from tests.postgres import fresh_database
from tests.servers import ADMIN, ADMIN_KEY, ASK, ASK_KEY, QUOTA_KY, api_test_server
from tests.support import TINY_DOCS, cli_env, run_module, write_docs

# Slow: every test talks to the API server (`python -m assistant serve`) over the real model and store.
pytestmark = pytest.mark.slow

TALAS_Q = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def records_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Where the server keeps its records: the default SQLite file, or a fresh PostgreSQL database — the whole
    suite runs against each."""
    if request.param == "sqlite":
        return {}
    return {"BILIM_DATABASE_URL": fresh_database(request.getfixturevalue("postgres_url"), "api_suite")}


@pytest.fixture(scope="module")
def api_dir(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory, records_env: dict[str, str]
) -> Path:
    """A private copy of the ingested sample store for this database's server."""
    target = tmp_path_factory.mktemp("api") / "store"
    shutil.copytree(corpus_store_dir[0], target)
    return target


@pytest.fixture(scope="module")
def api(api_dir: Path, records_env: dict[str, str]) -> Iterator[str]:
    """The API tests' server over this module's store, its records in the parametrised database."""
    with api_test_server(api_dir, **records_env) as url:
        yield url


def ask(api: str, question: str, headers: dict[str, str] = ASK, **extra: Any) -> httpx.Response:
    """POST /v1/ask."""
    return httpx.post(f"{api}/v1/ask", json={"question": question, **extra}, headers=headers, timeout=60)


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the JSON error body with this status (and no stack trace)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "code", "detail"} and body["status"] == status
    assert "Traceback" not in body["detail"] and body["detail"]
    if code:
        assert body["code"] == code
    return body


# -- asking ---------------------------------------------------------------------------------------------


def test_ask_answers_with_citation_and_ids(api: str) -> None:
    response = ask(api, QUOTA_KY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"].startswith("Жооп: 375") and not body["refused"] and body["language"] == "ky"
    # The parts clients render: the lead span, the quote holding it at its highlight, the answerability.
    assert body["lead"] == {"text": "375", "citation": 1} and 0.0 < body["confidence"] <= 1.0
    citation = body["citations"][0]
    assert citation["quote"][citation["highlight"][0] : citation["highlight"][1]] == "375"
    assert citation["document"] == "minister-visit-russia-quotas.txt" and "375" in citation["quote"]
    assert body["answer_id"].startswith("a_") and body["conversation_id"].startswith("c_")
    assert len(f"src:{body['answer_id']}".encode()) <= 64  # fits Telegram callback data


def test_language_override_and_refusal_in_the_question_language(api: str) -> None:
    body = ask(api, QUOTA_KY, language="en").json()
    assert body["answer"].startswith("Answer:") and body["language"] == "en"
    # No passage states a distance: refused, in the question's language.
    refused = ask(api, "Бишкектен Ошко чейин канча километр?").json()
    assert refused["refused"] and refused["citations"] == [] and refused["answer"].startswith("Кечиресиз")


def test_follow_up_in_a_conversation(api: str) -> None:
    first = ask(api, "Министр квотаны канчага чейин көбөйтүүнү сунуштады?").json()
    assert "750" in first["answer"]
    follow = ask(api, "Алардын ичинен жетимдерге канчасы?", conversation_id=first["conversation_id"]).json()
    assert "50" in follow["answer"] and not follow["refused"]
    assert follow["conversation_id"] == first["conversation_id"]
    alone = ask(api, "Алардын ичинен жетимдерге канчасы?").json()
    assert alone["conversation_id"] != first["conversation_id"]


def test_conversations_are_private_to_their_owner(api: str) -> None:
    mine = ask(api, QUOTA_KY, headers={**ASK, "X-End-User": "student-a"}).json()
    theirs = ask(
        api, "Алардын ичинен?", headers={**ASK, "X-End-User": "student-b"}, conversation_id=mine["conversation_id"]
    )
    assert_problem(theirs, 404, "not_found")
    assert_problem(ask(api, QUOTA_KY, conversation_id="c_nope"), 404, "not_found")


def test_stored_answer_by_id(api: str) -> None:
    body = ask(api, QUOTA_KY).json()
    stored = httpx.get(f"{api}/v1/answers/{body['answer_id']}", headers=ASK, timeout=30)
    assert stored.status_code == 200
    again = stored.json()
    assert again["answer"] == body["answer"] and again["citations"] == body["citations"]
    assert again["question"] == QUOTA_KY
    assert_problem(httpx.get(f"{api}/v1/answers/a_unknown", headers=ASK), 404, "not_found")


def test_an_answer_is_read_and_rated_only_by_whoever_asked_it(api: str) -> None:
    mine = ask(api, QUOTA_KY, headers={**ASK, "X-End-User": "student-a"}).json()["answer_id"]
    url = f"{api}/v1/answers/{mine}"
    assert httpx.get(url, headers={**ASK, "X-End-User": "student-a"}, timeout=30).status_code == 200
    # Another student behind the same key, or another key, learns nothing from the id: the same 404.
    assert_problem(httpx.get(url, headers={**ASK, "X-End-User": "student-b"}, timeout=30), 404, "not_found")
    other_key = {"Authorization": "Bearer second-key"}
    assert_problem(httpx.get(url, headers=other_key, timeout=30), 404, "not_found")
    rating = {"answer_id": mine, "rating": "down"}
    stranger = httpx.post(f"{api}/v1/feedback", json=rating, headers={**ASK, "X-End-User": "student-b"}, timeout=30)
    assert_problem(stranger, 404, "not_found")
    own = httpx.post(f"{api}/v1/feedback", json=rating, headers={**ASK, "X-End-User": "student-a"}, timeout=30)
    assert own.status_code == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/ask", '{"question": "\\ud800 канча орун бар?"}'),
        ("/v1/ask/stream", '{"question": "\\udfff x"}'),
        ("/v1/ask", '{"question": "канча?", "conversation_id": "c_\\ud800"}'),
        ("/v1/feedback", '{"answer_id": "a_\\ud800", "rating": "up"}'),
        ("/v1/feedback", '{"answer_id": "a_x", "rating": "up", "comment": "\\udc00"}'),
    ],
    ids=["question", "stream", "conversation", "answer-id", "comment"],
)
def test_text_that_is_not_valid_unicode_gets_422_on_every_field(api: str, path: str, body: str) -> None:
    response = httpx.post(
        f"{api}{path}", content=body.encode(), headers={**ASK, "Content-Type": "application/json"}, timeout=30
    )
    assert_problem(response, 422, "invalid_input")
    assert "unicode" in response.json()["detail"].lower()


def _events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_streamed_answer_matches_the_stored_one(api: str) -> None:
    response = httpx.post(f"{api}/v1/ask/stream", json={"question": QUOTA_KY}, headers=ASK, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _events(response)
    names = [name for name, _ in events]
    assert names[0] == "status" and names[-2:] == ["citations", "done"] and names.count("answer") >= 2
    text = "".join(data["delta"] for name, data in events if name == "answer")
    done = events[-1][1]
    stored = httpx.get(f"{api}/v1/answers/{done['answer_id']}", headers=ASK).json()
    assert text == stored["answer"] and "375" in text
    assert events[-2][1]["citations"] == stored["citations"]
    assert done["lead"] == stored["lead"] == {"text": "375", "citation": 1}
    assert done["confidence"] == stored["confidence"] and 0.0 < done["confidence"] <= 1.0
    assert_problem(httpx.post(f"{api}/v1/ask/stream", json={"question": " "}, headers=ASK), 422, "invalid_input")


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n\t "}, "whitespace"),
        ({"question": "ж" * 1001}, "too long"),
        ({}, "missing"),
        ({"question": 42}, "not a string"),
        ({"question": "канча?", "language": "de"}, "unknown language"),
    ],
)
def test_bad_questions_get_422(api: str, payload: dict[str, Any], why: str) -> None:
    assert_problem(httpx.post(f"{api}/v1/ask", json=payload, headers=ASK, timeout=30), 422, "invalid_input")


@pytest.mark.parametrize(
    "question",
    ["👍🎓", "\u200b\u200b", "?!…", "\u200d\U0001f44d\ufe0f"],
    ids=["emoji", "zero-width", "punctuation", "joined-emoji"],
)
def test_a_question_without_words_gets_422_asking_for_words(api: str, question: str) -> None:
    for path in ("/v1/ask", "/v1/ask/stream"):
        body = assert_problem(httpx.post(f"{api}{path}", json={"question": question}, headers=ASK, timeout=30), 422)
        assert body["code"] == "not_a_question" and "ask a question" in body["detail"]


def test_an_unparseable_body_gets_400(api: str) -> None:
    for body in (b"{not json", b"\xff\xfe{"):
        response = httpx.post(
            f"{api}/v1/ask", content=body, headers={**ASK, "Content-Type": "application/json"}, timeout=30
        )
        assert_problem(response, 400, "invalid_body")


def test_a_wrong_method_gets_405_naming_every_allowed_one(api: str) -> None:
    response = httpx.request("PATCH", f"{api}/v1/documents", headers=ADMIN, timeout=30)
    assert_problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "POST"}


def test_keys_are_required_and_checked(api: str) -> None:
    assert_problem(ask(api, QUOTA_KY, headers={}), 401, "unauthorized")
    assert_problem(ask(api, QUOTA_KY, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert ask(api, QUOTA_KY, headers={"Authorization": "Bearer second-key"}).status_code == 200
    assert ask(api, QUOTA_KY, headers=ADMIN).status_code == 200  # admins may ask too
    assert_problem(httpx.get(f"{api}/v1/documents"), 401)
    config = httpx.get(f"{api}/v1/config").json()  # open: the web chat reads it before asking for a key
    assert config == {
        "auth_required": True,
        "admin_enabled": True,
        "max_question_chars": 1000,
        "max_upload_bytes": 300000,
        "generated_answers": False,  # BILIM_LLM_URL unset
        "llm_timeout": None,
    }


def test_unknown_route_is_a_json_404(api: str) -> None:
    assert_problem(httpx.get(f"{api}/v1/nothing-here", headers=ASK), 404, "not_found")


# -- documents -----------------------------------------------------------------------------------------


def test_document_list(api: str) -> None:
    docs = httpx.get(f"{api}/v1/documents", headers=ASK, timeout=30).json()["documents"]
    ids = {d["id"] for d in docs}
    assert "minister-visit-russia-quotas.txt" in ids and len(docs) >= 5
    for doc in docs:
        assert set(doc) == {"id", "title", "language", "chunks", "url", "date", "ingested_at", "synced_at", "labels"}
        assert (doc["synced_at"], doc["labels"]) == (None, [])  # uploaded or ingested, not synced
        assert doc["chunks"] > 0 and doc["ingested_at"]


def test_upload_answer_delete_refuse(api: str, api_dir: Path, tmp_path: Path) -> None:
    before = ask(api, TALAS_Q).json()
    assert all(c["document"] != "talas-school.txt" for c in before["citations"])
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    with (docs / "talas-school.txt").open("rb") as fh:
        response = httpx.post(
            f"{api}/v1/documents", headers=ADMIN, files=[("files", ("talas-school.txt", fh))], timeout=120
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"ingested": [{"id": "talas-school.txt", "chunks": 1, "status": "added"}], "failed": []}
    listed = httpx.get(f"{api}/v1/documents", headers=ASK).json()["documents"]
    assert "talas-school.txt" in {d["id"] for d in listed}

    answer = ask(api, TALAS_Q).json()
    assert "640" in answer["answer"] and answer["citations"][0]["document"] == "talas-school.txt"

    deleted = httpx.delete(f"{api}/v1/documents/talas-school.txt", headers=ADMIN, timeout=60)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "talas-school.txt", "chunks": 1}
    after = ask(api, TALAS_Q).json()
    assert "640" not in after["answer"]
    assert all(c["document"] != "talas-school.txt" for c in after["citations"])
    assert not (api_dir / "uploads" / "talas-school.txt").exists()
    assert_problem(httpx.delete(f"{api}/v1/documents/talas-school.txt", headers=ADMIN), 404, "not_found")


def test_upload_several_files_with_one_bad(api: str) -> None:
    files = [
        ("files", ("naryn-teachers.txt", TINY_DOCS["naryn-teachers.txt"].encode())),
        ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf")),
    ]
    body = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=files, timeout=120).json()
    assert body["ingested"] == [{"id": "naryn-teachers.txt", "chunks": 1, "status": "added"}]
    assert [f["file"] for f in body["failed"]] == ["broken.pdf"] and body["failed"][0]["error"]
    assert "85" in ask(api, "Нарын облусунун мектептеринде канча мугалим жетишпейт?").json()["answer"]
    assert httpx.delete(f"{api}/v1/documents/naryn-teachers.txt", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("binary.txt", bytes(range(256)) * 64, 415),
        ("program.exe", b"MZ\x90\x00", 415),
        ("broken.pdf", b"%PDF-1.7 garbage", 415),
        ("empty.txt", b"", 415),
        ("huge.txt", "Кыргызстан. ".encode() * 30000, 413),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(
    api: str, api_dir: Path, name: str, content: bytes, status: int
) -> None:
    response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=[("files", (name, content))], timeout=60)
    assert_problem(response, status)
    assert name not in {d["id"] for d in httpx.get(f"{api}/v1/documents", headers=ASK).json()["documents"]}
    assert not (api_dir / "uploads" / name).exists()


def test_uploaded_names_cannot_escape_the_data_dir(api: str, api_dir: Path) -> None:
    text = TINY_DOCS["osh-olympiad.txt"].encode()
    response = httpx.post(
        f"{api}/v1/documents", headers=ADMIN, files=[("files", ("../../escape-olympiad.txt", text))], timeout=120
    )
    assert response.status_code == 200, response.text
    assert response.json()["ingested"][0]["id"] == "escape-olympiad.txt"
    assert (api_dir / "uploads" / "escape-olympiad.txt").is_file()
    assert not (api_dir.parent / "escape-olympiad.txt").exists() and not Path("/escape-olympiad.txt").exists()
    assert httpx.delete(f"{api}/v1/documents/escape-olympiad.txt", headers=ADMIN).status_code == 200


def test_two_files_stored_under_one_name_are_refused_before_anything_is_staged(api: str, api_dir: Path) -> None:
    text = TINY_DOCS["osh-olympiad.txt"].encode()
    for names in (("same.txt", "same.txt"), ("a/same.txt", "b/same.txt"), ("same?.txt", "same*.txt")):
        files = [("files", (name, text)) for name in names]
        response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=files, timeout=60)
        assert_problem(response, 422, "invalid_input")
        assert "rename one" in response.json()["detail"]
    assert not [p for p in (api_dir / "uploads").rglob("same*") if p.is_file()]  # nothing staged or kept


def test_a_long_non_latin_file_name_is_cut_to_what_the_file_system_holds(api: str, api_dir: Path) -> None:
    name = "中" * 90 + ".txt"  # 274 bytes of UTF-8
    text = TINY_DOCS["osh-olympiad.txt"].encode()
    response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=[("files", (name, text))], timeout=120)
    assert response.status_code == 200, response.text
    stored = response.json()["ingested"][0]["id"]
    assert stored.endswith(".txt") and stored.startswith("中") and len(stored.encode()) <= 200
    assert (api_dir / "uploads" / stored).is_file()
    assert httpx.delete(f"{api}/v1/documents/{stored}", headers=ADMIN, timeout=60).status_code == 200


def test_an_upload_says_whether_it_added_replaced_or_kept_a_document(api: str) -> None:
    def upload(text: str) -> dict[str, Any]:
        files = [("files", ("replace-me.txt", text.encode()))]
        response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=files, timeout=120)
        assert response.status_code == 200, response.text
        return dict(response.json()["ingested"][0])

    assert upload(TINY_DOCS["osh-olympiad.txt"])["status"] == "added"
    assert upload(TINY_DOCS["osh-olympiad.txt"])["status"] == "unchanged"
    assert upload(TINY_DOCS["naryn-teachers.txt"])["status"] == "replaced"
    assert httpx.delete(f"{api}/v1/documents/replace-me.txt", headers=ADMIN, timeout=60).status_code == 200


def test_hostile_documents_are_413s_and_leave_nothing_behind(api: str, api_dir: Path, tmp_path: Path) -> None:
    import time

    from tests.test_loaders import docx_with_body, zip_bomb_docx

    for name, path in (
        ("bomb.docx", zip_bomb_docx(tmp_path / "bomb.docx")),
        ("flood.docx", docx_with_body(tmp_path / "flood.docx", b"<w:p/>" * 2_000_000)),
    ):
        started = time.perf_counter()
        with path.open("rb") as fh:
            response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=[("files", (name, fh))], timeout=60)
        assert_problem(response, 413, "payload_too_large")
        assert time.perf_counter() - started < 5  # refused while unzipping, not after parsing
        assert not (api_dir / "uploads" / name).exists()


def test_a_document_with_more_text_than_an_upload_may_hold_is_a_413_naming_the_limit(api: str, api_dir: Path) -> None:
    text = ("Osh shaarynda zhany mektep achyldy. " * 6300).encode()  # 226,800 characters, under 300 kB
    files = [("files", ("long-report.txt", text))]
    response = httpx.post(f"{api}/v1/documents", headers=ADMIN, files=files, timeout=60)
    body = assert_problem(response, 413, "payload_too_large")
    assert "200000" in body["detail"] and "python -m ingest" in body["detail"]
    assert not (api_dir / "uploads" / "long-report.txt").exists()


def test_document_management_needs_an_admin_key(api: str) -> None:
    files = [("files", ("x.txt", b"text"))]
    assert_problem(httpx.post(f"{api}/v1/documents", headers=ASK, files=files), 403, "forbidden")
    assert_problem(httpx.post(f"{api}/v1/documents", files=files), 401, "unauthorized")
    assert_problem(httpx.delete(f"{api}/v1/documents/minister-visit-russia-quotas.txt", headers=ASK), 403)
    assert_problem(httpx.delete(f"{api}/v1/documents/no-such-doc.txt", headers=ADMIN), 404, "not_found")


# -- feedback, health, metrics -----------------------------------------------------------------------


def test_feedback_is_stored_and_exported_as_draft_gold_lines(
    api: str, api_dir: Path, tmp_path: Path, records_env: dict[str, str]
) -> None:
    first = ask(api, "Министр квотаны канчага чейин көбөйтүүнү сунуштады?").json()
    follow = ask(api, "Алардын ичинен жетимдерге канчасы?", conversation_id=first["conversation_id"]).json()
    down = httpx.post(
        f"{api}/v1/feedback",
        headers=ASK,
        json={"answer_id": follow["answer_id"], "rating": "down", "comment": "толук эмес"},
    )
    assert down.status_code == 201 and isinstance(down.json()["id"], int)
    up = httpx.post(f"{api}/v1/feedback", headers=ASK, json={"answer_id": first["answer_id"], "rating": "up"})
    assert up.status_code == 201
    assert_problem(httpx.post(f"{api}/v1/feedback", headers=ASK, json={"answer_id": "a_x", "rating": "up"}), 404)
    assert_problem(
        httpx.post(f"{api}/v1/feedback", headers=ASK, json={"answer_id": first["answer_id"], "rating": "meh"}), 422
    )

    out = tmp_path / "drafts.jsonl"
    result = run_module(
        "eval", "feedback", "--data-dir", api_dir, "--out", out, "--rating", "down", env=cli_env(**records_env)
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    draft = next(line for line in lines if line["review"]["answer_id"] == follow["answer_id"])
    assert draft["question"] == "Алардын ичинен жетимдерге канчасы?" and draft["lang"] == "ky"
    assert draft["context"] == ["Министр квотаны канчага чейин көбөйтүүнү сунуштады?"]
    assert draft["must"] == [] and draft["review"]["comment"] == "толук эмес" and draft["review"]["rating"] == "down"
    assert {"id", "lang", "question", "must", "source", "answerable"} <= set(draft)
    assert all(line["review"]["rating"] == "down" for line in lines)


def test_health_ready_metrics_and_openapi(api: str) -> None:
    assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api}/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] > 100
    ask(api, QUOTA_KY)
    metrics_response = httpx.get(f"{api}/metrics")
    assert metrics_response.headers["content-type"].startswith("text/plain")
    metrics = metrics_response.text
    schema = httpx.get(f"{api}/openapi.json").json()
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert {"400", "401", "404", "422", "429", "503"} <= set(schema["paths"]["/v1/ask"]["post"]["responses"])
    assert 'bilim_requests_total{method="POST",route="/v1/ask",status="200"}' in metrics
    assert "bilim_request_seconds_bucket" in metrics and 'bilim_answers_total{language="ky"}' in metrics
    assert "bilim_ingested_chunks" in metrics
    schema = httpx.get(f"{api}/openapi.json").json()
    assert {"/v1/ask", "/v1/ask/stream", "/v1/answers/{answer_id}", "/v1/documents", "/v1/feedback"} <= set(
        schema["paths"]
    )
    assert httpx.get(f"{api}/docs").status_code == 200
    page = httpx.get(f"{api}/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]


def test_keys_never_reach_the_log(api: str, api_dir: Path) -> None:
    ask(api, QUOTA_KY)
    log = (api_dir.parent / "api.log").read_text()
    assert ASK_KEY not in log and ADMIN_KEY not in log


# -- the single-writer guard ---------------------------------------------------------------------------


def test_a_second_writer_stops_with_a_clear_message(api: str, api_dir: Path, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", {"x.txt": TINY_DOCS["talas-school.txt"]})
    result = run_module("ingest", docs, "--data-dir", api_dir)
    assert result.returncode == 2
    assert "another process is writing" in result.stderr and "Traceback" not in result.stderr
    second = run_module("assistant", "serve", "--data-dir", api_dir, "--port", "1", timeout=120)
    assert second.returncode != 0 and "another process is writing" in (second.stderr + second.stdout)
    assert httpx.get(f"{api}/readyz").status_code == 200  # the running server is unharmed
