"""Small ports the core depends on; adapters in `vectorstore/` and `ingest/` implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from assistant.core.models import (
    Answer,
    Chunk,
    ChunkSentence,
    DocumentAdded,
    Question,
    ScoredChunk,
    StoredDocument,
)

Vector = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; `name` identifies the model for store compatibility."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> Vector: ...

    def embed_query(self, text: str) -> Vector: ...


class ChunkStore(Protocol):
    """Where chunks and their vectors live (Chroma)."""

    def query(self, vector: Vector, k: int) -> list[tuple[Chunk, float]]: ...

    def all_chunks(self) -> list[Chunk]: ...

    def chunk_ids(self, documents: Iterable[str] | None = None) -> set[str]:
        """The ids of every stored chunk, or of these documents' chunks."""
        ...

    def chunk_ids_written_after(self, generation: int) -> dict[str, str]:
        """The chunks (re)written since the store was at `generation`: chunk id → document id (a rewrite keeps
        the id when only a document's title, url, date, language or source changed)."""
        ...

    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        """These chunks (unknown ids left out), ordered like `all_chunks`."""
        ...

    def generation(self) -> int: ...

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]:
        """The stored sentences of these chunks with their vectors, in order, by chunk id (read by record id)."""
        ...


class LexicalIndex(Protocol):
    """Keyword search over the same chunks as the store."""

    def search(self, text: str, language: str, k: int) -> list[tuple[Chunk, float]]: ...


class RebuildableIndex(LexicalIndex, Protocol):
    """A lexical index kept in step with the store: `generation` is the store generation its content was read at
    (-1 before the first build); `chunk_ids` are the chunks it holds (all, or those of some documents)."""

    @property
    def generation(self) -> int: ...

    def chunk_ids(self, documents: Iterable[str] | None = None) -> Set[str]: ...

    def rebuild(self, chunks: Sequence[Chunk], generation: int) -> None: ...

    def update(self, added: Sequence[Chunk], removed_ids: Iterable[str], generation: int) -> None:
        """Index `added` (replacing chunks of the same id) and drop `removed_ids`, leaving the rest alone."""
        ...


class Retriever(Protocol):
    """Finds the chunks most likely to answer a question."""

    def retrieve(self, question: Question, k: int) -> list[ScoredChunk]: ...


class SentenceSimilarity(Protocol):
    """Cosine similarity of a question to sentences of retrieved chunks, each embedded under its chunk's title (the
    adapter reads the ingest-time vectors and caches them)."""

    def similarities(self, question: str, sentences: Sequence[tuple[Chunk, str]]) -> list[float]: ...


class Reranker(Protocol):
    """Reorders the retrieved chunks before the answerer reads them (the default keeps the retriever's order)."""

    def rerank(self, question: Question, chunks: Sequence[ScoredChunk]) -> list[ScoredChunk]: ...


class AnswerGenerator(Protocol):
    """Writes an answer (with citations) from retrieved chunks."""

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer: ...


class WritableChunkStore(ChunkStore, Protocol):
    """The store as ingestion sees it."""

    def documents(self, ids: Collection[str] | None = None) -> dict[str, StoredDocument]: ...

    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, Vector]: ...

    def add(self, chunks: Sequence[Chunk], vectors: Vector, extra: dict[str, Any]) -> None: ...

    def delete(self, ids: Iterable[str]) -> None: ...

    def count(self) -> int: ...

    def bump_generation(self) -> int: ...

    def set_chunker_version(self, version: str) -> None: ...

    def sentence_version(self) -> str: ...

    def set_sentence_version(self, version: str) -> None: ...

    def sentence_vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, Vector]: ...

    def add_sentences(self, sentences: Sequence[ChunkSentence], vectors: Vector, hashes: Sequence[str]) -> None: ...

    def clear_sentences(self) -> None: ...


@dataclass(frozen=True)
class Recorded:
    """Where an answer was recorded, and the answer as kept (the form the clients are given, built once)."""

    conversation_id: str
    answer_id: str
    kept: Mapping[str, Any]


class Conversations(Protocol):
    """Where asked questions and their answers are kept, per conversation and owner."""

    def history(self, conversation_id: str, owner: str) -> list[str]: ...

    def record(
        self, conversation_id: str | None, owner: str, question: str, answer: Answer, question_vector: Vector
    ) -> Recorded: ...


class Library(Protocol):
    """The document set as staff manage it: list, check an upload, add it, remove one."""

    supported_suffixes: tuple[str, ...]

    def documents(self) -> dict[str, StoredDocument]: ...

    def chunk_count(self) -> int: ...

    def check(self, path: Path, name: str) -> None: ...

    def add(self, path: Path) -> DocumentAdded: ...

    def remove(self, document_id: str) -> int: ...
