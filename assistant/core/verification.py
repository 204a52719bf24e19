"""Checking a generated answer against the passages it cites, before anyone sees it.

A reply is cut into claims, each ending in its `[n]` markers, and is written in the question's language (told
over the whole reply). A claim is shown only when one sentence — or two adjacent ones — of each passage it cites
account for all of it: every number by value, with its suffixes, multipliers and spellings ("375тин", "3 миң" /
"3 тысячи" / "3,000", "26,4" / "26.4", "50%" / "50 пайыз"); every name across scripts (transliteration, fuzzy
prefix; countries and months by code); and, when the claim is in the passage's language, every content word
and its negation (`assistant.core.faithfulness`). A claim in another language than its passage cannot be
matched word by word: beyond its numbers, names and negation, the e5 cosine to the sentence vouches for it.
What this cannot catch: a number the sentence does state, attached in the claim to another attribute of it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass

from assistant.core.coverage import Evidence, Gazetteer, Specific, specifics, to_latin
from assistant.core.faithfulness import Word, negates, same_word, sentence_starts, unaccounted, words_of
from assistant.core.language import detect_language, reply_language
from assistant.core.models import Analyzer, Chunk, ChunkSentence, Language
from assistant.core.numbers import NumberValue, numbers_in
from assistant.core.ports import SentenceSimilarity

NO_ANSWER = "NO_ANSWER"
MAX_REPLY_CHARS = 2000
# One marker group after a claim: "[1]", "[1][2]", "[1, 2]", "[1] [3]".
_MARKERS = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_HAS_WORD = re.compile(r"[^\W_]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LOWER_WORD = re.compile(r"[^\W\d_]+")
_NAME_STEM = 5  # letters of a name compared, as coverage compares names
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


def _names(text: str, gazetteer: Gazetteer, named: Set[str]) -> list[Specific]:
    """The names, places, months and acronyms a claim states. A sentence's first word is a name only when it is
    one elsewhere too (written capitalised inside a sentence of the reply or of a passage: `named`); a country
    written in lower case ("kazakhstan", "орусиялык") is still that country."""
    found: dict[tuple[str, str], Specific] = {}
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if words and words[0].strip("«\"'(").lower() in _OPENERS:
            words = words[1:]
        first = words[0].strip("«\"'(") if words else ""
        # A lower-case word in front: the first word counts when it is capitalised.
        sentence = ("x " if first and to_latin(first)[:_NAME_STEM] in named else "") + " ".join(words)
        for specific in specifics(sentence, gazetteer):
            if specific.kind != "number":
                found[(specific.kind, specific.key)] = specific
    for word in _LOWER_WORD.findall(text):
        code = _country(word, gazetteer) if word[0].islower() else None
        if code is not None:
            found[("code", code)] = Specific("code", code)
    return list(found.values())


def _country(word: str, gazetteer: Gazetteer) -> str | None:
    """The country a word names, capitalised or, in Latin letters, not ("kazakhstan"; Kyrgyz and Russian lower-case
    words are adjectives or other words: "орусиялык", "специальности"); never a month ("may" is a verb)."""
    if word[0].islower() and not word.isascii():
        return None
    code = gazetteer.code(word[:1].upper() + word[1:])
    return code if code is not None and len(code) == 2 and code not in gazetteer.implicit else None


def named_words(texts: Sequence[str]) -> set[str]:
    """The (Latin, five-letter) stems of words written capitalised inside a sentence: the texts' names."""
    found: set[str] = set()
    for text in texts:
        starts = sentence_starts(text)
        for match in re.finditer(r"[^\W\d_]+", text):
            word, at = match.group(0), match.start()
            # After an opening quote, a bracket, a dash or a colon a new sentence may begin, capitalised.
            opens = text[max(0, at - 3) : at].rstrip()[-1:] in ("«", '"', "(", "–", "-", ":", ";", "“")
            if word[0].isupper() and len(word) > 1 and at not in starts and not opens:
                found.add(to_latin(word)[:_NAME_STEM])
    return found


