"""The project's embedders through LangChain's `Embeddings` interface (its own module: langchain_core takes
~0.1 s to import, which the ingester and the API do not need)."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from assistant.core.ports import Embedder


class LangChainEmbeddings(Embeddings):
    """Exposes any project embedder through LangChain's `Embeddings` interface (e.g. for langchain_chroma)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.embedder.embed_passages(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.embedder.embed_query(text)))
