"""Read raw documents (text, Markdown, HTML, PDF, DOCX, JSONL) into `SourceDocument`s."""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

from charset_normalizer import from_bytes

from assistant.core.errors import PayloadTooLarge, UnsupportedDocument
from assistant.core.models import SourceDocument

if TYPE_CHECKING:
    from docx.table import Table

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
JSONL_SUFFIX = ".jsonl"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_TITLE_CHARS = 150

# The ministry's older documents are overwhelmingly Windows-1251; charset detection on short
# Cyrillic texts often ranks look-alike code pages (mac_cyrillic, cp1125) above it.
_PREFERRED_LEGACY_ENCODING = "cp1251"
_BINARY_SNIFF_BYTES = 8192
_MAX_CONTROL_RATIO = 0.05
_TEXT_CONTROL_BYTES = frozenset(b"\t\n\r\f\v\b\x1b")
_OPTIONAL_JSONL_FIELDS = ("title", "url", "date", "lang")


@dataclass(frozen=True)
class LoadLimits:
    """Bounds checked before or while a file is parsed, so a small hostile file cannot take the memory or the
    time of a large one (a zip bomb named .docx, two million empty paragraphs, a 100,000-page PDF)."""

    max_unpacked_bytes: int = 50 * 1024 * 1024  # everything a DOCX unzips to
    max_docx_elements: int = 200_000  # paragraphs and table cells (and ten times as many XML elements)
    max_pdf_pages: int = 2_000
    max_extracted_chars: int = 20_000_000  # per document, after extraction


@dataclass(frozen=True)
class LoadFailure:
    """A file (or JSONL line) that could not be read, with a human-readable reason."""

    path: str
    error: str
    # The id the document would have had, when known (so `--prune` keeps what is stored for it).
    doc_id: str | None = field(default=None, compare=False)


