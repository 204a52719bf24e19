"""Pure metric functions for retrieval and answers (no I/O)."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence

import numpy as np

from assistant.core.numbers import join_digit_groups

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def normalize(text: str) -> str:
    """Lowercase, join digit groups and fold whitespace, so "1 447 717" matches "1447717" and "6\u00a0миң" "6 миң"."""
    return " ".join(join_digit_groups(text).lower().split())


def fact_present(fact: Sequence[str], text: str) -> bool:
    """True when any accepted spelling of the fact occurs in the text; a number never inside a longer one."""
    haystack = normalize(text)
    for alt in fact:
        needle = normalize(alt)
        if not needle:
            continue
        # "50" must not be found in "750" or "1500": digits may not continue a number at either end.
        left = r"(?<!\d)" if needle[0].isdigit() else ""
        right = r"(?!\d)" if needle[-1].isdigit() else ""
        if re.search(left + re.escape(needle) + right, haystack):
            return True
    return False


def all_facts_present(must: Sequence[Sequence[str]], text: str) -> bool:
    """True when every fact of the question occurs in the text."""
    return all(fact_present(fact, text) for fact in must)


def document_ranking(documents: Iterable[str]) -> list[str]:
    """Distinct documents in the order their first chunk was retrieved."""
    seen: list[str] = []
    for doc in documents:
        if doc not in seen:
            seen.append(doc)
    return seen


def hit_at(ranking: Sequence[str], gold: str, k: int) -> float:
    """1 if the gold document is among the first k, else 0."""
    return 1.0 if gold in ranking[:k] else 0.0


def reciprocal_rank(ranking: Sequence[str], gold: str, k: int = 10) -> float:
    """1/rank of the gold document within the first k (0 if absent)."""
    for i, doc in enumerate(ranking[:k], start=1):
        if doc == gold:
            return 1.0 / i
    return 0.0


def ndcg_at(ranking: Sequence[str], gold: str, k: int = 10) -> float:
    """nDCG@k with one relevant document (ideal DCG is 1)."""
    for i, doc in enumerate(ranking[:k], start=1):
        if doc == gold:
            return 1.0 / math.log2(i + 1)
    return 0.0


def numbers_in(text: str) -> set[str]:
    """Numbers written in a text, digit groups joined."""
    return set(_NUMBER.findall(normalize(text)))


def unsupported_numbers(answer_text: str, quotes: Sequence[str]) -> set[str]:
    """Numbers an answer states that none of its cited quotes contains ([n] markers excluded)."""
    stated = numbers_in(re.sub(r"\[\d+\]", " ", answer_text))
    supported: set[str] = set()
    for quote in quotes:
        supported |= numbers_in(quote)
    return stated - supported


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    """Median, 0 for no values."""
    return float(statistics.median(values)) if values else 0.0


def bootstrap_interval(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % interval of the mean of per-question scores (None for no questions)."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(data), size=(resamples, len(data)))
    means = data[draws].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]
