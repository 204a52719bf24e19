"""Sentence segmentation with exact character offsets (shared by chunking and answering)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from assistant.core.models import Chunk, ChunkSentence

# What the stored sentence vectors embed; a store holding another version gets them rebuilt.
SENTENCE_VECTORS_VERSION = "title-sentence-1"
_HAS_WORD = re.compile(r"\w{2}")

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace and a
# capital, digit, quote, dash or list marker; also at ";" ending a list item and at line breaks.
_BOUNDARY = re.compile(
    r"""(?<=[.!?…])["»”')\]]*(?=\s+["«“(\-–—•]?[A-ZА-ЯЁӨҮҢ0-9])"""
    r"""|(?<=;)(?=\s*\S)"""
    r"""|(?<=[.!?…;:])(?=[«"“]?[A-ZА-ЯЁӨҮҢ][a-zа-яёөүң])"""
    r"""|\n+""",
)
# Abbreviations and initials after which a period does not end the sentence.
_ABBREV = re.compile(
    r"(?:\b[A-ZА-ЯЁӨҮҢ]|\bт\.б|\bж\.б|\bг|\bгг|\bт\.е|\bт\.к|\bс|\bст|\bим|\bул|\bобл|\bр-н|\bпр|\bдр"
    r"|\bетс|\bвкл|\bNo|\bNr|\bp|\bpp|\bet al|\bi\.e|\be\.g|\bDr|\bMr|\bMrs|\bProf)\.$"
)


@dataclass(frozen=True)
class Sentence:
    """A sentence as a span `[start, end)` of the text it was cut from."""

    start: int
    end: int
    text: str


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split `text` into trimmed sentences whose spans index into the original (plus `offset`)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start()
        if match.group(0).strip() == "" and "\n" not in match.group(0) and _ABBREV.search(text[start:end]):
            continue
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    sentences: list[Sentence] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            sentences.append(Sentence(start=s + offset, end=e + offset, text=text[s:e]))
    return sentences


def chunk_sentences(chunk: Chunk) -> list[ChunkSentence]:
    """The sentences of a chunk that hold a word, with document offsets (the answer candidates)."""
    return [
        ChunkSentence(chunk_id=chunk.id, index=i, start=s.start, end=s.end, text=s.text)
        for i, s in enumerate(split_sentences(chunk.text, offset=chunk.start))
        if _HAS_WORD.search(s.text)
    ]


def sentence_passage(title: str, sentence: str) -> str:
    """What a sentence's vector embeds: the sentence under its document's title, as e5 passages usually are."""
    return f"{title}. {sentence}" if title else sentence


def text_hash(text: str) -> str:
    """Hash of a text alone: stored chunk and sentence vectors are found by it, so no text is embedded twice."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]
