"""In-memory stand-ins for the core's ports, for fast tests: no model, no Chroma, no process.

`FakeEmbedder` hashes words and character trigrams into a fixed-size vector, so texts sharing words are similar
and everything is deterministic; `InMemoryChunkStore` keeps chunks and sentence vectors in dicts the way
`vectorstore.chroma_store.ChromaChunkStore` keeps them in collections; `KeywordIndex` ranks by shared words.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.models import Chunk, ChunkSentence, Language, Question, ScoredChunk, StoredDocument
from assistant.core.ports import Vector
from assistant.core.sentences import chunk_sentences, sentence_passage, text_hash

if TYPE_CHECKING:
    from assistant.core.ports import Embedder, LexicalIndex, SentenceSimilarity, WritableChunkStore

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class FakeEmbedder:
    """Deterministic bag of hashed words and character trigrams, L2-normalised float32 (queries = passages)."""

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.queries: list[str] = []  # every text embed_query was called with, in order
        self.passages: list[str] = []  # every text embed_passages was called with, in order

    @property
    def name(self) -> str:
        """The model name a store records."""
        return "fake"

    @property
    def dim(self) -> int:
        """The vectors' length."""
        return self._dim

    def vector(self, text: str) -> Vector:
        """The vector of one text (a fixed unit vector for a text without words)."""
        out = np.zeros(self._dim, dtype=np.float32)
        for word in _TOKEN.findall(text.lower()):
            out[zlib.crc32(f"w:{word}".encode()) % self._dim] += 2.0
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                out[zlib.crc32(f"t:{padded[i : i + 3]}".encode()) % self._dim] += 1.0
        norm = float(np.linalg.norm(out))
        if norm == 0.0:
            out[0] = 1.0
            return out
        return (out / norm).astype(np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        """One row per text."""
        self.passages.extend(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts])

    def embed_query(self, text: str) -> Vector:
        """The question's vector (the same space as passages)."""
        self.queries.append(text)
        return self.vector(text)


@dataclass
class _Row:
    """One stored chunk: the chunk, its vector, its extra metadata (text_hash, ingested_at) and when it was written."""

    chunk: Chunk
    vector: Vector
    extra: dict[str, Any] = field(default_factory=dict)
    written: int = 0  # the generation the write became visible at (as ChromaChunkStore's `written_gen`)


