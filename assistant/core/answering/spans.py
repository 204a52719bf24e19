"""The spans of a sentence that can answer a question of a kind and type: numbers, amounts of money,
percentages, distances, dates, names, places — by generic patterns.

Word lists here are closed classes of ky / ru / en: month names, number words, multipliers, currencies and
length units, as any grammar or CLDR lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.core.answering.reading import AnswerType, Kind
from assistant.core.numbers import GROUP_SPACE, is_year

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
# Number words from two up: "бир" is also Kyrgyz's indefinite article ("a"), so like "one" and "один" it is no count.
_NUMBER_WORD = re.compile(
    r"\b(?:эки|үч|төрт|беш|алты|жети|сегиз|тогуз|он|жыйырма|отуз|кырк|элүү|жүз"
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


# A currency after an amount ("25 миң сом", "500 долларга", "1,5 млн рублей") or its sign before it ("$500").
_CURRENCY_AFTER = re.compile(
    r"[\s\u00a0-]?(?:сом|som\b|kgs\b|доллар|долл\b|usd\b|\$|рубл|руб\b|rub\b|тенге|теңге|kzt\b|евро|eur\b|€|юан|"
    r"dollars?\b|roubles?\b|rubles?\b|euros?\b|yuan\b|£|фунт)[^\W\d_]*",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"(?:\$|€|£|usd|kgs|eur|rub)\s?$", re.IGNORECASE)
_LENGTH_AFTER = re.compile(
    r"[\s\u00a0-]?(?:км|километр|чакырым|km\b|kilomet|метр|miles?\b|mi\b)[^\W\d_]*", re.IGNORECASE
)
_PERCENT = re.compile(r"%|пайыз|процент|percent", re.IGNORECASE)


def spans_of_type(sentence: str, kind: Kind, expected: AnswerType) -> list[Span]:
    """The spans of the asked kind that also have the expected type: an amount of money carries its currency
    (and the lead shows it), a percentage its sign, a distance its unit; a count is no amount of money."""
    if expected in ("money", "percent", "distance"):
        kind = "count"  # "What is the tuition fee?" asks for an amount without a how-many word
    found = spans_of_kind(sentence, kind)
    if kind != "count" or expected not in ("money", "percent", "distance", "count"):
        return found
    out = []
    for span in found:
        after = _CURRENCY_AFTER.match(sentence, span.end)
        before = _CURRENCY_BEFORE.search(sentence[: span.start])
        money = after or before
        if expected == "money" and after is not None:
            out.append(_through(sentence, span, after))
        elif expected == "money" and before is not None:
            out.append(Span(before.start(), span.end, sentence[before.start() : span.end]))
        elif expected == "percent" and _PERCENT.search(span.text):
            out.append(span)
        elif expected == "distance" and (unit := _LENGTH_AFTER.match(sentence, span.end)) is not None:
            out.append(_through(sentence, span, unit))
        elif expected == "count" and money is None:
            out.append(span)
    return out


def _through(sentence: str, span: Span, unit: re.Match[str]) -> Span:
    """The span stretched over the unit written after it ("25 миң" → "25 миң сом")."""
    return Span(span.start, unit.end(), sentence[span.start : unit.end()].strip())
