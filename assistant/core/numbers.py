"""How numbers are written: thousands grouped by spaces ("1 447 717") and years.

One definition for every layer that reads numbers: the answerers, retrieval's anchors, coverage, the BM25
tokenizer and the evaluation metrics. A number that one of them reads as one token, all of them do.
"""

from __future__ import annotations

import re

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
