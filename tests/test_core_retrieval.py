"""HybridRetriever on hand-built chunks: dense order from exact cosines, keyword ranks fused by language, anchors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.core.models import Chunk, Language, Question, ScoredChunk
from assistant.core.retrieval import RRF_K, FusionConfig, HybridRetriever
from tests.fakes import FakeEmbedder, InMemoryChunkStore, KeywordIndex, make_chunk, vectors_at


def retriever_for(
    question: Question,
    dense: Sequence[tuple[Chunk, float]],
    lexical: Sequence[Chunk] | None = None,
    config: FusionConfig | None = None,
) -> tuple[HybridRetriever, FakeEmbedder, KeywordIndex | None]:
    """A retriever whose store gives each chunk exactly the given cosine with the question's vector."""
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    store.add([c for c, _ in dense], vectors_at(embedder.vector(question.search_text), [s for _, s in dense]), {})
    index = KeywordIndex(lexical) if lexical is not None else None
    return HybridRetriever(embedder, store, index, config), embedder, index


def ids(found: Sequence[ScoredChunk]) -> list[str]:
    return [sc.chunk.id for sc in found]


def rrf(rank: int, weight: float = 1.0) -> float:
    return weight / (RRF_K + rank)


def ky(name: str, text: str = "", lang: Language = "ky") -> Chunk:
    return make_chunk(text or f"{name} текст", doc=name, lang=lang)


def test_dense_only_ranks_by_cosine_with_reciprocal_rank_scores() -> None:
    a, b, c = ky("a"), ky("b"), ky("c")
    question = Question("Мектепте канча окуучу бар?", "ky")
    retriever, embedder, _ = retriever_for(question, [(a, 0.5), (b, 0.9), (c, 0.7)])
    found = retriever.retrieve(question, 3)
    assert ids(found) == [b.id, c.id, a.id]
    assert [sc.score for sc in found] == [rrf(1), rrf(2), rrf(3)]
    assert [sc.dense_rank for sc in found] == [1, 2, 3] and all(sc.lexical_rank is None for sc in found)
    assert [sc.dense_similarity for sc in found] == pytest.approx([0.9, 0.7, 0.5], abs=1e-5)
    assert embedder.queries == [question.text]  # the question is embedded once
    assert ids(retriever.retrieve(question, 2)) == [b.id, c.id]


@pytest.mark.parametrize("language", ["ru", "en"])
def test_russian_and_english_questions_never_consult_the_keyword_index(language: Language) -> None:
    a, b = ky("a", "мектеп окуучу"), ky("b", "башка")
    question = Question("мектеп окуучу", language)
    retriever, _, index = retriever_for(question, [(a, 0.2), (b, 0.8)], lexical=[a])
    assert ids(retriever.retrieve(question, 2)) == [b.id, a.id]
    assert index is not None and index.calls == []


def test_a_kyrgyz_question_adds_keyword_ranks_at_full_weight_when_dense_agrees_on_the_language() -> None:
    a, b = ky("a"), ky("b")
    c, d = ky("c", "мектеп жөнүндө"), ky("d", "мектеп окуучу")
    question = Question("мектеп окуучу", "ky")
    retriever, _, index = retriever_for(question, [(a, 0.9), (b, 0.8), (c, 0.7), (d, 0.6)], lexical=[a, b, c, d])
    found = retriever.retrieve(question, 4)
    assert ids(found) == [d.id, c.id, a.id, b.id]
    by_id = {sc.chunk.id: sc for sc in found}
    assert by_id[d.id].score == rrf(4) + rrf(1) and by_id[c.id].score == rrf(3) + rrf(2)
    assert (by_id[d.id].dense_rank, by_id[d.id].lexical_rank) == (4, 1) and by_id[a.id].lexical_rank is None
    assert index is not None and index.calls == [("мектеп окуучу", "ky", 30)]


def test_keyword_hits_in_another_language_are_dropped() -> None:
    a, b = ky("a"), ky("b")
    stranger = ky("en", "мектеп окуучу", lang="en")
    question = Question("мектеп окуучу", "ky")
    retriever, _, _ = retriever_for(question, [(a, 0.9), (b, 0.8), (stranger, 0.1)], lexical=[stranger])
    found = retriever.retrieve(question, 3)
    assert ids(found) == [a.id, b.id, stranger.id]
    assert found[2].lexical_rank is None and found[2].score == rrf(3)


def test_keyword_ranks_count_for_nothing_when_the_best_dense_chunk_is_in_another_language() -> None:
    english, a, b = ky("en", lang="en"), ky("a"), ky("b", "мектеп окуучу")
    question = Question("мектеп окуучу", "ky")
    retriever, _, _ = retriever_for(question, [(english, 0.9), (a, 0.8), (b, 0.7)], lexical=[b])
    found = retriever.retrieve(question, 3)
    assert ids(found) == [english.id, a.id, b.id]
    assert found[2].lexical_rank == 1 and found[2].score == rrf(3)  # ranked, but weighted 0


