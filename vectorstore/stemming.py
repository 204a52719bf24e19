"""Lexical normalisation for the BM25 index: tokenizer, stopwords and stemmers for Kyrgyz, Russian and English."""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from itertools import product
from typing import Protocol

import snowballstemmer

from assistant.core.numbers import join_digit_groups

# Part of the BM25 index identity: bump whenever tokenization, stopwords or stemming rules change.
STEMMER_VERSION = "1.1"

# --------------------------------------------------------------------------- tokenizer

# Variant glyphs for Kyrgyz letters seen in documents typed with Khakas/Altai keyboard layouts.
_CHAR_MAP = str.maketrans({"ё": "е", "ӊ": "ң", "ӈ": "ң", "ҥ": "ң", "ӧ": "ө", "ӱ": "ү"})
_TOKEN = re.compile(r"[^\W_]+")


def _normalize(text: str) -> str:
    """NFC, lowercase, ё→е, variant Kyrgyz glyphs unified, invisible format and stray combining marks removed."""
    text = unicodedata.normalize("NFC", text).lower().translate(_CHAR_MAP)
    # Soft hyphens / zero-width spaces (Cf) split words in PDF exports; leftover Mn marks are stress accents.
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Mn"))


def tokenize(text: str) -> list[str]:
    """Split text into normalised word tokens (letter/digit runs; space-grouped thousands are joined)."""
    # "1 447 717" and "16 000дей": spaced thousands belong to one number, as the answerers read them.
    return _TOKEN.findall(join_digit_groups(_normalize(text)))


