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
# A change of language (ky/ru/en abstracts one after another) starts a new chunk, so every chunk is in one
# language; a stretch in another language shorter than this (a quoted name, a misdetected sentence) does not.
MIN_LANGUAGE_RUN_CHARS = 120
CHUNKER_VERSION = f"sent{MAX_CHARS}-o1-lang{MIN_LANGUAGE_RUN_CHARS}-c{CLEANER_VERSION}"


def chunk_id(document_id: str, position: int, start: int, text: str) -> str:
    """Stable id of a chunk: the same document, place (position and offset) and text always give the same id.

    The offset is part of it so that an edit earlier in the document, which moves this chunk's span, gives it a
    new id and the stored `start`/`end` are rewritten (its vector is still reused by text hash).
    """
    return hashlib.sha256(f"{document_id}\x00{position}\x00{start}\x00{text}".encode()).hexdigest()[:32]


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


def language_segments(pieces: list[Sentence]) -> list[list[Sentence]]:
    """Split a document's sentences into runs of one language; runs under MIN_LANGUAGE_RUN_CHARS stay attached."""
    segments: list[tuple[Language, list[Sentence]]] = []
    for piece in pieces:
        lang = detect_language(piece.text)
        if segments and segments[-1][0] == lang:
            segments[-1][1].append(piece)
        else:
            segments.append((lang, [piece]))
    merged: list[tuple[Language, list[Sentence]]] = []
    for lang, run in segments:
        if merged and (lang == merged[-1][0] or _span_chars(run) < MIN_LANGUAGE_RUN_CHARS):
            merged[-1][1].extend(run)
        elif merged and _span_chars(merged[-1][1]) < MIN_LANGUAGE_RUN_CHARS:
            merged[-1] = (lang, merged[-1][1] + run)
        else:
            merged.append((lang, list(run)))
    return [run for _, run in merged]


def _span_chars(run: list[Sentence]) -> int:
    return sum(len(s.text) for s in run)


def pack_sentences(sentences: list[Sentence], *, split_languages: bool = True) -> list[tuple[int, int]]:
    """Group consecutive sentences into spans of at most MAX_CHARS; consecutive spans share one sentence.

    With `split_languages`, a span never crosses a change of language (and no sentence is repeated across it).
    """
    pieces = [part for s in sentences for part in (_split_long(s) if len(s.text) > HARD_MAX_CHARS else [s])]
    if split_languages:
        return [span for run in language_segments(pieces) for span in _pack(run)]
    return _pack(pieces)


def _pack(pieces: list[Sentence]) -> list[tuple[int, int]]:
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
    forced: Language | None = document.lang if document.lang in ("ky", "ru", "en") else None  # type: ignore[assignment]
    spans = pack_sentences(split_sentences(cleaned), split_languages=forced is None)
    chunks: list[Chunk] = []
    for position, (start, end) in enumerate(spans):
        text = cleaned[start:end]
        if not re.search(r"\w", text):
            continue
        chunks.append(
            Chunk(
                id=chunk_id(document.id, position, start, text),
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
