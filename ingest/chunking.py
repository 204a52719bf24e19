"""Sentence-aware chunking: chunks never cut a sentence and keep their exact span in the cleaned text."""

from __future__ import annotations

import hashlib
import re

from assistant.core.language import detect_language
from assistant.core.models import Chunk, Language, SourceDocument
from assistant.core.sentences import Sentence, split_sentences
from ingest.cleaning import CLEANER_VERSION

MAX_CHARS = 500
OVERLAP_MAX_CHARS = 250
# A sentence longer than this (tables flattened into one line) is cut at a space so it still embeds whole.
HARD_MAX_CHARS = 1200
CHUNKER_VERSION = f"sent{MAX_CHARS}-o1-c{CLEANER_VERSION}"


def chunk_id(document_id: str, position: int, text: str) -> str:
    """Stable id of a chunk: the same document, place and text always give the same id."""
    return hashlib.sha256(f"{document_id}\x00{position}\x00{text}".encode()).hexdigest()[:32]


def text_hash(text: str) -> str:
    """Hash of a chunk's text alone, to reuse its vector wherever the same text appears again."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _split_long(sentence: Sentence) -> list[Sentence]:
    parts: list[Sentence] = []
    start, end = sentence.start, sentence.end
    text = sentence.text
    offset = 0
    while len(text) - offset > HARD_MAX_CHARS:
        cut = text.rfind(" ", offset, offset + HARD_MAX_CHARS)
        cut = cut if cut > offset else offset + HARD_MAX_CHARS
        parts.append(Sentence(start + offset, start + cut, text[offset:cut]))
        offset = cut + 1 if text[cut : cut + 1] == " " else cut
    parts.append(Sentence(start + offset, end, text[offset:]))
    return parts


def pack_sentences(sentences: list[Sentence]) -> list[tuple[int, int]]:
    """Group consecutive sentences into spans of at most MAX_CHARS; consecutive spans share one sentence."""
    pieces = [part for s in sentences for part in (_split_long(s) if len(s.text) > HARD_MAX_CHARS else [s])]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and pieces[j].end - pieces[i].start <= MAX_CHARS:
            j += 1
        spans.append((pieces[i].start, pieces[j - 1].end))
        if j >= len(pieces):
            break
        # Repeat the last sentence in the next chunk: it often names the subject the next one talks about.
        i = j - 1 if j - 1 > i and len(pieces[j - 1].text) <= OVERLAP_MAX_CHARS else j
    return spans


def chunk_document(document: SourceDocument, cleaned: str) -> list[Chunk]:
    """Cut a cleaned document into chunks, each a verbatim span `cleaned[start:end]`."""
    spans = pack_sentences(split_sentences(cleaned))
    forced: Language | None = document.lang if document.lang in ("ky", "ru", "en") else None  # type: ignore[assignment]
    chunks: list[Chunk] = []
    for position, (start, end) in enumerate(spans):
        text = cleaned[start:end]
        if not re.search(r"\w", text):
            continue
        chunks.append(
            Chunk(
                id=chunk_id(document.id, position, text),
                document_id=document.id,
                position=position,
                text=text,
                start=start,
                end=end,
                lang=forced or detect_language(text),
                title=document.title,
                url=document.url,
                date=document.date,
                source=document.source,
            )
        )
    return chunks
