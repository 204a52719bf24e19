"""The frozen gold set: no question from a reserved article, split by document, every fact verified in its source."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eval.metrics import fact_present
from tests.conftest import CORPUS, DISTRACTORS, ROOT

GOLD = ROOT / "eval" / "datasets" / "gold"
DATASETS = ROOT / "eval" / "datasets"
RESERVED_LABELS = {"education", "society", "science and technology", "citizens abroad"}
PARTS = ("fit", "test")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def is_reserved(labels: str | None) -> bool:
    return bool({label.strip() for label in (labels or "").split(",")} & RESERVED_LABELS)


QUESTIONS = {part: read_jsonl(GOLD / f"{part}.jsonl") for part in PARTS}
ARTICLES = {part: {a["id"]: a for a in read_jsonl(GOLD / f"articles-{part}.jsonl")} for part in PARTS}
SLICE = read_jsonl(GOLD / "gate-slice.jsonl")
ALL = [(part, q) for part in PARTS for q in QUESTIONS[part]]


def source_text(source: str) -> str:
    if source.endswith(".txt"):
        return (CORPUS / source).read_text(encoding="utf-8")
    article = ARTICLES["fit"].get(source) or ARTICLES["test"][source]
    return str(article["text"])


def test_no_gold_question_or_gate_article_comes_from_a_reserved_article() -> None:
    for part, question in ALL:
        if not question["source"].endswith(".txt"):
            assert not is_reserved(ARTICLES[part][question["source"]]["labels"]), question["id"]
    assert not any(is_reserved(a["labels"]) for a in SLICE)


@pytest.mark.skipif(not DISTRACTORS.exists(), reason="needs ../shared/distractors next to the checkout")
def test_reserved_articles_are_named_by_the_shared_labels_and_used_nowhere() -> None:
    shared = {a["id"]: a for a in read_jsonl(DISTRACTORS)}
    reserved = {aid for aid, a in shared.items() if is_reserved(a.get("labels"))}
    assert len(reserved) == 237
    # The copies in the repository are verbatim, labels included, so their labels cannot hide a reserved article.
    for article in [*ARTICLES["fit"].values(), *ARTICLES["test"].values(), *SLICE]:
        assert article["text"] == shared[article["id"]]["text"] and article["labels"] == shared[article["id"]]["labels"]
    for path in DATASETS.rglob("*.jsonl"):
        for row in read_jsonl(path):
            named = {row.get("id"), row.get("source"), *(row.get("sources") or [])}
            assert not named & reserved, f"{path.relative_to(ROOT)}: {named & reserved}"


def test_the_split_is_by_document() -> None:
    sources = {part: {q["source"] for q in QUESTIONS[part]} for part in PARTS}
    assert not sources["fit"] & sources["test"]
    for part in PARTS:
        assert set(ARTICLES[part]) == {s for s in sources[part] if not s.endswith(".txt")}
    assert not {a["id"] for a in SLICE} & (sources["fit"] | sources["test"])
    assert len(SLICE) == 300 and len({a["id"] for a in SLICE}) == 300


def test_the_set_is_large_balanced_and_a_fifth_unanswerable() -> None:
    questions = [q for _, q in ALL]
    assert len(questions) >= 150 and len({q["id"] for q in questions}) == len(questions)
    assert sum(1 for q in questions if not q["source"].endswith(".txt")) >= 90
    for part in PARTS:
        languages = Counter(q["lang"] for q in QUESTIONS[part])
        assert set(languages) == {"ky", "ru", "en"}
        assert min(languages.values()) >= 0.28 * len(QUESTIONS[part]), languages
        unanswerable = sum(1 for q in QUESTIONS[part] if not q["answerable"])
        assert unanswerable >= 0.2 * len(QUESTIONS[part])
        assert {q["kind"] for q in QUESTIONS[part]} == {"count", "date", "who", "where", "other"}


@pytest.mark.parametrize(("part", "question"), ALL, ids=[q["id"] for _, q in ALL])
def test_every_fact_is_in_the_verbatim_evidence_and_every_swapped_term_absent(part: str, question: Any) -> None:
    text = source_text(question["source"])
    if question["answerable"]:
        assert question["must"] and question["evidence"] in text
        for fact in question["must"]:
            assert any(fact_present([spelling], question["evidence"]) for spelling in fact), fact
    else:
        assert not question["must"] and question["absent"]
        assert not any(fact_present([term], text) for term in question["absent"]), question["absent"]
