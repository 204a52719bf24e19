"""The cosine floor in the answering kernel: the sentences most similar to the question among the top chunks, in
document order, no lead, no refusal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assistant.core.answering.candidates import CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.scoring import CosineScorer
from assistant.core.models import Chunk, ChunkSentence, Question
from assistant.core.ports import Vector
from assistant.core.sentences import chunk_sentences
from assistant.gazetteer import build_gazetteer
from tests.fakes import FakeEmbedder, make_chunk, scored, vectors_at
from vectorstore.stemming import analyze

QUESTION = Question("Канча окуучу окуйт?", "ky")


class TableSentences:
    """Sentence vectors whose cosine to the question is read from a table (by a substring of the sentence)."""

    def __init__(self, embedder: FakeEmbedder, scores: Mapping[str, float], default: float = 0.0) -> None:
        self._query = embedder.embed_query(QUESTION.search_text)
        self._scores = scores
        self._default = default
        self.read: list[str] = []  # the chunk ids asked for

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]:
        """Each chunk's sentences with a vector at the table's cosine."""
        out: dict[str, list[tuple[ChunkSentence, Vector]]] = {}
        for chunk in chunks:
            self.read.append(chunk.id)
            rows = chunk_sentences(chunk)
            cosines = [next((v for k, v in self._scores.items() if k in s.text), self._default) for s in rows]
            out[chunk.id] = list(zip(rows, vectors_at(self._query, cosines), strict=True)) if rows else []
        return out


def floor(scores: Mapping[str, float]) -> tuple[ExtractiveAnswerer, TableSentences]:
    """The kernel with the cosine scorer over sentence vectors at these cosines."""
    embedder = FakeEmbedder()
    table = TableSentences(embedder, scores)
    reader = CandidateReader(
        analyze=analyze, gazetteer=build_gazetteer(frozenset({"KG"})), embedder=embedder, sentences=table
    )
    return ExtractiveAnswerer(reader, CosineScorer()), table


def test_the_two_most_similar_sentences_of_the_top_chunks_are_quoted_in_document_order() -> None:
    talas = make_chunk("Мектеп ачылды. Анда 640 окуучу окуйт. Бюджет бөлүндү.", doc="talas", start=50, title="Талас")
    naryn = make_chunk("Нарында 85 мугалим жетишпейт.", doc="naryn")
    answerer, _ = floor({"640": 0.8, "85 мугалим": 0.7, "Бюджет": 0.6})
    answer = answerer.generate(QUESTION, scored([talas, naryn]))
    assert answerer.name == "cosine"
    assert not answer.refused and answer.lead is None and answer.confidence is None
    assert [(c.index, c.document, c.quote, c.start, c.end) for c in answer.citations] == [
        (1, "naryn", "Нарында 85 мугалим жетишпейт.", 0, 29),
        (2, "talas", "Анда 640 окуучу окуйт.", 65, 87),
    ]
    assert all(c.highlight is None for c in answer.citations) and answer.citations[1].title == "Талас"


def test_only_the_top_four_chunks_are_read_and_a_sentence_shared_by_two_chunks_counts_once() -> None:
    first = make_chunk("Мектеп ачылды. Анда 640 окуучу окуйт.", doc="d", position=0)
    overlap = make_chunk("Анда 640 окуучу окуйт. Бакча да бар.", doc="d", position=1, start=15)
    others = [make_chunk(f"Башка {n} документ.", doc=f"o{n}") for n in range(2)]
    fifth = make_chunk("Бул эң окшош сүйлөм.", doc="far")
    answerer, table = floor({"эң окшош": 0.99, "640": 0.5, "Бакча": 0.4})
    answer = answerer.generate(QUESTION, scored([first, overlap, *others, fifth]))
    assert [c.quote for c in answer.citations] == ["Анда 640 окуучу окуйт.", "Бакча да бар."]
    assert table.read == [first.id, overlap.id, *(o.id for o in others)]
    assert len(answer.retrieved) == 5


def test_nothing_retrieved_or_nothing_with_words_is_a_refusal() -> None:
    answerer, _ = floor({})
    assert answerer.generate(QUESTION, []).refused
    answer = answerer.generate(QUESTION, scored([make_chunk("— • —", doc="x")]))
    assert answer.refused and answer.citations == () and answer.language == "ky" and len(answer.retrieved) == 1
