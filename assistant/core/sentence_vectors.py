"""Which embedder makes the stored sentence vectors the answering kernel compares with the question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.core.ports import Embedder, Vector
from assistant.core.sentences import SENTENCE_VECTORS_VERSION


@dataclass(frozen=True)
class EmbedderPair:
    """The store's embedder for chunks and retrieval queries, and another (an adapted e5) for the sentences the
    answering kernel reads; as an `Embedder` it is the store's, so stores and their checks see only that one."""

    chunks: Embedder
    sentences: Embedder

    @property
    def name(self) -> str:
        return self.chunks.name

    @property
    def dim(self) -> int:
        return self.chunks.dim

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        return self.chunks.embed_passages(texts)

    def embed_query(self, text: str) -> Vector:
        return self.chunks.embed_query(text)


def sentence_embedder(embedder: Embedder) -> Embedder:
    """The embedder of the sentence vectors: the pair's sentence side, else the store's own."""
    return embedder.sentences if isinstance(embedder, EmbedderPair) else embedder


def sentence_vectors_version(embedder: Embedder) -> str:
    """What a store's sentence vectors must be for this embedder: the store's own, or named after another one (a
    store holding another version gets them re-embedded)."""
    if isinstance(embedder, EmbedderPair) and embedder.sentences.name != embedder.chunks.name:
        return f"{SENTENCE_VECTORS_VERSION}@{embedder.sentences.name}"
    return SENTENCE_VECTORS_VERSION
