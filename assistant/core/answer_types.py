"""What kind of span a question asks for, and the spans of that kind in a sentence, by generic patterns.

Word lists here are closed classes of ky / ru / en: question words, month names, number words and
multipliers, as any grammar or CLDR lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from assistant.core.numbers import GROUP_SPACE, is_year

Kind = Literal["count", "date", "who", "where", "other"]
KINDS: tuple[Kind, ...] = ("count", "date", "who", "where", "other")

# Question words per kind (ky / ru / en and Russian or Kyrgyz typed in Latin letters).
_KIND_PATTERNS: list[tuple[Kind, re.Pattern[str]]] = [
    (
        "date",
        re.compile(
            r"\bкачан|кайсы\s+(?:жыл|күн|ай|мезгил)|канчанчы\s+(?:жыл|күн)|\bкогда\b|в\s+как(?:ом|ой)\s+(?:году|месяце|день)"
            r"|какого\s+числа|до\s+какого|с\s+какого\s+(?:года|числа|времени)|\bwhen\b|what\s+(?:year|date|month|day)"
            r"|which\s+(?:year|month|day|date)|since\s+when|until\s+when|\bkachan\b|\bkogda\b",
            re.I,
        ),
    ),
    (
        "count",
        re.compile(
            r"\bканча|\bсколько|\bскольк|how\s+(?:many|much|long|old)|what\s+(?:number|percentage|share|amount|sum)"
            r"|как(?:ое|ой|ая)\s+(?:число|количество|сумм|процент|дол)|\bпроцент|\bpercent|\bskolko|\bkancha|\bнече\b",
            re.I,
        ),
    ),
    (
        "who",
        re.compile(
            r"\bким(?:ге|дин|дер|ди)?\b|\bкимдер|\bкто\b|\bкого\b|\bкому\b|\bкем\b|\bwho\b|\bwhom\b|\bwhose\b"
            r"|\bkim\b|\bkto\b|кайсы\s+(?:уюм|мекеме|компания|министрлик)|как(?:ая|ое|ой)\s+(?:организац|компани|ведомств)"
            r"|which\s+(?:organi[sz]ation|company|ministry|agency|body)",
            re.I,
        ),
    ),
    (
        "where",
        re.compile(
            r"\bкайда|\bкайсы\s+(?:өлкө|шаар|облус|район|айыл|жер)|\bгде\b|\bкуда\b|\bоткуда\b"
            r"|в\s+как(?:их|ой|ом)\s+(?:стран|город|област|район|мест)|из\s+как(?:ой|ого)\s+(?:стран|город)"
            r"|\bwhere\b|which\s+(?:country|countries|city|cities|region|town|place)|from\s+which",
            re.I,
        ),
    ),
]


def question_kind(text: str) -> Kind:
    """What kind of span answers the question: a number, a date, a name, a place, or a passage."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "other"


