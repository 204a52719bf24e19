"""Whether evidence names what a question insists on — its names, places, times and numbers — across scripts.

A near-miss question pairs the asked fact with a name, place, year or number the evidence does not: that is
the signal refusal rests on. Names are compared after transliteration to Latin letters, by fuzzy prefix;
countries and months by code, through a gazetteer built from CLDR and ISO names (see `assistant.gazetteer`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from assistant.core.numbers import join_digit_groups

# Cyrillic → Latin, letter by letter (BGN/PCGN romanisation of Russian, with the Kyrgyz letters ң ө ү), so
# "Бейшеналиев" meets "Beishenaliev" and "Ош" meets "Osh".
_TO_LATIN = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "ң": "ng",
        "о": "o",
        "ө": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ү": "u",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_UPPER = re.compile(r"[A-ZА-ЯЁӨҮҢ]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Question words and pronouns start questions in capitals too; they are never what a question insists on.
_STEM_CHARS = 5
_FUZZY = 80


# Words repeat across the passages of every question: each is read once (a few MB for a large vocabulary).
_WORDS_KEPT = 1 << 17
_TEXTS_KEPT = 4096


@lru_cache(maxsize=_WORDS_KEPT)
def to_latin(word: str) -> str:
    """A word in lower-case Latin letters (Cyrillic transliterated, Latin kept)."""
    return word.lower().translate(_TO_LATIN).replace("'", "")


@dataclass(frozen=True)
class Gazetteer:
    """Word stems of country and month names in ky / ru / en, each mapped to one code ("RU", "M03")."""

    stems: Mapping[str, str] = field(default_factory=dict)
    implicit: frozenset[str] = frozenset()  # the deployment's own country: every document is about it
    max_suffix: int = 5
    # What each word and passage was read as (the answerer reads the same passages over and over).
    _codes: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _evidence: OrderedDict[str, Evidence] = field(default_factory=OrderedDict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def code(self, word: str) -> str | None:
        """The code of a country or month a word names, inflected ("Орусиянын", "России", "мартта") or not."""
        if word in self._codes:
            return self._codes[word]
        found = self._look_up(word)
        if len(self._codes) < _WORDS_KEPT:
            self._codes[word] = found
        return found

    def evidence(self, text: str) -> Evidence:
        """What a passage names (read once while it stays among the last few thousand passages read)."""
        with self._lock:
            found = self._evidence.get(text)
            if found is not None:
                self._evidence.move_to_end(text)
                return found
        found = Evidence.of(text, self)
        with self._lock:
            self._evidence[text] = found
            while len(self._evidence) > _TEXTS_KEPT:
                self._evidence.popitem(last=False)
        return found

    def _look_up(self, word: str) -> str | None:
        capitalised = word[:1].isupper()
        if word.isascii() and not capitalised:
            return None  # English writes country and month names in capitals ("may" is a verb, "May" a month)
        lowered = word.lower()
        for cut in range(len(lowered), 2, -1):
            code = self.stems.get(lowered[:cut])
            if code is not None:
                # Every language capitalises a country's name; Kyrgyz and Russian write months in lower case.
                country = len(code) == 2
                return code if len(lowered) - cut <= self.max_suffix and (capitalised or not country) else None
        return None


@dataclass(frozen=True)
class Specific:
    """Something a question insists on: a number, a coded name (country, month) or a proper name."""

    kind: str  # "number" | "code" | "name"
    key: str  # the digits, the code, or the name in Latin letters
    words: tuple[str, ...] = ()  # for a name of several words, each in Latin letters: any one names it


def specifics(question: str, gazetteer: Gazetteer) -> list[Specific]:
    """Numbers, countries, months and proper names of a question (the first word only if it is an acronym)."""
    found: dict[tuple[str, str], Specific] = {}
    for number in _NUMBER.findall(join_digit_groups(question)):
        if len(number) >= 2 or int(float(number.replace(",", "."))) > 0:
            found[("number", number)] = Specific("number", number)
    # Each sentence of the question (a follow-up carries the earlier one) opens with a capital of its own.
    for sentence in _SENTENCE_END.split(question):
        run: list[str] = []
        for i, word in enumerate([*_WORD.findall(sentence), ""]):
            code = gazetteer.code(word) if word and not any(ch.isdigit() for ch in word) else None
            # Two-letter acronyms ("КР", "РФ") are abbreviations other languages spell differently.
            acronym = len(word) >= 3 and sum(1 for ch in word if _UPPER.match(ch)) >= 2
            short_acronym = word.isupper() and len(word) < 3
            named = (
                code is None
                and bool(word)
                and not word[0].isdigit()
                and not short_acronym
                and bool((i > 0 and _UPPER.match(word[0])) or acronym)
            )
            if named:
                run.append(to_latin(word))
                continue
            # A run of capitalised words ("Osh State University", "Valentina Shevchenko") is one name, named
            # when any of its words is: other languages translate an institution's title words.
            if run:
                found[("name", run[0][:_STEM_CHARS])] = Specific("name", run[0], tuple(run))
                run = []
            if code is not None and code not in gazetteer.implicit:
                found[("code", code)] = Specific("code", code)
    return list(found.values())


@dataclass(frozen=True)
class Evidence:
    """A text's numbers, codes and Latin word stems, read once so many specifics can be checked against it."""

    numbers: frozenset[str]
    codes: frozenset[str]
    latin_words: tuple[str, ...]

    @classmethod
    def of(cls, text: str, gazetteer: Gazetteer) -> Evidence:
        """Read a text."""
        words = _WORD.findall(text)
        # "11-апрелдеги": the month stands beside the day in one hyphenated word.
        parts = [part for w in words for part in w.split("-") if part and not any(ch.isdigit() for ch in part)]
        codes = {c for c in (gazetteer.code(part) for part in parts) if c}
        return cls(
            numbers=frozenset(_NUMBER.findall(join_digit_groups(text))),
            codes=frozenset(codes),
            latin_words=tuple(dict.fromkeys(to_latin(w) for w in words)),
        )

    def covers(self, specific: Specific) -> bool:
        """Whether the text names this specific (a name by fuzzy prefix, so inflection and spelling may vary)."""
        if specific.kind == "number":
            return specific.key in self.numbers
        if specific.kind == "code":
            return specific.key in self.codes
        return any(self._names(word) for word in specific.words or (specific.key,))

    def _names(self, name: str) -> bool:
        stem = name[:_STEM_CHARS]
        return any(
            fuzz.ratio(stem, word[: len(stem)]) >= _FUZZY for word in self.latin_words if len(word) >= len(stem) - 1
        )


def coverage(wanted: list[Specific], evidence: list[Evidence]) -> float:
    """The share of specifics that some evidence text names (1.0 when the question names none)."""
    if not wanted:
        return 1.0
    return sum(1 for s in wanted if any(e.covers(s) for e in evidence)) / len(wanted)


def coverage_of_kind(wanted: list[Specific], evidence: list[Evidence], kind: str) -> float:
    """The share of one kind of specific (number, code or name) that some evidence text names (1.0 if none)."""
    return coverage([s for s in wanted if s.kind == kind], evidence)