@dataclass(frozen=True)
class _Reading:
    """A window of one or two adjacent sentences of a passage, read once."""

    sentences: tuple[ChunkSentence, ...]
    numbers: tuple[NumberValue, ...]
    evidence: Evidence
    codes: frozenset[str]
    words: tuple[Word, ...]  # analysed in the claim's language when the passage is in it, else none
    text: str


def _windows(passage: Passage, gazetteer: Gazetteer, language: str | None, analyze: Analyzer) -> list[_Reading]:
    """Each sentence alone, then each pair of neighbours (a claim may join two)."""
    sentences = passage.sentences
    windows = [(s,) for s in sentences] + list(itertools.pairwise(sentences))
    out = []
    for window in windows:
        text = " ".join(s.text for s in window)
        parts = [p for w in _LOWER_WORD.findall(text) for p in w.split("-")]
        evidence = Evidence.of(text, gazetteer)
        countries = {c for c in (_country(p, gazetteer) for p in parts) if c}
        out.append(
            _Reading(
                sentences=window,
                numbers=tuple(numbers_in(text)),
                evidence=evidence,
                codes=evidence.codes | countries,
                words=tuple(words_of(text, language, analyze)) if language else (),
                text=text,
            )
        )
    return out


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


def _states(window: _Reading, name: Specific) -> bool:
    return name.key in window.codes if name.kind == "code" else window.evidence.covers(name)


@dataclass(frozen=True)
class _Items:
    """What a claim states that its cited sentences must account for: its numbers, its names (countries and
    months by code), and — when claim and passage share a language — its content words."""

    numbers: Sequence[NumberValue]
    names: Sequence[Specific]
    words: Sequence[Word]
    gazetteer: Gazetteer

    def covered(self, window: _Reading) -> set[int]:
        """Which items (numbers, then names, then words, by position) a window accounts for."""
        found = {i for i, c in enumerate(self.numbers) if any(c.matches(n) for n in window.numbers)}
        base = len(self.numbers)
        found |= {base + i for i, name in enumerate(self.names) if _states(window, name)}
        base += len(self.names)
        for i, word in enumerate(self.words):
            country = _country(word.text, self.gazetteer)
            if (country is not None and country in window.codes) or any(same_word(word, s) for s in window.words):
                found.add(base + i)
        return found

    def describe(self, text: str, indices: Set[int]) -> list[str]:
        """The items at these positions, as the claim writes them."""
        out = [text[c.start : c.end] for i, c in enumerate(self.numbers) if i in indices]
        base = len(self.numbers)
        out += [n.key for i, n in enumerate(self.names) if base + i in indices]
        base += len(self.names)
        return out + [w.text for i, w in enumerate(self.words) if base + i in indices]


def _language_of(passage: Passage) -> str:
    return passage.chunk.lang if passage.chunk.lang in ("ky", "ru", "en") else detect_language(passage.chunk.text)