_MONTHS = (
    "январ|феврал|март|апрел|май|мая|июн|июл|август|сентябр|октябр|ноябр|декабр|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_MULTIPLIER = r"(?:миң|млн|млрд|миллион|миллиард|тыс\.?|тысяч\w*|thousand|million|billion|%|пайыз|процент\w*|percent)"
_NUMBER = re.compile(
    rf"(?<![\w.,])\d{{1,3}}(?:{GROUP_SPACE}\d{{3}})+(?:[.,]\d+)?(?:\s?{_MULTIPLIER})?"
    rf"|(?<![\w.,])\d+(?:[.,]\d+)?(?:\s?{_MULTIPLIER}(?:\s\d{{1,3}}(?:\s?{_MULTIPLIER})?)?)?",
    re.I,
)
_NUMBER_WORD = re.compile(
    r"\b(?:бир|эки|үч|төрт|беш|алты|жети|сегиз|тогуз|он|жыйырма|отуз|кырк|элүү|жүз"
    r"|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|сто"
    r"|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred)\b",
    re.I,
)
_DATE = re.compile(
    rf"\b\d{{1,2}}[-\s]?(?:{_MONTHS})\w*(?:\s+(?:19|20)\d\d(?:[-\s]?\w+)?)?"  # 15-мартта, 3 марта 2023
    rf"|\b(?:19|20)\d\d(?:\s?[-–]\s?(?:19|20)?\d\d)?\s?[-–]?\s?(?:окуу\s)?(?:жыл\w*|ж\.|год\w*|гг?\.)"
    rf"(?:\s+(?:\d{{1,2}}[-\s]?)?(?:{_MONTHS})\w*)?"  # 2016-жылы 21-майда, 1996-жылы октябрда
    rf"|\b(?:{_MONTHS})\w*\s+\d{{1,2}}(?:,?\s+(?:19|20)\d\d)?"  # March 15, 2023
    rf"|\b(?:{_MONTHS})\w*\s+(?:19|20)\d\d"  # October 1996
    rf"|\b\d{{1,2}}\.\d{{1,2}}\.(?:19|20)?\d\d\b"  # 15.03.2023
    rf"|\b(?:in|since|from|by|until|до|с|в)\s+(?:19|20)\d\d\b"
    rf"|\b(?:{_MONTHS})\w*",  # "октябрь айында", "в октябре"
    re.I,
)
_UPPER = "A-ZА-ЯЁӨҮҢ"
_LOWER = "a-zа-яёөүң"
# Two or more capitalised words ("Алмазбек Бейшеналиев", "Osh State University"), an initial and a surname
# ("С. Кравцов"), or a Kyrgyz name with its patronymic particle ("Нурсултан Мейкин уулу").
_NAME = re.compile(
    rf"(?:\b[{_UPPER}]\.\s?){{1,2}}[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
    rf"|\b[{_UPPER}][{_LOWER}]+(?:[-\s]+[{_UPPER}][{_LOWER}]+(?!\w))+(?:\s+(?:уулу|кызы))?"
    rf"|\b[{_UPPER}][{_LOWER}]+\s+(?:уулу|кызы)\b"
)
_ACRONYM = re.compile(rf"\b[{_UPPER}]{{2,}}[{_LOWER}]{{0,4}}\b")
_QUOTED = re.compile(r"«[^»]{2,80}»|\"[^\"]{2,80}\"|“[^”]{2,80}”")
# A single capitalised word inside a sentence, hyphenated places included ("Жалал-Абадда", "Чолпон-Атада").
_PROPER = re.compile(rf"\b[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}]?[{_LOWER}]+)?(?!\w)")


@dataclass(frozen=True)
class Span:
    """A candidate answer span `[start, end)` inside a sentence."""

    start: int
    end: int
    text: str


def _spans(pattern: re.Pattern[str], sentence: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group(0).strip()) for m in pattern.finditer(sentence) if m.group(0).strip()]


def _is_marker(sentence: str, span: Span) -> bool:
    """Reference numbers "[5]", "№79" and list numbering "1)" are not quantities."""
    before = sentence[max(0, span.start - 1) : span.start]
    after = sentence[span.end : span.end + 1]
    return before in ("[", "№") or (after in (")", ".") and not sentence[: span.start].strip())


def spans_of_kind(sentence: str, kind: Kind) -> list[Span]:
    """Every span of the asked kind in the sentence, in order (empty for passage questions)."""
    if kind == "count":
        found = [s for s in _spans(_NUMBER, sentence) if not is_year(s.text) and not _is_marker(sentence, s)]
        found += [s for s in _spans(_NUMBER_WORD, sentence) if not any(o.start <= s.start < o.end for o in found)]
    elif kind == "date":
        found = _spans(_DATE, sentence)
    elif kind == "who":
        found = _spans(_NAME, sentence) + _spans(_ACRONYM, sentence) + _spans(_QUOTED, sentence)
    elif kind == "where":
        found = _spans(_PROPER, sentence)
    else:
        return []
    return _without_overlaps(found)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Longest spans first, then drop any span overlapping a kept one; returned in reading order."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)
