"""`python -m eval bench --http`: latency, throughput and memory of a real `python -m assistant serve` process.

Latencies are ratios to the floor measured in the same run: the question's embedding (uncached) plus a top-k Chroma
query, in-process over the same store and questions.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.models import Question
from assistant.wiring import Service
from eval.bench import fresh_query_embedder, ratio, summary

ROOT = Path(__file__).resolve().parent.parent  # where `python -m assistant` imports this checkout from
ADMIN_KEY = "bench-admin-" + uuid.uuid4().hex[:12]
READY_TIMEOUT = 1800.0


class BenchError(RuntimeError):
    """The server would not start, or answered what a benchmark cannot use."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS in /proc/<pid>/status), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise BenchError(f"no VmRSS for process {pid}")


def module_env(**extra: str) -> dict[str, str]:
    """Environment for a `python -m` child: this checkout on the path, no stray BILIM_ settings, no hub access."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILIM_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", **extra)
    return env


class Client:
    """One keep-alive HTTP connection to the server (one per concurrent client)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send a request (reconnecting once if the kept-alive connection was dropped); status and body."""
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                response = self._conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self._conn.close()
                self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=600)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ask(self, question: str) -> tuple[float, dict[str, Any]]:
        """POST /v1/ask; the latency in ms and the answer JSON (BenchError unless 200)."""
        body = json.dumps({"question": question}, ensure_ascii=False).encode()
        started = time.perf_counter()
        status, data = self.request("POST", "/v1/ask", body, {"Content-Type": "application/json"})
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise BenchError(f"/v1/ask answered {status}: {data[:300]!r}")
        return elapsed, json.loads(data)

    def upload(self, path: Path) -> dict[str, Any]:
        """POST /v1/documents with one file, as an admin; the response JSON."""
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n".encode()
            + path.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Bearer {ADMIN_KEY}",
        }
        status, data = self.request("POST", "/v1/documents", body, headers)
        if status != 200:
            raise BenchError(f"/v1/documents answered {status}: {data[:300]!r}")
        result: dict[str, Any] = json.loads(data)
        return result

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


@dataclass
class Server:
    """A running `python -m assistant serve`: its process, port and how long it took to become ready."""

    proc: subprocess.Popen[bytes]
    port: int
    startup_s: float
    log: Path

    @property
    def pid(self) -> int:
        """The server's process id (uvicorn with one worker serves in this process)."""
        return self.proc.pid

    def rss_mb(self) -> float:
        """The server's resident memory now, in MB."""
        return rss_mb(self.pid)


