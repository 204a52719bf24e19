"""Whether a message leans on the previous question: a continuation opener, a pronoun pointing back, or ellipsis.

Every word list here is a closed class of the language (conjunctions, personal and demonstrative pronouns,
question words, units of time), as any grammar of Kyrgyz, Russian or English lists them.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
# A clause ends at , ; : — or a sentence end; a pronoun after the first clause can point inside the message
# ("Я живу в Нарыне, есть ли там школы?").
_CLAUSE_BREAK = re.compile(r"[,;:.!?]\s|\s[—–-]\s")
# Conjunctions a turn starts with when it continues the previous one ("А в Оше?", "And in Kazakhstan?").
_OPENERS = {"а", "и", "но", "ну", "and", "but", "also", "or", "жана", "же", "анан"}
_OPENER_PHRASES = ("what about", "how about", "ал эми", "а также", "а как же")
# Third-person and distal pronouns and adverbs: they point back to something said before.
_POINTING_BACK = {
    "en": {"it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "those", "that", "there"},
    "ru": {
        "он",
        "она",
        "оно",
        "они",
        "его",
        "её",
        "ее",
        "их",
        "им",
        "ими",
        "него",
        "неё",
        "нее",
        "них",
        "ним",
        "нём",
        "нем",
        "ней",
        "там",
        "туда",
        "оттуда",
        "тот",
        "та",
        "те",
        "того",
        "той",
        "тем",
        "тех",
        "том",
        "ту",
        "это",
        "этот",
        "эта",
        "эти",
        "этого",
        "этой",
        "этих",
        "этому",
        "этим",
        "этом",
        "эту",
        "такой",
        "такая",
        "такие",
    },
    "ky": {"ал", "алар", "анын", "ага", "аны", "андан", "анда", "ошол", "тигил"},
}
# Kyrgyz pronouns take case and possessive endings: "алардын", "ошондойбу", "ошого".
_POINTING_BACK_KY_STEMS = ("алар", "ошон", "ошол", "ошо", "тигил")
# Proximal demonstratives before a unit of time or the conversation's own medium point at the present
# ("this year", "бул жумада", "в этом году", "бул бот"), not back.
_PROXIMAL = {
    "this",
    "these",
    "бул",
    "ушул",
    "бу",
    "этот",
    "эта",
    "это",
    "эти",
    "этого",
    "этой",
    "этом",
    "эту",
    "этим",
    "этому",
    "этих",
}
_PRESENT_NOUNS = (
    "year",
    "week",
    "month",
    "day",
    "time",
    "semester",
    "term",
    "season",
    "spring",
    "summer",
    "autumn",
    "winter",
    "год",
    "недел",
    "месяц",
    "дн",
    "время",
    "семестр",
    "сезон",
    "весн",
    "лет",
    "осен",
    "зим",
    "жыл",
    "жума",
    "ай",
    "күн",
    "убак",
    "семестр",
    "мезгил",
    "жаз",
    "күз",
    "кыш",
    "bot",
    "chat",
    "site",
    "app",
    "бот",
    "чат",
    "сайт",
)
# "is there any…", "there are…": existential, not a place.
_EXISTENTIAL_THERE = re.compile(r"\b(?:is|are|was|were|will\s+be)\s+there\b|\bthere\s+(?:is|are|was|were|will)\b", re.I)
# "Is it true that…", "Это правда, что…": the pronoun stands for the clause that follows.
_EXTRAPOSED = re.compile(r"\b(?:it|это)\b.*\b(?:that|to|что|чтобы)\b", re.I)
_QUESTION_WORD = re.compile(
    r"\b(?:what|when|where|who|whom|whose|which|why|how|канча\w*|качан|кайда|ким\w*|кайсы|эмне\w*|кандай|кантип|"
    r"сколько|когда|где|кто|кого|кому|какой|какая|какие|каких|какое|почему|зачем|как|что)\b",
    re.I,
)
_COUNT_AT_END = re.compile(r"\b(?:канча|сколько|how\s+(?:many|much))\W*$", re.I)
# The Kyrgyz particle -чы/-чи asks "and what about …?" of a bare noun ("Жалал-Абаддачы?", "2022-жылычы?").
_KY_WHAT_ABOUT = re.compile(r"(?:чы|чи)\W*$", re.I)
_PREPOSITIONS_AND_COPULAS = {
    "of",
    "about",
    "for",
    "in",
    "on",
    "at",
    "with",
    "from",
    "to",
    "by",
    "is",
    "was",
    "are",
    "were",
}


def is_followup(text: str) -> bool:
    """Whether the message can only be understood with the previous question."""
    raw_words = _WORD.findall(text)
    words = [w.lower() for w in raw_words]
    if not words:
        return False
    if words[0] in _OPENERS or " ".join(words).startswith(_OPENER_PHRASES):
        return True
    is_question = "?" in text or bool(_QUESTION_WORD.search(text))
    if is_question and len(words) <= 3 and (_COUNT_AT_END.search(text) or _KY_WHAT_ABOUT.search(text)):
        return True
    if is_question and len(words) <= 2 and not any(_is_named(w, i) for i, w in enumerate(raw_words)):
        return True  # "Deadline?": a bare noun asked about, with no name, acronym or number of its own
    return _points_back(_CLAUSE_BREAK.split(text, maxsplit=1)[0], extraposed=bool(_EXTRAPOSED.search(text)))


def _is_named(word: str, position: int) -> bool:
    """A number, an acronym, or a capitalised word that does not just open the sentence."""
    return (
        any(ch.isdigit() for ch in word) or (len(word) >= 2 and word.isupper()) or (position > 0 and word[0].isupper())
    )


def _points_back(clause: str, extraposed: bool) -> bool:
    """Whether the first clause holds a pronoun that refers to something outside the message."""
    raw_words = _WORD.findall(clause)
    words = [w.lower() for w in raw_words]
    for i, word in enumerate(words):
        if any(_is_named(w, j) for j, w in enumerate(raw_words[:i])):
            return False  # a name or number said before it is what the pronoun refers to ("Алимбеков … его")
        following = words[i + 1] if i + 1 < len(words) else ""
        # "в этом году", "за эти пять месяцев": a unit of time right after the demonstrative or its numeral.
        if word in _PROXIMAL and any(w.startswith(_PRESENT_NOUNS) for w in words[i + 1 : i + 3]):
            continue
        if word == "there" and _EXISTENTIAL_THERE.search(clause):
            continue
        if word in ("it", "это") and extraposed:
            continue
        # "that" points back as a pronoun or determiner ("is that road", "about that"), not as a conjunction or
        # relative ("I heard that…", "the school that opened").
        if word == "that" and i >= 2 and following and words[i - 1] not in _PREPOSITIONS_AND_COPULAS:
            continue
        if word in _PROXIMAL or any(word in pronouns for pronouns in _POINTING_BACK.values()):
            return True
        if word.startswith(_POINTING_BACK_KY_STEMS):
            return True
    return False