def test_keyword_weight_is_the_share_of_the_top_five_dense_chunks_in_the_question_language() -> None:
    top = [ky("k1"), ky("r1", lang="ru"), ky("k2"), ky("r2", lang="ru"), ky("k3")]
    hit = ky("hit", "мектеп окуучу")
    question = Question("мектеп окуучу", "ky")
    sims = [0.95, 0.9, 0.85, 0.8, 0.75]
    retriever, _, _ = retriever_for(question, [*zip(top, sims, strict=True), (hit, 0.1)], lexical=[hit])
    found = {sc.chunk.id: sc for sc in retriever.retrieve(question, 6)}
    assert found[hit.id].score == pytest.approx(rrf(6) + rrf(1, weight=3 / 5))


def test_fused_ties_keep_the_dense_order_and_keyword_only_chunks_come_last_among_equals() -> None:
    a, c = ky("a", "мектеп"), ky("c", "башка")
    b = ky("b", "мектеп окуучу мугалим")
    d = ky("d", "мектеп окуучу")  # below the dense cut: found by keywords only
    question = Question("мектеп окуучу мугалим", "ky")
    config = FusionConfig(candidates=3)
    retriever, _, _ = retriever_for(question, [(a, 0.9), (c, 0.8), (b, 0.7), (d, 0.1)], [b, d, a], config)
    found = retriever.retrieve(question, 4)
    assert ids(found) == [a.id, b.id, c.id, d.id]
    assert found[0].score == found[1].score and found[2].score == found[3].score
    assert (found[3].dense_rank, found[3].lexical_rank, found[3].dense_similarity) == (None, 2, None)


def test_keyword_only_retrieval_when_dense_is_off() -> None:
    a, b = ky("a", "мектеп"), ky("b", "мектеп окуучу")
    english = ky("en", "мектеп окуучу мугалим", lang="en")
    question = Question("мектеп окуучу мугалим", "ky")
    retriever, embedder, _ = retriever_for(question, [(a, 0.9), (b, 0.8)], [a, b, english], FusionConfig(dense=False))
    found = retriever.retrieve(question, 5)
    assert ids(found) == [english.id, b.id, a.id]  # no dense view, so no language filter either
    assert [sc.score for sc in found] == [rrf(1), rrf(2), rrf(3)] and all(sc.dense_rank is None for sc in found)
    assert embedder.queries == []


def test_chunks_holding_the_questions_number_move_first_even_below_k() -> None:
    chunks = [ky(f"c{i}") for i in range(5)]
    number = ky("n", "Орусия 375 бюджеттик орун берет")
    question = Question("How many places, 375 or more?", "en")
    dense = [*zip(chunks, [0.9, 0.8, 0.7, 0.6, 0.5], strict=True), (number, 0.4)]
    retriever, _, _ = retriever_for(question, dense)
    assert ids(retriever.retrieve(question, 1)) == [number.id]
    assert ids(retriever.retrieve(question, 6)) == [number.id, *(c.id for c in chunks)]  # the rest in fused order
    plain, _, _ = retriever_for(question, dense, config=FusionConfig(anchors=False))
    assert ids(plain.retrieve(question, 1)) == [chunks[0].id]


def test_years_are_no_anchors_and_an_anchor_nobody_holds_changes_nothing() -> None:
    a, b = ky("a", "2023-жылы 40 мектеп"), ky("b", "2023-жылы мектеп")
    for text in ("2023-жылы канча мектеп?", "999 мектеп?"):
        question = Question(text, "ky")
        retriever, _, _ = retriever_for(question, [(b, 0.9), (a, 0.8)])
        assert ids(retriever.retrieve(question, 2)) == [b.id, a.id]


def test_a_followup_searches_with_the_earlier_question_but_anchors_on_its_own_words() -> None:
    quota, other = ky("q", "Орусия 375 орун"), ky("o", "Казакстан орун")
    question = Question("А Казакстанда?", "ky", previous="Орусияда 375 орун барбы?")
    retriever, embedder, index = retriever_for(question, [(other, 0.9), (quota, 0.8)], lexical=[])
    assert ids(retriever.retrieve(question, 2)) == [other.id, quota.id]  # "375" of the earlier turn is no anchor
    assert embedder.queries == [question.search_text] and index is not None
    assert index.calls == [(question.search_text, "ky", 30)]


def test_an_empty_store_gives_nothing() -> None:
    question = Question("мектеп", "ky")
    retriever, _, _ = retriever_for(question, [], lexical=[])
    assert retriever.retrieve(question, 5) == []
