"""Reading what a site serves: a page's main text, title, publication date, language and links (trafilatura and
htmldate keep navigation, footers and related-news lists out); linked PDF and DOCX files through the loaders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import use_config

from assistant.core.errors import PayloadTooLarge, UnsupportedDocument
from assistant.core.language import detect_language
from assistant.core.models import LANGUAGES, SourceDocument
from ingest.loaders import LoadLimits, decode_text, load_bytes
from ingest.web import Fetched, without_fragment

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FILE_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
FILE_SUFFIXES = (".pdf", ".docx")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# lxml keeps 256 levels of nesting and drops what lies deeper (a nesting bomb loses its text, nothing more);
# trafilatura gives up on trees larger than this many elements.
_CONFIG = use_config()
_CONFIG["DEFAULT"]["MAX_TREE_SIZE"] = "200000"


@dataclass(frozen=True)
class Page:
    """A page's readable part: the document it makes and the links it holds."""

    document: SourceDocument
    links: tuple[str, ...]


class Unreadable(Exception):
    """A response that holds no document: no main text, a type no loader reads, or a file over the limits."""


def decode_html(body: bytes, charset: str | None) -> str:
    """The page's text: in the charset its header or its <meta> names, else as the loaders detect it."""
    declared = charset
    if declared is None:
        meta = _META_CHARSET.search(body[:4096])
        declared = meta.group(1).decode("ascii").lower() if meta else None
    if declared:
        try:
            return body.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return decode_text(body)
    except UnsupportedDocument as exc:
        raise Unreadable(exc.message) from None


def read_page(fetched: Fetched, *, source: str, lang_hint: str | None = None) -> Page:
    """A fetched HTML page as a document known by its canonical URL (same host), with its links."""
    # lxml refuses text that still declares its bytes' encoding (an XHTML page's <?xml ... encoding=...?>).
    html = _XML_DECLARATION.sub("", decode_html(fetched.body, fetched.charset), count=1)
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise Unreadable(f"not HTML: {exc}") from None
    canonical = _canonical(tree, fetched.url)
    links = tuple(dict.fromkeys(_links(tree, fetched.url)))
    extracted = trafilatura.bare_extraction(
        tree,
        url=canonical,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        config=_CONFIG,
    )
    text = (getattr(extracted, "text", None) or "").strip()
    if not text:
        raise Unreadable("no main text on the page")
    title = (getattr(extracted, "title", None) or "").strip()
    lines = text.splitlines()
    if title and lines and lines[0].strip() == title:
        # The page's heading repeats its title; the title is kept beside the text, so the text need not hold it.
        text = "\n".join(lines[1:]).strip() or text
    date = getattr(extracted, "date", None)
    document = SourceDocument(
        id=canonical,
        text=text,
        title=title or _url_title(canonical),
        url=canonical,
        date=date or None,
        lang=_language(tree, lang_hint, text),
        source=source,
        path=canonical,
    )
    return Page(document=document, links=links)


def read_file(fetched: Fetched, *, source: str, lang_hint: str | None, limits: LoadLimits) -> SourceDocument:
    """A fetched PDF or DOCX through the loaders, known by its URL, dated by its Last-Modified header."""
    suffix = FILE_TYPES.get(fetched.content_type) or PurePosixPath(urlsplit(fetched.url).path).suffix.lower()
    name = PurePosixPath(unquote(urlsplit(fetched.url).path)).name or "document"
    try:
        loaded = load_bytes(
            fetched.body, suffix=suffix, doc_id=fetched.url, source=source, path=PurePosixPath(name), limits=limits
        )
    except (UnsupportedDocument, PayloadTooLarge) as exc:
        raise Unreadable(exc.message) from None
    return SourceDocument(
        id=fetched.url,
        text=loaded.text,
        title=loaded.title,
        url=fetched.url,
        date=_header_date(fetched.last_modified),
        lang=lang_hint if lang_hint in LANGUAGES else detect_language(loaded.text),
        source=source,
        path=fetched.url,
    )


def is_file_link(url: str) -> bool:
    """Whether a link names a file the loaders read (PDF, DOCX) by its path."""
    return urlsplit(url).path.lower().endswith(FILE_SUFFIXES)


def _canonical(tree: lxml.html.HtmlElement, url: str) -> str:
    """<link rel=canonical> when it stays on the page's host, else the URL it was fetched at."""
    for href in tree.xpath("//link[@rel='canonical']/@href"):
        absolute = without_fragment(urljoin(url, str(href).strip()))
        if urlsplit(absolute).netloc.lower() == urlsplit(url).netloc.lower():
            return absolute
    return url


def _links(tree: lxml.html.HtmlElement, url: str) -> list[str]:
    """Every http(s) link of the page, absolute, without fragments."""
    found = []
    for href in tree.xpath("//a/@href"):
        absolute = without_fragment(urljoin(url, str(href).strip()))
        if urlsplit(absolute).scheme in ("http", "https"):
            found.append(absolute)
    return found


def _language(tree: lxml.html.HtmlElement, hint: str | None, text: str) -> str:
    """The page's declared language when it is one of ours, else the source's hint, else the detected one."""
    declared = str(tree.get("lang") or "").split("-")[0].lower()
    if declared in LANGUAGES:
        return declared
    if hint in LANGUAGES:
        return str(hint)
    return detect_language(text)


def _header_date(value: str | None) -> str | None:
    """An HTTP date as YYYY-MM-DD."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


def _url_title(url: str) -> str:
    """A readable name from the URL's last path segment."""
    name = PurePosixPath(unquote(urlsplit(url).path)).stem
    return re.sub(r"[-_]+", " ", name).strip() or urlsplit(url).netloc