class InMemoryChunkStore:
    """Chunks, their vectors and their sentences' vectors in dicts; implements `WritableChunkStore`."""

    def __init__(self, embedder_name: str = "fake") -> None:
        self.embedder_name = embedder_name
        self._rows: dict[str, _Row] = {}
        self._sentences: dict[tuple[str, int], tuple[ChunkSentence, Vector, str]] = {}
        self._generation = 0
        self.chunker = ""
        self._sentence_version = ""
        self.reads: Counter[str] = Counter()  # calls of all_chunks and of chunk_ids (all); chunks read by `chunks`

    # -- reads -------------------------------------------------------------------------------------------
    def query(self, vector: Vector, k: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first (ties in insertion order)."""
        scored = [(row.chunk, float(row.vector @ vector)) for row in self._rows.values()]
        return sorted(scored, key=lambda pair: -pair[1])[:k]

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by document, position and id."""
        self.reads["all_chunks"] += 1
        return sorted((r.chunk for r in self._rows.values()), key=lambda c: (c.document_id, c.position, c.id))

    def chunk_ids(self, documents: Iterable[str] | None = None) -> set[str]:
        """The ids of every stored chunk, or of these documents' chunks."""
        if documents is None:
            self.reads["chunk_ids"] += 1
            return set(self._rows)
        wanted = set(documents)
        return {cid for cid, row in self._rows.items() if row.chunk.document_id in wanted}

    def chunk_ids_written_after(self, generation: int) -> dict[str, str]:
        """The chunks (re)written since the store was at `generation`: chunk id → document id."""
        return {cid: row.chunk.document_id for cid, row in self._rows.items() if row.written > generation}

    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        """These chunks (unknown ids left out), ordered like `all_chunks`."""
        found = [self._rows[cid].chunk for cid in set(ids) if cid in self._rows]
        self.reads["chunks"] += len(found)
        return sorted(found, key=lambda c: (c.document_id, c.position, c.id))

    def count(self) -> int:
        """Number of chunks stored."""
        return len(self._rows)

    def documents(self, ids: Collection[str] | None = None) -> dict[str, StoredDocument]:
        """What is stored per document id (all, or these), described by its first chunk (as ChromaChunkStore does)."""
        grouped: dict[str, list[_Row]] = {}
        for row in self._rows.values():
            if ids is not None and row.chunk.document_id not in ids:
                continue
            grouped.setdefault(row.chunk.document_id, []).append(row)
        docs: dict[str, StoredDocument] = {}
        for doc_id, rows in grouped.items():
            first = min(rows, key=lambda r: r.chunk.position)
            file_hashes = {str(r.extra.get("file_hash", "")) for r in rows}
            docs[doc_id] = StoredDocument(
                id=doc_id,
                chunk_ids=frozenset(r.chunk.id for r in rows),
                source=first.chunk.source,
                title=first.chunk.title,
                lang=first.chunk.lang,
                url=first.chunk.url or None,
                date=first.chunk.date or None,
                ingested_at=str(first.extra.get("ingested_at", "")),
                file_hash=file_hashes.pop() if len(file_hashes) == 1 else "",
                file_chunks=int(first.extra.get("file_chunks", 0)),
            )
        return docs

    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, Vector]:
        """Stored chunk vectors by their `text_hash` metadata."""
        wanted = set(hashes)
        return {str(r.extra["text_hash"]): r.vector for r in self._rows.values() if r.extra.get("text_hash") in wanted}

    def sentence_vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, Vector]:
        """Stored sentence vectors by the hash of the text they embed."""
        wanted = set(hashes)
        return {h: vector for _, vector, h in self._sentences.values() if h in wanted}

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]:
        """The sentences of these chunks with their vectors, in order (an empty list for a chunk without any)."""
        self.reads["sentences"] += 1
        out: dict[str, list[tuple[ChunkSentence, Vector]]] = {c.id: [] for c in chunks}
        for (chunk_id, _), (sentence, vector, _) in self._sentences.items():
            if chunk_id in out:
                out[chunk_id].append((sentence, vector))
        for rows in out.values():
            rows.sort(key=lambda row: row[0].index)
        return out

    # -- versions and generation -----------------------------------------------------------------------
    def generation(self) -> int:
        """A number bumped after every change."""
        return self._generation

    def bump_generation(self) -> int:
        """Record that the chunks changed."""
        self._generation += 1
        return self._generation

    def set_chunker_version(self, version: str) -> None:
        """Remember which chunker made the stored chunks."""
        self.chunker = version

    def sentence_version(self) -> str:
        """What the stored sentence vectors embed ("" before any)."""
        return self._sentence_version

    def set_sentence_version(self, version: str) -> None:
        """Record that every stored chunk has its sentence vectors, made this way."""
        self._sentence_version = version

    # -- writes ----------------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: Vector, extra: dict[str, Any]) -> None:
        """Add (or overwrite) chunks with their vectors and per-chunk extra metadata."""
        for chunk, vector in zip(chunks, np.asarray(vectors, dtype=np.float32), strict=True):
            self._rows[chunk.id] = _Row(chunk, vector, dict(extra.get(chunk.id, {})), self._generation + 1)

    def clear_sentences(self) -> None:
        """Drop every sentence vector; the store then has none."""
        self._sentences = {}
        self._sentence_version = ""

    def add_sentences(self, sentences: Sequence[ChunkSentence], vectors: Vector, hashes: Sequence[str]) -> None:
        """Add (or overwrite) sentence vectors, keyed by chunk id and index."""
        for sentence, vector, h in zip(sentences, np.asarray(vectors, dtype=np.float32), hashes, strict=True):
            self._sentences[(sentence.chunk_id, sentence.index)] = (sentence, vector, h)

    def delete(self, ids: Iterable[str]) -> None:
        """Remove chunks and their sentence vectors."""
        gone = set(ids)
        self._sentences = {key: row for key, row in self._sentences.items() if key[0] not in gone}
        for chunk_id in gone:
            self._rows.pop(chunk_id, None)


def put_chunks(store: InMemoryChunkStore, embedder: FakeEmbedder, chunks: Sequence[Chunk]) -> None:
    """Store chunks with the fake's vectors of their text, and of their sentences under the title (as ingest does)."""
    if not chunks:
        return
    sentences = [s for chunk in chunks for s in chunk_sentences(chunk)]
    titles = {c.id: c.title for c in chunks}
    passages = [sentence_passage(titles[s.chunk_id], s.text) for s in sentences]
    if sentences:
        store.add_sentences(sentences, embedder.embed_passages(passages), [text_hash(p) for p in passages])
    extra = {c.id: {"text_hash": text_hash(c.text)} for c in chunks}
    store.add(chunks, embedder.embed_passages([c.text for c in chunks]), extra)
    store.bump_generation()


