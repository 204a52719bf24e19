"""Language identification for ky / ru / en text, tuned so Kyrgyz is not mistaken for Russian.

The word lists are closed classes — function words, pronouns, question words and frequent suffixes of each
language, as any grammar lists them — never words of the documents.
"""

from __future__ import annotations

import re

from assistant.core.models import Language

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_KY_LETTERS = set("ңөүҢӨҮ")
_RU_LETTERS = set("щъёЩЪЁ")
# Frequent Kyrgyz function and question words with no Kyrgyz-only letters (so short questions still count).
_KY_WORDS = {
    "жана",
    "менен",
    "боюнча",
    "канча",
    "качан",
    "ким",
    "кайсы",
    "кайда",
    "эмне",
    "кандай",
    "барбы",
    "жылы",
    "деп",
    "бул",
    "ал",
    "алар",
    "да",
    "дагы",
    "эле",
    "ошондой",
    "болуп",
    "болот",
    "керек",
    "ичинен",
    "канчасы",
    "канчага",
    "кимдер",
    "эмнеге",
    "жок",
    "бар",
    "тууралуу",
    "жөнүндө",
    "чейин",
    "кийин",
    "мурун",
    "аркылуу",
    "ошол",
    "бир",
    "эки",
    "үч",
    "жыл",
}
_RU_WORDS = {
    "и",
    "в",
    "во",
    "на",
    "что",
    "как",
    "сколько",
    "для",
    "по",
    "из",
    "с",
    "со",
    "не",
    "это",
    "ли",
    "когда",
    "кто",
    "где",
    "какие",
    "какой",
    "какая",
    "каких",
    "чем",
    "от",
    "до",
    "за",
    "при",
    "или",
    "есть",
    "был",
    "была",
    "были",
    "его",
    "их",
    "она",
    "они",
    "о",
    "об",
    "у",
    "к",
    "же",
    "бы",
    "также",
    "который",
    "которые",
    "можно",
    "нужно",
}
_RU_ENDINGS = ("ого", "его", "ых", "их", "ий", "ая", "ое", "ую", "ов", "ости", "ость", "ции", "ция", "ться", "ется")
_KY_ENDINGS = (
    "нын",
    "дын",
    "тын",
    "нин",
    "дин",
    "тин",
    "лар",
    "лер",
    "дар",
    "дер",
    "тар",
    "тер",
    "га",
    "ге",
    "да",
    "де",
)
# Russian written in Latin letters ("skolko mest v vuzah") is answered in Russian: its question words and
# prepositions, transliterated (closed classes, as any Russian grammar lists them).
_TRANSLIT_RU = {
    "skolko",
    "skolka",
    "kogda",
    "kto",
    "gde",
    "kakie",
    "kakoy",
    "kakaya",
    "kak",
    "chto",
    "pochemu",
    "zachem",
    "v",
    "vo",
    "na",
    "dlya",
    "iz",
    "po",
    "ot",
    "do",
    "pri",
    "est",
    "li",
    "eto",
    "u",
    "s",
}
# Kyrgyz typed in Latin letters: its question words and postpositions.
_TRANSLIT_KY = {
    "kancha",
    "kachan",
    "kim",
    "kimder",
    "kaysy",
    "kaisy",
    "kayda",
    "kaida",
    "emne",
    "kandai",
    "kandaj",
    "kantip",
    "barby",
    "jana",
    "menen",
    "boyuncha",
    "boiuncha",
}
_EN_WORDS = {"the", "of", "and", "how", "many", "what", "when", "who", "which", "is", "are", "in", "for", "to"}


def detect_language(text: str) -> Language:
    """Return "ky", "ru" or "en" for a question or passage (Kyrgyz wins ties among Cyrillic text)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return "ky"
    cyrillic = sum(1 for w in words if re.search("[а-яёңөү]", w))
    if cyrillic * 2 < len(words):
        translit = sum(1 for w in words if w in _TRANSLIT_RU)
        english = sum(1 for w in words if w in _EN_WORDS)
        if sum(1 for w in words if w in _TRANSLIT_KY) > english:
            return "ky"
        return "ru" if translit >= 2 and translit > english else "en"
    ky = sum(3 for ch in text if ch in _KY_LETTERS)
    ru = sum(3 for ch in text if ch in _RU_LETTERS)
    for w in words:
        if w in _KY_WORDS:
            ky += 2
        elif w in _RU_WORDS:
            ru += 2
        elif len(w) > 4 and w.endswith(_RU_ENDINGS):
            ru += 1
        elif len(w) > 4 and w.endswith(_KY_ENDINGS):
            ky += 1
    return "ru" if ru > ky else "ky"
