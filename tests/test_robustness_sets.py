"""The robustness sets of eval/datasets/robustness: well-formed, balanced, fit-part only, every fact in its source."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "datasets" / "gold"
SETS = ROOT / "eval" / "datasets" / "robustness"
CORPUS = ROOT / "data" / "corpus"
LANGS = {"ky", "ru", "en"}
TYPES = {"money", "count", "date", "percent", "person", "organisation", "place", "distance"}
FILES = ("answer-types", "greetings", "transliteration", "followups")
MINIMUM = {"greetings": 65, "transliteration": 24, "followups": 34}
HELD_OUT_SAMPLES = {"oshsu-academic-mobility.txt", "minister-visit-russia-quotas.txt"}

Row = dict[str, Any]


def read_jsonl(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


GOLD_FIT = read_jsonl(GOLD / "fit.jsonl")
FIT_SOURCES = {q["source"] for q in GOLD_FIT}
TEST_SOURCES = {q["source"] for q in read_jsonl(GOLD / "test.jsonl")}
ARTICLES = {a["id"]: str(a["text"]) for a in read_jsonl(GOLD / "articles-fit.jsonl")}
ROWS = {name: read_jsonl(SETS / f"{name}.jsonl") for name in FILES}

_GROUP = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")
_CURRENCY = re.compile(
    r"\bсом|доллар|\$|рубл|тенге|\bевро\b|\bсум|\bцент|дирам|млрд|млн|\bsom\b|dollar|rouble|ruble|tenge|euro", re.I
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")


def source_text(source: str) -> str:
    if source.endswith(".txt"):
        return (CORPUS / source).read_text(encoding="utf-8")
    return ARTICLES[source]


def squash(text: str) -> str:
    return " ".join(text.split())


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed, digit groups joined: "1 447 717" -> "1447717"."""
    return _GROUP.sub("", squash(text).lower())


def fact_found(spelling: str, text: str) -> bool:
    """A case-insensitive substring match in which a number never matches inside a longer number."""
    needle, hay = normalise(spelling), normalise(text)
    start = hay.find(needle)
    while start >= 0:
        end = start + len(needle)
        before_ok = not needle[:1].isdigit() or not (
            (start > 0 and hay[start - 1].isdigit())
            or (start > 1 and hay[start - 1] in ",." and hay[start - 2].isdigit())
        )
        after_ok = not needle[-1:].isdigit() or not (
            (end < len(hay) and hay[end].isdigit())
            or (end + 1 < len(hay) and hay[end] in ",." and hay[end + 1].isdigit())
        )
        if before_ok and after_ok:
            return True
        start = hay.find(needle, start + 1)
    return False


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def script(text: str) -> str:
    return "cyrillic" if len(_CYRILLIC.findall(text)) > len(_LATIN.findall(text)) else "latin"


def assert_facts(row: Row, must: list[list[str]], passage: str) -> None:
    assert must, row["id"]
    for fact in must:
        assert fact and all(isinstance(s, str) and s for s in fact), row["id"]
        assert any(fact_found(spelling, passage) for spelling in fact), (row["id"], fact)


def test_the_matcher_joins_digit_groups_and_respects_number_boundaries() -> None:
    assert fact_found("1 447 717", "камтуу 1\xa0447 717 окуучуну")
    assert fact_found("1447717", "камтуу 1 447 717 окуучуну")
    assert fact_found("ТОРОЕВА", "Гүлназ Тороева")
    assert not fact_found("3", "31,4% түзөт")
    assert not fact_found("3", "3,1 пайызды")
    assert fact_found("3", "3 алтын, 6 күмүш")


@pytest.mark.parametrize("name", FILES)
def test_ids_are_unique_and_languages_balanced(name: str) -> None:
    rows = ROWS[name]
    assert len(rows) >= MINIMUM.get(name, 90)
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    prefix = {"answer-types": "t", "greetings": "g", "transliteration": "r", "followups": "f"}[name]
    assert all(re.fullmatch(prefix + r"\d{3}", i) for i in ids)
    languages = Counter(r["lang"] for r in rows)
    assert set(languages) == LANGS, languages
    assert min(languages.values()) >= 0.25 * len(rows), languages


@pytest.mark.parametrize("name", FILES)
def test_every_source_is_a_fit_part_document(name: str) -> None:
    for row in ROWS[name]:
        source = row["source"]
        assert source in FIT_SOURCES, (row["id"], source)
        assert source not in TEST_SOURCES and source not in HELD_OUT_SAMPLES, (row["id"], source)
        assert source.endswith(".txt") or source in ARTICLES, (row["id"], source)


def test_answer_types_are_balanced_over_types_languages_and_presence() -> None:
    rows = ROWS["answer-types"]
    assert {r["type"] for r in rows} <= TYPES
    for present in (True, False):
        part = [r for r in rows if r["present"] is present]
        assert len(part) >= 45
        languages = Counter(r["lang"] for r in part)
        assert set(languages) == LANGS and min(languages.values()) >= 12, languages
        assert len({r["source"] for r in part}) >= 15
    types = Counter(r["type"] for r in rows if r["present"])
    for kind in ("count", "date", "money", "percent", "person", "place", "organisation"):
        assert types[kind] >= 5, types


@pytest.mark.parametrize("row", ROWS["answer-types"], ids=[r["id"] for r in ROWS["answer-types"]])
def test_answer_type_rows(row: Row) -> None:
    text = source_text(row["source"])
    assert isinstance(row["present"], bool) and row["question"].strip()
    if row["present"]:
        assert squash(row["evidence"]) in squash(text), row["id"]
        assert_facts(row, row["must"], row["evidence"])
    else:
        assert "must" not in row and "evidence" not in row
        assert row["note"].strip()
        if row["type"] == "money" and "other currency amounts" not in row["note"]:
            assert not _CURRENCY.search(text), (row["id"], _CURRENCY.findall(text))


def test_greetings_wrap_gold_questions_unchanged() -> None:
    gold = {q["id"]: q for q in GOLD_FIT}
    rows = ROWS["greetings"]
    assert len({r["gold_id"] for r in rows}) == len(rows)
    for row in rows:
        original = gold[row["gold_id"]]
        assert original["answerable"] and "context" not in original, row["id"]
        assert row["question"] == original["question"], row["id"]
        assert row["lang"] == original["lang"] and row["source"] == original["source"], row["id"]
        assert row["must"] == original["must"], row["id"]
        assert row["variant"] != row["question"], row["id"]
        assert words(row["question"]) in words(row["variant"]), row["id"]
        assert words(row["variant"]) != words(row["question"]), row["id"]


def test_transliteration_pairs() -> None:
    rows = ROWS["transliteration"]
    assert len({r["name"] for r in rows}) >= 15
    for row in rows:
        name, variant = row["name"], row["name_variant"]
        assert squash(name) in squash(source_text(row["source"])), row["id"]
        assert script(name) != script(variant), row["id"]
        assert name in row["question"], row["id"]
        assert row["variant"] == row["question"].replace(name, variant), row["id"]


@pytest.mark.parametrize("row", ROWS["followups"], ids=[r["id"] for r in ROWS["followups"]])
def test_followup_rows(row: Row) -> None:
    text = source_text(row["source"])
    turns = row["turns"]
    assert isinstance(turns, list) and len(turns) == 2 and all(t.strip() for t in turns), row["id"]
    assert len(turns[1]) < len(turns[0]), row["id"]
    assert squash(row["evidence"]) in squash(text), row["id"]
    assert_facts(row, row["must"], row["evidence"])
    assert_facts(row, row["first_must"], text)