@contextmanager
def running_server(
    data_dir: Path, log: Path, settings: dict[str, str], ready_timeout: float = READY_TIMEOUT
) -> Iterator[Server]:
    """Start the API over `data_dir` on a free port with these BILIM_ settings (the rate limit out of the way, an
    admin key for uploads), wait for /readyz, and always stop it."""
    port = free_port()
    env = module_env(**settings, BILIM_RATE_LIMIT="100000000/minute", BILIM_ADMIN_KEYS=ADMIN_KEY)
    command = [sys.executable, "-m", "assistant", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    with log.open("ab") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        probe = Client(port)
        while True:
            if proc.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise BenchError(f"the server exited with {proc.returncode} before it was ready:\n{tail}")
            try:
                status, _ = probe.request("GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - started > ready_timeout:
                raise BenchError(f"the server was not ready within {ready_timeout:.0f} s (log: {log})")
            time.sleep(0.05)
        startup = time.perf_counter() - started
        probe.close()
        yield Server(proc=proc, port=port, startup_s=round(startup, 2), log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def store_copy(data_dir: Path, tmp: Path) -> Path:
    """A copy of the store for a fresh server (without its write lock and records): the original stays as it is."""
    copy = tmp / "store"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns(".write.lock", "records.sqlite3*"))
    return copy


def server_settings(service: Service) -> dict[str, str]:
    """The in-process service's answering settings, for the server to answer the same way."""
    settings = service.settings
    env = {"BILIM_ANSWERER": settings.answerer, "BILIM_TOP_K": str(settings.top_k), "BILIM_RERANKER": settings.reranker}
    # The same models (a server with another answer embedder would re-embed the copy's sentences before serving).
    env |= {"BILIM_EMBEDDER": settings.embedder, "BILIM_ANSWER_EMBEDDER": settings.answer_embedder}
    env |= {"BILIM_MODEL_DIR": str(settings.model_dir.resolve()), "BILIM_REFUSAL": settings.refusal}
    env["BILIM_LEADS"] = settings.leads
    if settings.answer_model is not None:
        env["BILIM_ANSWER_MODEL"] = str(settings.answer_model)
    if settings.min_answer_confidence is not None:
        env["BILIM_MIN_ANSWER_CONFIDENCE"] = str(settings.min_answer_confidence)
    return env


def floor_samples(service: Service, questions: Sequence[Question], repeat: int) -> list[float]:
    """The floor, in ms: the question's embedding (uncached) plus a top-k Chroma query, in-process."""
    embed = fresh_query_embedder(service.embedder)
    k = service.settings.top_k
    samples = []
    for q in questions:
        for _ in range(repeat):
            started = time.perf_counter()
            service.store.query(embed(q.text), k)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def with_ratios(samples: Sequence[float], floor: dict[str, float]) -> dict[str, float]:
    """p50/p95 of latencies, each beside its ratio to the floor's p50/p95."""
    out = summary(samples)
    out["x_floor_p50"] = ratio(out["p50_ms"], floor["p50_ms"])
    out["x_floor_p95"] = ratio(out["p95_ms"], floor["p95_ms"])
    return out


@dataclass
class AskCounter:
    """Counts the server's answers and reads its RSS when the count reaches a checkpoint."""

    server: Server
    checkpoints: set[int]
    count: int = 0
    rss_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def asked(self) -> None:
        """One more answer; read the RSS if this is a checkpoint."""
        with self._lock:
            self.count += 1
            if self.count in self.checkpoints:
                self.rss_at[str(self.count)] = self.server.rss_mb()


def soak_checkpoints(asks: int) -> set[int]:
    """Where to read the RSS during `asks` answers: every tenth, the third (the growth is read from there) and the
    last."""
    if asks <= 0:
        return set()
    return {max(1, asks * i // 10) for i in range(1, 11)} | {max(1, asks // 3), asks}


def ask_all(client: Client, texts: Sequence[str], counter: AskCounter) -> list[float]:
    """Ask each text once, in order; the latencies in ms."""
    samples = []
    for text in texts:
        elapsed, _ = client.ask(text)
        samples.append(elapsed)
        counter.asked()
    return samples


def concurrent(port: int, texts: Sequence[str], clients: int, seconds: float, counter: AskCounter) -> dict[str, Any]:
    """`clients` threads asking the texts round-robin for `seconds`: throughput, p50/p95 latency, errors."""
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    samples: list[float] = []
    errors: list[str] = []
    turn = [0]

    def work() -> None:
        client = Client(port)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    text = texts[turn[0] % len(texts)]
                    turn[0] += 1
                try:
                    elapsed, _ = client.ask(text)
                except (BenchError, OSError, http.client.HTTPException) as exc:
                    with lock:
                        errors.append(str(exc)[:200])
                    continue
                with lock:
                    samples.append(elapsed)
                counter.asked()
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(samples),
        "errors": len(errors),
        "req_per_s": round(len(samples) / elapsed, 2) if elapsed else 0.0,
        **summary(samples),
        "first_error": errors[0] if errors else None,
    }


def run_http(
    service: Service,
    data_dir: Path,
    questions: Sequence[Question],
    *,
    repeat: int,
    clients: int,
    seconds: float,
    asks: int,
    progress: Any,
) -> dict[str, Any]:
    """First-time and repeated latency, throughput under `clients` concurrent clients and the server's RSS, over a
    copy of the store at `data_dir`; `asks` > 0 keeps asking until the server has answered that many in all."""
    texts = list(dict.fromkeys(q.text for q in questions))  # first-time means asked once: no question twice
    floor_ms = summary(floor_samples(service, questions, repeat))
    with tempfile.TemporaryDirectory(prefix="bilim-bench-http-") as tmp:
        copy = store_copy(data_dir, Path(tmp))
        with running_server(copy, Path(tmp) / "server.log", server_settings(service)) as server:
            counter = AskCounter(server, soak_checkpoints(asks))
            rss = {"ready": server.rss_mb()}
            client = Client(server.port)
            with progress(len(texts) * (1 + repeat), "asking over HTTP") as advance:
                first = ask_all(client, texts, counter)
                advance(len(texts))
                rss["after_first"] = server.rss_mb()
                repeated = []
                for _ in range(repeat):
                    repeated += ask_all(client, texts, counter)
                    advance(len(texts))
            rss["after_repeated"] = server.rss_mb()
            load = concurrent(server.port, texts, clients, seconds, counter)
            rss["after_concurrent"] = server.rss_mb()
            with progress(max(0, asks - counter.count), "asking for the RSS check") as advance:
                turn = 0
                while counter.count < asks:
                    client.ask(texts[turn % len(texts)])
                    counter.asked()
                    turn += 1
                    advance(1)
            client.close()
            rss["end"] = server.rss_mb()
            startup_s = server.startup_s
            total = counter.count
            rss_at = dict(sorted(counter.rss_at.items(), key=lambda item: int(item[0])))
    third = str(max(1, asks // 3))
    growth = None
    if asks > 0 and third in rss_at and str(asks) in rss_at:
        growth = round((rss_at[str(asks)] / rss_at[third] - 1) * 100, 2)
    load["x_floor_p95"] = ratio(load["p95_ms"], floor_ms["p95_ms"])
    return {
        "questions": len(texts),
        "chunks": service.store.count(),
        "startup_s": startup_s,
        "floor": floor_ms,
        "first": with_ratios(first, floor_ms),
        "repeated": with_ratios(repeated, floor_ms),
        "concurrent": load,
        "asks": total,
        "rss_mb": rss,
        "rss_mb_at_ask": rss_at,
        "rss_growth_pct": growth,
        "rss_growth_between": [int(third), asks] if asks > 0 else None,
    }
