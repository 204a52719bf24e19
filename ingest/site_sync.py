"""Keeping the store in line with websites: discover pages (sitemap, feed or a crawl), fetch what changed, write
it through ingestion, and remove a page only after it has been gone for several syncs in a row."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import feedparser
from lxml import etree

from assistant.core.errors import InvalidInput
from assistant.core.models import LANGUAGES, SourceDocument
from assistant.core.ports import Embedder, WritableChunkStore
from ingest.loaders import LoadLimits
from ingest.pipeline import Fence, IngestReport, ProgressFactory, ingest_loaded, no_fence, no_progress
from ingest.site_pages import FILE_TYPES, HTML_TYPES, Unreadable, is_file_link, read_file, read_page
from ingest.web import DISALLOWED, Fetched, Fetcher, FetchFailed, without_fragment

SourceKind = Literal["sitemap", "feed", "start"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)
WRITE_BATCH = 32  # pages per ingestion call: the state is saved after each, so a failed run resumes there
DEFAULT_LIMITS = LoadLimits()
MAX_SITEMAPS = 50  # child sitemaps read from one sitemap index


@dataclass(frozen=True)
class SyncSource:
    """One site section to keep in the store: where its pages are listed and which of them to take."""

    name: str
    kind: SourceKind
    url: str
    include: tuple[str, ...] = ()  # regular expressions: a page's URL must match one (when any are given)
    exclude: tuple[str, ...] = ()  # … and none of these
    max_pages: int = 500
    depth: int = 2  # a crawl's link hops from its start page
    lang: str | None = None  # the language of pages that do not declare one
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise InvalidInput(f"source {self.name!r}: kind must be one of {', '.join(SOURCE_KINDS)}")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise InvalidInput(f"source {self.name!r}: {self.url!r} is not an http(s) URL")
        if self.max_pages < 1 or self.depth < 0:
            raise InvalidInput(f"source {self.name!r}: max_pages must be ≥ 1 and depth ≥ 0")
        for pattern in (*self.include, *self.exclude):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidInput(f"source {self.name!r}: bad pattern {pattern!r}: {exc}") from None

    @property
    def store_source(self) -> str:
        """What the source's documents record as where they came from."""
        return f"sync:{self.name}"

    def wants(self, url: str, *, page: bool = True) -> bool:
        """Whether a URL belongs to this source: its host, none of the exclusions, and (pages) an inclusion."""
        if urlsplit(url).netloc.lower() != urlsplit(self.url).netloc.lower():
            return False
        if any(re.search(p, url) for p in self.exclude):
            return False
        return not page or not self.include or any(re.search(p, url) for p in self.include)