# --------------------------------------------------------------------------- Kyrgyz stemmer


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a word-list literal."""
    return frozenset(text.split())


_VOWELS = frozenset("аеёиоөуүыэюя")
_FRONT_VOWELS = frozenset("еиэөү")
_HIGH_VOWELS = frozenset("ыиуү")
_VOICELESS = frozenset("кпстфхцчшщ")
_LETTER = re.compile(r"[^\W\d_]")

# Vowel harmony: the low (A) and high (I) suffix vowel that follows each stem vowel.
_LOW = dict(zip("аыяуюоёеиэөү", "аааааооеееөө", strict=True))
_HIGH = dict(zip("аыяуюоёеиэөү", "ыыыууууиииүү", strict=True))

# Consonant alternants by the preceding sound: (vowel, р/й, other voiced, voiceless).
_ALTERNANTS = {
    "L": ("л", "л", "д", "т"),  # plural -лар, -лык, -луу
    "D": ("д", "д", "д", "т"),  # locative, ablative, similative
    "N": ("н", "д", "д", "т"),  # genitive, accusative
    "G": ("г", "г", "г", "к"),  # dative, -дагы
}
_ANY_VOWEL_SEEDS = "аоуеө"  # one vowel per harmony class, for stems whose harmony is unknown


def _sound_class(ch: str) -> int:
    """Index into _ALTERNANTS for the sound a suffix attaches to."""
    if ch in _VOWELS:
        return 0
    if ch in "рй":
        return 1
    return 3 if ch in _VOICELESS else 2


def _realize(template: str, last_vowel: str, prev: str) -> str:
    """Spell a suffix template after a stem with this last vowel and final sound."""
    out = []
    for t in template:
        if t == "A":
            ch = _LOW[last_vowel]
        elif t == "I":
            ch = _HIGH[last_vowel]
        elif t == "U":
            ch = "ү" if last_vowel in _FRONT_VOWELS else "у"
        elif t == "O":
            ch = "ө" if last_vowel in _FRONT_VOWELS else "о"
        elif t in _ALTERNANTS:
            ch = _ALTERNANTS[t][_sound_class(prev)]
        else:
            ch = t
        if ch in _VOWELS:
            last_vowel = ch
        out.append(ch)
        prev = ch
    return "".join(out)


def _surfaces(template: str, stem: str) -> set[str]:
    """All spellings of a suffix template allowed after this stem."""
    vowels = [ch for ch in stem if ch in _VOWELS]
    if vowels:
        return {_realize(template, vowels[-1], stem[-1])}
    # Vowel-less abbreviations (КМШнын) are suffixed by how their letter names sound, which we cannot know.
    return {_realize(template, v, p) for v, p in product(_ANY_VOWEL_SEEDS, "ардк")}


@dataclass(frozen=True)
class _Suffix:
    """A suffix template, its slot in the word and what the stem before it must look like."""

    template: str  # upper-case Latin letters are archiphonemes: A I U O vowels, L D N G consonants
    slot: int
    after: str = ""  # "V" vowel, "C" consonant, "P" a 3rd-person possessive vowel (ы/и/у/ү)
    min_stem: int = 2


# Slots from the end of a word inwards; a stripped suffix only lets inner slots follow.
_CASE, _POSS, _PLURAL, _DERIV = 4, 3, 2, 1

_SUFFIXES = sorted(
    [
        *(_Suffix(t, _CASE) for t in ("NIн", "NI", "GA", "DA", "DAн", "DAй", "DAGI")),
        # After a 3rd-person possessive the cases take n-forms: квотасы-на, -нда, -нан, -н.
        *(_Suffix(t, _CASE, "P") for t in ("н", "нA", "ндA", "нAн", "ндAGI")),
        _Suffix("I", _POSS, "C"),
        _Suffix("сI", _POSS, "V"),
        _Suffix("IбIз", _POSS, "C"),
        _Suffix("бIз", _POSS, "V"),
        _Suffix("IңIз", _POSS, "C"),
        _Suffix("ңIз", _POSS, "V"),
        _Suffix("LAр", _PLURAL),
        *(_Suffix(t, _DERIV, min_stem=3) for t in ("LIк", "LUU", "сIз")),
        # -чы after a consonant is too often a ч-final stem plus possessive (күчү, көрсөткүчү).
        _Suffix("чI", _DERIV, "V", min_stem=3),
        # Verbal nouns: бер-үү, оку-у, баала-оо, изилде-өө.
        *(_Suffix(t, _DERIV, "C") for t in ("UU", "OO")),
    ],
    key=lambda s: -len(s.template),
)

# Looks inflected but is a lexical word (or would collide with an unrelated stem if stripped).
_PROTECTED = _words(
    """
    эки алты жети элүү чейин кийин жакын бүгүн мурун орун алтын ашуун ары бери жылуу улуу аралык бардык башка
    """
)
# Place names in -стан end like an ablative (Кыргызстан is not Кыргыз + -стан; класс-тан is).
_PROTECTED_ENDING = re.compile(r"[^с]стан$")
# Stems changed by the suffix (vowel loss), not by ordinary harmony.
_IRREGULAR = {"балдар": "бала", "орду": "орун", "мурду": "мурун"}
# Intervocalic к/п are written г/б (китеп → китеби); loans in -лог/-гог keep their г.
_DEVOICE = {"г": "к", "б": "п"}
_KEEP_VOICED = ("лог", "гог")
_NUMBER_WITH_SUFFIX = re.compile(r"(\d+)[^\W\d_]+")


def _context_ok(stem: str, after: str, min_stem: int) -> bool:
    """Whether a stem may stand before a suffix, and is long enough to keep."""
    if len(stem) < min_stem or not (len(stem) >= 3 or any(ch in _VOWELS for ch in stem)):
        return False
    last = stem[-1]
    # Two-letter vowel-final stems are rare (ээ is one), but stripping down to them is common (са-ны, бу-га).
    if last in _VOWELS and len(stem) < 3 and stem[0] != last:
        return False
    if after == "V":
        return last in _VOWELS
    if after == "C":
        return last not in _VOWELS and bool(_LETTER.match(last))
    if after == "P":
        return last in _HIGH_VOWELS and len(stem) >= 3
    return True


def _undo_voicing(stem: str) -> str:
    """Restore a final к/п that was voiced between vowels before a vowel suffix."""
    if len(stem) >= 3 and stem[-1] in _DEVOICE and stem[-2] in _VOWELS and not stem.endswith(_KEEP_VOICED):
        return stem[:-1] + _DEVOICE[stem[-1]]
    return stem


def _strip_once(stem: str, slot: int) -> tuple[str, int] | None:
    """Remove the longest suffix allowed after the last stripped slot, or None."""
    for suffix in _SUFFIXES:
        if not (suffix.slot < slot or suffix.slot == slot == _DERIV):
            continue
        size = len(suffix.template)
        base = stem[:-size]
        if len(stem) <= size or not _context_ok(base, suffix.after, suffix.min_stem):
            continue
        if stem[-size:] in _surfaces(suffix.template, base):
            if suffix.template[0] in "AIUO":
                base = _undo_voicing(base)
            return base, suffix.slot
    return None


def _is_protected(stem: str) -> bool:
    """Whether a stem must be left as it is."""
    return stem in _PROTECTED or _PROTECTED_ENDING.search(stem) is not None


# саны is сан+ы or са+ны, and маанилүү stops at маани while bare маани looks possessive: cutting a
# vowel-preceded final н and then a consonant-preceded final ы/и/у/ү from every stem sends all readings to one stem.
def _merge_ambiguous_ending(stem: str) -> str:
    """Cut endings that are ambiguous between stem and suffix (final н after a vowel, final high vowel)."""
    if _is_protected(stem):
        return stem
    if stem.endswith("н") and stem[-2:-1] in _VOWELS and len(stem) > 3:
        stem = stem[:-1]
    if stem[-1:] in _HIGH_VOWELS and _context_ok(stem[:-1], "C", 2):
        stem = _undo_voicing(stem[:-1])
    return stem


@functools.lru_cache(maxsize=65536)
def stem_kyrgyz(word: str) -> str:
    """Strip Kyrgyz case, possessive, plural and common derivational suffixes from one word."""
    word = _normalize(word).rstrip("ь")
    number = _NUMBER_WITH_SUFFIX.fullmatch(word)
    if number:
        return number.group(1)
    stem, slot = word, _CASE + 1
    while not _is_protected(stem):
        if stem in _IRREGULAR:
            return _IRREGULAR[stem]
        stripped = _strip_once(stem, slot)
        if stripped is None:
            break
        stem, slot = stripped
    return _merge_ambiguous_ending(stem)


# --------------------------------------------------------------------------- language dispatch

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]")
_KYRGYZ_ONLY = re.compile(r"[ңөү]")


class _Stemmer(Protocol):
    """The part of a Snowball stemmer used here."""

    def stemWord(self, word: str) -> str: ...


_SNOWBALL: dict[str, _Stemmer] = {}
# Snowball stemmers keep per-call state on the instance, so calls on a shared instance are serialised.
_SNOWBALL_LOCK = threading.Lock()


def _snowball(language: str, word: str) -> str:
    """Stem with a lazily created, shared Snowball stemmer."""
    with _SNOWBALL_LOCK:
        stemmer = _SNOWBALL.get(language)
        if stemmer is None:
            stemmer = _SNOWBALL[language] = snowballstemmer.stemmer(language)
        return stemmer.stemWord(word)


def _is_russian(lang: str) -> bool:
    """Whether a language code means Russian."""
    return lang.strip().lower() in ("ru", "rus", "russian")


@functools.lru_cache(maxsize=131072)
def stem(word: str, lang: str) -> str:
    """Stem one token: Latin → Snowball English, Cyrillic → Snowball Russian if lang is ru, else Kyrgyz."""
    word = _normalize(word)
    number = _NUMBER_WITH_SUFFIX.fullmatch(word)
    if number and _CYRILLIC.search(word):
        return number.group(1)
    if _CYRILLIC.search(word):
        if _is_russian(lang) and not _KYRGYZ_ONLY.search(word):
            return _snowball("russian", word)
        return stem_kyrgyz(word)
    if _LATIN.search(word):
        return _snowball("english", word)
    return word


# --------------------------------------------------------------------------- stopwords and analysis

# Function words, pronouns and question words: they match everywhere and say nothing about the topic.
_STOP_KY = _words(
    """
    жана менен үчүн боюнча бул ал алар анын аны ага андан анда аларды алардын аларга аларда да дагы де деле
    ошондой ошол ошону ошонун ошого ушул ушундай мындай андай эле болуп болгон болот болду болсо деп деген
    деди дейт экен экенин эмес же бирок эми эгер эгерде анткени себеби ошондуктан тууралуу жөнүндө аркылуу
    ичинен тарабынан сайын карата биз биздин бизге бизди бизде сиз сиздин сиздер мен сен а ар мына абдан өтө эң
    канча канчасы канчага канчалык кандай кайсы кайда качан кантип ким кимдер эмне эмнеге барбы
    """
)
_STOP_RU = _words(
    """
    и в во на с со к ко у о об от до из за по при про для без над под через между а но или ли же бы не ни
    что чтобы как так также это этот эта эти того этого который которая которые которых он она оно они его
    ее их им мы вы я был была были было быть есть будет сколько какой какая какие каких какое кто где когда
    куда почему зачем каков
    """
)
_STOP_EN = _words(
    """
    a an the of and or in on at to for from by with as is are was were be been it its this that these those
    which what who whom when where why how many much do does did there their they we our you your not into
    about than then so such also
    """
)


def _is_stopword(token: str, lang: str) -> bool:
    """Check a lowercased surface token against the stopword list of its script and language."""
    if _CYRILLIC.search(token):
        russian = _is_russian(lang) and not _KYRGYZ_ONLY.search(token)
        return token in (_STOP_RU if russian else _STOP_KY)
    return token in _STOP_EN


def analyze(text: str, lang: str) -> list[str]:
    """Tokenize, drop stopwords and stem: the terms BM25 indexes and queries with."""
    return list(_analyzed(text, lang))


@functools.lru_cache(maxsize=4096)  # the answerer reads the same retrieved sentences question after question
def _analyzed(text: str, lang: str) -> tuple[str, ...]:
    return tuple(stem(token, lang) for token in tokenize(text) if not _is_stopword(token, lang))
