"""Hung dependencies for real: a paused (SIGSTOP) `chroma run` server or PostgreSQL, and a model that trickles its
reply.

The served API must answer within its deadlines (a 503 with Retry-After, or the extractive answer) and keep its
health probes and metrics answering while the questions wait.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import IngestReport
from tests.llm_server import Step, scripted_model_server
from tests.postgres import postgres_cluster
from tests.servers import ASK, ASK_KEY, QUOTA_KY, api_server, chroma_with_process, free_port
from tests.support import ROOT, TINY_DOCS, cli_env, run_module, write_docs

pytestmark = pytest.mark.slow

STORE_TIMEOUT = 3.0
# Generous: the machine is small and shared; a hung request without a deadline waits for the client's 30 s.
MARGIN = 6.0
IN_FLIGHT = 45  # more than anyio's 40 request threads
NARYN_Q = "Нарын облусунда канча мугалим жетишпейт?"


def _timed(method: str, url: str, results: list[dict[str, Any]], **kwargs: Any) -> None:
    started = time.monotonic()
    try:
        response = httpx.request(method, url, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        results.append({"error": repr(exc), "seconds": time.monotonic() - started})
        return
    results.append(
        {
            "status": response.status_code,
            "retry_after": response.headers.get("Retry-After"),
            "code": response.json().get("code") if "json" in response.headers.get("content-type", "") else None,
            "seconds": time.monotonic() - started,
        }
    )


def test_a_paused_chroma_gives_503s_within_the_deadline_and_health_stays_up(tmp_path: Path) -> None:
    port, chroma_data, chroma_log = free_port(), tmp_path / "chroma-data", tmp_path / "chroma.log"
    data_dir = tmp_path / "shared"
    docs = write_docs(tmp_path / "docs", {"naryn-teachers.txt": TINY_DOCS["naryn-teachers.txt"]})
    with chroma_with_process(chroma_data, port, chroma_log) as (chroma, process):
        env = cli_env(ANONYMIZED_TELEMETRY="False", BILIM_CHROMA_URL=chroma)
        seeded = run_module("ingest", docs, "--json", "--data-dir", data_dir, env=env)
        assert seeded.returncode == 0, seeded.stderr
        with api_server(
            data_dir,
            tmp_path / "api.log",
            BILIM_CHROMA_URL=chroma,
            BILIM_RATE_LIMIT="100000/minute",
            BILIM_STORE_TIMEOUT=str(STORE_TIMEOUT),
        ) as api:
            assert httpx.post(f"{api}/v1/ask", json={"question": NARYN_Q}, timeout=30).status_code == 200
            process.send_signal(signal.SIGSTOP)
            try:
                asked: list[dict[str, Any]] = []
                askers = [
                    threading.Thread(
                        target=_timed, args=("POST", f"{api}/v1/ask", asked), kwargs={"json": {"question": NARYN_Q}}
                    )
                    for _ in range(IN_FLIGHT)
                ]
                for thread in askers:
                    thread.start()
                time.sleep(1)  # every question is waiting on the paused store now
                probes: dict[str, list[dict[str, Any]]] = {"/healthz": [], "/metrics": [], "/readyz": []}
                for path, results in probes.items():
                    _timed("GET", f"{api}{path}", results)
                for thread in askers:
                    thread.join(timeout=60)
            finally:
                process.send_signal(signal.SIGCONT)
            assert probes["/healthz"][0].get("status") == 200 and probes["/healthz"][0]["seconds"] < MARGIN, probes
            assert probes["/metrics"][0].get("status") == 200 and probes["/metrics"][0]["seconds"] < MARGIN, probes
            ready = probes["/readyz"][0]
            assert ready.get("status") == 503 and ready["code"] == "store_unavailable" and ready["retry_after"], ready
            assert ready["seconds"] < STORE_TIMEOUT + MARGIN, ready
            assert len(asked) == IN_FLIGHT
            for result in asked:
                assert result.get("status") == 503 and result["retry_after"], result
                assert result["code"] == "store_unavailable", result
                assert result["seconds"] < STORE_TIMEOUT + MARGIN, result
            # Continued, the store answers again: readiness and questions come back by themselves.
            back = time.monotonic()
            while httpx.get(f"{api}/readyz", timeout=30).status_code != 200:
                assert time.monotonic() - back < STORE_TIMEOUT + MARGIN, "no recovery after SIGCONT"
                time.sleep(0.2)
            answer = httpx.post(f"{api}/v1/ask", json={"question": NARYN_Q}, timeout=30)
            assert answer.status_code == 200 and "85" in answer.json()["answer"], answer.text
    assert "Traceback" not in (tmp_path / "api.log").read_text()


def test_the_api_started_against_a_paused_chroma_stops_with_the_reason(tmp_path: Path) -> None:
    port = free_port()
    with chroma_with_process(tmp_path / "chroma-data", port, tmp_path / "chroma.log") as (chroma, process):
        process.send_signal(signal.SIGSTOP)
        command = [sys.executable, "-m", "assistant", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path)]
        env = cli_env(ANONYMIZED_TELEMETRY="False", BILIM_CHROMA_URL=chroma, BILIM_STORE_TIMEOUT=str(STORE_TIMEOUT))
        # Without a deadline it waited for the server forever (here: until this run's timeout kills it).
        started = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode != 0
    assert f"did not answer within {STORE_TIMEOUT:g} s" in started.stdout + started.stderr, started.stderr[-2000:]


def test_a_model_trickling_its_reply_is_cut_at_the_llm_timeout_in_all(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data_dir = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    with scripted_model_server() as model:
        env = {
            "BILIM_API_KEYS": ASK_KEY,
            "BILIM_LLM_URL": model.url,
            "BILIM_LLM_MODEL": "scripted",
            "BILIM_LLM_TIMEOUT": "2",
        }
        with api_server(data_dir, tmp_path / "api.log", **env) as api:
            model.plan(Step(reply="NO_ANSWER"))  # the first question warms the service up
            assert httpx.post(f"{api}/v1/ask", json={"question": QUOTA_KY}, headers=ASK, timeout=60).status_code == 200
            # ~450 bytes, 8 at a time every 0.25 s: ~14 s in all, each wait far below the 2 s timeout.
            model.plan(Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт [{n}].", cite="375тин", trickle=0.25))
            started = time.monotonic()
            response = httpx.post(f"{api}/v1/ask", json={"question": QUOTA_KY}, headers=ASK, timeout=60)
            seconds = time.monotonic() - started
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["generator"] == "extractive" and answer["fallback_reason"] == "timeout", answer
    assert answer["answer"].startswith("Жооп: 375")
    assert seconds < 2 + MARGIN  # the timeout, then the extractive answer at once


def _family(pid: int) -> list[int]:
    """A process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    family, pending = [], [pid]
    while pending:
        family.append(pending.pop())
        pending.extend(children.get(family[-1], []))
    return family


