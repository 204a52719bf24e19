"""Small hand-made cross-lingual lexicon of the education domain (ky / ru / en) and name matching.

Most documents are Kyrgyz while many questions are Russian or English, so exact-word overlap between a
question and a passage is often zero. These groups of word beginnings let the answerer see that
"сирот" / "orphan" / "жетим" mean the same thing, and that "Falkov" is "Фальков".
"""

from __future__ import annotations

import re
from functools import lru_cache

# Each group is one concept; members are lowercase word beginnings in any of the three languages.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "quota": ("квот", "quota"),
    "place": ("орун", "мест", "place", "seat"),
    "budget": ("бюджет", "budget", "state-funded", "free"),
    "student": ("студент", "student", "окуучу", "учащ", "pupil", "школьник"),
    "applicant": ("абитуриент", "applicant", "талапкер", "тапшыр", "поступ", "apply", "admission"),
    "university": ("жож", "вуз", "universit", "университет", "жогорку окуу", "higher education", "высш"),
    "school": ("мектеп", "школ", "school"),
    "teacher": ("мугалим", "учител", "педагог", "teacher", "pedagog", "окутуучу", "преподав", "lecturer"),
    "kindergarten": ("бакча", "детсад", "детск", "kindergarten", "preschool", "дошкол", "мектепке чейин"),
    "orphan": ("жетим", "сирот", "orphan", "камкордугусуз", "без попечения", "parental care"),
    "minister": ("министр", "minister"),
    "ministry": ("министрлиг", "министерств", "ministry"),
    "increase": ("көбөйт", "увелич", "increas", "raise", "өсү", "рост", "grow"),
    "scholarship": ("стипенди", "scholarship", "stipend"),
    "grant": ("грант", "grant"),
    "exchange": ("алмаш", "обмен", "exchang"),
    "mobility": ("мобилд", "мобильн", "mobility"),
    "program": ("программ", "program"),
    "protocol": ("протокол", "protocol"),
    "agreement": ("келишим", "соглашен", "agreement", "договор"),
    "memorandum": ("меморандум", "memorandum"),
    "child": ("бала", "дет", "child", "kid"),
    "olympiad": ("олимпиад", "olympiad"),
    "medal": ("медал", "medal"),
    "gold": ("алтын", "золот", "gold"),
    "silver": ("күмүш", "серебр", "silver"),
    "bronze": ("коло", "бронз", "bronze"),
    "year": ("жыл", "год", "year"),
    "month": ("айын", "айга", "айда", "месяц", "month"),
    "week": ("жума", "недел", "week"),
    "semester": ("семестр", "semester"),
    "law": ("мыйзам", "закон", "law"),
    "science": ("илим", "наук", "scien"),
    "education": ("билим", "образован", "educat"),
    "college": ("колледж", "college", "лицей", "lyceum", "кесиптик", "vocational", "профессиональн"),
    "textbook": ("китеп", "учебник", "textbook", "book"),
    "salary": ("айлык", "эмгек ак", "зарплат", "salary", "wage"),
    "master": ("магистр", "master"),
    "phd": ("доктор", "аспирант", "phd", "doctoral"),
    "russian_lang": ("орус тил", "русск", "russian language"),
    "english_lang": ("англис", "английск", "english"),
    "german_lang": ("немец", "german"),
    "fund": ("фонд", "fund"),
    "bank": ("банк", "bank"),
    "development": ("өнүктүр", "развит", "develop"),
    "world_bank": ("дүйнөлүк банк", "всемирн", "world bank"),
    "adb": ("азия өнүктүрүү", "азиатск", "asian development", "asian", "абр ", "адб "),
    "sco": ("шос ", "шкуу", "шанхай", "sco ", "shanghai"),
    "msu": ("мгу ", "ммму", "ломоносов", "lomonosov", "moscow state"),
    "sign": ("кол кой", "кол коюл", "подпис", "sign"),
    "experience": ("тажрыйба", "опыт", "experience"),
    "interest": ("кызык", "интерес", "interest"),
    "cover": ("камты", "охват", "включ", "cover", "include"),
    "duration": ("мөөнөт", "срок", "длит", "duration", "long"),
    "language": ("тил", "язык", "language", "lingu"),
    "rural": ("айыл", "сельск", "rural", "village"),
    "national": ("улуттук", "национальн", "national"),
    "team": ("команда", "team"),
    "league": ("лига", "league"),
    "sport": ("спорт", "sport"),
    "lyceum": ("лицей", "lyceum"),
    "advisor": ("кеңешчи", "советник", "advis", "counsel"),
    "outflow": ("агып", "отток", "outflow"),
    "legal": ("укуктук", "правов", "legal", "ченемдик"),
    "camp": ("лагер", "camp"),
    "practice": ("практик", "internship", "practice", "стажировк"),
    "diploma": ("диплом", "diploma", "degree"),
    "region": ("облус", "област", "region", "аймак"),
    "registration": ("каттоо", "регистрац", "registration", "register"),
    "test": ("тест", "test", "экзамен", "exam", "сынак"),
    "research": ("изилдө", "исследован", "research", "study"),
    "digital": ("санарип", "цифров", "digital"),
    "meeting": ("жолугуш", "встреч", "meet"),
    "delegation": ("делегац", "delegation", "визит", "visit", "иш сапар"),
    "declaration": ("декларац", "declaration"),
    "number": ("саны", "санын", "числ", "количеств", "number"),
    "international": ("эл аралык", "международн", "international"),
    "cooperation": ("кызматташ", "сотрудничеств", "cooperat"),
    "department": ("бөлүм", "отдел", "department", "office"),
    "founded": ("ачыл", "открыт", "основан", "founded", "established", "created", "түзүл"),
}

