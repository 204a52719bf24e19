"""Cleaning rules, checked on the real artefacts of the sample corpus."""

from __future__ import annotations

import unicodedata

from ingest.cleaning import clean_text
from tests.conftest import CORPUS


def cleaned(name: str) -> str:
    return clean_text((CORPUS / name).read_text(encoding="utf-8"))


def test_page_furniture_removed() -> None:
    raw = (CORPUS / "protocol-kravtsov-march-15.txt").read_text(encoding="utf-8")
    assert "\nиз \n" in raw  # the "1 … из … 3" page footer split over lines
    text = cleaned("protocol-kravtsov-march-15.txt")
    assert "\nиз" not in text
    assert not any(line.strip() in {"1", "3", "из"} for line in text.splitlines())


def test_repeated_list_kept_once() -> None:
    raw = (CORPUS / "minister-visit-russia-quotas.txt").read_text(encoding="utf-8")
    item = "Эки өлкөнүн таланттуу студенттери үчүн биргелешкен жайкы лагерлерди уюштуруу"
    assert raw.count(item) == 3  # glued into one line, then listed twice
    text = cleaned("minister-visit-russia-quotas.txt")
    assert text.count(item) == 1
    assert f"- {item};" in text


def test_glued_quotes_kept_once() -> None:
    text = cleaned("protocol-kravtsov-march-15.txt")
    assert text.count("Биздин президентибиздин Орусия Федерациясына") == 1
    assert text.count("Россия Федерациясы башталгыч мектептер үчүн PIRLS") == 1
    assert "Сергей Кравцов кыргызстандык кесиптешине" in text


def test_hard_wrapped_lines_joined_across_blank_lines() -> None:
    raw = (CORPUS / "oshsu-academic-mobility.txt").read_text(encoding="utf-8")
    assert "аралык \n\nинтеграцияны" in raw  # wrapped mid-sentence, with a blank line between the halves
    text = cleaned("oshsu-academic-mobility.txt")
    assert "интеграцияны, ички жана тышкы мобилдүүлүктү активдештирүү" in text
    assert "Германиянын билим алмашуу программасы «ДААД» программасынын негизги максаты Чет өлкөлүк" in text


def test_paragraph_marks_and_headings_survive() -> None:
    text = cleaned("ministry-2023-policy-summary.txt")
    first = text.split("\n\n")[0]
    assert first == "2023-жылдын жыйынтыгы боюнча билим берүү жана илим жаатындагы саясий чараларды аткаруунун резюмеси"
    assert "\n\nМектепке чейинки билим берүү деңгээлинде:\n\n" in text
    assert "\n\n\n" not in text and "\t" not in text


def test_hyphenation_and_furniture_synthetic() -> None:
    raw = "Студенттер академиялык мобил-\nдүүлүк программасына катышат.\n\nPage 2 of 7\n\n- 3 -\nКийинки абзац."
    assert clean_text(raw) == "Студенттер академиялык мобилдүүлүк программасына катышат.\n\nКийинки абзац."


def test_unicode_nfc_and_spaces() -> None:
    decomposed = unicodedata.normalize("NFD", "Бишкек шаарындагы мектеп й")
    assert clean_text(decomposed + "\u00a0 \u00a0окуучулар.") == "Бишкек шаарындагы мектеп й окуучулар."


def test_list_items_not_joined() -> None:
    raw = "Төмөнкүлөр:\n- биринчи пункт\n- экинчи пункт\n1) үчүнчү пункт"
    assert clean_text(raw).split("\n\n") == ["Төмөнкүлөр:", "- биринчи пункт", "- экинчи пункт", "1) үчүнчү пункт"]
