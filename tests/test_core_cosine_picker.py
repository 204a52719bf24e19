"""The cosine floor: the sentences most similar to the question among the top chunks, in document order, no lead."""

from __future__ import annotations

from assistant.core.cosine_picker import CosinePicker
from assistant.core.models import Question
from tests.fakes import FixedSimilarity, make_chunk, scored

QUESTION = Question("Канча окуучу окуйт?", "ky")


def test_the_two_most_similar_sentences_of_the_top_chunks_are_quoted_in_document_order() -> None:
    talas = make_chunk("Мектеп ачылды. Анда 640 окуучу окуйт. Бюджет бөлүндү.", doc="talas", start=50, title="Талас")
    naryn = make_chunk("Нарында 85 мугалим жетишпейт.", doc="naryn")
    similarity = FixedSimilarity({"640": 0.8, "85 мугалим": 0.7, "Бюджет": 0.6})
    answer = CosinePicker(similarity).generate(QUESTION, scored([talas, naryn]))
    assert not answer.refused and answer.lead is None and answer.confidence is None
    assert [(c.index, c.document, c.quote, c.start, c.end, c.score) for c in answer.citations] == [
        (1, "naryn", "Нарында 85 мугалим жетишпейт.", 0, 29, 0.7),
        (2, "talas", "Анда 640 окуучу окуйт.", 65, 87, 0.8),
    ]
    assert all(c.highlight is None for c in answer.citations) and answer.citations[1].title == "Талас"
    # Each sentence goes with its chunk: the similarity embeds it under the document's title (test_similarity).
    assert similarity.calls == [
        ("Канча окуучу окуйт?", ["Мектеп ачылды.", "Анда 640 окуучу окуйт.", "Бюджет бөлүндү.", naryn.text])
    ]


def test_only_the_top_chunks_are_read_and_a_sentence_shared_by_two_chunks_counts_once() -> None:
    first = make_chunk("Мектеп ачылды. Анда 640 окуучу окуйт.", doc="d", position=0)
    overlap = make_chunk("Анда 640 окуучу окуйт. Бакча да бар.", doc="d", position=1, start=15)
    fifth = make_chunk("Бул эң окшош сүйлөм.", doc="far")
    similarity = FixedSimilarity({"эң окшош": 0.99, "640": 0.5, "Бакча": 0.4})
    picker = CosinePicker(similarity, chunks=2, sentences=1)
    answer = picker.generate(QUESTION, scored([first, overlap, fifth]))
    assert [c.quote for c in answer.citations] == ["Анда 640 окуучу окуйт."] and answer.citations[0].score == 0.5
    assert similarity.calls[0][1] == ["Мектеп ачылды.", "Анда 640 окуучу окуйт.", "Бакча да бар."]
    assert len(answer.retrieved) == 3


def test_nothing_retrieved_or_nothing_with_words_is_a_refusal() -> None:
    similarity = FixedSimilarity({})
    assert CosinePicker(similarity).generate(QUESTION, []).refused
    answer = CosinePicker(similarity).generate(QUESTION, scored([make_chunk("— • —", doc="x")]))
    assert answer.refused and answer.citations == () and answer.language == "ky" and len(answer.retrieved) == 1
    assert similarity.calls == []  # nothing to compare
