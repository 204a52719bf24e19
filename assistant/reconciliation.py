"""Start-up reconciliation: the uploaded originals (uploads/) and what the store holds of them are brought to agree.

The uploads folder is the truth for uploaded documents. Each original is compared with its chunks by the hash and
chunk count every chunk records at upload time (no file is read past its bytes, nothing embedded when they agree);
an original that disagrees is ingested again through the upload's own write path. Interrupted writes are settled
first: a replacement left in uploads/.staging/ is rolled back to its original, a deletion left in uploads/.deleting/
is finished.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.models import StoredDocument
from assistant.core.ports import Embedder, WritableChunkStore
from ingest.pipeline import Fence, file_hash, ingest_file, no_fence, remove_document

STAGING = ".staging"  # under uploads/: a replacement's new file until its chunks are written
DELETING = ".deleting"  # under uploads/: a deleted document's original until its chunks are gone

log = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    """What a reconciliation found (and, unless it only checked, repaired); `python -m ingest --reconcile --json`."""

    agreed: int = 0  # originals whose chunks agree with the file: nothing written
    rolled_back: list[str] = field(default_factory=list)  # replacements left staged, back to their original
    deletions_finished: list[str] = field(default_factory=list)  # deletions left in uploads/.deleting/
    reingested: dict[str, str] = field(default_factory=dict)  # original -> why its chunks disagreed
    removed: list[str] = field(default_factory=list)  # stored uploads whose original was removed from uploads/
    kept: list[str] = field(default_factory=list)  # stored uploads without an original, kept (see `orphans`)
    shadowed: list[str] = field(default_factory=list)  # originals whose id the store holds from another source
    failed: list[dict[str, str]] = field(default_factory=list)  # originals that no longer load: left as they are
    chunks_embedded: int = 0
    sentences_embedded: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)

    def counts(self) -> dict[str, int]:
        """How many documents each outcome holds."""
        return {
            name: value if isinstance(value, int) else len(value)
            for name, value in self.as_dict().items()
            if not name.endswith("_embedded")
        }

    @property
    def writes(self) -> bool:
        """Whether repairing it writes to the store or the uploads folder."""
        return bool(self.rolled_back or self.deletions_finished or self.reingested or self.removed)

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.agreed} agree, {len(self.rolled_back)} rolled back, {len(self.deletions_finished)} deletions "
            f"finished, {len(self.reingested)} ingested again, {len(self.removed)} removed, {len(self.kept)} kept "
            f"without their original, {len(self.shadowed)} shadowed, {len(self.failed)} failed"
        )


def originals(folder: Path) -> list[str]:
    """The names of the files in a folder, hidden ones (the work folders) left out."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def upload_source(uploads: Path, name: str) -> str:
    """The source an uploaded document's chunks record: its original's resolved path, as `ingest_file` writes it."""
    return str((uploads / name).resolve())


def is_upload(doc: StoredDocument, uploads: Path) -> bool:
    """Whether a stored document came from this uploads folder (not from `python -m ingest`, e.g. the corpus)."""
    return Path(doc.id).name == doc.id and doc.source == upload_source(uploads, doc.id)


def restore_original(store: WritableChunkStore, embedder: Embedder, uploads: Path, name: str, fence: Fence) -> None:
    """Bring the store back to the original file of `name` (or without the document when there is none) and drop
    the staged file. Every chunk and sentence is written again: the interrupted write may have overwritten some."""
    original = uploads / name
    if original.is_file():
        ingest_file(original, doc_id=name, source=original, store=store, embedder=embedder, fence=fence, rewrite=True)
    elif store.documents([name]):
        remove_document(store, name, fence)
    (uploads / STAGING / name).unlink(missing_ok=True)


def finish_deletion(store: WritableChunkStore, uploads: Path, name: str, fence: Fence) -> int:
    """Remove a deleted upload's chunks (if any are left), then its original from uploads/.deleting/."""
    removed = 0
    if store.documents([name]):
        removed = remove_document(store, name, fence)
    (uploads / DELETING / name).unlink(missing_ok=True)
    return removed


