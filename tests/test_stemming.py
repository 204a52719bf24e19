"""Tests for the lexical normaliser: tokenizer, Kyrgyz suffix stripper, Snowball dispatch and stopwords."""

from __future__ import annotations

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
import snowballstemmer

from vectorstore.stemming import STEMMER_VERSION, analyze, stem, stem_kyrgyz, tokenize

CORPUS_DIR = Path(__file__).parent.parent / "data" / "corpus"

# Word forms as they occur in data/corpus/*.txt, with the stem each must reduce to.
CORPUS_FORMS: list[tuple[str, str]] = [
    # квота, студент, министрлик, университет: the core of quota questions
    ("квоталардын", "квота"),
    ("квотасы", "квота"),
    ("студент", "студент"),
    ("студенттер", "студент"),
    ("студенттерге", "студент"),
    ("студенттердин", "студент"),
    ("студенттеринин", "студент"),
    ("студентти", "студент"),
    ("студенттик", "студент"),
    ("министр", "министр"),
    ("министри", "министр"),
    ("министрлер", "министр"),
    ("министрлиги", "министр"),
    ("министрлигинин", "министр"),
    ("министрликтин", "министр"),
    ("университет", "университет"),
    ("университетинде", "университет"),
    ("университетинин", "университет"),
    ("университетке", "университет"),
    ("университетте", "университет"),
    ("университеттерди", "университет"),
    ("университеттеринин", "университет"),
    ("университеттин", "университет"),
    # genitive / dative / locative / ablative after vowels, voiced and voiceless consonants
    ("программанын", "программа"),
    ("программага", "программа"),
    ("программалардан", "программа"),
    ("программаларынан", "программа"),
    ("программасынын", "программа"),
    ("мектепке", "мектеп"),
    ("мектептен", "мектеп"),
    ("мектептердин", "мектеп"),
    ("мектептик", "мектеп"),
    ("жылдын", "жыл"),
    ("жылы", "жыл"),
    ("жылга", "жыл"),
    ("жылдары", "жыл"),
    ("жылына", "жыл"),
    ("жылынын", "жыл"),
    ("билимге", "билим"),
    ("билимдүү", "билим"),
    ("илимдин", "илим"),
    ("өлкөнүн", "өлкө"),
    ("өлкөгө", "өлкө"),
    ("өлкөлөрдөгү", "өлкө"),
    ("өлкөсүндөгү", "өлкө"),
    ("республикасынын", "республика"),
    ("республиканын", "республика"),
    ("республикалык", "республика"),
    ("бюджеттик", "бюджет"),
    ("бюджеттен", "бюджет"),
    ("уюмдарынын", "уюм"),
    ("уюмуна", "уюм"),
    ("тилдеги", "тил"),
    ("тилдеринде", "тил"),
    ("тилин", "тил"),
    ("мыйзамынын", "мыйзам"),
    ("мыйзамдарды", "мыйзам"),
    ("иштери", "иш"),
    ("ишке", "иш"),
    ("ишин", "иш"),
    ("борборлорунун", "борбор"),
    ("директорлору", "директор"),
    ("директордун", "директор"),
    ("колледждердин", "колледж"),
    ("лицейлердин", "лицей"),
    ("лицейи", "лицей"),
    ("шаарларындагы", "шаар"),
    ("жайларынын", "жай"),
    ("ведомствонун", "ведомство"),
    ("федерациясынын", "федерация"),
    ("стипендиясын", "стипендия"),
    ("маселелерин", "маселе"),
    ("мекемелеринин", "мекеме"),
    ("келишимдерине", "келишим"),
    ("өздөрүнө", "өз"),
    ("сентябрында", "сентябр"),
    ("июнуна", "июн"),
    # abbreviations written in capitals (ЖОЖ, ОшМУ)
    ("жождор", "жож"),
    ("жождордун", "жож"),
    ("жождоруна", "жож"),
    ("жождорунда", "жож"),
    ("жождун", "жож"),
    ("жождогу", "жож"),
    ("ошмунун", "ошм"),
    ("ошмуда", "ошм"),
    # к/п voiced before a vowel suffix
    ("китебин", "китеп"),
    ("эсебинен", "эсеп"),
    ("тарабынан", "тарап"),
    ("алкагында", "алкак"),
    ("тармагы", "тармак"),
    ("тармактык", "тармак"),
    ("жыйынтыгы", "жыйынтык"),
    ("буйругу", "буйрук"),
    ("агенттиги", "агент"),
    ("педагогдору", "педагог"),
    # derivational chains (-лык, -луу, -чы, -сыз, verbal nouns)
    ("кызматташтык", "кызматташ"),
    ("кызматташтыгыбыз", "кызматташ"),
    ("кызматташууга", "кызматташ"),
    ("мобилдүүлүктү", "мобил"),
    ("сабаттуулуктун", "сабат"),
    ("ишмердүүлүгүнүн", "ишмерд"),
    ("өнөктөштүктү", "өнөктөш"),
    ("адистиктерге", "адис"),
    ("таланттуу", "талант"),
    ("мөөнөттүү", "мөөнөт"),
    ("натыйжалуу", "натыйжа"),
    ("акысыз", "ак"),
    ("тарбиячылар", "тарбия"),
    ("берүүнүн", "бер"),
    ("берүүчү", "бер"),
    ("окутуучулары", "окут"),
    ("изилдөөлөрдүн", "изилд"),
    ("президентибиздин", "президент"),
    ("кызыгуусун", "кызык"),
    # stems whose last letters look like a suffix
    ("саны", "сан"),
    ("санын", "сан"),
    ("санынан", "сан"),
    ("балдардын", "бала"),
    ("балдары", "бала"),
    ("ордуна", "орун"),
    ("орундарына", "орун"),
    ("кыргызстан", "кыргызстан"),
    ("кыргызстандын", "кыргызстан"),
    ("кыргызстандык", "кыргызстан"),
    ("класстан", "класс"),
    ("аралыгында", "аралык"),
    # numbers with case endings
    ("375тин", "375"),
    ("750гө", "750"),
    ("1000ден", "1000"),
    ("300дөн", "300"),
    ("70тен", "70"),
    ("7800дөн", "7800"),
]

