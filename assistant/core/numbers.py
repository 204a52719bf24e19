"""How numbers are written: thousands grouped by spaces ("1 447 717") and years.

One definition for every layer that reads numbers: the answerers, retrieval's anchors, coverage, the BM25
tokenizer and the evaluation metrics. A number that one of them reads as one token, all of them do.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The spaces that group thousands: space, no-break space (U+00A0), figure space (U+2007), thin space (U+2009)
# and narrow no-break space (U+202F). A regex character class: build every spaced-number pattern from it.
GROUP_SPACE = r"[ \u00a0\u2007\u2009\u202f]"

_DIGIT_GROUP = re.compile(rf"(?<=\d){GROUP_SPACE}(?=\d{{3}}(?!\d))")
_YEAR = re.compile(r"(?:19|20)\d\d")


def join_digit_groups(text: str) -> str:
    """Numbers written with spaced thousands as one token: "1 447 717" -> "1447717" (whichever space groups them)."""
    return _DIGIT_GROUP.sub("", text)


def is_year(text: str) -> bool:
    """A bare year from 1900 to 2099 such as "2023" (never a count)."""
    return bool(_YEAR.fullmatch(text.strip()))


# A number as written: spaced thousands ("1 447 717"), grouped or decimal marks ("3,000", "26,4", "26.4"), dates
# with dots ("15.03.2023"); then, maybe after a space or hyphen, the word glued or next to it ("375тин",
# "3 миң", "50 %", "2023-жылы").
_NUMBER_CORE = re.compile(rf"(?<![\d])(?:\d{{1,3}}(?:{GROUP_SPACE}\d{{3}})+(?!\d)(?:[.,]\d+)?|\d+(?:[.,]\d+)*)")
_AFTER = re.compile(r"[ \u00a0]?-?[ \u00a0]?([^\W\d_]+|%)")
# Multipliers and percent words of ky / ru / en (closed classes, as number names are).
_MULTIPLIERS = (
    (re.compile(r"(?:миң|тыс|thousand)", re.I), 1e3),
    (re.compile(r"(?:млн|миллион|million)", re.I), 1e6),
    (re.compile(r"(?:млрд|миллиард|billion)", re.I), 1e9),
)
_PERCENT = re.compile(r"(?:%|пайыз|процент|percent)", re.I)


@dataclass(frozen=True)
class NumberValue:
    """A number read from text: the values it may mean (a date's parts are several), whether it is a percentage,
    and where it is written."""

    values: frozenset[float]
    percent: bool
    start: int
    end: int

    def matches(self, other: NumberValue) -> bool:
        """Whether `other` states this number: a common value, and a percentage only as a percentage."""
        if self.percent and not other.percent:
            return False
        return any(math.isclose(a, b, rel_tol=1e-9) for a in self.values for b in other.values)


def _readings(core: str) -> set[float]:
    """The values a written number means ("3,000": 3000; "26,4": 26.4; "15.03.2023": 15, 3 and 2023)."""
    digits = re.sub(GROUP_SPACE, "", core)
    if digits.count(".") > 1 or (digits.count(".") == 1 and digits.count(",") >= 1):
        if "," in digits and digits.count(".") == 1 and digits.index(",") < digits.index("."):
            return {float(digits.replace(",", ""))}  # 1,234.5
        return {float(part) for part in re.split(r"[.,]", digits) if part}  # 15.03.2023: a date's parts
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits):
        return {float(digits.replace(",", ""))}  # 3,000 (a decimal comma is not followed by exactly three digits)
    if digits.count(",") > 1:
        return {float(part) for part in digits.split(",") if part}  # 5,6,7: a list's numbers
    if "," in digits:
        return {float(digits.replace(",", "."))}  # 26,4
    return {float(digits)}


def numbers_in(text: str) -> list[NumberValue]:
    """Every number of a text with its multiplier ("3 миң" is 3000) and percent sign or word read in."""
    found = []
    for match in _NUMBER_CORE.finditer(text):
        values = _readings(match.group(0))
        end, percent = match.end(), False
        after = _AFTER.match(text, match.end())
        if after:
            word = after.group(1)
            if _PERCENT.match(word):
                percent, end = True, after.end()
            else:
                for pattern, factor in _MULTIPLIERS:
                    if pattern.match(word):
                        values = {v * factor for v in values}
                        end = after.end()
                        break
        found.append(NumberValue(values=frozenset(values), percent=percent, start=match.start(), end=end))
    return found