def _check_claim(
    text: str,
    cited: Sequence[Passage],
    language: Language,
    gazetteer: Gazetteer,
    checking: _Checking,
) -> Claim | Verdict:
    """The claim with its quotes, or the failing verdict. With several markers ("[1][2]") each cited passage
    lends its one window that accounts for the most; together they must account for everything."""
    same_language = all(_language_of(p) == language for p in cited)
    content = [w for w in words_of(text, language, checking.analyze) if w.stem is not None]
    items = _Items(
        numbers=numbers_in(text),
        names=_names(text, gazetteer, checking.named),
        words=content if same_language else [],
        gazetteer=gazetteer,
    )
    closeness: dict[tuple[str, int], float] = {}
    if not same_language:
        # e5 cosines of the claim to the cited sentences (their stored vectors), as the answerer scores them.
        candidates = [(p, s) for p in cited for s in p.sentences]
        if checking.similarity is None or not candidates:
            return _fail("unsupported", f"{text!r} is in another language than its passage and nothing can vouch")
        scores = checking.similarity.similarities(text, [(p.chunk, s.text) for p, s in candidates])
        closeness = {(s.chunk_id, s.start): score for (_, s), score in zip(candidates, scores, strict=True)}

    def close(window: _Reading) -> float:
        return max((closeness.get((s.chunk_id, s.start), 0.0) for s in window.sentences), default=0.0)

    wanted = set(range(len(items.numbers) + len(items.names) + len(items.words)))
    chosen: list[tuple[Passage, _Reading]] = []
    stated: set[int] = set()
    numbers = ", ".join(str(p.number) for p in cited)
    if not wanted and same_language:
        return _fail("unsupported", f"nothing in {text!r} can be checked against passage {numbers}")
    readings = [(p, _windows(p, gazetteer, language if same_language else None, checking.analyze)) for p in cited]
    if not wanted:  # nothing but e5 to go by: the closest window of all
        chosen.append(max(((p, w) for p, ws in readings for w in ws), key=lambda pw: close(pw[1])))
    for passage, windows in readings if wanted else ():
        # Fewest sentences first: a single sentence that states as much as a pair of them is the quote.
        window = max(windows, key=lambda w: (len(items.covered(w)), close(w), -len(w.sentences)))
        found = items.covered(window)
        if found - stated:
            chosen.append((passage, window))
            stated |= found
    if stated != wanted:
        missing = items.describe(text, wanted - stated)
        return _fail("unsupported", f"{text!r}: no sentence of passage {numbers} accounts for {missing}")
    windows = [w for _, w in chosen]
    if same_language:
        source = [s for w in windows for s in w.words]
        _, flipped = unaccounted(items.words, source, set())
        if flipped or (negates(text, language) and not any(negates(w.text, language) for w in windows)):
            denied = [w.text for w in flipped] or ["a negation"]
            return _fail("unsupported", f"{text!r}: passage {numbers} does not agree on {denied}")
    else:
        best = max(close(w) for w in windows)
        if best < checking.min_similarity:
            return _fail("unsupported", f"{text!r} is not close to the sentence it cites ({best:.2f})")
        if negates(text, language) != any(negates(w.text, _language_of(p)) for p, w in chosen):
            return _fail("unsupported", f"{text!r} and passage {numbers} disagree on a negation")
    quotes = tuple(s for w in windows for s in w.sentences)
    return Claim(
        text=text,
        passages=tuple(p.number for p, _ in chosen),
        quotes=quotes,
        highlights=tuple(_highlights(s, items.numbers, items.names, gazetteer) for s in quotes),
    )


@dataclass(frozen=True)
class _Checking:
    """What every claim of a reply is checked with."""

    analyze: Analyzer
    named: Set[str]
    similarity: SentenceSimilarity | None
    min_similarity: float


def verify(
    reply: str,
    passages: Sequence[Passage],
    language: Language,
    gazetteer: Gazetteer,
    analyze: Analyzer,
    *,
    similarity: SentenceSimilarity | None = None,
    min_similarity: float = 1.0,
    max_chars: int = MAX_REPLY_CHARS,
) -> Verdict:
    """Whether every claim of a reply is accounted for by the sentences it cites, in the question's language;
    `min_similarity` is the e5 cosine a claim must reach to a sentence in another language."""
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
    written = reply_language(" ".join(claim for claim, _ in claims))
    if written != language:
        return _fail("wrong_language", f"the reply is in {written}, not the question's language ({language})")
    checking = _Checking(
        analyze=analyze,
        named=named_words([text] + [s.text for p in passages for s in p.sentences]),
        similarity=similarity,
        min_similarity=min_similarity,
    )
    checked: list[Claim] = []
    for claim, numbers in claims:
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            return _fail("unknown_citation", f"[{unknown[0]}] names no passage (there are {len(passages)})")
        result = _check_claim(claim, [by_number[n] for n in numbers], language, gazetteer, checking)
        if isinstance(result, Verdict):
            return result
        checked.append(result)
    return Verdict(ok=True, claims=tuple(checked))