# Forms of one lemma (from the corpus or built by the regular rules) that must share a single stem.
FAMILIES: list[tuple[str, ...]] = [
    ("квота", "квоталар", "квоталардын", "квотанын", "квотага", "квотасы", "квотасына", "квоталарды"),
    ("студент", "студенттер", "студенттерге", "студенттердин", "студенттери", "студентке", "студенттин"),
    ("министрлик", "министрлиги", "министрлигинин", "министрликтин", "министрлигине"),
    ("университет", "университетте", "университеттин", "университети", "университеттер", "университеттерге"),
    ("билим", "билимди", "билимин", "билимге", "билимдин", "билими"),
    ("жыл", "жылы", "жылдын", "жылга", "жылдан", "жылдар", "жылында", "жылынын"),
    ("сан", "саны", "санын", "санынан", "санына", "сандар"),
    ("бала", "балага", "баланы", "баланын", "балдар", "балдардын", "балдарга"),
    ("орун", "орундар", "ордуна", "орундарга", "орундары"),
    ("маани", "мааниде", "маанилүү", "маанилүүлүгүнүн"),
    ("китеп", "китеби", "китебин", "китептер", "китептерге"),
    ("тилек", "тилеги", "тилегин", "тилектер"),
    ("жож", "жождор", "жождоруна", "жождордун", "жождун"),
    ("мектеп", "мектепке", "мектепте", "мектептен", "мектептин", "мектептер"),
    ("программа", "программанын", "программасы", "программасынын", "программалар"),
]


@cache
def corpus_tokens() -> frozenset[str]:
    """Every lowercased letter/digit run in the sample corpus (independent of tokenize())."""
    tokens: set[str] = set()
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8")).lower()
        tokens.update(re.findall(r"[^\W_]+", text))
    return frozenset(tokens)