def load_sources(path: Path) -> list[SyncSource]:
    """The sources of a sources.toml: `[[source]]` tables with name, one of sitemap / feed / start, and optional
    include, exclude, max_pages, depth, lang and labels."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the sources: {exc}") from None
    return sources_from_tables(raw.get("source"), str(path))


def sources_from_tables(tables: object, where: str) -> list[SyncSource]:
    """Sources from `[[source]]` tables (of a sources.toml, or of a request); `where` names them in errors."""
    if not isinstance(tables, list) or not tables:
        raise InvalidInput(f"{where}: no [[source]] tables")
    sources = []
    for i, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise InvalidInput(f"{where}: source {i} is not a table")
        kinds = [k for k in SOURCE_KINDS if k in table]
        if len(kinds) != 1:
            raise InvalidInput(f"{where}: source {i} needs exactly one of {', '.join(SOURCE_KINDS)}")
        unknown = set(table) - {"name", *SOURCE_KINDS, "include", "exclude", "max_pages", "depth", "lang", "labels"}
        if unknown:
            raise InvalidInput(f"{where}: source {i}: unknown keys {', '.join(sorted(unknown))}")
        lang = table.get("lang")
        if lang is not None and lang not in LANGUAGES:
            raise InvalidInput(f"{where}: source {i}: lang must be one of {', '.join(LANGUAGES)}")
        try:
            sources.append(
                SyncSource(
                    name=str(table.get("name") or table[kinds[0]]),
                    kind=kinds[0],
                    url=str(table[kinds[0]]),
                    include=tuple(_strings(table.get("include", []))),
                    exclude=tuple(_strings(table.get("exclude", []))),
                    max_pages=int(table.get("max_pages", 500)),
                    depth=int(table.get("depth", 2)),
                    lang=lang,
                    labels=tuple(_strings(table.get("labels", []))),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: source {i}: {exc}") from None
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise InvalidInput(f"{where}: source names must differ")
    return sources


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a string or a list of strings")
    return list(value)


@dataclass
class PageRecord:
    """What the last syncs learnt of one URL: its validators, its document, and how many syncs in a row it was
    gone (a 404/410, or dropped from its sitemap)."""

    source: str
    document_id: str
    etag: str | None = None
    last_modified: str | None = None
    misses: int = 0
    last_seen: str = ""
    last_synced: str = ""
    labels: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # the PDF/DOCX files the page links to (fetched again when it answers 304)


@dataclass
class SyncState:
    """Every synced URL's record, kept in a JSON file beside the store (written whole, then renamed into place)."""

    path: Path
    pages: dict[str, PageRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SyncState:
        """The state at `path` (empty when there is none yet)."""
        if not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            pages = {
                url: PageRecord(
                    **{**record, "labels": tuple(record.get("labels", ())), "files": tuple(record.get("files", ()))}
                )
                for url, record in raw["pages"].items()
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}: unreadable sync state ({exc}); move it away to sync from scratch") from None
        return cls(path, pages)

    def save(self) -> None:
        """Write the state atomically."""
        raw = {"pages": {url: asdict(record) for url, record in sorted(self.pages.items())}}
        write_json_atomically(self.path, raw, indent=1)

    def of_source(self, name: str) -> dict[str, PageRecord]:
        """The records of one source's URLs."""
        return {url: r for url, r in self.pages.items() if r.source == name}


def write_json_atomically(path: Path, value: object, indent: int | None = None) -> None:
    """Write JSON whole, then rename it into place: a reader (another worker or host) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # two processes never share a partial file
    partial.write_text(json.dumps(value, ensure_ascii=False, indent=indent), encoding="utf-8")
    os.replace(partial, path)


@dataclass
class SyncReport:
    """What one sync did: pages seen, fetched, unchanged, added, changed, removed and failed (with reasons)."""

    seen: int = 0
    fetched: int = 0
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # robots.txt, duplicates: not failures
    gone: list[str] = field(default_factory=list)  # 404/410 or dropped from the sitemap, not removed yet
    chunks_embedded: int = 0
    chunks_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)

    def add(self, other: SyncReport) -> None:
        """Fold another source's report into this one."""
        for name in ("seen", "fetched", "unchanged", "added", "changed", "removed", "chunks_embedded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed += other.failed
        self.skipped += other.skipped
        self.gone += other.gone


# Holds the store's writer lock or lease around one batch of writes, and yields the fence to call before each write.
Writing = Callable[[], AbstractContextManager[Fence]]


@contextmanager
def unguarded() -> Iterator[Fence]:
    """No lock (a store nobody else writes to: tests, library use)."""
    yield no_fence


def _why(exc: FetchFailed | Unreadable) -> str:
    """The reason a fetch or a read failed, without the URL."""
    return exc.reason if isinstance(exc, FetchFailed) else str(exc)


@dataclass(frozen=True)
class _Queued:
    url: str
    depth: int
    page: bool  # an HTML page (links followed when crawling) rather than a linked file


def sync_sources(
    sources: Sequence[SyncSource],
    *,
    store: WritableChunkStore,
    embedder: Embedder,
    fetcher: Fetcher,
    state: SyncState,
    remove_after: int = 3,
    limits: LoadLimits = DEFAULT_LIMITS,
    progress: ProgressFactory = no_progress,
    writing: Writing = unguarded,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """Sync every source in turn; `writing` guards each batch of writes (the writer lock or lease is held for a
    batch, not while pages download), and the state is saved after each batch and at the end."""
    if remove_after < 1:
        raise InvalidInput("remove_after must be ≥ 1")
    total = SyncReport()
    for source in sources:
        run = _SourceRun(source, store, embedder, fetcher, state, limits, progress, writing, clock)
        total.add(run.sync(remove_after))
    total.chunks_total = store.count()
    return total


class _SourceRun:
    """One source's sync: discovery, fetching, batched writes and removals."""

    def __init__(
        self,
        source: SyncSource,
        store: WritableChunkStore,
        embedder: Embedder,
        fetcher: Fetcher,
        state: SyncState,
        limits: LoadLimits,
        progress: ProgressFactory,
        writing: Writing,
        clock: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.store = store
        self.embedder = embedder
        self.fetcher = fetcher
        self.state = state
        self.limits = limits
        self.progress = progress
        self.writing = writing
        self.now = clock().isoformat(timespec="seconds")
        self.report = SyncReport()
        self.known = state.of_source(source.name)
        stored = store.documents({r.document_id for r in self.known.values()}) if self.known else {}
        # Validators are sent only for pages whose document is still stored: a wiped store re-fetches everything.
        self.validated = {url for url, r in self.known.items() if r.document_id in stored}
        self.alive: set[str] = set()  # URLs that answered 200 or 304 this run
        self.dead: set[str] = set()  # … 404 or 410
        self.documents: set[str] = set()  # document ids written or kept this run (two URLs, one canonical page)
        self.pending: list[tuple[str, SourceDocument, Fetched, tuple[str, ...]]] = []
        self.listed_all: set[str] = set()  # every URL the listing names, the ones past the page cap too
        self.listing_complete = True
        self.queued: set[str] = set()

    def sync(self, remove_after: int) -> SyncReport:
        listed = self._listed()
        queue: deque[_Queued] = deque(
            _Queued(url, 0, not is_file_link(url)) for url in (listed if listed is not None else [self.source.url])
        )
        queued = self.queued
        queued.update(q.url for q in queue)
        counted = set(queued) if listed is not None else None  # the bar counts the listed URLs (a crawl: every one)
        with self.progress(len(queue) if listed is not None else self.source.max_pages, "pages") as advance:
            while queue and self.report.seen < self.source.max_pages:
                item = queue.popleft()
                self.report.seen += 1
                for link in self._visit(item):
                    if link.url not in queued:
                        queued.add(link.url)
                        queue.append(link)
                if counted is None or item.url in counted:
                    advance(1)
                if len(self.pending) >= WRITE_BATCH:
                    self._write()
            self._write()
        self._expire(remove_after)
        self.state.save()
        return self.report

    def _listed(self) -> list[str] | None:
        """The URLs the sitemap or feed lists (None for a crawl, or when the listing could not be read, so that
        nothing counts as dropped from it)."""
        if self.source.kind == "start":
            return None
        try:
            urls = self._sitemap(self.source.url, 0) if self.source.kind == "sitemap" else self._feed()
        except (FetchFailed, Unreadable) as exc:
            self.report.failed.append(
                {"url": self.source.url, "reason": f"cannot read the {self.source.kind}: {_why(exc)}"}
            )
            return []
        wanted = [u for u in dict.fromkeys(urls) if self.source.wants(u, page=not is_file_link(u))]
        # Pages past the cap are still listed: only what the whole listing lacks counts as dropped from it.
        self.listed_all = set(wanted)
        return wanted[: self.source.max_pages]

    def _sitemap(self, url: str, level: int) -> list[str]:
        fetched = self.fetcher.get(url)
        try:
            root = etree.fromstring(fetched.body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise Unreadable(f"not a sitemap: {exc}") from None
        locations = [loc.text.strip() for loc in root.iter("{*}loc") if loc.text and loc.text.strip()]
        if etree.QName(root).localname != "sitemapindex":
            return [without_fragment(u) for u in locations]
        if level > 0:
            raise Unreadable("a sitemap index inside a sitemap index")
        if len(locations) > MAX_SITEMAPS:
            self.listing_complete = False
        urls: list[str] = []
        for child in locations[:MAX_SITEMAPS]:
            try:
                urls += self._sitemap(child, level + 1)
            except (FetchFailed, Unreadable) as exc:
                # The other child sitemaps are still synced; nothing counts as dropped from an incomplete listing.
                self.listing_complete = False
                self.report.failed.append({"url": child, "reason": f"cannot read the sitemap: {_why(exc)}"})
        return urls

    def _feed(self) -> list[str]:
        fetched = self.fetcher.get(self.source.url)
        parsed = feedparser.parse(fetched.body)
        if parsed.bozo and not parsed.entries:
            raise Unreadable(f"not an RSS or Atom feed: {parsed.get('bozo_exception')}")
        return [without_fragment(str(e.link)) for e in parsed.entries if e.get("link")]

    def _visit(self, item: _Queued) -> Iterator[_Queued]:
        """Fetch one URL and queue its document; yields the links to follow."""
        record = self.known.get(item.url)
        sent = record if item.url in self.validated else None  # validators only for a document still stored
        try:
            fetched = self.fetcher.get(
                item.url, etag=sent.etag if sent else None, last_modified=sent.last_modified if sent else None
            )
        except FetchFailed as exc:
            if exc.gone:
                self.dead.add(item.url)
            if exc.reason == DISALLOWED:
                self.report.skipped.append({"url": item.url, "reason": exc.reason})
            elif not (exc.gone and item.url in self.known):
                self.report.failed.append({"url": item.url, "reason": exc.reason})
            return
        self.alive.add(item.url)
        if fetched.status == 304 and record is not None:
            self.report.unchanged += 1
            self.documents.add(record.document_id)
            self._remember(item.url, record.document_id, fetched, record.files)
            yield from (_Queued(link, item.depth + 1, False) for link in record.files)
            return
        self.report.fetched += 1
        try:
            if fetched.content_type in HTML_TYPES:
                page = read_page(fetched, source=self.source.store_source, lang_hint=self.source.lang)
                document = page.document
                links = page.links
            elif fetched.content_type in FILE_TYPES or is_file_link(fetched.url):
                document = read_file(
                    fetched, source=self.source.store_source, lang_hint=self.source.lang, limits=self.limits
                )
                links = ()
            else:
                raise Unreadable(f"{fetched.content_type or 'no content type'} is neither a page nor a PDF/DOCX")
        except Unreadable as exc:
            self.report.failed.append({"url": item.url, "reason": str(exc)})
            return
        if document.id in self.documents:
            self.report.skipped.append({"url": item.url, "reason": f"the same page as {document.id}"})
            return
        self.documents.add(document.id)
        followed = list(self._follow(item, links))
        files = tuple(q.url for q in followed if not q.page)
        self.pending.append((item.url, document, fetched, files))
        yield from followed

    def _follow(self, item: _Queued, links: Iterable[str]) -> Iterator[_Queued]:
        """Links worth fetching: files a page links to (on the source's host), and pages when crawling."""
        for link in links:
            if is_file_link(link):
                if self.source.wants(link, page=False):
                    yield _Queued(link, item.depth + 1, False)
            elif self.source.kind == "start" and item.depth < self.source.depth and self.source.wants(link):
                yield _Queued(link, item.depth + 1, True)

    def _write(self) -> None:
        """Ingest the pending documents, then record their validators."""
        if not self.pending:
            return
        with self.writing() as fence:
            written: IngestReport = ingest_loaded(
                [(self.source.store_source, document) for _, document, _, _ in self.pending],
                store=self.store,
                embedder=self.embedder,
                prune=False,
                progress=no_progress,
                fence=fence,
                rewrite=False,
            )
        failed = {f["path"]: f["error"] for f in written.failed}
        self.report.added += written.added
        self.report.changed += written.updated
        self.report.unchanged += written.unchanged
        self.report.chunks_embedded += written.chunks_embedded
        for url, document, fetched, files in self.pending:
            if document.path in failed:
                self.report.failed.append({"url": url, "reason": failed[document.path]})
            else:
                self._remember(url, document.id, fetched, files)
        self.pending.clear()
        self.state.save()

    def _remember(self, url: str, document_id: str, fetched: Fetched, files: tuple[str, ...]) -> None:
        old = self.known.get(url)
        self.state.pages[url] = PageRecord(
            source=self.source.name,
            document_id=document_id,
            etag=fetched.etag or (old.etag if old and fetched.status == 304 else None),
            last_modified=fetched.last_modified or (old.last_modified if old and fetched.status == 304 else None),
            misses=0,
            last_seen=self.now,
            last_synced=self.now if fetched.status == 200 or old is None else old.last_synced,
            labels=self.source.labels,
            files=files,
        )

    def _expire(self, remove_after: int) -> None:
        """Count a miss for each known URL that is gone (404/410, no longer in a sitemap that was read, or a file no
        page links to), and remove the document of one gone `remove_after` syncs in a row."""
        linked = {f for r in self.state.pages.values() for f in r.files}
        # A file is dropped when no page links to it any more (pages not read this run keep their old links).
        dropped = {u for u in self.known if is_file_link(u) and u not in linked and u not in self.listed_all}
        if self.source.kind == "sitemap" and self.listed_all and self.listing_complete:
            dropped |= {u for u in self.known if not is_file_link(u)} - self.listed_all
        removing: list[str] = []
        for url, record in self.known.items():
            if url in self.alive or not (url in self.dead or url in dropped):
                continue
            record = replace(self.state.pages[url], misses=record.misses + 1)
            if record.misses < remove_after:
                self.state.pages[url] = record
                self.report.gone.append(url)
                continue
            del self.state.pages[url]
            still_used = any(r.document_id == record.document_id for r in self.state.pages.values())
            if not still_used and record.document_id not in self.documents:
                removing.append(record.document_id)
            self.report.removed += 1
        if not removing:
            return
        with self.writing() as fence:
            stored = self.store.documents(removing)
            for document in stored.values():
                fence()
                self.store.delete(document.chunk_ids)
            if stored:
                self.store.bump_generation()