class KeywordIndex:
    """Lexical search by the number of lower-cased words a chunk shares with the text; records its calls."""

    def __init__(self, chunks: Sequence[Chunk] = ()) -> None:
        self.chunks = list(chunks)
        self.calls: list[tuple[str, str, int]] = []

    def search(self, text: str, language: str, k: int) -> list[tuple[Chunk, float]]:
        """Chunks sharing at least one word, most shared first (ties in the order given)."""
        self.calls.append((text, language, k))
        words = set(_TOKEN.findall(text.lower()))
        scored = [(c, float(len(words & set(_TOKEN.findall(c.text.lower()))))) for c in self.chunks]
        return sorted((pair for pair in scored if pair[1] > 0), key=lambda pair: -pair[1])[:k]


class FixedSimilarity:
    """Question–sentence similarities read from a table (by a substring of the sentence), `default` elsewhere."""

    def __init__(self, scores: Mapping[str, float], default: float = 0.0) -> None:
        self.scores = dict(scores)
        self.default = default
        self.calls: list[tuple[str, list[str]]] = []  # the question and the sentences' texts of each call

    def similarities(self, question: str, sentences: Sequence[tuple[Chunk, str]]) -> list[float]:
        """For each sentence, the score of the first table key it contains."""
        texts = [text for _, text in sentences]
        self.calls.append((question, texts))
        return [next((v for key, v in self.scores.items() if key in t), self.default) for t in texts]


class NoOpReranker:
    """A reranker that keeps the retrieved order (the `Reranker` port's identity)."""

    def rerank(self, question: Question, chunks: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The chunks as given."""
        return list(chunks)


def make_chunk(
    text: str,
    *,
    doc: str = "doc",
    position: int = 0,
    start: int = 0,
    lang: Language = "ky",
    title: str = "",
    chunk_id: str | None = None,
    url: str | None = None,
    date: str | None = None,
    source: str = "",
) -> Chunk:
    """A chunk whose span is `[start, start + len(text))` of its document."""
    return Chunk(
        id=chunk_id or f"{doc}#{position}",
        document_id=doc,
        position=position,
        text=text,
        start=start,
        end=start + len(text),
        lang=lang,
        title=title,
        url=url,
        date=date,
        source=source,
    )


def scored(chunks: Sequence[Chunk], *, similarity: float = 0.9, step: float = 0.05) -> list[ScoredChunk]:
    """Chunks as retrieval returns them, best first: dense ranks 1.., similarities falling by `step`."""
    return [
        ScoredChunk(chunk=c, score=1.0 / (61 + i), dense_rank=i + 1, dense_similarity=similarity - step * i)
        for i, c in enumerate(chunks)
    ]


def vectors_at(query: Vector, similarities: Sequence[float], seed: int = 0) -> Vector:
    """Unit vectors whose cosine with the unit vector `query` is each of `similarities` (to float32 precision)."""
    rng = np.random.default_rng(seed)
    rows = []
    for similarity in similarities:
        noise = rng.normal(size=query.shape)
        orthogonal = noise - float(noise @ query) * query
        orthogonal /= np.linalg.norm(orthogonal)
        rows.append(similarity * query + np.sqrt(max(0.0, 1.0 - similarity * similarity)) * orthogonal)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), query.shape[0])


@contextmanager
def registered_fakes() -> Iterator[dict[Path, InMemoryChunkStore]]:
    """The fake embedder ("fake") and the in-memory store ("memory") registered through the composition root, as
    any adapter would be; yields the stores built so far, one per data dir (every worker of a data dir shares it)."""
    from assistant import wiring  # not at import: the core's fast tests need none of the adapters

    stores: dict[Path, InMemoryChunkStore] = {}

    def memory_store(settings: Any, embedder: Embedder) -> InMemoryChunkStore:
        return stores.setdefault(settings.data_dir, InMemoryChunkStore(embedder.name))

    wiring.register_embedder("fake", lambda spec: FakeEmbedder())
    wiring.register_store("memory", memory_store)
    try:
        yield stores
    finally:
        wiring.EMBEDDERS.pop("fake")
        wiring.STORES.pop("memory")


if TYPE_CHECKING:  # the fakes implement the ports (checked by mypy, free at run time)
    _embedder: Embedder = FakeEmbedder()
    _store: WritableChunkStore = InMemoryChunkStore()
    _lexical: LexicalIndex = KeywordIndex()
    _similarity: SentenceSimilarity = FixedSimilarity({})
