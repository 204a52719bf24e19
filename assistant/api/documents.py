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
from assistant.settings import Settings
from ingest.loaders import SUPPORTED_SUFFIXES, LoadLimits, load_file
from ingest.pipeline import ingest_paths, remove_document

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
def list_documents(caller: Caller = Depends(asker), state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Id, title, language, chunks, url, date and ingestion time of every document."""
    docs = state.service.store.documents()
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
            }
            for doc in sorted(docs.values(), key=lambda d: d.id)
        ]
    }


def upload_limits(settings: Settings) -> LoadLimits:
    """What one uploaded file may hold (BILIM_MAX_UNPACKED_BYTES, _DOCX_ELEMENTS, _PDF_PAGES, _EXTRACTED_CHARS)."""
    return LoadLimits(
        max_unpacked_bytes=settings.max_unpacked_bytes,
        max_docx_elements=settings.max_docx_elements,
        max_pdf_pages=settings.max_pdf_pages,
        max_extracted_chars=settings.max_extracted_chars,
    )


def _receive(upload: UploadFile, staging: Path, limit: int, limits: LoadLimits) -> tuple[str, Path]:
    """Copy one upload to the staging folder, enforcing the size limit and a readable type."""
    name = safe_name(upload.filename)
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedDocument(f"{name}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    target = staging / name
    size = 0
    with target.open("wb") as out:
        while block := upload.file.read(READ_BLOCK):
            size += len(block)
            if size > limit:
                raise PayloadTooLarge(f"{name}: file larger than the limit of {limit} bytes")
            out.write(block)
    # Broken PDF, binary, no text → 415; a zip bomb, too many pages or elements, too much text → 413.
    load_file(target, doc_id=name, source=str(target), max_bytes=limit, limits=limits)
    return name, target


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
def upload_documents(
    files: list[UploadFile] = File(..., min_length=1, description="one or more .txt/.md/.html/.pdf/.docx files"),
    caller: Caller = Depends(admin),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Ingest the files as `python -m ingest` would; they are answerable as soon as this returns."""
    _refuse_duplicate_names(files)  # before anything is staged: one file would silently replace the other
    staging = state.uploads / ".incoming" / secrets.token_hex(8)
    staging.mkdir(parents=True)
    ingested: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    errors: list[BilimError] = []
    try:
        received: list[tuple[str, Path]] = []
        for upload in files:
            try:
                received.append(
                    _receive(upload, staging, state.settings.max_upload_bytes, upload_limits(state.settings))
                )
            except BilimError as exc:
                errors.append(exc)
                failed.append(
                    {"file": (upload.filename or "").encode("utf-8", "replace").decode(), "error": exc.message}
                )
        if not received and errors:
            raise errors[0]  # nothing usable: answer with that error's status (413, 415, 422)
        with state.guard.write():
            for name, staged in received:
                final = state.uploads / name
                os.replace(staged, final)
                report = ingest_paths([final], store=state.service.store, embedder=state.service.embedder)
                if report.failed:
                    failed.extend({"file": name, "error": f["error"]} for f in report.failed)
                    continue
                status = "replaced" if report.updated else "unchanged" if report.unchanged else "added"
                chunks = len(state.service.store.documents()[name].chunk_ids)
                ingested.append({"id": name, "chunks": chunks, "status": status})
        state.service.refresh_lexical()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    state.metrics.ingested.inc(len(ingested))
    state.metrics.chunks.set(state.service.store.count())
    return {"ingested": ingested, "failed": failed}


@router.delete(
    "/{document_id:path}",
    response_model=DeletedOut,
    responses=problems(401, 403, 404, 429, 503),
    summary="Delete a document (admin)",
)
def delete_document(
    document_id: str,
    caller: Caller = Depends(admin),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Remove a document from the store (and its uploaded file); it is no longer answerable."""
    with state.guard.write():
        removed = remove_document(state.service.store, document_id)
        uploaded = state.uploads / PurePosixPath(document_id).name
        if PurePosixPath(document_id).name == document_id and uploaded.is_file():
            uploaded.unlink()
    state.service.refresh_lexical()
    state.metrics.chunks.set(state.service.store.count())
    return {"deleted": document_id, "chunks": removed}
