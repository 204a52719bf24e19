"""Reading a question once: the kind of span it asks for, the type of answer it expects, what it counts, its
parts, specifics and anchors.

Word lists here are closed classes of ky / ru / en: question words, currency and length units, as any grammar or
CLDR lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from assistant.core.coverage import Gazetteer, Specific, specifics, to_latin
from assistant.core.models import Analyzer, Question
from assistant.core.ports import Vector
from assistant.core.retrieval import anchors_of

Kind = Literal["count", "date", "who", "where", "other"]
KINDS: tuple[Kind, ...] = ("count", "date", "who", "where", "other")

# Nouns a "which …" question names its answer by: people by role, organisations, places (general vocabulary of
# ky / ru / en, as a dictionary's classes of nouns).
_PERSON_NOUNS = (
    r"(?:minister|journalist|official|president|director|head|chair(?:man|woman)?|deputy|spokes\w*|expert|doctor"
    r"|rector|ambassador|mayor|governor|leader|founder|author|player|fighter|athlete|coach|judge|prosecutor|lawyer"
    r"|scientist|activist|person|министр|журналист|чиновник|президент|директор|глав|руководител|председател"
    r"|депутат|представител|эксперт|врач|ректор|посол|мэр|губернатор|лидер|основател|автор|игрок|спортсмен|боец"
    r"|тренер|судь|прокурор|адвокат|учен|активист|человек|кызматкер|башчы|жетекчи|төрага|өкүл|дарыгер|элчи|аким"
    r"|негиздөөчү|оюнчу|спортчу|мушкер|машыктыруучу|окумуштуу|адам|киши)"
)
_ORGANISATION_NOUNS = (
    r"(?:organi[sz]ation|compan(?:y|ies)|ministry|agency|body|universit(?:y|ies)|institution|publication|outlet"
    r"|newspaper|media|committee|commission|bank|fund|party|team|club|federation|union|association|council|court"
    r"|department|firm|организац|компани|ведомств|учрежден|вуз|университет|издани|агентств|газет|СМИ|комитет"
    r"|комисси|банк|фонд|парти|команд|клуб|федераци|союз|ассоциаци|совет|суд|департамент|служб|министерств|уюм"
    r"|мекеме|министрлик|ЖОЖ|басылма|агенттик|гезит|комиссия|партия|федерация|бирлик|кеңеш|сот)"
)
_PLACE_NOUNS = (
    r"(?:countr(?:y|ies)|cit(?:y|ies)|town|village|region|district|province|oblast|area|airport|street|place|location"
    r"|стран|город|сел|регион|район|област|аэропорт|улиц|мест|населенн|өлкө|шаар|айыл|аймак|облус|көчө|жер|жак)"
)
# "which …", "какой …", "чей …", "кайсы …", maybe with one word between ("which energy company").
_WHICH = r"(?:(?:which|what|как(?:ой|ая|ое|ие|их|ом|ому|ую|ого|им)|ч(?:ей|ья|ьё|ье|ьи)|кайсы)\s+(?:[^\W\d_]+\s+)?)"

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
            rf"|\bkim\b|\bkto\b|{_WHICH}(?:{_PERSON_NOUNS}|{_ORGANISATION_NOUNS})",
            re.I,
        ),
    ),
    (
        "where",
        re.compile(
            rf"\bкайда|\bгде\b|\bкуда\b|\bоткуда\b|\bwhere\b|from\s+which|{_WHICH}{_PLACE_NOUNS}",
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


# The words right after "канча / сколько / how many" name what is counted ("канча окуучу" → pupils).
_COUNTED = re.compile(
    r"\b(?:канча\w*|сколько|скольк\w+|how\s+(?:many|much))\s+((?:[^\W\d_]+[\s-]*){1,3})", re.IGNORECASE
)
_COUNTED_BEFORE = re.compile(r"((?:[^\W\d_]+[\s-]+){1,2})канча\w*\W*$", re.IGNORECASE)
_PERCENT_QUESTION = re.compile(r"процент|percent|пайыз|%|\bдол[яию]\b|\bshare\b", re.IGNORECASE)

# The type of answer a question expects: what a lead must be to be shown at all.
AnswerType = Literal["money", "count", "percent", "distance", "date", "person", "organisation", "place", "passage"]
ANSWER_TYPES: tuple[AnswerType, ...] = get_args(AnswerType)
# Asking for an amount of money: its price, fee, cost, salary or a sum in a currency.
_MONEY_QUESTION = re.compile(
    r"сколько\s+(?:стоит|стоят|стоил\w*|будет\s+стоить|плат\w*|денег|заплат\w*)|\bстоимост|\bцен[аыуеой]\b|\bплат[аыуеой]\b"
    r"|\bоплат|\bвзнос|\bзарплат|\bзаработн|\bоклад|\bсом(?:ов|ах|ам)?\b|\bдоллар|\bрубл|\bтенге"
    r"|\bбаа(?:сы|сын)?\b|\bакы(?:сы|сын|ны)?\b|\bакча|\bтөлө|\bайлык\s+акы|\bэмгек\s+акы|канча\s+(?:сом|турат)"
    r"|\bcosts?\b|\bprices?\b|\bfees?\b|\btuition\b|\bsalar(?:y|ies)\b|\bwages?\b|\bhow\s+much\s+(?:money|do\s+\w+\s+pay)"
    r"|\b(?:soms?|dollars?|roubles?|rubles?|tenge)\b|\bpay(?:s|ment)?\b|\bpaid\b"
    r"|\bштраф|\bущерб|\bсумм[аыуе]|\bайып|\bчыгым|\bзыян|\bайлык\b|\bfines?\b|\bpenalt|\bdamages?\b",
    re.IGNORECASE,
)
# Asking for a percentage: the percent word stands beside the question word ("канча пайыз", "какой процент",
# "what percentage"), not anywhere in the question.
_PERCENT_ASKED = re.compile(
    r"(?:канча|сколько|как(?:ой|ая|ую|ова|ов)|what|how\s+many|how\s+much)\s+(?:[^\W\d]+\s+){0,2}?"
    r"(?:пайыз|процент|percent|дол[яию])"
    r"|(?:пайыз\w*|процент\w*|percentage|дол[яию])\s+(?:[^\W\d]+\s+){0,2}?(?:канча|как\w+|составля\w*)"
    r"|what\s+(?:share|percentage|proportion)",
    re.IGNORECASE,
)
_DISTANCE_QUESTION = re.compile(
    r"how\s+far|\bdistance|\bkilomet|расстояни|далеко|километр|канча\s+(?:км|чакырым)|\bалыс|\bметр|\bmet(?:er|re)s?\b",
    re.IGNORECASE,
)
_ORGANISATION_QUESTION = re.compile(rf"{_WHICH}{_ORGANISATION_NOUNS}", re.IGNORECASE)


def answer_type(text: str, kind: Kind | None = None) -> AnswerType:
    """The type of answer the question expects: money, a count, a percentage, a distance, a date, a person, an
    organisation, a place, or a passage."""
    kind = kind or question_kind(text)
    if _MONEY_QUESTION.search(text) and kind in ("count", "other"):
        return "money"
    if kind == "count" or kind == "other":
        if _PERCENT_ASKED.search(text):
            return "percent"
        if _DISTANCE_QUESTION.search(text):
            return "distance"
    if kind == "count":
        return "count"
    if kind == "date":
        return "date"
    if kind == "who":
        return "organisation" if _ORGANISATION_QUESTION.search(text) else "person"
    if kind == "where":
        return "place"
    return "passage"


# "… канча жана канча …", "how many … and how many …", "кто и когда": one question, several facts.
MULTI_PART = re.compile(
    r"(?:\b(?:жана|и|and|а\s+также)\b|,)\s+(?:\w+\s+){0,3}?(?:канча\w*|сколько|how\s+(?:many|much)|кайсы|какие|каких"
    r"|which|what|who|кто|ким\w*|когда|when|качан|где|where|кайда)"
    r"|\bканча\w*\s+(?:\w+\s+){0,3}?канча\w*"
    r"|(?:\bканча\w*|\bсколько|how\s+(?:many|much))\s+\w+\s+(?:жана|и|and)\s+\w+"
    r"|\b(?:кто|who|ким|когда|when|качан|где|where|кайда)\s+(?:жана|и|and)\s+\w+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Asked:
    """What the answerer reads off a question once: kind, vectors, stems, specifics, anchors, what is counted."""

    question: Question
    kind: Kind
    vector: Vector
    counted_vector: Vector | None
    stems: frozenset[str]
    counted_stems: frozenset[str]
    specifics: tuple[Specific, ...]
    anchors: frozenset[str]
    percent: bool
    latin_stems: frozenset[str] = frozenset()  # the question's words in Latin letters, first five letters
    latin_content: tuple[str, ...] = ()  # its longer words in Latin letters: shared names and loanwords
    expected: AnswerType = "passage"
    multi_part: bool = False


def counted_phrase(text: str) -> str | None:
    """What a how-many question counts ("бюджеттик орун" in "канча бюджеттик орун"), if it says; Kyrgyz also puts
    it before the question word ("жетим балдарга канча?")."""
    match = _COUNTED.search(text)
    if match:
        return match.group(1).strip()
    before = _COUNTED_BEFORE.search(text)
    return before.group(1).strip() if before else None


def read_question(question: Question, embed: Callable[[str], Vector], analyze: Analyzer, gazetteer: Gazetteer) -> Asked:
    """Everything the features need from the question, read once; `embed` embeds a query (cached by the adapter,
    so the question's own vector is the one retrieval made)."""
    kind = question_kind(question.text)
    if kind == "other" and question.previous:
        kind = question_kind(question.previous)  # "А в Казахстане?" asks what the earlier question asked
    counted = counted_phrase(question.text)
    if counted is None and kind == "count" and question.previous:
        counted = counted_phrase(question.previous)  # "А в Оше?" counts what the earlier question counted
    return Asked(
        question=question,
        kind=kind,
        vector=embed(question.search_text),
        counted_vector=embed(counted) if counted else None,
        stems=frozenset(analyze(question.search_text, question.language)),
        counted_stems=frozenset(analyze(counted, question.language)) if counted and kind == "count" else frozenset(),
        specifics=tuple(_specifics(question, gazetteer)),
        anchors=frozenset(anchors_of(question.search_text)),
        percent=bool(_PERCENT_QUESTION.search(question.text)),
        latin_stems=frozenset(to_latin(w)[:5] for w in _WORD.findall(question.search_text) if len(w) >= 3),
        latin_content=tuple(dict.fromkeys(to_latin(w)[:6] for w in _WORD.findall(question.text) if len(w) >= 5)),
        expected=answer_type(question.search_text if question.previous else question.text, kind),
        multi_part=bool(MULTI_PART.search(question.text)),
    )


def _specifics(question: Question, gazetteer: Gazetteer) -> list[Specific]:
    """What the question insists on. A follow-up keeps the earlier question's subject and swaps in what it names:
    a place it names replaces the earlier place, a number the earlier number ("А в Нарынской области?" after a
    question about Bishkek asks about Naryn, not both)."""
    if not question.previous:
        return specifics(question.text, gazetteer)
    # Its first word may be the very name it swaps in ("Нарындачы?"): read it as a word inside a sentence.
    own = specifics(f"и {question.text}", gazetteer)
    named = {_sort_of(s) for s in own}
    earlier = [s for s in specifics(question.previous, gazetteer) if _sort_of(s) not in named and s not in own]
    return own + earlier


def _sort_of(specific: Specific) -> str:
    """Which sort a specific is of: a number, a country, a month or a name (a follow-up swaps one sort at a time)."""
    if specific.kind == "code":
        return "month" if specific.key.startswith("M") else "country"
    return specific.kind