# Countries and places, matched by word beginnings in ky / ru / en.
PLACES: dict[str, tuple[str, ...]] = {
    "russia": ("росси", "орус", "russia", "рф "),
    "kazakhstan": ("казахстан", "казакстан", "kazakh", "рк "),
    "kyrgyzstan": ("кыргыз", "киргиз", "kyrgyz", "kirgiz", "кр "),
    "turkey": ("турци", "түркия", "туркия", "турк", "türk", "turk"),
    "germany": ("германи", "герман", "german", "немец"),
    "china": ("китай", "кытай", "china", "chinese"),
    "india": ("инди", "india"),
    "korea": ("коре", "korea"),
    "japan": ("япони", "жапон", "japan"),
    "usa": ("сша", "акш", "америк", "usa", "america", "united states"),
    "uzbekistan": ("узбек", "өзбек", "uzbek"),
    "tajikistan": ("таджик", "тажик", "tajik"),
    "uk": ("британ", "англи", "britain", "england", "united kingdom"),
    "france": ("франц", "france", "french"),
    "poland": ("польш", "польша", "poland", "polish"),
    "spain": ("испани", "spain", "spanish"),
    "italy": ("итали", "italy"),
    "hungary": ("венгри", "hungar"),
    "czechia": ("чехи", "czech"),
    "iran": ("иран", "iran"),
    "pakistan": ("пакистан", "pakistan"),
    "mongolia": ("монгол", "mongol"),
    "belarus": ("беларус", "белорус", "belarus"),
    "ukraine": ("украин", "ukrain"),
    "estonia": ("эстони", "estonia"),
    "singapore": ("сингапур", "singapore"),
    "europe": ("европ", "евро", "europe", "european"),
    "iceland": ("исланди", "iceland"),
    "macedonia": ("македони", "macedonia"),
    "moscow": ("москв", "moscow"),
    "bishkek": ("бишкек", "bishkek"),
    "osh": ("ош ", "ошму", "ошгу", "ошск", "osh"),
    "azerbaijan": ("азербайджан", "азербайжан", "azerbaijan"),
    "armenia": ("армени", "armenia"),
    "georgia": ("грузи", "georgia"),
    "canada": ("канад", "canada"),
    "australia": ("австрали", "australia"),
    "malaysia": ("малайзи", "malaysia"),
    "egypt": ("египет", "египт", "egypt"),
    "saudi": ("сауд", "saudi"),
    "uae": ("оаэ", "бааэ", "эмират", "emirates", "uae"),
}

