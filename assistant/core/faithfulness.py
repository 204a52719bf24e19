"""Whether the sentences a claim cites account for each of its words, and agree with it on negation.

A claim's content words — every word but a short closed-class list of function words and connectives per
language — must each meet a word of the cited sentences: the same stem (the BM25 analyser's Kyrgyz-aware and
Snowball stemmers), or a shared beginning of five letters (Kyrgyz verbs inflect past what the stemmer strips:
"бөлүнөт" / "бөлүнмөкчү"), or the same name across scripts. A negated word must meet a negated word, a plain
one a plain one: Kyrgyz negative verb forms (-ба/-бе/-па/-пе/-бо/-бө/-по/-пө and their endings), "эмес", "жок";
Russian "не", "нет", "ни"; English "not", "no", "never", "n't".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from assistant.core.coverage import to_latin
from assistant.core.models import Analyzer

# Function words and connectives a paraphrase adds or drops without changing what it states (closed classes of
# each language, as any grammar lists them: pronouns, postpositions, conjunctions, particles, auxiliaries).
_FUNCTION_WORDS = {
    "ky": """
        жана менен үчүн боюнча бул ал алар анын аны ага андан анда аларды алардын аларга аларда да дагы де деле
        ошондой ошол ошону ошонун ошого ушул ушундай мындай андай эле деп деген экен экени экенин же бирок
        эми эгер эгерде анткени себеби ошондуктан тууралуу жөнүндө аркылуу ичинен тарабынан сайын карата ал эми
        болуп болгон болот болду болушат ошентип мында ошентсе да ары ошону менен ар бир буга мына бардыгы
        бардык баары ошондо ушуга ушунун ошого ошол эле тегерегинде жакын болжол чейин кийин ичинде
        """,
    "ru": """
        и в во на с со к ко у о об от до из за по при про для без над под через между а но или ли же бы
        что чтобы как так также тоже это этот эта эти того этого этой этом этих который которая которое которые
        которых которой он она оно они его ее её их им ими ему мы вы был была были было быть есть будет будут
        является являются там тут здесь всего около примерно свыше более менее ещё еще уже именно а также
        данный данная данные каждый каждая каждое каждые ежегодно этому своих свои свой своей своего
        """,
    "en": """
        a an the of and or in on at to for from by with as is are was were be been being it its this that these
        those which who whom whose there their they them than then so such also into about around approximately
        some each every per has have had will would shall can may might must both either own other up out over
        more most nearly almost roughly just only what when where how s while although though whereas however
        """,
}
FUNCTION_WORDS = {language: frozenset(words.split()) for language, words in _FUNCTION_WORDS.items()}

_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# "doesn't" → "does not", "can't" → "can not", "won't" → "will not" before the words are cut.
_CONTRACTION = re.compile(r"(?i)\b(can|won|[a-z]+)n['’]t\b")
# A Kyrgyz negative verb: a stem, the negative suffix, then a verbal ending (the suffix alone is an imperative,
# too rare in a claim, and too often the end of a noun: "тажрыйба").
_KY_NEGATIVE = re.compile(
    r"^[а-яөүң]{2,}?(?:ба|бе|бо|бө|па|пе|по|пө)"
    r"(?:й|йт|йм|йбыз|йсың|йсыз|йт(?:ур)?|[гк][аеоө]н[а-яөүң]*|д[ыиуү][а-яң]{0,2}|с|с[аеоө][а-яң]{0,3}|"
    r"ш[ыиуү][а-яөүң]*|ч[уү])$"
)
_KY_NOT_NEGATIVE = ("көбөй",)  # "көбөйт" (make more) reads as a negative verb by its letters
_PARTICLES_AFTER = frozenset({"эмес", "жок"})  # Kyrgyz: they deny the word before them
_PARTICLES_BEFORE = frozenset({"не", "ни", "нет", "not", "no", "never", "cannot"})  # the word after them
_ALL_PARTICLES = _PARTICLES_AFTER | _PARTICLES_BEFORE
# Kyrgyz verb endings (tense, person, participle, converb, verbal noun, mood, voice), in every harmony variant:
# stripped, two forms of one verb meet at its root ("коюлду" / "коюшту" / "коюлган" → "кою").
_KY_VERB_ENDING_WORDS = """
    ды ди ду дү ты ти ту тү ган ген гон гөн кан кен кон көн ат ет от өт йт ышат ишет ушат үшөт шат шет шот шөт
    ып ип уп үп уу үү оо өө мак мек мок мөк макчы мекчи мокчу мөкчү са се со сө ыш иш уш үш ыл ил ул үл ын ин
    ун үн дыр дир дур дүр тыр тир тур түр йм йбыз
