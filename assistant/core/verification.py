"""Checking a generated answer against the passages it cites, before anyone sees it.

A reply is cut into claims, each ending in its `[n]` markers. Every number, date, percentage, acronym and
proper name of a claim must be stated by one sentence — or two adjacent ones — of a passage the claim cites:
not anywhere in the passage, and not in another passage. Numbers are compared by value, with their suffixes,
multipliers and spellings ("375тин", "3 миң" / "3 тысячи" / "3,000", "26,4" / "26.4", "50%" / "50 пайыз");
names across scripts and languages as the answerability check compares them (transliteration, fuzzy prefix,
countries and months by code). A claim with nothing of that kind must be close enough in meaning (e5 cosine)
to the sentence it cites. What this cannot catch: a number the sentence does state, attached in the claim to
another attribute of it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.core.coverage import Evidence, Gazetteer, Specific, specifics
from assistant.core.language import detect_language
from assistant.core.models import Chunk, ChunkSentence, Language
from assistant.core.numbers import NumberValue, numbers_in
from assistant.core.ports import SentenceSimilarity

NO_ANSWER = "NO_ANSWER"
MAX_REPLY_CHARS = 2000
# One marker group after a claim: "[1]", "[1][2]", "[1, 2]", "[1] [3]".
_MARKERS = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_HAS_WORD = re.compile(r"[^\W_]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LOWER_WORD = re.compile(r"[^\W\d_]+")
_KY_ONLY = frozenset("ңөү")
# Words that open a sentence in capitals without naming anything (closed classes of ky / ru / en).
_OPENER_WORDS = (
    "the a an in on at by for from to of and or but this that these those it its there here according as "
    "with since after before during about yes no also all each every some many most only both "
    "в во на по с со из к от до для о об и а но это этот эта эти этого все всего также кроме согласно да "
    "нет так при после перед около более менее "
    "бул ал алар ошол анын ушул ооба жок жана менен боюнча үчүн ошондой ошентип мындан буга андан ага "
    "аларга бардык баардыгы ар бир"
)
_OPENERS = frozenset(_OPENER_WORDS.split())


@dataclass(frozen=True)
class Passage:
    """A numbered passage the model was given: its chunk and the chunk's sentences."""

    number: int
    chunk: Chunk
    sentences: tuple[ChunkSentence, ...]


@dataclass(frozen=True)
class Claim:
    """A checked claim: its text, the passages it cites, the sentence(s) that state it and the spans checked in
    them (offsets into each quoted sentence's text)."""

    text: str
    passages: tuple[int, ...]
    quotes: tuple[ChunkSentence, ...]
    highlights: tuple[tuple[tuple[int, int], ...], ...]  # per quote, the checked tokens' spans


@dataclass(frozen=True)
class Verdict:
    """Whether a reply may be shown; if not, why (`reason`, a short code) and what failed (`detail`)."""

    ok: bool
    claims: tuple[Claim, ...] = ()
    reason: str | None = None
    detail: str = ""


def _fail(reason: str, detail: str) -> Verdict:
    return Verdict(ok=False, reason=reason, detail=detail)


def in_language(text: str, language: Language) -> bool:
    """Whether a reply is written in the language: by script first (names of another script are few), then, for
    Kyrgyz and Russian, by the letters only Kyrgyz has in its common (lower-case) words, with the detector."""
    letters = [ch for ch in text if ch.isalpha()]
    latin = sum(1 for ch in letters if ch.isascii()) / max(1, len(letters))
    if language == "en" or latin > 0.5:
        return language == "en" and latin > 0.5
    common = [w for w in _LOWER_WORD.findall(text) if not w[0].isupper()]
    kyrgyz_letters = any(ch in _KY_ONLY for w in common for ch in w)
    detected = detect_language(text)
    if language == "ru":
        return not (kyrgyz_letters and detected == "ky")
    return kyrgyz_letters or detected != "ru"


_CLAIM_EDGE = " \t\n.;:,"  # what a claim's text is trimmed of at both ends


