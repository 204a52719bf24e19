"""Verification measured on the committed sets (eval/datasets/faithful): every false claim rejected, and the share
of faithful paraphrases shown kept at its measured floor — strictness's price, as the README states it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.core.models import Chunk
from assistant.core.ports import Embedder
from assistant.wiring import document_chunks, load_min_similarity
from eval.generation_fit import (
    CORPUS,
    FAITHFUL,
    FALSE_CLAIMS,
    Checked,
    EmbedderSimilarity,
    check_all,
    is_cross_language,
    read_jsonl,
)
from tests.fakes import FixedSimilarity

# Measured with `python -m eval llm-fit` (assistant/models/generation.json): 51 of the 65 paraphrases in their
# passage's language (78.5%), 31 of the 95 across languages (32.6%), 82 of 160 in all (51.2%). Each floor leaves
# about two claims of room: the bundled model's sums differ in the last bits between CPUs and runs (OpenMP), and a
# borderline claim flips (seen: 30 of 95 across languages, 81 of 160 in all).
SAME_LANGUAGE_FLOOR = 0.75
CROSS_LANGUAGE_FLOOR = 0.30
ALL_FLOOR = 0.50


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return document_chunks([CORPUS])


def share(checked: Sequence[Checked]) -> float:
    return sum(c.ok for c in checked) / len(checked)


def test_the_sets_are_what_the_readme_describes() -> None:
    faithful = read_jsonl(FAITHFUL)
    languages = [item["language"] for item in faithful]
    assert len(faithful) >= 150 and min(languages.count(lang) for lang in ("ky", "ru", "en")) >= 50
    assert sum(is_cross_language(item) for item in faithful) == 95
    assert {item["source"] for item in faithful} <= {p.name for p in CORPUS.iterdir()}
    assert len(read_jsonl(FALSE_CLAIMS)) == 17


def test_every_false_claim_is_rejected_even_with_e5_vouching(chunks: list[Chunk]) -> None:
    # e5 says "close" to every sentence: what the words, numbers, names, negations and language say decides. The
    # one case marked needs_e5 (a request appended to a claim in another language) is left to the real e5 below.
    vouching = FixedSimilarity({}, default=0.99)
    false = [item for item in read_jsonl(FALSE_CLAIMS) if not item.get("needs_e5")]
    checked = check_all(false, chunks, vouching, threshold=0.9)
    wrong = [(c.item["case"], c.reason, c.detail) for c in checked if c.ok or c.reason != c.item["reason"]]
    assert not wrong


def test_the_faithful_share_in_the_passages_language_holds_its_floor(chunks: list[Chunk]) -> None:
    same = [item for item in read_jsonl(FAITHFUL) if not is_cross_language(item)]
    checked = check_all(same, chunks, None, threshold=1.0)  # no e5: words, numbers and names alone
    assert share(checked) >= SAME_LANGUAGE_FLOOR, [c.detail for c in checked if not c.ok]


def test_with_the_real_e5_every_false_claim_falls_and_the_faithful_shares_hold(
    chunks: list[Chunk], embedder: Embedder
) -> None:
    similarity = EmbedderSimilarity(embedder)
    threshold = load_min_similarity()
    false = check_all(read_jsonl(FALSE_CLAIMS), chunks, similarity, threshold)
    assert [c.item["case"] for c in false if c.ok or c.reason != c.item["reason"]] == []
    checked = check_all(read_jsonl(FAITHFUL), chunks, similarity, threshold)
    assert share(checked) >= ALL_FLOOR
    assert share([c for c in checked if is_cross_language(c.item)]) >= CROSS_LANGUAGE_FLOOR
