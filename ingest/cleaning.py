"""Text cleaning driven by the artefacts of the real corpus (hard wraps, page furniture, repeated lists)."""

from __future__ import annotations

import re
import unicodedata

CLEANER_VERSION = "1"

_SENTENCE_END = tuple('.!?:;»"”…)')
_LIST_ITEM = re.compile(r"^\s*(?:[-–—•*▪●]\s+|\d{1,2}[.)]\s+|[a-zа-я][.)]\s+)")
# "1 из 3", "Page 2 of 5", "Страница 1 из 3", "- 3 -": page furniture left by PDF export, even split over lines.
_PAGE_FURNITURE = re.compile(
    r"^[ \t]*(?:(?:стр(?:аница)?\.?|бет|page)\s*)?\d{1,4}\s*(?:из|of|/|ичинен)\s*\d{1,4}[ \t]*$"
    r"|^[ \t]*[-–]\s*\d{1,4}\s*[-–][ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_SPLIT_FURNITURE = re.compile(
    r"(?m)^[ \t]*(\d{1,4})[ \t]*\n(?:[ \t]*\n)*[ \t]*(?:из|of)[ \t]*\n(?:[ \t]*\n)*[ \t]*\d{1,4}[ \t]*$"
)
_HYPHEN_WRAP = re.compile(r"(\w)[-\u00ad]\n[ \t]*\n?[ \t]*([a-zа-яёөүң])")
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f]+")
_HEADING_MAX = 60
_INDENT = re.compile(r"^(?:\t| {2,})\S")
_REPEAT_MIN = 25
_GLUE_CHECK_MAX = 3000


def clean_text(raw: str) -> str:
    """Return the canonical cleaned text of a document (the text citations quote from)."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = text.replace("\ufeff", "").replace("\u200b", "")
    text = _SPLIT_FURNITURE.sub("", text)
    text = _PAGE_FURNITURE.sub("", text)
    text = _HYPHEN_WRAP.sub(r"\1\2", text)
    lines = [(_SPACES.sub(" ", line).strip(), _INDENT.match(line) is not None) for line in text.split("\n")]
    paragraphs = _join_wrapped(lines)
    paragraphs = _drop_repeats(paragraphs)
    return "\n\n".join(paragraphs)


def _ends_sentence(line: str) -> bool:
    return line.endswith(_SENTENCE_END)


def _join_wrapped(lines: list[tuple[str, bool]]) -> list[str]:
    """Join hard-wrapped lines into paragraphs, also across the blank lines some PDF exports insert."""
    paragraphs: list[str] = []
    current = ""
    blank_since = False
    for line, indented in lines:
        if not line:
            blank_since = True
            continue
        if current:
            starts_item = bool(_LIST_ITEM.match(line))
            continues = not _ends_sentence(current) and not starts_item
            if continues and blank_since:
                # A short line with no final punctuation followed by a capitalised line is a heading.
                # An indented line after a blank one opens a paragraph.
                heading = len(current) <= _HEADING_MAX and line[:1].isupper()
                continues = not heading and not indented
            if continues:
                current = f"{current} {line}"
                blank_since = False
                continue
            paragraphs.append(current)
        current = line
        blank_since = False
    if current:
        paragraphs.append(current)
    return paragraphs


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", _LIST_ITEM.sub("", text)).strip().casefold()


def _drop_repeats(paragraphs: list[str]) -> list[str]:
    """Keep one copy of blocks repeated in a document (lists exported twice, or glued into one line)."""
    seen: set[str] = set()
    unique: list[str] = []
    for paragraph in paragraphs:
        key = _key(paragraph)
        if len(key) >= _REPEAT_MIN and key in seen:
            continue
        seen.add(key)
        unique.append(paragraph)
    if len(unique) > _GLUE_CHECK_MAX:
        return unique
    blocks = [_LIST_ITEM.sub("", p).strip().rstrip(";.,") for p in unique]
    result: list[str] = []
    for index, paragraph in enumerate(unique):
        for other, block in enumerate(blocks):
            if other != index and len(block) >= _REPEAT_MIN and block in paragraph and block != blocks[index]:
                # The export glued standalone paragraphs together; cut the glued copy, keep the standalone one.
                paragraph = re.sub(re.escape(block) + r"[;.,]?\s*", "", paragraph, count=1)
        paragraph = paragraph.strip()
        if re.search(r"\w", paragraph):
            result.append(paragraph)
    return result
