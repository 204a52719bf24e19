"""The fakes the fast tests stand on behave like the adapters they replace: the ports' contracts, checked by ingest."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.core.errors import WriterLeaseLost
from assistant.core.models import Chunk, Question
from assistant.core.ports import Vector
from assistant.core.sentences import SENTENCE_VECTORS_VERSION, chunk_sentences
from ingest.chunking import CHUNKER_VERSION
from ingest.pipeline import ensure_sentence_vectors, ingest_paths, no_progress, remove_document
from tests.fakes import (
    FakeEmbedder,
    FixedSimilarity,
    InMemoryChunkStore,
    KeywordIndex,
    NoOpReranker,
    make_chunk,
    put_chunks,
    scored,
    vectors_at,
)
from tests.support import TINY_DOCS, expected_chunks, write_docs


def test_the_fake_embedder_is_deterministic_normalised_and_sees_shared_words() -> None:
    embedder = FakeEmbedder(dim=64)
    vectors = embedder.embed_passages(["Мектепте 640 окуучу окуйт.", "Мектепте 640 окуучу окуйт.", "Бишкек"])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors[0], vectors[1])
    assert np.array_equal(FakeEmbedder(dim=64).embed_query("Бишкек"), vectors[2])  # same in a new instance
    query = embedder.embed_query("Мектепте канча окуучу окуйт?")
    assert float(query @ vectors[0]) > float(query @ vectors[2]) + 0.3
    assert embedder.embed_passages([]).shape == (0, 64)
    assert float(np.linalg.norm(embedder.embed_query("?!"))) == pytest.approx(1.0)  # no words: still a unit vector
    assert embedder.queries == ["Мектепте канча окуучу окуйт?", "?!"] and len(embedder.passages) == 3
    assert (embedder.name, embedder.dim) == ("fake", 64)


def test_vectors_at_gives_exactly_the_asked_cosines() -> None:
    query = FakeEmbedder().embed_query("суроо")
    rows = vectors_at(query, [0.9, 0.5, 0.0, -0.2])
    assert rows.dtype == np.float32 and np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    assert np.allclose(rows @ query, [0.9, 0.5, 0.0, -0.2], atol=1e-6)


def test_the_store_answers_queries_by_cosine_and_keeps_sentences_in_order() -> None:
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    first = make_chunk("Талас облусунда мектеп ачылды. Анда 640 окуучу окуйт.", doc="talas", title="Талас")
    second = make_chunk("Нарында 85 мугалим жетишпейт.", doc="naryn", position=3, start=40, url="https://x.kg")
    put_chunks(store, embedder, [first, second])
    assert store.count() == 2 and store.generation() == 1
    assert store.all_chunks() == [second, first]  # by document, position, id
    hits = store.query(embedder.embed_query("Нарында мугалим жетишпейт"), 5)
    assert [c.id for c, _ in hits] == [second.id, first.id] and hits[0][1] > hits[1][1]
    assert len(store.query(embedder.embed_query("x"), 1)) == 1
    missing = make_chunk("Бул чакан дүкөндө жок.", doc="missing")
    rows = store.sentences([first, missing])
    assert rows[missing.id] == [] and [s for s, _ in rows[first.id]] == chunk_sentences(first)
    # Each sentence's vector embeds it under the document's title.
    assert np.array_equal(rows[first.id][1][1], embedder.vector("Талас. Анда 640 окуучу окуйт."))
    docs = store.documents()
    assert docs["naryn"].chunk_ids == {second.id} and docs["naryn"].url == "https://x.kg"
    talas = docs["talas"]
    assert (talas.title, talas.lang, talas.url, talas.date, talas.chunk_ids) == (
        "Талас",
        "ky",
        None,
        None,
        frozenset({first.id}),
    )
    store.delete([first.id])
    assert store.count() == 1 and store.sentences([first]) == {first.id: []}


def test_ingest_into_the_fake_store_then_rerun_relabel_and_remove(tmp_path: Path) -> None:
    """The real ingest pipeline drives every method of the writable store port against the fakes."""
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    corpus = write_docs(tmp_path / "docs", TINY_DOCS)
    report = ingest_paths([corpus], store=store, embedder=embedder)
    expected = expected_chunks(corpus)
    assert (report.added, report.chunks_total) == (3, len(expected)) and report.chunks_embedded == len(expected)
    assert {c.id: c for c in store.all_chunks()} == expected
    assert store.sentence_version() == SENTENCE_VECTORS_VERSION and store.chunker == CHUNKER_VERSION
    assert set(store.documents()) == {"talas-school.txt", "naryn-teachers.txt", "osh-olympiad.txt"}
    assert all(doc.ingested_at and doc.source == str(corpus.resolve()) for doc in store.documents().values())
    generation = store.generation()

    embedded = len(embedder.passages)
    again = ingest_paths([corpus], store=store, embedder=embedder)
    assert (again.unchanged, again.chunks_embedded, len(embedder.passages)) == (3, 0, embedded)
    assert store.generation() == generation  # nothing changed

    (corpus / "talas-school.txt").write_text(TINY_DOCS["talas-school.txt"] + " Мектепте бассейн бар.")
    edited = ingest_paths([corpus], store=store, embedder=embedder)
    assert edited.updated == 1 and store.generation() == generation + 1
    assert {c.id: c for c in store.all_chunks()} == expected_chunks(corpus)

    removed = remove_document(store, "osh-olympiad.txt")
    assert removed >= 1 and "osh-olympiad.txt" not in store.documents() and store.generation() == generation + 2


def test_keyword_index_fixed_similarity_and_the_no_op_reranker() -> None:
    a, b, c = make_chunk("мектеп окуучу", doc="a"), make_chunk("мектеп", doc="b"), make_chunk("бак", doc="c")
    index = KeywordIndex([b, a, c])
    assert [(ch.id, s) for ch, s in index.search("Мектеп окуучу?", "ky", 5)] == [(a.id, 2.0), (b.id, 1.0)]
    assert index.search("мектеп", "ky", 1) == [(b, 1.0)] and index.calls[-1] == ("мектеп", "ky", 1)
    similarity = FixedSimilarity({"640": 0.8}, default=0.1)
    assert similarity.similarities("q", [(a, "анда 640 окуучу"), (a, "башка")]) == [0.8, 0.1]
    retrieved = scored([a, b])
    assert NoOpReranker().rerank(Question("q", "ky"), retrieved) == retrieved


def test_ingest_writes_a_batch_while_the_next_one_embeds_and_stops_at_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 1's store write is still running when batch 2's embedding starts; a failing write ends the run."""
    monkeypatch.setattr("ingest.pipeline.EMBED_BATCH", 1)  # one document per batch
    corpus = write_docs(tmp_path / "docs", TINY_DOCS)
    embedding_again, events = threading.Event(), []

    class SlowWrites(InMemoryChunkStore):
        def add(self, chunks: Sequence[Chunk], vectors: Vector, extra: dict[str, Any]) -> None:
            first = "write" not in events
            events.append("write")
            if first:  # the first batch's write waits for the second batch's embedding to begin
                assert embedding_again.wait(10), "the next batch did not embed while this one was written"
            super().add(chunks, vectors, extra)
            events.append("written")

    class Recording(FakeEmbedder):
        def embed_passages(self, texts: Sequence[str]) -> Vector:
            events.append("embed")
            if "write" in events:
                embedding_again.set()
            return super().embed_passages(texts)

    store = SlowWrites()
    report = ingest_paths([corpus], store=store, embedder=Recording())
    first_write = events.index("write")
    assert "embed" in events[first_write : events.index("written")] and events.count("write") == 3
    assert report.added == 3 and {c.id: c for c in store.all_chunks()} == expected_chunks(corpus)

    class FailingWrite(InMemoryChunkStore):
        def add(self, chunks: Sequence[Chunk], vectors: Vector, extra: dict[str, Any]) -> None:
            events.append("write")
            raise RuntimeError("the store refused the write")

    events.clear()
    failing = FailingWrite()
    with pytest.raises(RuntimeError, match="refused"):
        ingest_paths([corpus], store=failing, embedder=FakeEmbedder())
    assert events == ["write"] and failing.count() == 0  # nothing was written after the failure


def test_a_fence_that_fails_stops_adding_sentence_vectors_before_any_is_written(tmp_path: Path) -> None:
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    ingest_paths([write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=embedder)
    store.set_sentence_version("an older way")
    store._sentences.clear()  # as if the store was built before sentence vectors

    def lost() -> None:
        raise WriterLeaseLost("taken over")

    with pytest.raises(WriterLeaseLost):
        ensure_sentence_vectors(store, embedder, no_progress, lost)
    assert store._sentences == {} and store.sentence_version() == "an older way"
    assert (
        ensure_sentence_vectors(store, embedder, no_progress) > 0
        and store.sentence_version() == SENTENCE_VECTORS_VERSION
    )
