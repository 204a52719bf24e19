"""The frozen reader training set: checked row by row against its sources, balanced, and clear of gold and reserved."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.reader_set import RESERVED_LABELS, read_jsonl, row_errors, set_errors, sources_from
from tests.conftest import DISTRACTORS, ROOT

READER = ROOT / "eval" / "datasets" / "reader"
GOLD = ROOT / "eval" / "datasets" / "gold"
ARTICLES = read_jsonl(READER / "articles.jsonl")
ROWS = [row for path in sorted(READER.glob("questions-*.jsonl")) for row in read_jsonl(path)]


def test_every_row_is_verbatim_in_its_source_and_paraphrased() -> None:
    sources = sources_from(ARTICLES)
    problems = [f"{row['id']}: {error}" for row in ROWS for error in row_errors(row, sources)]
    assert problems == []


def test_the_set_is_large_and_balanced_across_languages() -> None:
    assert set_errors(ROWS, complete=True) == []


def test_no_source_is_reserved_or_a_gold_document() -> None:
    gold = {str(a["id"]) for part in ("fit", "test") for a in read_jsonl(GOLD / f"articles-{part}.jsonl")}
    assert not any({label.strip() for label in str(a["labels"]).split(",")} & RESERVED_LABELS for a in ARTICLES)
    assert not {str(a["id"]) for a in ARTICLES} & gold
    assert not any(str(row["source"]).endswith(".txt") for row in ROWS)  # no sample document either
    assert {str(row["source"]) for row in ROWS} == {str(a["id"]) for a in ARTICLES}  # no unused article kept


def test_no_article_holds_too_many_questions() -> None:
    assert max(Counter(str(row["source"]) for row in ROWS).values()) <= 8


@pytest.mark.skipif(not DISTRACTORS.exists(), reason="needs ../shared/distractors next to the checkout")
def test_the_articles_are_verbatim_copies_of_the_shared_file() -> None:
    shared = {str(a["id"]): a for a in read_jsonl(DISTRACTORS)}
    for article in ARTICLES:
        original = shared[str(article["id"])]
        assert article["text"] == original["text"] and article["labels"] == original["labels"]