def test_corpus_is_present() -> None:
    assert len(list(CORPUS_DIR.glob("*.txt"))) >= 1
    assert len(corpus_tokens()) > 1000


def test_table_is_large_and_unique() -> None:
    forms = [form for form, _ in CORPUS_FORMS]
    assert len(forms) >= 60
    assert len(forms) == len(set(forms))


def test_every_table_form_occurs_in_corpus() -> None:
    missing = [form for form, _ in CORPUS_FORMS if form not in corpus_tokens()]
    assert missing == []


@pytest.mark.parametrize(("form", "expected"), CORPUS_FORMS)
def test_corpus_form_stem(form: str, expected: str) -> None:
    assert stem_kyrgyz(form) == expected
    assert stem(form, "ky") == expected


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0])
def test_family_shares_one_stem(family: tuple[str, ...]) -> None:
    stems = {form: stem_kyrgyz(form) for form in family}
    assert len(set(stems.values())) == 1, stems
    assert len(next(iter(stems.values()))) >= 3


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("375тин", "375"),
        ("750гө", "750"),
        ("16000дей", "16000"),
        ("50гө", "50"),
        ("2023", "2023"),
        ("10000ден", "10000"),
    ],
)
def test_number_with_suffix(word: str, expected: str) -> None:
    assert stem_kyrgyz(word) == expected
    assert stem(word, "ky") == expected
    assert stem(word, "ru") == expected


def test_number_with_spaced_thousands_through_analyze() -> None:
    assert analyze("16 000дей студент", "ky") == ["16000", "студент"]
    assert analyze("1 447 717 окуучуну", "ky")[0] == "1447717"


def test_capitalised_abbreviation() -> None:
    assert stem_kyrgyz("ЖОЖдоруна") == "жож"
    assert stem("ЖОЖдордун", "ky") == "жож"


@pytest.mark.parametrize(
    "word", ["иш", "эл", "ал", "үй", "ата", "ага", "эне", "сан", "күн", "он", "тоо", "суу", "жол", "сөз", "бала"]
)
def test_short_words_unchanged(word: str) -> None:
    assert stem_kyrgyz(word) == word


@pytest.mark.parametrize(("word", "expected"), [("буга", "буга"), ("ээси", "ээ"), ("ишти", "иш"), ("көзгө", "көз")])
def test_stripping_stops_at_two_letters(word: str, expected: str) -> None:
    assert stem_kyrgyz(word) == expected


@pytest.mark.parametrize(
    "word", ["эки", "жети", "алты", "элүү", "кийин", "чейин", "башка", "орун", "аралык", "бардык", "жакын"]
)
def test_lexical_words_that_look_inflected_are_kept(word: str) -> None:
    assert stem_kyrgyz(word) == word


def test_no_corpus_word_collapses_below_two_letters() -> None:
    for token in corpus_tokens():
        if re.fullmatch(r"[а-яөүң]+", token) and len(token) >= 2:
            assert len(stem_kyrgyz(token)) >= 2, token


def test_unrelated_words_stay_apart() -> None:
    words = ["квота", "студент", "мектеп", "билим", "илим", "жыл", "иш", "эл", "тил", "бала", "сан", "орун", "өлкө"]
    assert len({stem_kyrgyz(w) for w in words}) == len(words)


def test_harmony_and_assimilation_block_false_suffixes() -> None:
    # -та after р breaks assimilation (карта, not кар+да); -да after о breaks harmony (квота, not кво+до).
    assert stem_kyrgyz("карта") == "карта"
    assert stem_kyrgyz("квота") == "квота"
    assert stem_kyrgyz("балта") == "балта"


def test_loanword_in_log_keeps_its_g() -> None:
    assert stem_kyrgyz("педагогу") == "педагог"
    assert stem_kyrgyz("психологу") == "психолог"


@pytest.mark.parametrize(("first", "second"), [("студентов", "студенты"), ("квоты", "квот"), ("вузах", "вузов")])
def test_russian_snowball(first: str, second: str) -> None:
    assert stem(first, "ru") == stem(second, "ru")
    assert stem(first, "ru") == snowballstemmer.stemmer("russian").stemWord(first)


