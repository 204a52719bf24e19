"""Document management: list (any asking client), upload and delete (admin keys only)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, Depends, File, UploadFile

from assistant.api.schemas import DeletedOut, DocumentList, UploadOut, problems
from assistant.api.security import Caller, admin, asker
from assistant.api.state import AppState, app_state
from assistant.core.errors import BilimError, InvalidInput, PayloadTooLarge, UnsupportedDocument
from assistant.core.usecases import Staged, delete_document, list_documents, upload_documents
from assistant.wiring import synced_pages

router = APIRouter(prefix="/v1/documents", tags=["documents"])
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200  # under the 255 bytes of ext4 and others, leaving room for the staging folder's suffixes
READ_BLOCK = 1 << 16


def safe_name(filename: str | None) -> str:
    """The uploaded file's own name, stripped of folders and odd characters, so it cannot leave the data dir."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"the file name is not valid Unicode (a lone surrogate at position {exc.start})") from exc
    name = unicodedata.normalize("NFC", name).strip()
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip(" .")
    if not name or name.startswith("."):
        raise InvalidInput(f"unusable file name {filename!r}")
    stem, suffix = os.path.splitext(name)
    suffix = suffix.lower()
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    # File systems count bytes, not characters: 120 Chinese characters are 360 bytes of UTF-8.
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


@router.get("", response_model=DocumentList, responses=problems(401, 429, 503), summary="List the stored documents")
def list_stored(caller: Caller = Depends(asker), state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Id, title, language, chunks, url, date, ingestion time and (synced pages) last sync and labels of every
    document."""
    synced = synced_pages(state.settings)
    return {
        "documents": [
            {
                "id": doc.id,
                "title": doc.title,
                "language": doc.lang,
                "chunks": len(doc.chunk_ids),
                "url": doc.url,
                "date": doc.date,
                "ingested_at": doc.ingested_at,
                "synced_at": synced[doc.id].last_seen if doc.id in synced else None,
                "labels": list(synced[doc.id].labels) if doc.id in synced else [],
            }
            for doc in list_documents(state.library)
        ]
    }


def _receive(upload: UploadFile, staging: Path, limit: int, suffixes: tuple[str, ...]) -> Staged:
    """Copy one upload to the staging folder within the size limit, or say why it cannot be taken."""
    client_name = (upload.filename or "").encode("utf-8", "replace").decode()
    try:
        name = safe_name(upload.filename)
    except BilimError as exc:
        return Staged(client_name, error=exc)
    if Path(name).suffix.lower() not in suffixes:
        unsupported = UnsupportedDocument(f"{name}: unsupported file type; supported: {', '.join(suffixes)}")
        return Staged(client_name, error=unsupported)
    target = staging / name
    size = 0
    with target.open("wb") as out:
        while block := upload.file.read(READ_BLOCK):
            size += len(block)
            if size > limit:
                too_large = PayloadTooLarge(f"{name}: file larger than the limit of {limit} bytes")
                return Staged(client_name, error=too_large)
            out.write(block)
    return Staged(client_name, target)


def _refuse_duplicate_names(files: list[UploadFile]) -> None:
    """Two files that would be stored under one name ("a/same.txt", "b/same.txt") make the request a 422."""
    seen: dict[str, str] = {}
    for upload in files:
        try:
            name = safe_name(upload.filename)
        except InvalidInput:
            continue  # reported per file below
        if name in seen:
            raise InvalidInput(
                f"two files in one upload would both be stored as {name!r} ({seen[name]!r} and {upload.filename!r}): "
                "rename one and upload again"
            )
        seen[name] = upload.filename or ""


@router.post(
    "",
    response_model=UploadOut,
    responses=problems(400, 401, 403, 413, 415, 422, 429, 503),
    summary="Upload and ingest documents (admin)",
)
def upload(
    files: list[UploadFile] = File(..., min_length=1, description="one or more .txt/.md/.html/.pdf/.docx files"),
    caller: Caller = Depends(admin),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Ingest the files as `python -m ingest` would; they are answerable as soon as this returns."""
    _refuse_duplicate_names(files)  # before anything is staged: one file would silently replace the other
    staging = state.uploads / ".incoming" / secrets.token_hex(8)
    staging.mkdir(parents=True)
    try:
        limit, suffixes = state.settings.max_upload_bytes, state.library.supported_suffixes
        staged = [_receive(upload, staging, limit, suffixes) for upload in files]
        result = upload_documents(state.library, staged, state.guard.write)
        state.service.refresh_lexical()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    state.metrics.ingested.inc(len(result.ingested))
    state.metrics.chunks.set(state.library.chunk_count())
    return {
        "ingested": [{"id": d.id, "chunks": d.chunks, "status": d.status} for d in result.ingested],
        "failed": [{"file": d.id, "error": d.error or ""} for d in result.failed],
    }


@router.delete(
    "/{document_id:path}",
    response_model=DeletedOut,
    responses=problems(401, 403, 404, 429, 503),
    summary="Delete a document (admin)",
)
def delete(
    document_id: str,
    caller: Caller = Depends(admin),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Remove a document from the store (and its uploaded file); it is no longer answerable."""
    with state.guard.write():
        removed = delete_document(state.library, document_id)
    state.service.refresh_lexical()
    state.metrics.chunks.set(state.library.chunk_count())
    return {"deleted": document_id, "chunks": removed}
