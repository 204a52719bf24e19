"""Request and response bodies of the HTTP API (they make the OpenAPI schema at /docs)."""

from __future__ import annotations

import re
import sys
from array import array
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from assistant.core.pipeline import MAX_QUESTION_CHARS


def _valid_unicode(value: str) -> str:
    """Text that cannot be written as UTF-8 (a lone surrogate such as "\\ud800") is refused with a 422."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (a lone surrogate at position {exc.start})") from exc
    return value


def _letters_and_digits() -> str:
    """A character class of every letter and digit (`str.isalnum`, what the service counts as a word's)."""
    # Spelled as literal ranges because `\w` is Unicode-aware in Python but ASCII-only in the ECMA regular
    # expressions of most JSON Schema validators (`[^\W_]` refused every Cyrillic question there), and `\p{L}`
    # is not Python's: literal code points read alike in Python, ECMA (with `u`) and pydantic's Rust engine.
    codes = array("I", range(0xD800))  # every code point but the surrogates, decoded at once (a join takes 5x longer)
    codes.extend(range(0xE000, sys.maxunicode + 1))
    every_character = codes.tobytes().decode(f"utf-32-{sys.byteorder[0]}e")
    runs = (m.group() for m in re.finditer(r"[^\W_]+", every_character))  # Python's \w is str.isalnum and "_"
    ranges = [run if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]
    return "[" + "".join(ranges) + "]"


LETTER_OR_DIGIT = _letters_and_digits()
Text = Annotated[str, AfterValidator(_valid_unicode)]
PROBLEM_TEXT = {
    400: "the body cannot be parsed (not JSON, or not UTF-8)",
    401: "no key, or an unknown one",
    403: "the key may not do this (document management, site sync and insights need an admin key)",
    404: "unknown or expired id (or one that belongs to another caller)",
    409: "another writer holds the store, or a sync is already running",
    413: "a body over its route's cap (BILIM_MAX_BODY_BYTES, BILIM_MAX_UPLOAD_REQUEST_BYTES), or a file over a size or "
    "content limit",
    415: "a file of an unsupported type, or unreadable",
    422: "the request breaks a rule of the schema or of the service",
    429: "rate limit, or too many failed authentications (see Retry-After)",
    503: "the store or the records are unreachable for now, or no slot for a long question came free (`busy`); see "
    "Retry-After",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of these error statuses: each the JSON problem body."""
    return {code: {"model": Problem, "description": PROBLEM_TEXT[code]} for code in codes}


class AskRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    question: Text = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=LETTER_OR_DIGIT,
        description="the question in Kyrgyz, Russian or English: at least one letter or digit, at most "
        f"{MAX_QUESTION_CHARS} characters once runs of whitespace are collapsed (the default of "
        "BILIM_MAX_QUESTION_CHARS; GET /v1/config tells the limit in force)",
    )
    conversation_id: Text | None = Field(default=None, max_length=64, description="from an earlier answer")
    language: Literal["ky", "ru", "en"] | None = Field(
        default=None, description="language of the lead-in and refusal (default: detected from the question)"
    )


class CitationContext(BaseModel):
    """The paragraph a quote stands in (cut at ~400 characters on each side, marked "…")."""

    text: str
    quote: list[int] = Field(description="the quote as [start, end] inside `text` (code points)")


class CitationOut(BaseModel):
    """A verbatim quote the answer stands on."""

    index: int
    document: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    score: float
    url: str | None
    date: str | None
    highlight: list[int] | None = Field(description="answer span as [start, end] inside the quote")
    highlights: list[list[int]] = Field(
        default_factory=list,
        description="a generated answer's checked numbers and names as [start, end] spans inside the quote",
    )
    context: CitationContext | None = Field(
        default=None, description="the paragraph around the quote, to read it in place (null: none to show)"
    )


class LeadOut(BaseModel):
    """The answer span the question asks for, and the citation whose quote holds it."""

    text: str = Field(description="a number, date, name or place, verbatim from the quote")
    citation: int = Field(description="`index` of the citation; the span is that quote's `highlight`")


class SegmentOut(BaseModel):
    """A sentence of a generated answer and the citations (indices) that state it."""

    text: str
    citations: list[int]


class AnswerOut(BaseModel):
    """An answer as parts (lead, quotes with highlights, refusal, confidence) plus the same rendered as text."""

    answer: str = Field(
        description="the parts rendered as plain text in the answer's language, for clients that only print"
    )
    language: str
    refused: bool
    lead: LeadOut | None = Field(default=None, description="the asked-for span; null for a passage answer or a refusal")
    confidence: float | None = Field(
        default=None, description="probability that the documents answer the question; null when not estimated"
    )
    citations: list[CitationOut] = Field(description="the verbatim quotes the answer stands on, in reading order")
    segments: list[SegmentOut] = Field(
        default_factory=list, description="a generated answer as parts: each claim with its citations"
    )
    generator: Literal["llm", "extractive"] = Field(
        default="extractive", description="llm: written by the language model and verified against its quotes"
    )
    fallback_reason: str | None = Field(
        default=None,
        description="why a model's answer was not shown (busy, timeout, rate_limited, unreachable, error, malformed, "
        "no_answer, or the failed check: unsupported, unknown_citation, no_citation, uncited, wrong_language, empty, "
        "too_long)",
    )
    timings_ms: dict[str, float]
    conversation_id: str
    answer_id: str


class StoredAnswerOut(AnswerOut):
    """A stored answer with its question."""

    question: str
    created: str


class FeedbackRequest(BaseModel):
    """A rating of one answer."""

    answer_id: Text = Field(max_length=64)
    rating: Literal["up", "down"]
    comment: Text | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    """The stored feedback's id."""

    id: int


class DocumentOut(BaseModel):
    """One stored document."""

    id: str
    title: str
    language: str
    chunks: int
    url: str | None
    date: str | None
    ingested_at: str
    synced_at: str | None = Field(default=None, description="when a site sync last found the page (synced pages only)")
    labels: list[str] = Field(default_factory=list, description="its sync source's labels (synced pages only)")


class DocumentList(BaseModel):
    """Every stored document."""

    documents: list[DocumentOut]


class IngestedOut(BaseModel):
    """A document an upload added, replaced (same name, new content) or found unchanged."""

    id: str
    chunks: int
    status: Literal["added", "replaced", "unchanged"]


class UploadFailure(BaseModel):
    """A file an upload could not ingest, and why."""

    file: str
    error: str


class UploadOut(BaseModel):
    """The result of an upload."""

    ingested: list[IngestedOut]
    failed: list[UploadFailure]


class DeletedOut(BaseModel):
    """The result of a delete."""

    deleted: str
    chunks: int


class SyncRequest(BaseModel):
    """Sources to sync now, as sources.toml's `[[source]]` tables; none: BILIM_SYNC_SOURCES."""

    sources: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=50,
        examples=[[{"name": "news-ky", "sitemap": "https://edu.gov.kg/sitemap.xml", "include": ["/ky/"]}]],
    )


class SyncFailure(BaseModel):
    """A page a sync could not read, and why."""

    url: str
    reason: str


class SyncStatus(BaseModel):
    """This host's latest sync: its state, progress, and what it did."""

    state: Literal["idle", "running", "done", "failed"]
    sources: list[str] = Field(description="the names of the sources synced")
    started_at: str | None
    finished_at: str | None
    pages_done: int = Field(description="URLs handled so far in the current source")
    pages_total: int = Field(description="URLs the current source lists (a crawl: its page cap)")
    seen: int
    fetched: int
    unchanged: int
    added: int
    changed: int
    removed: int
    gone: int = Field(description="pages gone (404/410, dropped) but kept until BILIM_SYNC_REMOVE_AFTER syncs")
    failed: list[SyncFailure]
    skipped: list[SyncFailure] = Field(description="robots.txt-disallowed URLs, second URLs of one page")
    chunks_embedded: int
    error: str | None = Field(description="why the run stopped, when it failed")


class Problem(BaseModel):
    """Every error response."""

    status: int
    code: str
    detail: str


class Readiness(BaseModel):
    """Whether the service can answer: store reachable, embedder loaded, documents ingested."""

    status: Literal["ready", "not ready"]
    store: bool
    embedder: bool
    chunks: int
    code: str | None = Field(default=None, description="why not ready: store_unavailable or empty_store")
    detail: str | None = None


class ClientConfig(BaseModel):
    """What a client needs to know before the first request."""

    auth_required: bool
    admin_enabled: bool
    max_question_chars: int
    max_upload_bytes: int
    generated_answers: bool = Field(default=False, description="a language model writes answers (BILIM_LLM_URL)")
    llm_timeout: float | None = Field(
        default=None, description="seconds the server waits for the model; a client should wait at least 5 s more"
    )


class InsightsTotals(BaseModel):
    """The window's questions: asked, answered, refused, rated 👎 / 👍 (latest rating), and the rates of asked."""

    asked: int
    answered: int
    refused: int
    rated_down: int
    rated_up: int
    answered_rate: float
    refused_rate: float
    rated_down_rate: float


class InsightsDay(BaseModel):
    """One UTC day of the window (days without questions included, with zeros)."""

    day: str
    asked: int
    refused: int
    rated_down: int
    rated_up: int
    languages: dict[str, int] = Field(description="questions asked that day, per language")


class InsightsLanguage(BaseModel):
    """One question language's counts in the window."""

    asked: int
    refused: int
    rated_down: int
    rated_up: int


class InsightsCluster(BaseModel):
    """Near-duplicate refused or 👎-rated questions: how many, in which languages, three examples, when."""

    id: int
    size: int
    refused: int
    rated_down: int
    languages: dict[str, int]
    examples: list[str]
    first_asked: str
    last_asked: str


class CitedDocument(BaseModel):
    """A document and how many answers of the window cite it."""

    document: str
    title: str
    answers: int


class UncitedDocument(BaseModel):
    """A stored document no answer of the window cites."""

    document: str
    title: str
    ingested_at: str


class InsightsDocuments(BaseModel):
    """The documents cited most (most first), and those never cited in the window."""

    cited: list[CitedDocument]
    never_cited: list[UncitedDocument]


class InsightsOut(BaseModel):
    """What applicants asked in a window, what went unanswered or rated 👎, and which documents carry the load.
    End-user ids never appear; rows past the retention period count nowhere."""

    since: str
    until: str
    language: Literal["ky", "ru", "en"] | None
    timezone: str
    retention_days: int
    totals: InsightsTotals
    days: list[InsightsDay]
    languages: dict[str, InsightsLanguage]
    clusters: list[InsightsCluster]
    unanswered_total: int = Field(description="refused or 👎-rated questions in the window")
    clustered: int = Field(description="how many of them were clustered (the most recent, at most 2,000)")
    documents: InsightsDocuments