"""
_KY_VERB_ENDINGS = sorted(
    {
        *(a + b for a in ("", "ы", "и", "у", "ү") for b in ("шты", "шти", "шту", "штү")),
        *_KY_VERB_ENDING_WORDS.split(),
    },
    key=len,
    reverse=True,
)
_VOWELS = frozenset("аеёиоөуүыэюя")
_KY_ROOT = 3  # letters a root keeps at least
# Kyrgyz auxiliary verbs: after a converb in -ып they mark aspect ("алып жатат", "иштеп келет", "тандалып алынды").
_KY_AUXILIARIES = ("жат", "кел", "тур", "жүр", "ал", "кал", "кет", "бер", "чык", "сал", "кой", "бол")
_PREFIX = 5  # letters two forms of a word share at least, when their stems differ
_FUZZY = 80


@dataclass(frozen=True)
class Word:
    """A word of a claim or a cited sentence: as written, its stem (None for a function word), whether it is
    negated, and where it stands."""

    text: str
    stem: str | None
    negated: bool
    start: int
    end: int
    root: str | None = None  # a Kyrgyz word's verb root

    @property
    def latin(self) -> str:
        return to_latin(self.text)


def ky_verb_root(word: str) -> str:
    """A Kyrgyz word without its verb endings, as long as three letters remain."""
    root = word
    stripped = True
    while stripped:
        stripped = False
        for ending in _KY_VERB_ENDINGS:
            if root.endswith(ending) and len(root) - len(ending) >= _KY_ROOT:
                root, stripped = root[: -len(ending)], True
                break
        # The passive, reflexive and reciprocal of a vowel-final root are one letter: "кою-л-ду", "оку-ш-ту".
        if not stripped and root[-1:] in "лнш" and root[-2:-1] in _VOWELS and len(root) > _KY_ROOT:
            root, stripped = root[:-1], True
    return root


def _ky_auxiliary(word: str, previous: str) -> bool:
    """Whether a Kyrgyz word is an auxiliary verb after a converb ("жатат" in "алып жатат")."""
    return previous.endswith(("ып", "ип", "уп", "үп")) and word.startswith(_KY_AUXILIARIES) and len(word) <= 9


def ky_negative(word: str) -> bool:
    """Whether a lower-case Kyrgyz word is a negative verb form ("бөлүнбөйт", "бербеген", "ашпайт")."""
    return bool(_KY_NEGATIVE.match(word)) and not word.startswith(_KY_NOT_NEGATIVE)


def _expanded(text: str) -> str:
    """English contractions spelled out, keeping every other character where it was (same length)."""

    def spell(match: re.Match[str]) -> str:
        base = {"can": "can", "won": "wil"}.get(match.group(1).lower(), match.group(1))
        written = f"{base} not"
        return written[: len(match.group(0))].ljust(len(match.group(0)))

    return _CONTRACTION.sub(spell, text)


def words_of(text: str, language: str, analyze: Analyzer) -> list[Word]:
    """The words of a text with stems in `language` (a function word, a negation particle and a word holding a
    digit get none: numbers are checked by value) and which are negated."""
    text = _expanded(text)
    raw = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    function = FUNCTION_WORDS.get(language, frozenset())
    stems: list[str | None] = []
    for word, _, _ in raw:
        lower = word.lower()
        if any(ch.isdigit() for ch in word) or lower in function or lower in _ALL_PARTICLES:
            stems.append(None)
            continue
        previous = raw[len(stems) - 1][0].lower() if stems else ""
        if language == "ky" and _ky_auxiliary(lower, previous):
            stems.append(None)
            continue
        analysed = analyze(word, language)
        stems.append(analysed[0] if analysed else None)
    negated = [ky_negative(w.lower()) and not w[0].isupper() for w, _, _ in raw]
    for i, (word, _, _) in enumerate(raw):
        lower = word.lower()
        if lower in _PARTICLES_AFTER:
            target = next((j for j in range(i - 1, -1, -1) if stems[j] is not None), None)
        elif lower in _PARTICLES_BEFORE:
            target = next((j for j in range(i + 1, len(raw)) if stems[j] is not None), None)
            if target is None and lower == "нет":  # "мест нет": nothing follows, the word before is denied
                target = next((j for j in range(i - 1, -1, -1) if stems[j] is not None), None)
        else:
            continue
        if target is not None:
            negated[target] = not negated[target]
    return [
        Word(
            text=w,
            stem=s,
            negated=n,
            start=a,
            end=b,
            root=ky_verb_root(w.lower()) if language == "ky" and s is not None and not n else None,
        )
        for (w, a, b), s, n in zip(raw, stems, negated, strict=True)
    ]


def negates(text: str, language: str) -> bool:
    """Whether a text negates anything: a negation particle of any of the three languages, or a Kyrgyz negative
    verb (the test for a claim and a sentence in different languages, where words cannot be paired)."""
    lowered = [w.lower() for w in _WORD.findall(_expanded(text))]
    return any(w in _ALL_PARTICLES for w in lowered) or (language == "ky" and any(ky_negative(w) for w in lowered))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def same_word(claim: Word, source: Word) -> bool:
    """Whether two words of one language are one word: the same stem, or forms sharing their first five letters
    (or the whole of a stem of four), or a name across scripts by fuzzy prefix."""
    if source.stem is None or claim.stem is None:
        return False
    if claim.stem == source.stem:
        return True
    if claim.root is not None and claim.root == source.root:
        return True
    for a, b in ((claim.stem, source.stem), (claim.text.lower(), source.text.lower())):
        shared = _common_prefix(a, b)
        if shared >= _PREFIX or (shared >= 4 and shared == min(len(a), len(b))):
            return True
    if claim.text[0].isupper() and source.text[0].isupper():
        stem = claim.latin[:_PREFIX]
        return len(source.latin) >= len(stem) - 1 and fuzz.ratio(stem, source.latin[: len(stem)]) >= _FUZZY
    return False


def unaccounted(claim: Sequence[Word], source: Sequence[Word], accounted: set[int]) -> tuple[list[Word], list[Word]]:
    """The claim's content words no source word accounts for, and those only a word of the other polarity does
    (a negation the source does not make, or drops). `accounted` are claim word indices already checked (names,
    countries, months)."""
    missing: list[Word] = []
    flipped: list[Word] = []
    for i, word in enumerate(claim):
        if word.stem is None or i in accounted:
            continue
        meeting = [s for s in source if same_word(word, s)]
        if not meeting:
            missing.append(word)
        elif all(s.negated != word.negated for s in meeting):
            flipped.append(word)
    return missing, flipped


def sentence_starts(text: str) -> set[int]:
    """Where the sentences of a text begin (their first word is capitalised whatever it is)."""
    return {0} | {m.end() for m in _SENTENCE_END.finditer(text)}
