"""The paragraph a quote stands in, as the quote panel shows it."""

from __future__ import annotations

from assistant.core.models import CONTEXT_CHARS, Chunk, Citation, paragraph_around


def chunk_of(text: str, start: int = 100) -> Chunk:
    return Chunk(id="c", document_id="d", position=0, text=text, start=start, end=start + len(text), lang="ky")


def test_the_context_is_the_quotes_paragraph_with_the_quote_where_it_stands() -> None:
    text = "Биринчи абзац.\nЭкинчи абзацтын башы. Цитата ушул. Аягы.\nҮчүнчү абзац."
    chunk = chunk_of(text)
    first = text.index("Цитата")
    context, at = paragraph_around(chunk, 100 + first, 100 + first + len("Цитата ушул."))
    assert context == "Экинчи абзацтын башы. Цитата ушул. Аягы."
    assert at is not None and context[at[0] : at[1]] == "Цитата ушул."
    citation = Citation.quoting(chunk, 1, (100 + first, 100 + first + 12, "Цитата ушул."), 0.9)
    assert (citation.context, citation.context_quote) == (context, at)


def test_a_long_paragraph_is_cut_at_words_on_both_sides_and_a_span_outside_the_chunk_has_none() -> None:
    side = " ".join(["сөз"] * 400)
    text = f"{side} ЦИТАТА. {side}"
    chunk = chunk_of(text, start=0)
    first = text.index("ЦИТАТА")
    context, at = paragraph_around(chunk, first, first + 7)
    assert at is not None and context[at[0] : at[1]] == "ЦИТАТА."
    assert context.startswith("…сөз") and context.endswith("сөз…")
    assert at[0] <= CONTEXT_CHARS + 1 and len(context) - at[1] <= CONTEXT_CHARS + 1
    assert paragraph_around(chunk, len(text) - 3, len(text) + 5) == ("", None)