def test_a_paused_postgresql_gives_503s_within_the_deadline(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    data_dir = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    question = {"question": QUOTA_KY}
    with (
        postgres_cluster() as cluster,
        api_server(
            data_dir,
            tmp_path / "api.log",
            BILIM_DATABASE_URL=cluster.url,
            BILIM_DATABASE_TIMEOUT=str(STORE_TIMEOUT),
            BILIM_RATE_LIMIT="100000/minute",
        ) as api,
    ):
        assert httpx.post(f"{api}/v1/ask", json=question, timeout=60).status_code == 200
        paused = _family(cluster.server.pid)  # the postmaster and every backend
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        try:
            asked: list[dict[str, Any]] = []
            askers = [
                threading.Thread(target=_timed, args=("POST", f"{api}/v1/ask", asked), kwargs={"json": question})
                for _ in range(10)
            ]
            for thread in askers:
                thread.start()
            health: list[dict[str, Any]] = []
            _timed("GET", f"{api}/healthz", health)
            for thread in askers:
                thread.join(timeout=60)
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)
        assert health[0].get("status") == 200, health
        assert len(asked) == 10
        for result in asked:
            assert result.get("status") == 503 and result["retry_after"], result
            assert result["code"] == "records_unavailable", result
            # A pooled connection's ping, then a new connection: each waits at most the timeout.
            assert result["seconds"] < 2 * STORE_TIMEOUT + MARGIN, result
        back = time.monotonic()
        while httpx.post(f"{api}/v1/ask", json=question, timeout=60).status_code != 200:
            assert time.monotonic() - back < 2 * STORE_TIMEOUT + MARGIN, "no recovery after SIGCONT"
            time.sleep(0.2)
