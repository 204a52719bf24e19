"""Chroma-backed chunk store: embedded (PersistentClient) or a `chroma run` server (HttpClient)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import numpy as np

from assistant.core.errors import StoreMismatch, StoreUnavailable
from assistant.core.models import Chunk, ChunkSentence, StoredDocument
from assistant.core.ports import Vector
from assistant.core.sentences import chunk_sentences
from assistant.http_deadline import DeadlineTransport

log = logging.getLogger(__name__)

T = TypeVar("T")
REBUILD_HINT = "python -m ingest --rebuild --data-dir {data_dir}"
SENTENCES = "{collection}-sentences"  # the collection of sentence vectors beside the chunks
# Each chunk's metadata: the generation its write becomes visible at (the store's generation + 1 while writing).
# Chunks rewritten in place (same id, new title/url/date/lang/source) are found by it; older chunks lack it.
WRITTEN = "written_gen"
DEFAULT_TIMEOUT = 10.0  # seconds a request to a Chroma server may take in all (BILIM_STORE_TIMEOUT)


def connect(data_dir: Path, chroma_url: str | None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Open a Chroma client: HTTP when a server URL is set (each request bounded to `timeout` seconds in all), else
    embedded under `data_dir/chroma`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if chroma_url:
            parsed = urlparse(chroma_url)
            client = _within(
                timeout,
                lambda: chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                ),
            )
            _bound_requests(client, timeout)
            return client
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:  # chromadb raises plain ValueError/ConnectionError subclasses
        where = chroma_url or str(data_dir)
        raise StoreUnavailable(f"cannot open the Chroma store at {where}: {exc}") from exc


def _within(seconds: float, make: Callable[[], T]) -> T:
    """`make()`, or TimeoutError after `seconds`: the chromadb client asks the server about its tenant while it is
    made, before its session can be bounded (a stopped server held the start-up forever; the thread stays behind
    until the server answers or the process ends)."""
    made: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            made.append(make())
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="chroma-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    if failed:
        raise failed[0]
    if not made:
        raise TimeoutError(f"the Chroma server did not answer within {seconds:g} s")
    return made[0]


def _bound_requests(client: Any, seconds: float) -> None:
    """Give the client's HTTP session a total deadline per request and fail fast while the server hangs.

    The chromadb client's session waits forever (`timeout=None`): a stopped server held every request thread. Its
    session is shared by every client of one server in the process, so it is wrapped once (the first timeout set
    wins).
    """
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise StoreUnavailable("this chromadb client has no HTTP session to bound: a newer chromadb is not supported")
    if not isinstance(session._transport, DeadlineTransport):
        session._transport = cast(
            httpx.BaseTransport, DeadlineTransport(httpx, session._transport, seconds, fail_fast=True)
        )


def _unreachable() -> tuple[type[BaseException], ...]:
    """What a Chroma client raises when its server is down or the network fails (never "not found")."""
    import httpx

    return (httpx.TransportError, ConnectionError, TimeoutError)


def reachable(method: Callable[..., T]) -> Callable[..., T]:
    """Turn a network failure under a store call into StoreUnavailable (an HTTP 503 with Retry-After)."""
    # The server comes back by itself: every call tries again, nothing is cached as broken.

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except _unreachable() as exc:
            raise StoreUnavailable(
                f"the Chroma store is unreachable ({type(exc).__name__}: {exc}); retry shortly"
            ) from exc

    return call


def fetch_all(
    collection: Any, include: list[str], where: dict[str, Any] | None = None, page: int = 5000
) -> dict[str, Any]:
    """Read a whole collection page by page (Chroma caps one get)."""
    out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
    offset = 0
    while True:
        got = collection.get(include=include, where=where, limit=page, offset=offset)
        out["ids"].extend(got["ids"])
        for key in include:
            values = got.get(key)
            out[key].extend(list(values) if values is not None else [])
        if len(got["ids"]) < page:
            return out
        offset += page


def _meta_to_chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        document_id=str(meta["doc"]),
        position=int(meta["pos"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        lang=meta.get("lang", "ky"),
        title=str(meta.get("title", "")),
        url=meta.get("url") or None,
        date=meta.get("date") or None,
        source=str(meta.get("source", "")),
    )


def _existing(client: Any, name: str) -> Any:
    """The named collection, or None when it does not exist; a network failure is raised, never read as "none"
    (that would go on to create a collection on a server that is merely down)."""
    try:
        return client.get_collection(name, embedding_function=None)
    except _unreachable():
        raise
    except Exception as exc:  # chromadb raises NotFoundError, or ValueError in older clients
        if "does not exist" in str(exc) or type(exc).__name__ == "NotFoundError":
            return None
        raise


def _vectors_by_hash(collection: Any, hashes: Iterable[str]) -> dict[str, Vector]:
    """The vectors a collection holds for these text hashes (its records carry `text_hash`), 500 at a time."""
    wanted = sorted(set(hashes))
    found: dict[str, Vector] = {}
    for i in range(0, len(wanted), 500):
        got = collection.get(where={"text_hash": {"$in": wanted[i : i + 500]}}, include=["embeddings", "metadatas"])
        embeddings = got.get("embeddings")
        if embeddings is None:
            continue
        for meta, vector in zip(got["metadatas"], embeddings, strict=True):
            found[str(meta["text_hash"])] = np.asarray(vector, dtype=np.float32)
    return found


def _sentence_id(sentence: ChunkSentence) -> str:
    """A sentence record's id: its chunk's id and its index there."""
    return f"{sentence.chunk_id}:{sentence.index}"


class ChromaChunkStore:
    """One Chroma collection holding every chunk with its vector and metadata."""

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        embedder_name: str,
        dim: int,
        data_dir: Path,
        create: bool = True,
    ) -> None:
        self._client = client
        self._name = collection
        self._data_dir = data_dir
        self.embedder_name = embedder_name
        self.dim = dim
        self._collection = self._open(create)
        self._sentences = self._open_sentences()

    @reachable
    def _open(self, create: bool) -> Any:
        existing = _existing(self._client, self._name)
        if existing is None:
            if not create:
                raise StoreUnavailable(f"collection {self._name!r} does not exist yet: run `python -m ingest` first")
            return self._client.create_collection(
                self._name,
                embedding_function=None,
                metadata={"embedder": self.embedder_name, "dim": self.dim, "generation": 0, "chunker": ""},
                configuration={"hnsw": {"space": "cosine"}},
            )
        meta = existing.metadata or {}
        if meta.get("embedder") != self.embedder_name or int(meta.get("dim", -1)) != self.dim:
            raise StoreMismatch(
                f"the store at {self._data_dir} was built with embedder {meta.get('embedder')!r} "
                f"(dim {meta.get('dim')}), but the configured embedder is {self.embedder_name!r} (dim {self.dim}). "
                f"Re-index it with: {REBUILD_HINT.format(data_dir=self._data_dir)}"
            )
        return existing

    @reachable
    def _open_sentences(self) -> Any:
        """The sentence-vector collection; one made with another embedder is dropped (ingest rebuilds it)."""
        name = SENTENCES.format(collection=self._name)
        wanted = {"embedder": self.embedder_name, "dim": self.dim}
        existing = _existing(self._client, name)
        if existing is not None:
            meta = existing.metadata or {}
            if meta.get("embedder") == self.embedder_name and int(meta.get("dim", -1)) == self.dim:
                return existing
            self._client.delete_collection(name)
            self._set_metadata(sentences="")
        return self._client.create_collection(
            name, embedding_function=None, metadata=wanted, configuration={"hnsw": {"space": "cosine"}}
        )

    # -- collection metadata -------------------------------------------------------------------------
    @reachable
    def _metadata(self) -> dict[str, Any]:
        return dict(self._client.get_collection(self._name, embedding_function=None).metadata or {})

    @reachable
    def _set_metadata(self, **changes: Any) -> None:
        meta = self._metadata()
        meta.update(changes)
        meta.pop("hnsw:space", None)
        self._collection.modify(metadata=meta)

    @reachable
    def generation(self) -> int:
        """A number bumped after every change, so readers know their caches are stale."""
        return int(self._metadata().get("generation", 0))

    @reachable
    def bump_generation(self) -> int:
        """Record that the chunks changed."""
        new = self.generation() + 1
        self._set_metadata(generation=new)
        return new

    @reachable
    def chunker_version(self) -> str:
        """The chunker version the stored chunks were made with."""
        return str(self._metadata().get("chunker", ""))

    @reachable
    def set_chunker_version(self, version: str) -> None:
        """Remember which chunker made the stored chunks."""
        self._set_metadata(chunker=version)

    @reachable
    def sentence_version(self) -> str:
        """What the stored sentence vectors embed ("" when the store has none yet)."""
        return str(self._metadata().get("sentences", ""))

    @reachable
    def set_sentence_version(self, version: str) -> None:
        """Record that every stored chunk has its sentence vectors, made this way."""
        self._set_metadata(sentences=version)

    # -- reads ---------------------------------------------------------------------------------------
    @reachable
    def count(self) -> int:
        """Number of chunks stored."""
        return int(self._collection.count())

    def _get_all(self, include: list[str], where: dict[str, Any] | None = None) -> dict[str, Any]:
        return fetch_all(self._collection, include, where)

    @reachable
    def all_chunks(self) -> list[Chunk]:
        """Every chunk with its text and metadata (for the lexical index)."""
        got = self._get_all(["documents", "metadatas"])
        chunks = [
            _meta_to_chunk(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: (c.document_id, c.position, c.id))

    @reachable
    def chunk_ids(self, documents: Iterable[str] | None = None) -> set[str]:
        """The ids of every stored chunk, or of these documents' chunks (ids only)."""
        if documents is None:
            # Each page costs ~0.1 s from a server: 100k ids took 2.1 s in pages of 5000, 0.65 s in pages of 50000.
            return set(fetch_all(self._collection, [], page=50_000)["ids"])
        wanted = sorted(set(documents))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            found.update(self._collection.get(where={"doc": {"$in": wanted[i : i + 500]}}, include=[])["ids"])
        return found

    @reachable
    def chunk_ids_written_after(self, generation: int) -> dict[str, str]:
        """The chunks (re)written since the store was at `generation`: chunk id → document id."""
        got = self._get_all(["metadatas"], where={WRITTEN: {"$gt": generation}})
        return {cid: str(meta["doc"]) for cid, meta in zip(got["ids"], got["metadatas"], strict=True)}

    @reachable
    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        """These chunks with their text and metadata (unknown ids left out), ordered like `all_chunks`."""
        wanted = sorted(set(ids))
        chunks: list[Chunk] = []
        for i in range(0, len(wanted), 1000):
            got = self._collection.get(ids=wanted[i : i + 1000], include=["documents", "metadatas"])
            chunks.extend(
                _meta_to_chunk(cid, text, meta)
                for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            )
        return sorted(chunks, key=lambda c: (c.document_id, c.position, c.id))

    @reachable
    def documents(self, ids: Collection[str] | None = None) -> dict[str, StoredDocument]:
        """What is stored, per document id: of every document, or only of these (read by a filter, so an upload
        into a large store does not read every chunk's metadata)."""
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        if ids is None:
            batches: list[dict[str, Any] | None] = [None]
        else:
            wanted = sorted(set(ids))
            batches = [{"doc": {"$in": wanted[i : i + 500]}} for i in range(0, len(wanted), 500)]
        for where in batches:
            got = self._get_all(["metadatas"], where)
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
                grouped.setdefault(str(meta["doc"]), []).append((cid, meta))
        docs: dict[str, StoredDocument] = {}
        for doc_id, rows in grouped.items():
            meta = min(rows, key=lambda row: int(row[1]["pos"]))[1]
            file_hashes = {str(row.get("file_hash", "")) for _, row in rows}
            docs[doc_id] = StoredDocument(
                id=doc_id,
                chunk_ids=frozenset(cid for cid, _ in rows),
                source=str(meta.get("source", "")),
                title=str(meta.get("title", "")),
                lang=str(meta.get("lang", "")),
                url=meta.get("url") or None,
                date=meta.get("date") or None,
                ingested_at=str(meta.get("ingested_at", "")),
                file_hash=file_hashes.pop() if len(file_hashes) == 1 else "",
                file_chunks=int(meta.get("file_chunks", 0)),
            )
        return docs

    @reachable
    def vectors_by_text_hash(self, hashes: Iterable[str]) -> dict[str, Vector]:
        """Stored vectors of chunks whose text hash is given, so unchanged text is never embedded twice."""
        return _vectors_by_hash(self._collection, hashes)

    @reachable
    def sentence_vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, Vector]:
        """Stored sentence vectors by the hash of the text they embed, so no sentence is embedded twice."""
        return _vectors_by_hash(self._sentences, hashes)

    @reachable
    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]:
        """The stored sentences of these chunks with their vectors, in order.

        Read by record id ("chunk id:index", from the chunk's own text; 1-2 ms, where a `chunk $in` filter took
        50-130 ms over 250k sentences). A record whose text is not the sentence's is left out.
        """
        out: dict[str, list[tuple[ChunkSentence, Vector]]] = {c.id: [] for c in chunks}
        wanted = {_sentence_id(s): s for c in chunks for s in chunk_sentences(c)}
        ids = list(wanted)
        for i in range(0, len(ids), 1000):
            got = self._sentences.get(ids=ids[i : i + 1000], include=["embeddings", "documents"])
            embeddings = got.get("embeddings")
            if embeddings is None:
                continue
            for sid, text, vector in zip(got["ids"], got["documents"], embeddings, strict=True):
                sentence = wanted[sid]
                if text == sentence.text:
                    out[sentence.chunk_id].append((sentence, np.asarray(vector, dtype=np.float32)))
        for rows in out.values():
            rows.sort(key=lambda row: row[0].index)
        return out

    @reachable
    def query(self, vector: Vector, k: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first (fewer when the store holds fewer, none when empty)."""
        if k <= 0:
            return []
        # No count() first: Chroma returns what it has, and the count cost ~1 ms of every question.
        got = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (_meta_to_chunk(cid, text, meta), 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    # -- writes --------------------------------------------------------------------------------------
    @reachable
    def add(self, chunks: Sequence[Chunk], vectors: Vector, extra: dict[str, Any]) -> None:
        """Add (or overwrite) chunks with their vectors, in batches Chroma accepts, stamped with the generation
        the write becomes visible at (the writer bumps it after writing)."""
        batch = max(1, min(1000, int(self._client.get_max_batch_size())))
        written = self.generation() + 1
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=np.asarray(vectors[i : i + batch], dtype=np.float32),
                documents=[c.text for c in part],
                metadatas=[
                    {
                        "doc": c.document_id,
                        "pos": c.position,
                        "start": c.start,
                        "end": c.end,
                        "lang": c.lang,
                        "title": c.title,
                        "url": c.url or "",
                        "date": c.date or "",
                        "source": c.source,
                        WRITTEN: written,
                        **extra.get(c.id, {}),
                    }
                    for c in part
                ],
            )

    @reachable
    def clear_sentences(self) -> None:
        """Drop every sentence vector (before they are made another way) and record that the store has none."""
        self._client.delete_collection(SENTENCES.format(collection=self._name))
        self._set_metadata(sentences="")
        self._sentences = self._open_sentences()

    @reachable
    def add_sentences(self, sentences: Sequence[ChunkSentence], vectors: Vector, hashes: Sequence[str]) -> None:
        """Add (or overwrite) sentence vectors; written before their chunks, so a stored chunk has them."""
        batch = max(1, min(1000, int(self._client.get_max_batch_size())))
        for i in range(0, len(sentences), batch):
            part = sentences[i : i + batch]
            self._sentences.upsert(
                ids=[_sentence_id(s) for s in part],
                embeddings=np.asarray(vectors[i : i + batch], dtype=np.float32),
                documents=[s.text for s in part],
                metadatas=[
                    {"chunk": s.chunk_id, "i": s.index, "start": s.start, "end": s.end, "text_hash": h}
                    for s, h in zip(part, hashes[i : i + batch], strict=True)
                ],
            )

    @reachable
    def delete(self, ids: Iterable[str]) -> None:
        """Remove chunks' sentence vectors, then the chunks: a crash in between leaves a chunk that is being
        deleted without sentences (the next run deletes it again), never a sentence without its chunk."""
        ids = list(ids)
        for i in range(0, len(ids), 500):
            self._sentences.delete(where={"chunk": {"$in": ids[i : i + 500]}})
        for i in range(0, len(ids), 1000):
            self._collection.delete(ids=ids[i : i + 1000])


def rebuild_collection(
    client: Any,
    collection: str,
    *,
    embed: Any,
    embedder_name: str,
    dim: int,
    data_dir: Path,
    advance: Any = None,
    fence: Callable[[], None] | None = None,
) -> int:
    """Re-embed every chunk into a fresh collection (new embedder), keeping ids, texts and metadata; `fence` runs
    before each write batch and before the swap (it raises when this writer lost its lease)."""
    staging = f"{collection}-rebuild"
    recover_interrupted_rebuild(client, collection)
    try:
        old = client.get_collection(collection, embedding_function=None)
    except Exception as exc:
        raise StoreUnavailable(f"nothing to rebuild: collection {collection!r} does not exist") from exc
    old_meta = dict(old.metadata or {})
    got = fetch_all(old, ["documents", "metadatas"])
    ids, texts, metas = got["ids"], got["documents"], got["metadatas"]
    try:
        client.delete_collection(staging)
    except Exception:
        log.debug("no stale staging collection to drop")
    fresh = client.create_collection(
        staging,
        embedding_function=None,
        metadata={
            "embedder": embedder_name,
            "dim": dim,
            "generation": int(old_meta.get("generation", 0)) + 1,
            "chunker": str(old_meta.get("chunker", "")),
        },
        configuration={"hnsw": {"space": "cosine"}},
    )
    batch = 32
    for i in range(0, len(ids), batch):
        vectors = embed(texts[i : i + batch])
        if fence is not None:
            fence()
        fresh.upsert(
            ids=ids[i : i + batch],
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=texts[i : i + batch],
            metadatas=metas[i : i + batch],
        )
        if advance is not None:
            advance(len(ids[i : i + batch]))
    if fence is not None:
        fence()
    client.delete_collection(collection)
    fresh.modify(name=collection)
    return len(ids)


def collection_size(client: Any, collection: str) -> int:
    """Number of chunks in a collection, whatever embedder built it."""
    recover_interrupted_rebuild(client, collection)
    try:
        return int(client.get_collection(collection, embedding_function=None).count())
    except Exception as exc:
        raise StoreUnavailable(f"nothing to rebuild: collection {collection!r} does not exist") from exc


@reachable
def recover_interrupted_rebuild(client: Any, collection: str) -> None:
    """If a rebuild died after dropping the old collection, promote the finished staging copy."""
    names = {getattr(c, "name", c) for c in client.list_collections()}
    staging = f"{collection}-rebuild"
    if staging in names and collection not in names:
        client.get_collection(staging, embedding_function=None).modify(name=collection)
