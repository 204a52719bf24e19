"""Deployment shapes of the API: rate limits per end user, two workers on a `chroma run` server, first-run seeding,
retention of stored records."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.records import RecordStore
from ingest.pipeline import IngestReport
from tests.servers import QUOTA_KY, api_server, chroma_process, chroma_server, free_port
from tests.support import TINY_DOCS, json_summary, run_module, write_docs

# Slow: every test starts API or Chroma servers.
pytestmark = pytest.mark.slow

TALAS_Q = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"
QUOTA_750 = "Министр квотаны канчага чейин көбөйтүүнү сунуштады?"


def test_rate_limit_is_per_end_user_and_admin_endpoints_are_off(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    key = {"Authorization": "Bearer bot-key"}
    with api_server(data, tmp_path / "api.log", BILIM_API_KEYS="bot-key", BILIM_RATE_LIMIT="3/hour") as api:
        student_a = {**key, "X-End-User": "hashed-student-a"}
        for _ in range(3):
            assert httpx.get(f"{api}/v1/documents", headers=student_a).status_code == 200
        limited = httpx.get(f"{api}/v1/documents", headers=student_a)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 3600
        # Another student of the same bot still gets answers.
        other = httpx.post(
            f"{api}/v1/ask", json={"question": QUOTA_KY}, headers={**key, "X-End-User": "hashed-student-b"}, timeout=60
        )
        assert other.status_code == 200 and "375" in other.json()["answer"]
        # Without BILIM_ADMIN_KEYS document management answers 403, even to a valid key.
        upload = httpx.post(f"{api}/v1/documents", headers=key, files=[("files", ("a.txt", b"text"))])
        assert upload.status_code == 403 and "BILIM_ADMIN_KEYS" in upload.json()["detail"]
        assert httpx.delete(f"{api}/v1/documents/minister-visit-russia-quotas.txt", headers=key).status_code == 403


def test_open_server_limits_by_address_whatever_end_user_is_claimed(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with api_server(data, tmp_path / "api.log", BILIM_RATE_LIMIT="2/hour") as api:
        assert httpx.get(f"{api}/v1/config").json()["auth_required"] is False
        codes = [httpx.get(f"{api}/v1/documents", headers={"X-End-User": f"user-{i}"}).status_code for i in range(3)]
        assert codes == [200, 200, 429]


def test_two_workers_on_a_chroma_server_answer_and_ingest_concurrently(tmp_path: Path) -> None:
    with chroma_server(tmp_path) as chroma:
        lock_dir = tmp_path / "shared"
        docs = write_docs(tmp_path / "docs", {k: v for k, v in TINY_DOCS.items() if k != "talas-school.txt"})
        seeded = run_module("ingest", docs, "--json", "--data-dir", lock_dir, env=_env(BILIM_CHROMA_URL=chroma))
        assert seeded.returncode == 0, seeded.stderr
        assert json_summary(seeded)["chunks_total"] == 2
        with api_server(
            lock_dir,
            tmp_path / "api.log",
            "--workers",
            "2",
            BILIM_CHROMA_URL=chroma,
            BILIM_ADMIN_KEYS="adm",
            BILIM_RATE_LIMIT="1000/minute",
        ) as api:
            answers: list[str] = []
            failures: list[str] = []

            def keep_asking() -> None:
                for _ in range(6):
                    r = httpx.post(
                        f"{api}/v1/ask", json={"question": "Нарын облусунда канча мугалим жетишпейт?"}, timeout=60
                    )
                    (answers if r.status_code == 200 else failures).append(r.text)

            askers = [threading.Thread(target=keep_asking) for _ in range(2)]
            for t in askers:
                t.start()
            upload = httpx.post(
                f"{api}/v1/documents",
                headers={"Authorization": "Bearer adm"},
                files=[("files", ("talas-school.txt", TINY_DOCS["talas-school.txt"].encode()))],
                timeout=120,
            )
            for t in askers:
                t.join()
            assert upload.status_code == 200, upload.text
            assert failures == [] and len(answers) == 12 and all("85" in a for a in answers)
            # Every request opens a new connection, so both workers serve these (the kernel picks one per
            # connection: under load one may take a long run of them); each must see the upload.
            pids: set[str | None] = set()
            asked = 0
            while asked < 12 or (len(pids) < 2 and asked < 60):
                r = httpx.post(f"{api}/v1/ask", json={"question": TALAS_Q}, timeout=60)
                assert r.status_code == 200 and "640" in r.json()["answer"], r.text
                pids.add(r.headers.get("x-served-by"))
                asked += 1
            assert len(pids) == 2, pids
            # A conversation started on one worker continues on the other (it lives in SQLite).
            first = httpx.post(f"{api}/v1/ask", json={"question": QUOTA_750}, timeout=60).json()
            for _ in range(4):
                again = httpx.post(
                    f"{api}/v1/ask",
                    json={"question": "Талас облусунда канча окуучу?", "conversation_id": first["conversation_id"]},
                    timeout=60,
                )
                assert again.status_code == 200, again.text
            deleted = httpx.delete(f"{api}/v1/documents/talas-school.txt", headers={"Authorization": "Bearer adm"})
            assert deleted.status_code == 200
            for _ in range(6):
                r = httpx.post(f"{api}/v1/ask", json={"question": TALAS_Q}, timeout=60)
                assert "640" not in r.json()["answer"]
            # One scrape sees both workers: every scrape, whichever worker serves it, counts all the answers.
            scrapes = [httpx.get(f"{api}/metrics")]
            while len({s.headers.get("x-served-by") for s in scrapes}) < 2 and len(scrapes) < 60:
                scrapes.append(httpx.get(f"{api}/metrics"))
            assert len({s.headers.get("x-served-by") for s in scrapes}) == 2
            for scrape in scrapes:
                answered = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in scrape.text.splitlines()
                    if line.startswith("bilim_answers_total{")
                )
                assert answered == 12 + asked + 1 + 4 + 6, scrape.text


def _env(**extra: str) -> dict[str, str]:
    from tests.support import cli_env

    return cli_env(ANONYMIZED_TELEMETRY="False", **extra)


def test_serve_seeds_an_empty_store_once_and_keeps_deletions(tmp_path: Path) -> None:
    corpus = write_docs(tmp_path / "corpus", {"osh-olympiad.txt": TINY_DOCS["osh-olympiad.txt"]})
    data = tmp_path / "store"
    with api_server(data, tmp_path / "api.log", "--seed", str(corpus), BILIM_ADMIN_KEYS="adm") as api:
        ids = [d["id"] for d in httpx.get(f"{api}/v1/documents").json()["documents"]]
        assert ids == ["osh-olympiad.txt"]
        assert (
            httpx.delete(f"{api}/v1/documents/osh-olympiad.txt", headers={"Authorization": "Bearer adm"}).status_code
            == 200
        )
    # Restarted with --seed again: the admin's deletion stands, so the store is empty and not ready.
    with api_server(data, tmp_path / "api2.log", "--seed", str(corpus), wait_for="/healthz") as api:
        assert httpx.get(f"{api}/v1/documents").json()["documents"] == []
        ready = httpx.get(f"{api}/readyz")
        assert ready.status_code == 503 and "empty" in ready.json()["detail"]
    assert "seeded" not in (tmp_path / "api2.log").read_text()


def test_serve_refuses_several_workers_on_an_embedded_store(tmp_path: Path) -> None:
    result = run_module("assistant", "serve", "--data-dir", tmp_path, "--workers", "2")
    assert result.returncode == 2 and "BILIM_CHROMA_URL" in result.stderr


def test_retention_deletes_old_answers_and_their_feedback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = RecordStore(tmp_path / "records.sqlite3")
    payload = {"answer": "Жооп: 375 [1]", "language": "ky", "refused": False, "citations": []}
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)
    conversation, old = records.save_answer(conversation_id=None, owner="o", question="эски?", payload=payload)
    records.add_feedback(old, "down", "эски", "o")
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0 + 89 * 86400)
    _, recent = records.save_answer(conversation_id=None, owner="o", question="жаңы?", payload=payload)
    assert records.purge(90) == 0
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0 + 91 * 86400)
    assert records.purge(90) == 1
    assert records.counts() == {"conversations": 1, "answers": 1, "feedback": 0}
    assert records.answer(recent, "o")["question"] == "жаңы?"
    with pytest.raises(Exception, match="unknown answer"):
        records.answer(old, "o")
    with pytest.raises(Exception, match="unknown conversation"):
        records.history(conversation, "o")


def test_failed_authentications_meet_a_429_and_valid_keys_never_do(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with api_server(
        data,
        tmp_path / "api.log",
        BILIM_API_KEYS="the-key",
        BILIM_AUTH_FAILURE_LIMIT="5/hour",
        BILIM_RATE_LIMIT="1000/minute",
    ) as api:
        wrong = [
            httpx.get(f"{api}/v1/documents", headers={"Authorization": f"Bearer guess-{i}"}, timeout=30)
            for i in range(8)
        ]
        assert [r.status_code for r in wrong] == [401] * 5 + [429] * 3
        assert int(wrong[-1].headers["Retry-After"]) >= 1 and wrong[-1].json()["code"] == "rate_limited"
        # The same address with the right key is never refused for the guesses before it.
        good = httpx.get(f"{api}/v1/documents", headers={"Authorization": "Bearer the-key"}, timeout=30)
        assert good.status_code == 200


def test_x_forwarded_for_does_not_make_a_client_anonymous(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with api_server(data, tmp_path / "api.log", BILIM_RATE_LIMIT="3/hour") as api:  # open server: per address
        statuses = [
            httpx.get(f"{api}/v1/documents", headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=30).status_code
            for i in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]  # every request counted against 127.0.0.1, whatever it claims


def test_a_chroma_outage_gives_503s_with_retry_after_and_recovers_by_itself(tmp_path: Path) -> None:
    port, chroma_data, chroma_log = free_port(), tmp_path / "chroma-data", tmp_path / "chroma.log"
    lock_dir = tmp_path / "shared"
    docs = write_docs(tmp_path / "docs", {"naryn-teachers.txt": TINY_DOCS["naryn-teachers.txt"]})
    question = {"question": "Нарын облусунда канча мугалим жетишпейт?"}
    with chroma_process(chroma_data, port, chroma_log) as chroma:
        seeded = run_module("ingest", docs, "--json", "--data-dir", lock_dir, env=_env(BILIM_CHROMA_URL=chroma))
        assert seeded.returncode == 0, seeded.stderr
    # The API starts against the server, which then goes away and comes back on the same port and data.
    with (
        chroma_process(chroma_data, port, chroma_log) as chroma,
        api_server(lock_dir, tmp_path / "api.log", BILIM_CHROMA_URL=chroma, BILIM_RATE_LIMIT="100000/minute") as api,
    ):
        with httpx.Client(timeout=30) as client:
            assert client.post(f"{api}/v1/ask", json=question).status_code == 200
        outcome: dict[str, list[Any]] = {"statuses": [], "broken": [], "bad": []}
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(timeout=30) as client:  # one keep-alive connection per client
                while not stop.is_set():
                    try:
                        r = client.post(f"{api}/v1/ask", json=question)
                    except httpx.TransportError as exc:  # a closed connection or no response at all
                        outcome["broken"].append(repr(exc))
                        continue
                    outcome["statuses"].append(r.status_code)
                    if r.status_code != 200:
                        body = r.json()
                        if (
                            r.status_code != 503
                            or set(body) != {"status", "code", "detail"}
                            or not r.headers.get("Retry-After")
                        ):
                            outcome["bad"].append((r.status_code, r.text[:200]))

        askers = [threading.Thread(target=keep_asking, daemon=True) for _ in range(3)]
        for thread in askers:
            thread.start()
        try:
            time.sleep(1)
            _kill_chroma(port)
            time.sleep(4)
            down = httpx.get(f"{api}/readyz", timeout=10)
            assert down.status_code == 503 and down.json()["code"] == "store_unavailable", down.text
            log_lines = (tmp_path / "api.log").read_text().splitlines()
            outage_lines = sum(1 for line in log_lines if "unreachable" in line)
            with chroma_process(chroma_data, port, chroma_log):
                back = time.monotonic()
                while httpx.get(f"{api}/readyz", timeout=10).status_code != 200:
                    assert time.monotonic() - back < 5, "the API did not recover within 5 s of the store's return"
                    time.sleep(0.1)
                time.sleep(1)
                assert httpx.post(f"{api}/v1/ask", json=question, timeout=30).json()["answer"]
        finally:
            stop.set()
            for thread in askers:
                thread.join(timeout=60)
    statuses = outcome["statuses"]
    assert 503 in statuses and 200 in statuses and 500 not in statuses, sorted(set(statuses))
    assert outcome["broken"] == [] and outcome["bad"] == []
    assert "Traceback" not in (tmp_path / "api.log").read_text()
    assert outage_lines <= 4 + 2  # about one line a second of the ~4 s outage, not one per failure


def _kill_chroma(port: int) -> None:
    """SIGKILL the `chroma run` listening on this port (the test's own server on loopback)."""
    subprocess.run(["pkill", "-9", "-f", f"chroma run .*--port {port}"], check=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=0.5)
        except httpx.TransportError:
            return
        time.sleep(0.1)
    raise AssertionError("chroma run did not stop")