def _marker_groups(reply: str) -> tuple[list[tuple[str, str, bool]], str]:
    """Each marker group with the text before it (since the previous group) and whether it ends a claim (that
    text holds a word; else it continues the previous claim's markers), and the text after the last group. The
    one reading both `split_claims` and `renumber` go by."""
    groups: list[tuple[str, str, bool]] = []
    at = 0
    for match in _MARKERS.finditer(reply):
        before = reply[at : match.start()]
        groups.append((before, match.group(0), bool(_HAS_WORD.search(before.strip(_CLAIM_EDGE)))))
        at = match.end()
    return groups, reply[at:]


def split_claims(reply: str) -> tuple[list[tuple[str, tuple[int, ...]]], str]:
    """The reply's claims, each with the passage numbers after it, and the text left after the last marker."""
    claims: list[tuple[str, tuple[int, ...]]] = []
    groups, rest = _marker_groups(reply)
    for before, markers, ends_claim in groups:
        numbers = tuple(int(n) for n in re.findall(r"\d+", markers))
        if ends_claim:
            claims.append((before.strip(_CLAIM_EDGE), numbers))
        elif claims:  # "[1]. [2]": a second marker group for the same claim
            claims[-1] = (claims[-1][0], claims[-1][1] + numbers)
    return claims, rest


def renumber(reply: str, markers: Sequence[Sequence[int]]) -> str:
    """The reply with each claim's marker group replaced by `markers` (one list per claim, as `split_claims`
    cuts them); a marker group that continues the previous claim's is dropped."""
    out: list[str] = []
    claim = 0
    groups, rest = _marker_groups(reply)
    for before, _, ends_claim in groups:
        out.append(before)
        if ends_claim and claim < len(markers):
            out.append(" " + "".join(f"[{n}]" for n in markers[claim]))
            claim += 1
    out.append(rest)
    return "".join(out)


def _names(text: str, gazetteer: Gazetteer) -> list[Specific]:
    """The names, places, months and acronyms a claim states, its sentences' first words included."""
    found: dict[tuple[str, str], Specific] = {}
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if words and words[0].strip("«\"'(").lower() in _OPENERS:
            sentence = " ".join(words[1:])
        # A lower-case word in front, so that the first word counts as a name when it is capitalised.
        for specific in specifics("x " + sentence, gazetteer):
            if specific.kind != "number":
                found[(specific.kind, specific.key)] = specific
    return list(found.values())


@dataclass(frozen=True)
class _Reading:
    """A window of one or two adjacent sentences of a passage, read once."""

    sentences: tuple[ChunkSentence, ...]
    numbers: tuple[NumberValue, ...]
    evidence: Evidence


def _windows(passage: Passage, gazetteer: Gazetteer) -> list[_Reading]:
    """Each sentence alone, then each pair of neighbours (a claim may join two)."""
    sentences = passage.sentences
    windows = [(s,) for s in sentences] + list(itertools.pairwise(sentences))
    return [
        _Reading(
            sentences=w,
            numbers=tuple(numbers_in(" ".join(s.text for s in w))),
            evidence=Evidence.of(" ".join(s.text for s in w), gazetteer),
        )
        for w in windows
    ]


def _highlights(
    sentence: ChunkSentence, claimed: Sequence[NumberValue], names: Sequence[Specific], gazetteer: Gazetteer
) -> tuple[tuple[int, int], ...]:
    """Where the claim's numbers and names stand in a quoted sentence."""
    spans = [(n.start, n.end) for n in numbers_in(sentence.text) if any(c.matches(n) for c in claimed)]
    for word in re.finditer(r"[^\W_]+(?:-[^\W_]+)*", sentence.text):
        evidence = Evidence.of(word.group(0), gazetteer)
        if any(evidence.covers(name) for name in names):
            spans.append((word.start(), word.end()))
    return tuple(sorted(set(spans)))


