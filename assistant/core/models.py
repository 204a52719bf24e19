"""Typed domain objects shared by every layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["ky", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ky", "ru", "en")

# How a text in a language becomes its index terms (the BM25 analyser; the answerers match words with it too).
Analyzer = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class SourceDocument:
    """A document as loaded from disk or JSONL, before cleaning."""

    id: str
    text: str
    title: str = ""
    url: str | None = None
    date: str | None = None
    lang: str | None = None
    source: str = ""  # the folder or .jsonl file it was ingested from (used by --prune)
    path: str = ""  # the file it came from


@dataclass(frozen=True)
class Chunk:
    """A passage of a cleaned document with its exact character span."""

    id: str
    document_id: str
    position: int
    text: str
    start: int
    end: int
    lang: Language
    title: str = ""
    url: str | None = None
    date: str | None = None
    source: str = ""


@dataclass(frozen=True)
class ChunkSentence:
    """A sentence of a chunk, with its span in the cleaned document; its vector is made at ingest time."""

    chunk_id: str
    index: int  # position inside the chunk
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its fused score and per-retriever ranks."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_similarity: float | None = None


@dataclass(frozen=True)
class Question:
    """A user's question with its detected (or forced) language and, for follow-ups, the earlier turn."""

    text: str
    language: Language
    previous: str | None = None  # the earlier question an elliptical follow-up leans on
    history: tuple[str, ...] = ()  # the conversation's earlier questions, oldest first (a generator shows them)

    @property
    def search_text(self) -> str:
        """What retrieval and passage matching look for: the follow-up completed by the earlier question."""
        return f"{self.previous} {self.text}" if self.previous else self.text


@dataclass(frozen=True)
class Citation:
    """A verbatim quote backing an answer: `quote == cleaned_document[start:end]`."""

    index: int
    document: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    url: str | None = None
    date: str | None = None
    highlight: tuple[int, int] | None = None  # answer span inside `quote`
    highlights: tuple[tuple[int, int], ...] = ()  # a generated answer's checked tokens inside `quote`
    context: str = ""  # the paragraph of the chunk around the quote (at most ~CONTEXT_CHARS), for reading it in place
    context_quote: tuple[int, int] | None = None  # where `quote` stands inside `context`

    @classmethod
    def quoting(
        cls,
        chunk: Chunk,
        index: int,
        span: tuple[int, int, str],
        score: float,
        highlight: tuple[int, int] | None = None,
        highlights: tuple[tuple[int, int], ...] = (),
    ) -> Citation:
        """Citation `index` of a chunk's text span (start, end, the quoted text) with the chunk's document facts."""
        start, end, quote = span
        context, context_quote = paragraph_around(chunk, start, end)
        return cls(
            index=index,
            document=chunk.document_id,
            title=chunk.title,
            chunk_id=chunk.id,
            quote=quote,
            start=start,
            end=end,
            score=score,
            url=chunk.url,
            date=chunk.date,
            highlight=highlight,
            highlights=highlights,
            context=context,
            context_quote=context_quote,
        )


CONTEXT_CHARS = 400  # of a paragraph kept on each side of a quote; a longer side is cut at a word, with "…"


def paragraph_around(chunk: Chunk, start: int, end: int) -> tuple[str, tuple[int, int] | None]:
    """The chunk's paragraph (lines between newlines) holding the document span [start, end), and the span's place
    in it; ("", None) when the span is not inside the chunk's text."""
    text = chunk.text
    first, last = start - chunk.start, end - chunk.start
    if not (0 <= first <= last <= len(text)) or chunk.end - chunk.start != len(text):
        return "", None
    opening = text.rfind("\n", 0, first) + 1
    closing = text.find("\n", last)
    closing = len(text) if closing < 0 else closing
    before, quote, after = text[opening:first], text[first:last], text[last:closing]
    if len(before) > CONTEXT_CHARS:
        cut = before[-CONTEXT_CHARS:]
        before = "…" + cut[cut.find(" ") + 1 :] if " " in cut else "…" + cut
    if len(after) > CONTEXT_CHARS:
        cut = after[:CONTEXT_CHARS]
        after = (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"
    return before + quote + after, (len(before), len(before) + len(quote))


@dataclass(frozen=True)
class Lead:
    """The answer span the question asks for (a number, date, name or place) and the citation it stands in."""

    text: str
    citation: int  # the `index` of the citation whose quote holds the span (at its `highlight`)


@dataclass(frozen=True)
class Segment:
    """A sentence (or two) of a generated answer and the citations that state it."""

    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True)
class Answer:
    """The assistant's reply as parts clients render: the lead span, the quotes (citations), refusal, confidence."""

    language: Language
    refused: bool
    lead: Lead | None = None
    citations: tuple[Citation, ...] = ()  # the verbatim quotes, in reading order; `highlight` marks the span
    confidence: float | None = None  # probability that the documents answer the question (None: not estimated)
    generated: str | None = None  # a language model's verified answer, its [n] pointing at `citations`
    segments: tuple[Segment, ...] = ()  # the same as parts: each claim with its citations
    generator: Literal["llm", "extractive"] = "extractive"
    fallback_reason: str | None = None  # why a model's answer was not shown (busy, timeout, unsupported, …)
    timings_ms: dict[str, float] = field(default_factory=dict)
    retrieved: tuple[ScoredChunk, ...] = ()


@dataclass(frozen=True)
class StoredDocument:
    """What the store knows of one document: its chunk ids and where it was ingested from."""

    id: str
    chunk_ids: frozenset[str]
    source: str
    title: str
    lang: str
    url: str | None
    date: str | None
    ingested_at: str
    # An uploaded original's SHA-256 when every chunk records the same one ("" otherwise: not an upload, written
    # before hashes were kept, or half replaced), and how many chunks that file made: start-up reconciliation
    # compares them with the file on disk instead of reading and chunking it again.
    file_hash: str = ""
    file_chunks: int = 0


@dataclass(frozen=True)
class DocumentAdded:
    """One uploaded file after ingestion: `status` is added, replaced, unchanged or failed (with `error`)."""

    id: str
    status: Literal["added", "replaced", "unchanged", "failed"]
    chunks: int = 0
    error: str | None = None