def settle_unfinished(
    store: WritableChunkStore, embedder: Embedder, uploads: Path, fence: Fence = no_fence
) -> tuple[list[str], list[str]]:
    """Roll back the replacements left staged, finish the deletions left in uploads/.deleting/ (the writer only);
    returns both lists of names."""
    rolled_back, deleted = originals(uploads / STAGING), originals(uploads / DELETING)
    for name in rolled_back:
        log.warning("rolling back the unfinished replacement of %s to its original", name)
        restore_original(store, embedder, uploads, name, fence)
    for name in deleted:
        log.warning("finishing the interrupted deletion of %s", name)
        finish_deletion(store, uploads, name, fence)
    return rolled_back, deleted


def reconcile_uploads(
    store: WritableChunkStore,
    embedder: Embedder,
    uploads: Path,
    *,
    fence: Fence = no_fence,
    repair: bool = True,
) -> Reconciliation:
    """Compare the uploaded originals with the store and, with `repair`, make them agree (the writer only: under
    the store's lock or lease). Without `repair` it only reports what a repair would do."""
    found = Reconciliation()
    if repair:
        found.rolled_back, found.deletions_finished = settle_unfinished(store, embedder, uploads, fence)
    else:
        found.rolled_back, found.deletions_finished = originals(uploads / STAGING), originals(uploads / DELETING)
    # Read after the settling above: a rolled-back replacement or finished deletion is compared as it is now.
    # In a check the staged and deleted names are what the repair would settle, so they are not compared again.
    settled = set(found.rolled_back) | set(found.deletions_finished) if not repair else set()
    stored = {doc.id: doc for doc in store.documents().values() if doc.id not in settled}
    names = [name for name in originals(uploads) if name not in settled]
    for name in names:
        doc = stored.get(name)
        if doc is not None and not is_upload(doc, uploads):
            # The id is held by a document ingested from elsewhere (`python -m ingest` of a folder holding a file
            # of this name, after the upload): which should win is the operator's call, not a guess at start-up.
            found.shadowed.append(name)
            log.warning("%s in the uploads folder is stored from %s instead: left as it is", name, doc.source)
            continue
        why = _disagreement(doc, uploads / name)
        if why is None:
            found.agreed += 1
            continue
        found.reingested[name] = why
        if repair:
            log.warning("ingesting %s again: %s", name, why)
            original = uploads / name
            report = ingest_file(
                original, doc_id=name, source=original, store=store, embedder=embedder, fence=fence, rewrite=True
            )
            found.chunks_embedded += report.chunks_embedded
            found.sentences_embedded += report.sentences_embedded
            if report.failed:
                del found.reingested[name]
                found.failed.append({"path": str(original), "error": report.failed[0]["error"]})
                log.warning("%s in the uploads folder cannot be ingested: %s", name, report.failed[0]["error"])
    orphans = sorted(doc.id for doc in stored.values() if is_upload(doc, uploads) and doc.id not in set(names))
    # Every deletion the service makes moves the original to uploads/.deleting/ before touching the chunks, so a
    # stored upload whose original is in neither folder had its file removed by hand while the service was down.
    # The folder is the truth for uploads (an original edited there is ingested again), so that removal is a
    # deletion and is finished. Except when the folder holds no original at all: an unmounted or mistyped uploads
    # folder looks the same, and removing every uploaded document on that guess could lose the only copy of their
    # text; they are kept and reported until an original reappears or they are deleted through the API.
    if names or not orphans:
        found.removed = orphans
    else:
        found.kept = orphans
        log.error(
            "the uploads folder %s holds no originals, yet the store holds %d uploaded documents: kept (is the "
            "folder mounted?); delete them through the API if they are meant to go",
            uploads,
            len(orphans),
        )
    if repair:
        for name in found.removed:
            log.warning("removing %s from the store: its original is gone from %s", name, uploads)
            remove_document(store, name, fence)
    return found


def _disagreement(doc: StoredDocument | None, original: Path) -> str | None:
    """Why the stored chunks of an original disagree with the file (None when they agree)."""
    if doc is None:
        return "not in the store"
    if not doc.file_hash:
        return "stored without its file's hash (before hashes were kept, or half replaced)"
    if doc.file_hash != file_hash(original):
        return "the file changed"
    if len(doc.chunk_ids) != doc.file_chunks:
        return f"the store holds {len(doc.chunk_ids)} of its {doc.file_chunks} chunks"
    return None
