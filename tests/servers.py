"""Real servers for tests: a `chroma run` server and the API served by `python -m assistant serve`."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from tests.support import ROOT, cli_env

CHROMA = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
READY_TIMEOUT = 120
ASK_KEY, ADMIN_KEY = "test-ask-key-123", "test-admin-key-456"
ASK = {"Authorization": f"Bearer {ASK_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
QUOTA_KY = "Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def chroma_server(workdir: Path) -> Iterator[str]:
    """A real `chroma run` server on a free local port; always stopped."""
    with chroma_process(workdir / "server-data", free_port(), workdir / "chroma-server.log") as url:
        yield url


@contextmanager
def chroma_process(path: Path, port: int, log_path: Path) -> Iterator[str]:
    """`chroma run` over `path` on `port` (so a test can stop it and start it again in place); always stopped."""
    with chroma_with_process(path, port, log_path) as (url, _):
        yield url


@contextmanager
def chroma_with_process(path: Path, port: int, log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`chroma run` as `chroma_process` starts it, with its process (to pause it); continued and stopped after."""
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [CHROMA, "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=cli_env(ANONYMIZED_TELEMETRY="False"),
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"chroma run exited with {proc.returncode}: {log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not answer its heartbeat within 60 s")
                time.sleep(0.2)
            yield url, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused server would not act on SIGTERM
            _stop(proc)


@contextmanager
def serving(
    command: list[str], log_path: Path, ready_url: str, env: dict[str, str], timeout: float = READY_TIMEOUT
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server command (its output to `log_path`) until `ready_url` answers 200, then yield its process;
    always stopped."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    what = " ".join(command[1:4])
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} was not ready within {timeout} s:\n{log_path.read_text()}")
            time.sleep(0.25)
        yield proc
    finally:
        _stop(proc)


@contextmanager
def api_process(
    data_dir: Path, log_path: Path, *args: str, wait_for: str = "/readyz", **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m assistant serve` on a free port, yielded with its process once `wait_for` answers 200; always
    stopped."""
    port = free_port()
    command = [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--data-dir", str(data_dir), *args]
    url = f"http://127.0.0.1:{port}"
    with serving(command, log_path, url + wait_for, cli_env(ANONYMIZED_TELEMETRY="False", **env)) as process:
        yield url, process


@contextmanager
def api_server(data_dir: Path, log_path: Path, *args: str, wait_for: str = "/readyz", **env: str) -> Iterator[str]:
    """`python -m assistant serve` on a free port, yielded once `wait_for` answers 200; always stopped."""
    with api_process(data_dir, log_path, *args, wait_for=wait_for, **env) as (url, _):
        yield url


def api_test_server(api_dir: Path, **env: str) -> AbstractContextManager[str]:
    """The API server the API tests talk to: an asking key and an admin key, a 300 kB upload limit and a
    200,000-character text limit, a generous rate; `env` on top (e.g. BILIM_DATABASE_URL)."""
    return api_server(
        api_dir,
        api_dir.parent / "api.log",
        BILIM_API_KEYS=f"{ASK_KEY},second-key",
        BILIM_ADMIN_KEYS=ADMIN_KEY,
        BILIM_RATE_LIMIT="1000/minute",
        BILIM_MAX_UPLOAD_BYTES="300000",
        BILIM_MAX_EXTRACTED_CHARS="200000",
        **env,
    )