@pytest.mark.parametrize(("first", "second"), [("universities", "university"), ("students", "student")])
def test_english_snowball(first: str, second: str) -> None:
    assert stem(first, "en") == stem(second, "en")


def test_dispatch_by_script_and_language() -> None:
    assert stem("universities", "ky") == stem("universities", "en")  # Latin is English whatever the lang
    assert stem("студенттер", "ky") == "студент"
    assert stem("студенттер", "xx") == "студент"  # unknown language: Cyrillic is Kyrgyz
    assert stem("өлкөлөрдүн", "ru") == "өлкө"  # Kyrgyz-only letters win over a ru label
    assert stem("студентов", "ru") == "студент"
    assert stem("ещё", "ru") == stem("еще", "ru")
    assert stem("Студенттер", "ky") == "студент"


def test_tokenize_normalises_case_yo_and_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Кыргыз Республикасынын Мыйзамы")
    assert tokenize(decomposed) == ["кыргыз", "республикасынын", "мыйзамы"]
    assert tokenize("Ёлка ЁЛКА") == ["елка", "елка"]
    assert tokenize("Кыта\u0438\u0306") == ["кытай"]  # и + combining breve is й


def test_tokenize_punctuation_hyphens_and_digits() -> None:
    text = "«Билим берүү жөнүндө» Мыйзам, 2023-жылдын 375тин иш-аракет; 26,4%!"
    assert tokenize(text) == [
        "билим", "берүү", "жөнүндө", "мыйзам", "2023", "жылдын", "375тин", "иш", "аракет", "26", "4",
    ]  # fmt: skip


def test_tokenize_joins_spaced_thousands_only() -> None:
    assert tokenize("16 000дей") == ["16000дей"]
    assert tokenize("1 447 717 окуучу") == ["1447717", "окуучу"]
    assert tokenize("2023 2024") == ["2023", "2024"]
    assert tokenize("1834 бала") == ["1834", "бала"]


def test_tokenize_removes_invisible_characters_and_variant_letters() -> None:
    assert tokenize("мек\u00adтеп") == ["мектеп"]  # soft hyphen
    assert tokenize("би\u200bлим") == ["билим"]  # zero-width space
    assert tokenize("студе\u0301нтов") == ["студентов"]  # stress mark
    assert tokenize("алдыӊкы") == ["алдыңкы"]  # Khakas-keyboard ӊ


def test_tokenize_empty() -> None:
    assert tokenize("") == []
    assert tokenize(" — «» … ") == []


def test_analyze_drops_kyrgyz_stopwords_and_question_words() -> None:
    terms = analyze("Орусиянын ЖОЖдоруна канча квота бөлүнгөн жана студенттер үчүн боюнча?", "ky")
    assert terms == ["орусия", "жож", "квота", stem_kyrgyz("бөлүнгөн"), "студент"]


def test_analyze_drops_russian_stopwords() -> None:
    terms = analyze("Сколько квот выделено для студентов в вузах России?", "ru")
    assert "сколько" not in terms and "для" not in terms and "в" not in terms
    assert terms[0] == stem("квот", "ru")
    assert stem("студентов", "ru") in terms


def test_analyze_drops_english_stopwords() -> None:
    assert analyze("How many quotas are there for the students of universities?", "en") == [
        "quota", "student", stem("universities", "en"),
    ]  # fmt: skip


def test_stopwords_follow_language_and_script() -> None:
    assert analyze("он студент", "ky") == ["он", "студент"]  # он = "ten" in Kyrgyz
    assert analyze("он студент", "ru") == ["студент"]  # он = "he" in Russian
    assert analyze("the квота", "ky") == ["квота"]  # English words inside Kyrgyz text


def test_stemming_is_thread_safe() -> None:
    words = sorted(corpus_tokens())
    expected = [stem(w, "ru") for w in words]
    stem.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda w: stem(w, "ru"), words))
    assert got == expected


def test_version_string() -> None:
    assert isinstance(STEMMER_VERSION, str) and STEMMER_VERSION