def _covered(window: _Reading, claimed: Sequence[NumberValue], names: Sequence[Specific]) -> set[int]:
    """Which of the claim's tokens (numbers first, then names, by position) a window states."""
    found = {i for i, c in enumerate(claimed) if any(c.matches(n) for n in window.numbers)}
    found |= {len(claimed) + i for i, name in enumerate(names) if window.evidence.covers(name)}
    return found


def _check_claim(
    text: str,
    cited: Sequence[Passage],
    gazetteer: Gazetteer,
    similarity: SentenceSimilarity | None,
    min_similarity: float,
) -> Claim | Verdict:
    """The claim with its quotes, or the failing verdict. With several markers ("[1][2]") each cited passage
    lends its one window that states the most; together they must state everything."""
    claimed = numbers_in(text)
    names = _names(text, gazetteer)
    if not claimed and not names:
        candidates = [(p, s) for p in cited for s in p.sentences]
        if similarity is None or not candidates:
            return _fail("unsupported", f"nothing in {text!r} can be checked against the cited passage")
        # e5 cosines of the claim to the cited sentences (their stored vectors), as the answerer scores them.
        scores = similarity.similarities(text, [(p.chunk, s.text) for p, s in candidates])
        best = max(range(len(candidates)), key=lambda i: scores[i])
        if scores[best] < min_similarity:
            return _fail("unsupported", f"{text!r} is not close to any sentence it cites ({scores[best]:.2f})")
        passage, sentence = candidates[best]
        return Claim(text=text, passages=(passage.number,), quotes=(sentence,), highlights=((),))
    wanted = set(range(len(claimed) + len(names)))
    chosen: list[tuple[Passage, _Reading]] = []
    stated: set[int] = set()
    for passage in cited:
        # Fewest sentences first: a single sentence that states as much as a pair of them is the quote.
        window = max(_windows(passage, gazetteer), key=lambda w: (len(_covered(w, claimed, names)), -len(w.sentences)))
        found = _covered(window, claimed, names)
        if found - stated:
            chosen.append((passage, window))
            stated |= found
    if stated != wanted:
        missing = [text[c.start : c.end] for i, c in enumerate(claimed) if i not in stated]
        missing += [n.key for i, n in enumerate(names) if len(claimed) + i not in stated]
        numbers = ", ".join(str(p.number) for p in cited)
        return _fail("unsupported", f"{text!r}: no sentence of passage {numbers} states {missing}")
    quotes = tuple(s for _, window in chosen for s in window.sentences)
    return Claim(
        text=text,
        passages=tuple(p.number for p, _ in chosen),
        quotes=quotes,
        highlights=tuple(_highlights(s, claimed, names, gazetteer) for s in quotes),
    )


def verify(
    reply: str,
    passages: Sequence[Passage],
    language: Language,
    gazetteer: Gazetteer,
    *,
    similarity: SentenceSimilarity | None = None,
    min_similarity: float = 1.0,
    max_chars: int = MAX_REPLY_CHARS,
) -> Verdict:
    """Whether every claim of a reply is stated by the sentences it cites, in the question's language."""
    text = reply.strip()
    if not text:
        return _fail("empty", "the reply is empty")
    if len(text) > max_chars:
        return _fail("too_long", f"the reply has {len(text)} characters (at most {max_chars})")
    claims, rest = split_claims(text)
    if not claims:
        return _fail("no_citation", "the reply cites no passage")
    if _HAS_WORD.search(rest.strip(_CLAIM_EDGE)):
        return _fail("uncited", f"the reply ends with text no marker cites: {rest.strip()!r}")
    by_number = {p.number: p for p in passages}
    if not in_language(" ".join(claim for claim, _ in claims), language):
        return _fail("wrong_language", f"the reply is not in the question's language ({language})")
    checked: list[Claim] = []
    for claim, numbers in claims:
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            return _fail("unknown_citation", f"[{unknown[0]}] names no passage (there are {len(passages)})")
        result = _check_claim(claim, [by_number[n] for n in numbers], gazetteer, similarity, min_similarity)
        if isinstance(result, Verdict):
            return result
        checked.append(result)
    return Verdict(ok=True, claims=tuple(checked))