_LATIN_TO_CYRILLIC = [
    ("shch", "щ"),
    ("sh", "ш"),
    ("ch", "ч"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ya", "я"),
    ("yu", "ю"),
    ("yo", "е"),
    ("ye", "е"),
    ("a", "а"),
    ("b", "б"),
    ("c", "к"),
    ("d", "д"),
    ("e", "е"),
    ("f", "ф"),
    ("g", "г"),
    ("h", "х"),
    ("i", "и"),
    ("j", "ж"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("q", "к"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("v", "в"),
    ("w", "в"),
    ("x", "кс"),
    ("y", "и"),
    ("z", "з"),
]
_FOLD = str.maketrans({"ь": "", "ъ": "", "й": "и", "ы": "и", "ө": "о", "ү": "у", "ң": "н", "э": "е", "ё": "е"})


def _transliterate(word: str) -> str:
    for latin, cyr in _LATIN_TO_CYRILLIC:
        word = word.replace(latin, cyr)
    return word


@lru_cache(maxsize=16384)
def skeleton(word: str) -> str:
    """A script-independent shape of a name: "Falkov" and "Фальков" both give "фалков"."""
    word = word.lower()
    if re.search("[a-z]", word):
        word = _transliterate(word)
    return word.translate(_FOLD)


@lru_cache(maxsize=8192)  # the same sentences come back question after question; ~0.1 ms each to scan
def concepts_in(text: str) -> frozenset[str]:
    """Concept ids whose word beginnings occur in the text (places included; Latin-script Russian too)."""
    lowered = " " + " ".join(re.sub(r"[^\w-]", " ", text.lower()).split()) + " "
    if re.search("[a-z]", lowered):
        # "skolko mest v vuzah" is Russian in Latin letters: look for the Cyrillic beginnings as well.
        lowered += " " + " ".join(_transliterate(w) for w in lowered.split()) + " "
    found: set[str] = set()
    # A concept is found where one of its prefixes starts right after a space: only the prefixes sharing the
    # first letters at each word start are tried (415 substring scans of the whole text took ~0.3 ms).
    at = lowered.find(" ")
    while at != -1:
        for prefix, concept in _PREFIXES_BY_START.get(lowered[at + 1 : at + 1 + _START], ()):
            if lowered.startswith(prefix, at + 1):
                found.add(concept)
        at = lowered.find(" ", at + 1)
    return frozenset(found)


def _prefixes_by_start() -> dict[str, list[tuple[str, str]]]:
    """Every concept and place prefix with its id, by its first letters."""
    table: dict[str, list[tuple[str, str]]] = {}
    for concepts in (CONCEPTS, PLACES):
        for concept, prefixes in concepts.items():
            for prefix in prefixes:
                table.setdefault(prefix[:_START], []).append((prefix, concept))
    return table


_START = min(len(p) for concepts in (CONCEPTS, PLACES) for ps in concepts.values() for p in ps)
_PREFIXES_BY_START = _prefixes_by_start()


def places_in(text: str) -> frozenset[str]:
    """Place ids (countries, cities) named in the text."""
    return concepts_in(text) & PLACES.keys()


_UNIVERSITY = re.compile(r"^(жож|университет|вуз|universit|college|колледж)", re.I)
# Where the owner of "university" stands: Kyrgyz puts it before ("Орусиянын ЖОЖдору"), Russian mostly
# after ("вузах России") or as an adjective before, English before ("Russian universities") or after ("in Russia").
_HOME = ("республиканын", "республикадагы", "өлкөнүн", "өлкөдөгү", "отечествен", "national", "domestic")
_OWNER_WINDOW = {"ky": (2, 0), "ru": (1, 2), "en": (1, 2)}


def university_hosts(text: str, language: str) -> set[str]:
    """Places named as the owner of a university in the text ("Казакстандын ЖОЖдору" → kazakhstan)."""
    words = re.findall(r"[^\W\d_]+", text)
    before, after = _OWNER_WINDOW.get(language, (2, 2))
    hosts: set[str] = set()
    for i, word in enumerate(words):
        lowered = word.lower()
        is_university = bool(_UNIVERSITY.match(lowered)) or (
            lowered == "жогорку" and i + 1 < len(words) and words[i + 1].lower() == "окуу"
        )
        if not is_university:
            continue
        window = words[max(0, i - before) : i] + words[i + 1 : i + 1 + after]
        found = set().union(*(places_in(w) for w in window)) if window else set()
        if not found and any(w.lower().startswith(_HOME) for w in window):
            found = {"kyrgyzstan"}  # "Республиканын ЖОЖдору", "өлкөнүн ЖОЖдору": this country's own
        hosts |= found
    return hosts
