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
    "го",
    "гө",
    "ган",
    "ген",
    "гон",
    "гөн",
    "ду",
    "дү",
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


# What a reply may be written in besides ky / ru / en, by signs no ky / ru / en text shows: Ukrainian and Kazakh
# letters, French accents, and the function words of Ukrainian and French (closed classes, as any grammar lists).
_FOREIGN_CYRILLIC = set("іїєґәғқұһў")
_UK_WORDS = {"що", "це", "та", "від", "які", "який", "яка", "було", "були", "році", "щоб", "також", "й", "із"}
_FOREIGN_LATIN = set("éèêëàâçùûôîïœæ")
_FR_WORDS = {
    "le",
    "la",
    "les",
    "des",
    "du",
    "et",
    "est",
    "une",
    "un",
    "pour",
    "dans",
    "sur",
    "avec",
    "par",
    "au",
    "aux",
    "qui",
    "que",
    "ce",
    "cette",
    "ces",
    "sont",
    "ont",
    "pas",
    "ne",
    "en",
    "chaque",
    "environ",
}
_EN_REPLY_WORDS = _EN_WORDS | {
    "a",
    "an",
    "was",
    "were",
    "on",
    "with",
    "by",
    "that",
    "this",
    "it",
    "as",
    "at",
    "from",
    "be",
    "has",
    "have",
    "will",
    "its",
    "their",
    "each",
    "every",
    "year",
    "about",
    "more",
    "than",
}
# Russian words no Kyrgyz text uses: the year and the months as dates write them ("15 марта 2023 года").
_RU_DATE_WORDS = "год года году лет января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
_RU_REPLY_WORDS = _RU_WORDS | set(_RU_DATE_WORDS.split(" "))
# Russian verb and adjective endings no Kyrgyz word ends in (Kyrgyz verbs end in -т, -ды, -ган; its nouns in cases).
_RU_REPLY_ENDINGS = (
    *_RU_ENDINGS,
    "ает",
    "яет",
    "ует",
    "ится",
    "ются",
    "ами",
    "ями",
    "ому",
    "ыми",
    "ими",
    "ила",
    "ило",
    "ство",
    "ение",
    "ание",
    "ые",
    "ее",
    "ной",
    "ным",
    "ных",
    "ную",
    "ная",
    "ное",
    "тся",
    "лся",
    "лась",
    "лись",
)


def _russian(word: str) -> bool:
    """Whether a lower-case word is Russian by what Kyrgyz never writes: its words, letters and endings, the past
    tense included ("подписал", "выделил")."""
    return (
        word in _RU_REPLY_WORDS
        or any(ch in _RU_LETTERS for ch in word)
        or (len(word) > 3 and word.endswith(_RU_REPLY_ENDINGS))
        or (len(word) > 5 and word.endswith(("ал", "ил", "ыл")))
    )


def reply_language(text: str) -> str:
    """The language a whole reply is written in: "ky", "ru", "en", or "other" (Ukrainian, Kazakh, French, …).

    Every common word votes (capitalised words inside a sentence are names and do not); a reply in one language
    with a word or two of another is that language, so one Kyrgyz word does not make a Russian reply Kyrgyz."""
    words: list[str] = []
    voters: list[str] = []  # the words that vote between Kyrgyz and Russian: not a sentence's capitalised first
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for i, word in enumerate(_WORD.findall(sentence)):
            if i == 0 or not word[0].isupper() or len(word) == 1:
                words.append(word.lower())
                function = word.lower() in _KY_WORDS or word.lower() in _RU_REPLY_WORDS
                if not (i == 0 and word[0].isupper()) or function:
                    voters.append(word.lower())
    if not words:
        return detect_language(text)
    if any(ch in _FOREIGN_CYRILLIC for w in words for ch in w) or sum(w in _UK_WORDS for w in words) >= 2:
        return "other"
    latin = [w for w in words if not re.search("[а-яёңөү]", w)]
    if len(latin) * 2 > len(words):
        english = sum(w in _EN_REPLY_WORDS for w in latin)
        foreign = sum(w in _FR_WORDS for w in latin) + sum(1 for w in latin if any(ch in _FOREIGN_LATIN for ch in w))
        return "en" if foreign == 0 or english > 2 * foreign else "other"
    ky = ru = 0
    for w in voters:
        if any(ch in _KY_LETTERS for ch in w) or w in _KY_WORDS:
            ky += 1
        elif _russian(w):
            ru += 1
        elif len(w) > 4 and w.endswith(_KY_ENDINGS):
            ky += 1
    if ky == ru:
        return detect_language(text)
    return "ky" if ky > ru else "ru"
