"""Helpers shared by the ingestion and store tests: tiny Kyrgyz corpora, expected chunk sets, CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.core.models import Chunk
from assistant.core.sentences import SENTENCE_VECTORS_VERSION, chunk_sentences, sentence_passage, text_hash
from assistant.settings import Settings
from assistant.wiring import open_store
from ingest.chunking import chunk_document
from ingest.cleaning import clean_text
from ingest.loaders import LoadFailure, iter_documents
from vectorstore.chroma_store import ChromaChunkStore, fetch_all

ROOT = Path(__file__).resolve().parent.parent

REPORT_KEYS = {
    "documents",
    "added",
    "updated",
    "unchanged",
    "removed",
    "failed",
    "chunks_embedded",
    "sentences_embedded",
    "chunks_total",
}

# Short Kyrgyz documents, each one or two chunks: cheap to embed, with facts a question can find.
TINY_DOCS: dict[str, str] = {
    "talas-school.txt": (
        "Талас облусунда жаңы мектеп ачылды.\n"
        "Мектеп 2024-жылы курулуп, анда 640 окуучу окуйт. "
        "Мектептин курулушуна республикалык бюджеттен 120 миллион сом бөлүнгөн."
    ),
    "naryn-teachers.txt": (
        "Нарын облусунда мугалимдердин жетишсиздиги.\n"
        "Нарын облусунун мектептеринде 85 мугалим жетишпейт. "
        "Министрлик жаш адистерди айылдык мектептерге тартуу үчүн кошумча жөлөкпул төлөйт."
    ),
    "osh-olympiad.txt": (
        "Ош шаарында математика олимпиадасы өттү.\n"
        "Олимпиадага 37 мектептен 212 окуучу катышты. "
        "Жеңүүчүлөр эл аралык олимпиадага жолдомо алышты."
    ),
}


def write_docs(folder: Path, docs: Mapping[str, str]) -> Path:
    """Write UTF-8 text files into `folder` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> Path:
    """Write JSONL records (one object a line)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def expected_chunks(*roots: Path) -> dict[str, Chunk]:
    """The chunks a clean ingest of these folders/files must store, by id (computed without embedding)."""
    out: dict[str, Chunk] = {}
    for root in roots:
        for item in iter_documents(root):
            if isinstance(item, LoadFailure):
                continue
            for chunk in chunk_document(item, clean_text(item.text)):
                out[chunk.id] = chunk
    return out


def store_at(data_dir: Path, embedder: Any, **settings: Any) -> ChromaChunkStore:
    """Open the Chroma store of a data dir with the given embedder (must match the stored one)."""
    return open_store(Settings(data_dir=data_dir, **settings), embedder)


def stored_rows(store: ChromaChunkStore) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every stored chunk id → (text, metadata), asserting ids are unique."""
    got = fetch_all(store._collection, ["documents", "metadatas"])
    ids = got["ids"]
    assert len(ids) == len(set(ids)), [cid for cid, n in Counter(ids).items() if n > 1]
    return {cid: (text, meta) for cid, text, meta in zip(ids, got["documents"], got["metadatas"], strict=True)}


def assert_store_matches(store: ChromaChunkStore, expected: Mapping[str, Chunk]) -> None:
    """The store holds exactly these chunks: same ids, texts, spans and metadata, no duplicates or strays."""
    rows = stored_rows(store)
    missing = expected.keys() - rows.keys()
    stray = rows.keys() - expected.keys()
    assert not missing and not stray, f"{len(missing)} chunks missing, {len(stray)} stray"
    assert store.count() == len(expected)
    for cid, chunk in expected.items():
        text, meta = rows[cid]
        assert text == chunk.text
        assert (meta["doc"], meta["pos"], meta["start"], meta["end"]) == (
            chunk.document_id,
            chunk.position,
            chunk.start,
            chunk.end,
        )
        assert meta["lang"] == chunk.lang
        assert meta["source"] == chunk.source
        assert meta["text_hash"] == text_hash(chunk.text)
    positions = Counter((meta["doc"], meta["pos"]) for _, meta in rows.values())
    assert max(positions.values(), default=1) == 1, "two chunks of one document share a position"
    assert_sentences_match(store, expected)


def assert_sentences_match(store: ChromaChunkStore, expected: Mapping[str, Chunk]) -> None:
    """Every chunk has exactly its sentences' vectors (the right spans and embedded text), and no others exist."""
    got = fetch_all(store._sentences, ["documents", "metadatas"])
    rows = dict(zip(got["ids"], zip(got["documents"], got["metadatas"], strict=True), strict=True))
    wanted = {
        f"{chunk.id}:{s.index}": (s, text_hash(sentence_passage(chunk.title, s.text)))
        for chunk in expected.values()
        for s in chunk_sentences(chunk)
    }
    assert rows.keys() == wanted.keys(), (
        f"{len(wanted.keys() - rows.keys())} missing, {len(rows.keys() - wanted.keys())} stray"
    )
    for sid, (sentence, passage_hash) in wanted.items():
        text, meta = rows[sid]
        assert text == sentence.text and (meta["chunk"], meta["start"], meta["end"]) == (
            sentence.chunk_id,
            sentence.start,
            sentence.end,
        )
        assert meta["text_hash"] == passage_hash
    assert store.sentence_version() == SENTENCE_VECTORS_VERSION


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a CLI subprocess: repo on the path, no hub access, no stray BILIM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILIM_")}
    env.update(
        PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_module(
    module: str, *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args...` from the repository root and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=ROOT,
        env=dict(env) if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary `python -m ingest --json` prints as its last stdout line."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"no stdout; stderr:\n{result.stderr}"
    summary: dict[str, Any] = json.loads(lines[-1])
    assert set(summary) == REPORT_KEYS
    return summary


def ask_json(data_dir: Path, *questions: str, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Ask questions through `python -m assistant ask --json`; one answer object per question."""
    result = run_module("assistant", "ask", "--json", "--data-dir", data_dir, *questions, env=env)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(answers) == len(questions)
    return answers


def differences(fitted: Any, shipped: Any, tolerance: float, path: str = "") -> list[str]:
    """Where a refit differs from the shipped file beyond `tolerance` (numbers) or at all (everything else): the
    bundled model's arithmetic differs in the last bits between CPUs, which moves a borderline item of a small set."""
    if isinstance(shipped, dict) and isinstance(fitted, dict):
        if set(fitted) != set(shipped):
            return [f"{path or '.'}: keys {sorted(fitted)} != {sorted(shipped)}"]
        return [d for key in shipped for d in differences(fitted[key], shipped[key], tolerance, f"{path}.{key}")]
    if isinstance(shipped, list) and isinstance(fitted, list) and len(fitted) == len(shipped):
        return [
            d
            for i, (f, s) in enumerate(zip(fitted, shipped, strict=True))
            for d in differences(f, s, tolerance, f"{path}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(shipped, numbers) and isinstance(fitted, numbers) and not isinstance(shipped, bool):
        return [] if abs(fitted - shipped) <= tolerance else [f"{path}: {fitted} != {shipped} (± {tolerance})"]
    return [] if fitted == shipped else [f"{path}: {fitted!r} != {shipped!r}"]