def load_file(
    path: Path, *, doc_id: str, source: str, max_bytes: int = DEFAULT_MAX_BYTES, limits: LoadLimits = LoadLimits()
) -> SourceDocument:
    """Read one file into a `SourceDocument` with raw text, or raise `UnsupportedDocument` (unreadable) or
    `PayloadTooLarge` (over one of the limits)."""
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        kind = f"{suffix!r}" if suffix else "(no extension)"
        raise UnsupportedDocument(f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsupportedDocument(f"file too large: {size} bytes (limit {max_bytes})")
        data = path.read_bytes()
    except OSError as exc:
        raise UnsupportedDocument(f"cannot read file: {exc.strerror or exc}") from exc
    return load_bytes(data, suffix=suffix, doc_id=doc_id, source=source, path=path, limits=limits)


def load_bytes(
    data: bytes, *, suffix: str, doc_id: str, source: str, path: PurePath, limits: LoadLimits = LoadLimits()
) -> SourceDocument:
    """Read a file's bytes (of the type `suffix` names) into a `SourceDocument`; `path` names it in titles and
    errors (a downloaded file's URL path). Raises as `load_file` does."""
    reader = _READERS.get(suffix.lower())
    if reader is None:
        kind = f"{suffix!r}" if suffix else "(no extension)"
        raise UnsupportedDocument(f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not data or data.isspace():
        raise UnsupportedDocument("empty document")
    text, title = reader(data, limits)
    if not text.strip():
        raise UnsupportedDocument("empty document")
    if len(text) > limits.max_extracted_chars:
        raise PayloadTooLarge(
            f"the document holds {len(text)} characters of text; the limit is {limits.max_extracted_chars} "
            "(split it, or ingest it with `python -m ingest`)"
        )
    return SourceDocument(
        id=doc_id,
        text=text,
        title=title or _fallback_title(text, path),
        source=source,
        path=str(path),
    )


def iter_documents(root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[SourceDocument | LoadFailure]:
    """Yield every document under a folder, in a JSONL file, or in a single file, plus failures."""
    if root.is_dir():
        yield from _iter_folder(root, max_bytes)
    elif not root.exists():
        yield LoadFailure(str(root), "no such file or directory")
    elif root.suffix.lower() == JSONL_SUFFIX:
        yield from _iter_jsonl(root, max_bytes)
    else:
        yield _load_or_failure(root, doc_id=root.name, source=str(root.resolve()), max_bytes=max_bytes)


def _load_or_failure(path: Path, *, doc_id: str, source: str, max_bytes: int) -> SourceDocument | LoadFailure:
    """Load a file, turning an `UnsupportedDocument` into a `LoadFailure`."""
    try:
        return load_file(path, doc_id=doc_id, source=source, max_bytes=max_bytes)
    except (UnsupportedDocument, PayloadTooLarge) as exc:
        return LoadFailure(str(path), exc.message, doc_id=doc_id)


def _iter_folder(root: Path, max_bytes: int) -> Iterator[SourceDocument | LoadFailure]:
    """Load supported files below `root` in order of their relative POSIX path."""
    source = str(root.resolve())
    relative_paths: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk from descending into .git, .cache and the like.
        dirnames[:] = [name for name in dirnames if not _is_hidden(name)]
        base = Path(directory).relative_to(root)
        relative_paths.extend(
            (base / name).as_posix()
            for name in filenames
            if not _is_hidden(name) and Path(name).suffix.lower() in SUPPORTED_SUFFIXES
        )
    for relative in sorted(relative_paths):
        yield _load_or_failure(root / relative, doc_id=relative, source=source, max_bytes=max_bytes)


def _is_hidden(name: str) -> bool:
    """True for dotfiles and for Office lock files (`~$report.docx`), which are never documents."""
    return name.startswith((".", "~$"))


def _iter_jsonl(path: Path, max_bytes: int) -> Iterator[SourceDocument | LoadFailure]:
    """Yield one document per JSONL line; a bad line becomes a failure and the run goes on."""
    source = str(path.resolve())
    first_line: dict[str, int] = {}
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield LoadFailure(str(path), f"cannot read file: {exc.strerror or exc}")
        return
    with handle:
        # Read bytes so one badly encoded line fails alone instead of aborting the whole file.
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if not raw.strip():
                continue
            try:
                document = _parse_jsonl_record(raw, source=source, path=str(path), max_bytes=max_bytes)
            except UnsupportedDocument as exc:
                yield LoadFailure(where, exc.message, doc_id=_record_id(raw))
                continue
            if document.id in first_line:
                yield LoadFailure(
                    where, f"duplicate id {document.id!r} (first on line {first_line[document.id]})", doc_id=document.id
                )
                continue
            first_line[document.id] = number
            yield document


def _record_id(raw: bytes) -> str | None:
    """The `id` of a JSONL line that failed validation, if it has a usable one."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    doc_id = record.get("id") if isinstance(record, dict) else None
    return doc_id if isinstance(doc_id, str) and doc_id.strip() else None


def _parse_jsonl_record(raw: bytes, *, source: str, path: str, max_bytes: int) -> SourceDocument:
    """Validate one JSONL line and build its document."""
    # The size guard is per record: a large JSONL corpus is streamed, never held whole.
    if len(raw) > max_bytes:
        raise UnsupportedDocument(f"file too large: line has {len(raw)} bytes (limit {max_bytes})")
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UnsupportedDocument(f"line is not valid UTF-8: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise UnsupportedDocument(f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise UnsupportedDocument(f"expected a JSON object, got {type(record).__name__}")
    doc_id, text = record.get("id"), record.get("text")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise UnsupportedDocument("missing 'id' (must be a non-empty string)")
    if not isinstance(text, str) or not text.strip():
        raise UnsupportedDocument(f"document {doc_id!r}: missing or empty 'text'")
    optional = {name: _optional_string(record, name, doc_id) for name in _OPTIONAL_JSONL_FIELDS}
    return SourceDocument(
        id=doc_id,
        text=text,
        title=optional["title"] or "",
        url=optional["url"],
        date=optional["date"],
        lang=optional["lang"],
        source=source,
        path=path,
    )


def _optional_string(record: dict[str, Any], name: str, doc_id: str) -> str | None:
    """Return an optional string field, mapping absent/null/blank to None."""
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnsupportedDocument(f"document {doc_id!r}: {name!r} must be a string, got {type(value).__name__}")
    return value.strip() or None


# Section labels of scholarly articles (abstract, keywords, DOI, UDC in ky/ru/en): they open a paper but
# never name it, so the title is looked for past them.
_SECTION_LABEL = re.compile(
    r"^\W*(?:аннотация|abstract|резюме|summary|keywords|key\s+words|ключевые\s+слова|түйүндүү\s+сөздөр"
    r"|негизги\s+сөздөр|doi|удк|udc)\b",
    re.IGNORECASE,
)


def _fallback_title(text: str, path: PurePath) -> str:
    """The first line that is not a section label ("Аннотация: …"), or its first sentence, if it is short and
    starts like a title; else the file name stem made readable."""
    lines = (line.strip() for line in text.splitlines() if line.strip())
    first = next((line for line in lines if not _SECTION_LABEL.match(line)), "")
    if path.suffix.lower() == ".md":
        first = first.lstrip("#").strip()
    # A line that starts in lower case continues a wrapped paragraph (here: the label's own text).
    if first and not first[0].islower():
        if len(first) <= MAX_TITLE_CHARS:
            return first
        sentence = re.match(r".{20,}?[.!?](?=\s|$)", first)
        if sentence and len(sentence.group(0)) <= MAX_TITLE_CHARS:
            return sentence.group(0)
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.name


# ---------------------------------------------------------------------------------------------
# Plain text


def decode_text(data: bytes) -> str:
    """Decode text bytes: UTF-16 by BOM, UTF-8 (BOM optional), then a detected legacy code page."""
    # UTF-16 is full of NUL bytes, so it must be recognised before the binary sniff.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if _looks_binary(data):
        raise UnsupportedDocument("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data)
    if any(match.encoding == _PREFERRED_LEGACY_ENCODING for match in matches):
        return data.decode(_PREFERRED_LEGACY_ENCODING, errors="replace")
    best = matches.best()
    if best is None:
        raise UnsupportedDocument("looks like a binary file, not text")
    return str(best)


def _looks_binary(data: bytes) -> bool:
    """True if the start of `data` has NUL bytes or too many control bytes to be text."""
    sample = data[:_BINARY_SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROL_BYTES)
    return controls > _MAX_CONTROL_RATIO * len(sample)


def _read_text(data: bytes, limits: LoadLimits) -> tuple[str, str | None]:
    """Plain text and Markdown: the decoded bytes; the title comes from the fallback rule."""
    return decode_text(data), None


# ---------------------------------------------------------------------------------------------
# HTML

_SKIPPED_TAGS = frozenset({"script", "style", "nav", "head", "noscript", "template"})
# Tags that start a new line of text when rendered, so their content must not run together.
_BLOCK_TAGS = (
    frozenset({"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "div", "dl"})
    | {"dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header"}
    | {"hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"}
)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _HTMLTextExtractor(HTMLParser):
    """Collect visible text (one block per line) plus the <title> and first <h1>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.h1_parts: list[str] = []
        self._skipping: dict[str, int] = dict.fromkeys(_SKIPPED_TAGS, 0)
        self._in_title = False
        self._h1_state = "before"  # before -> inside -> done: only the first <h1> is a title

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # Pages that never close <head> would otherwise lose their whole body.
            self._skipping["head"] = 0
        if tag in self._skipping:
            self._skipping[tag] += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "h1" and self._h1_state == "before":
            self._h1_state = "inside"
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipping:
            self._skipping[tag] = max(0, self._skipping[tag] - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "h1" and self._h1_state == "inside":
            self._h1_state = "done"
        if tag in _BLOCK_TAGS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        # <title> is checked first because pages without a <head> tag still keep it out of the text.
        if self._in_title:
            self.title_parts.append(data)
            return
        if any(self._skipping.values()):
            return
        if self._h1_state == "inside":
            self.h1_parts.append(data)
        self.parts.append(_HTML_SPACE.sub(" ", data))

    def text(self) -> str:
        """Visible text with one block per line and no blank lines."""
        lines = (line.strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)


def _read_html(data: bytes, limits: LoadLimits) -> tuple[str, str | None]:
    """HTML: visible text without scripts/styles/navigation; title from <title> or first <h1>."""
    parser = _HTMLTextExtractor()
    parser.feed(decode_text(data))
    parser.close()
    title = _collapse(parser.title_parts) or _collapse(parser.h1_parts)
    return parser.text(), title


def _collapse(parts: list[str]) -> str:
    """Join text fragments with HTML whitespace collapsed."""
    return _HTML_SPACE.sub(" ", "".join(parts)).strip()


# ---------------------------------------------------------------------------------------------
# PDF and DOCX


def _read_pdf(data: bytes, limits: LoadLimits) -> tuple[str, str | None]:
    """PDF: page texts joined by a blank line; title from the document metadata."""
    from pypdf import PdfReader  # imported here: ingesting text files never waits for it

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many official PDFs are "encrypted" with an empty user password just to block editing.
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnsupportedDocument("PDF is password-protected; remove the password first")
        count = len(reader.pages)  # read from the page tree, before any page is parsed
        if count > limits.max_pdf_pages:
            raise PayloadTooLarge(f"the PDF has {count} pages; the limit is {limits.max_pdf_pages}")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except (UnsupportedDocument, PayloadTooLarge):
        raise
    except Exception as exc:
        # pypdf surfaces damaged files as anything from PdfReadError to KeyError or ValueError.
        raise UnsupportedDocument(f"cannot read PDF: {exc}") from exc
    if not pages:
        raise UnsupportedDocument("cannot read PDF: it has no pages")
    if not any(page.strip() for page in pages):
        raise UnsupportedDocument("PDF has no text layer (scanned image?); run OCR first")
    text = "\n\n".join(page for page in pages if page.strip())
    return text, title.strip() if isinstance(title, str) else None


def _read_docx(data: bytes, limits: LoadLimits) -> tuple[str, str | None]:
    """DOCX: paragraphs and table rows in document order, one per line; title from core properties."""
    from docx import Document as open_docx  # imported here: ingesting text files never waits for it
    from docx.table import Table

    _check_docx(data, limits)
    try:
        document = open_docx(io.BytesIO(data))
    except Exception as exc:
        # A damaged or mislabelled file shows up as BadZipFile, KeyError or an XML syntax error.
        raise UnsupportedDocument(f"cannot read DOCX (corrupt or not a Word file): {exc}") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_table_rows(block))
        else:
            lines.append(block.text)
    return "\n".join(lines), (document.core_properties.title or "").strip() or None


WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# Paragraphs and table cells by namespace URI and local name (expat's "uri local"): the prefix is the file's choice,
# so `<x:p/>` with x bound to Word's namespace is a paragraph too.
_DOCX_COUNTED = frozenset({f"{WORD_NS} p", f"{WORD_NS} tc"})
# Every element of every XML part, whatever its kind, is bounded too: python-docx parses the parts into trees, and
# seven million `<w:r/>` would hold as much memory as seven million paragraphs. Ten per counted element is more
# than any document within the unpacked-size limit holds (an element of real Word XML takes about 40 bytes).
XML_ELEMENTS_PER_COUNTED = 10


class _DocxElements:
    """Counts a DOCX's XML elements while expat streams each part (no tree is built), stopping at the limits."""

    def __init__(self, limits: LoadLimits) -> None:
        self.limit = limits.max_docx_elements
        self.counted = 0
        self.elements = 0

    def parser(self) -> Any:
        """An expat parser for one part, with namespaces resolved, that raises at a limit or at a DTD."""
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = self._element
        parser.StartDoctypeDeclHandler = self._doctype  # Word writes none; an entity could expand unseen
        return parser

    def _element(self, name: str, attributes: object) -> None:
        self.elements += 1
        if name in _DOCX_COUNTED:
            self.counted += 1
            if self.counted > self.limit:
                raise PayloadTooLarge(f"the DOCX has more than {self.limit} paragraphs and table cells")
        if self.elements > self.limit * XML_ELEMENTS_PER_COUNTED:
            raise PayloadTooLarge(f"the DOCX has more than {self.limit * XML_ELEMENTS_PER_COUNTED} XML elements")

    def _doctype(self, *declaration: object) -> None:
        raise UnsupportedDocument("cannot read DOCX (corrupt or not a Word file): its XML declares a DTD")


def _check_docx(data: bytes, limits: LoadLimits) -> None:
    """Unzip a DOCX as a stream, before python-docx builds anything: stop at the unpacked-size limit (a zip
    bomb never gets inflated), and stream each XML part through expat counting paragraphs, cells and elements,
    stopping at their limits (no XML tree is built to count)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnsupportedDocument(f"cannot read DOCX (corrupt or not a Word file): {exc}") from exc
    unpacked = 0
    elements = _DocxElements(limits)
    with archive:
        for member in archive.infolist():
            parser = elements.parser() if member.filename.endswith((".xml", ".rels")) else None
            try:
                with archive.open(member) as stream:
                    while block := stream.read(1 << 20):
                        unpacked += len(block)
                        if unpacked > limits.max_unpacked_bytes:
                            raise PayloadTooLarge(
                                f"the DOCX unpacks to more than {limits.max_unpacked_bytes} bytes (a zip bomb?)"
                            )
                        if parser is not None:
                            parser.Parse(block, False)
                if parser is not None:
                    parser.Parse(b"", True)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise UnsupportedDocument(f"cannot read DOCX (corrupt or not a Word file): {exc}") from exc
            except expat.ExpatError as exc:
                # python-docx's parser would stop there too (or read what expat cannot, unbounded): refused.
                raise UnsupportedDocument(
                    f"cannot read DOCX (corrupt or not a Word file): {member.filename}: {exc}"
                ) from exc


def _table_rows(table: Table) -> Iterator[str]:
    """One line per table row, cells separated by ' | '."""
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A horizontally merged cell is returned once per grid column it spans; keep it once.
            if cell._tc is not previous:
                cells.append(cell.text.strip())
            previous = cell._tc
        if any(cells):
            yield " | ".join(cells)


_READERS: dict[str, Callable[[bytes, LoadLimits], tuple[str, str | None]]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
