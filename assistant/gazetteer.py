"""The gazetteer of country and month names in Kyrgyz, Russian and English, from maintained sources.

Country names come from two sources, because each knows names the other lacks: Unicode CLDR through Babel
(Kyrgyz "Россия", "Кытай") and the ISO 3166 translations of Debian's iso-codes through pycountry (Kyrgyz
"Орус Федерациясы", which the documents' "Орусия" shares a stem with). Month names come from CLDR.
"""

from __future__ import annotations

import gettext
from collections import defaultdict
from functools import lru_cache

from assistant.core.coverage import Gazetteer

LANGUAGES = ("ky", "ru", "en")
_VOWELS = set("аяеэиыоуюёөүaeiouy")
_MIN_STEM = 4


def _stems(word: str, minimum: int = _MIN_STEM) -> set[str]:
    """A name's word as written, and without its final vowels when that leaves five letters or more (Russian
    and English inflect there: "Россия" → "росси" for "России"); shorter cuts would match common words."""
    word = word.lower().strip(".,()«»\"'’")
    stems = {word} if len(word) >= minimum else set()
    cut = word
    while len(cut) > 5 and (cut[-1] in _VOWELS or cut[-1] in "ьй"):
        cut = cut[:-1]
    if len(cut) >= 5:
        stems.add(cut)
    return stems


def _names() -> list[tuple[str, str]]:
    """(name, code) pairs: every country name in the three languages, and every month name."""
    from babel import Locale

    pairs: list[tuple[str, str]] = []
    for language in LANGUAGES:
        locale = Locale(language)
        pairs += [(name, code) for code, name in locale.territories.items() if code in _country_codes()]
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                pairs += [(name, f"M{number:02d}") for number, name in locale.months[context][width].items()]
    pairs += _iso_country_names()
    return pairs


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    """ISO 3166 country codes (CLDR also names unions and regions: "EU", "UN", "QO" are no countries)."""
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


def _iso_country_names() -> list[tuple[str, str]]:
    import pycountry

    pairs: list[tuple[str, str]] = []
    for language in LANGUAGES:
        translate = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
        for country in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                name = getattr(country, attribute, None)
                if name:
                    pairs.append((translate.gettext(name), country.alpha_2))
    return pairs


@lru_cache(maxsize=4)
def build_gazetteer(implicit: frozenset[str] = frozenset()) -> Gazetteer:
    """Stems of every word of every name; a stem two codes share ("республик", "south") names neither.

    `implicit` codes (the deployment's own country) are known but never a specific: every document is about it.
    """
    codes: dict[str, set[str]] = defaultdict(set)
    whole: dict[str, set[str]] = defaultdict(set)  # stems that are a whole one-word name ("Кытай", "АКШ")
    for name, code in _names():
        words = name.replace("-", " ").split()
        for word in words:
            # Month names may be short ("май", "May"); a country's name of three letters would match common words.
            for stem in _stems(word, 3 if code.startswith("M") else _MIN_STEM):
                if not any(ch.isdigit() for ch in stem):
                    codes[stem].add(code)
                    if len(words) == 1:
                        whole[stem].add(code)
    stems = {}
    for stem, found in codes.items():
        # "Кытай" is also a word of "Гонконг Кытай ААА": the country whose whole name it is wins.
        owners = found if len(found) == 1 else whole.get(stem, set())
        if len(owners) == 1:
            stems[stem] = next(iter(owners))
    return Gazetteer(stems=stems, implicit=implicit)
