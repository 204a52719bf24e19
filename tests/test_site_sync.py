"""Site sync against a ministry-like site served on loopback: what is stored, what fails and why, what a second
sync costs, when a page is removed, and that a failure loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from assistant.core.errors import InvalidInput
from assistant.core.ports import Vector
from ingest.site_sync import SyncReport, SyncSource, SyncState, load_sources, sync_sources
from ingest.web import USER_AGENT, Fetcher, FetchFailed, FetchPolicy
from tests.fakes import FakeEmbedder, InMemoryChunkStore
from tests.web_site import FOOTER, NAV, RELATED, Site, serve_site

POLICY = FetchPolicy(delay=0.0, timeout=1.0, max_bytes=1_000_000)
ROOT = Path(__file__).parent.parent

# Every page the sitemap lists, and what a first sync makes of it.
STORED_PAGES = {f"/ky/news/{i}/" for i in range(24)} | {f"/ru/news/{i}/" for i in range(8)}
STORED_PAGES |= {"/ky/news/changing/", "/ky/news/removed/", "/ky/news/dropped/", "/cp1251/"}
STORED_FILES = {"/files/quota-rules.pdf", "/files/olympiad.pdf", "/files/order.docx"}
FAILED = {
    "/bomb/": "no main text on the page",
    "/error/": "HTTP 500",
    "/slow/": "no answer within 1 s",
    "/loop/a": "more than 5 redirects (a loop?)",
    "/files/huge.pdf": "larger than 1000000 bytes",
}
SKIPPED = {"/private/secret/": "disallowed by robots.txt", "/ky/news/alias/": "the same page as {base}/ky/news/2/"}


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


def sync(
    site: Site,
    store: InMemoryChunkStore,
    state_path: Path,
    *,
    embedder: FakeEmbedder | None = None,
    source: SyncSource | None = None,
    remove_after: int = 3,
) -> SyncReport:
    with Fetcher(POLICY) as fetcher:
        return sync_sources(
            [source or SyncSource(name="site", kind="sitemap", url=site.url("/sitemap.xml"))],
            store=store,
            embedder=embedder or FakeEmbedder(),
            fetcher=fetcher,
            state=SyncState.load(state_path),
            remove_after=remove_after,
        )


def paths(site: Site, urls: Iterable[str]) -> set[str]:
    return {u.removeprefix(site.base) for u in urls}


def test_a_first_sync_stores_exactly_the_readable_pages_with_titles_dates_and_urls(site: Site, tmp_path: Path) -> None:
    store = InMemoryChunkStore()
    report = sync(site, store, tmp_path / "state.json")

    documents = store.documents(None)
    assert paths(site, documents) == STORED_PAGES | STORED_FILES
    assert {f["url"].removeprefix(site.base): f["reason"] for f in report.failed} == FAILED
    assert {s["url"].removeprefix(site.base): s["reason"] for s in report.skipped} == {
        k: v.format(base=site.base) for k, v in SKIPPED.items()
    }
    assert (report.added, report.changed, report.removed, report.gone) == (len(documents), 0, 0, [])
    for url, doc in documents.items():
        assert doc.url == url and doc.source == "sync:site"
        assert doc.date == "2026-03-15", url  # the page's published time; a file's Last-Modified
    news = documents[site.url("/ru/news/3/")]
    assert (news.title, news.lang) == ("Новость министерства № 4", "ru")
    assert documents[site.url("/cp1251/")].lang == "ru"
    assert documents[site.url("/files/order.docx")].title == "Буйрук № 15"
    assert documents[site.url("/files/quota-rules.pdf")].title == "Квота эрежелери"

    chunks = store.all_chunks()
    text = {c.document_id: "" for c in chunks}
    for chunk in chunks:
        text[chunk.document_id] += chunk.text + "\n"
    assert "Приём документов в колледжи продлится до двадцатого августа" in text[site.url("/cp1251/")]
    assert "1-июлга чейин" in text[site.url("/files/quota-rules.pdf")]
    boilerplate = {*NAV["ky"], *NAV["ru"], *FOOTER.values(), *RELATED.values()}
    for document_id, body in text.items():
        lines = {line.strip() for line in body.splitlines()}
        assert not lines & boilerplate, document_id
        assert not any(line.startswith("©") for line in lines), document_id
        # A page's related-news list names other pages' titles: none of them is a line of its text.
        others = {d.title for d in documents.values() if d.id != document_id}
        assert not lines & (others - {documents[document_id].title}), document_id

    requested = [path for path, _, _ in site.requests]
    assert "/private/secret/" not in requested
    assert requested.count("/robots.txt") == 1
    assert {agent for _, agent, _ in site.requests} == {USER_AGENT}


def test_a_second_sync_with_nothing_changed_asks_conditionally_and_embeds_nothing(site: Site, tmp_path: Path) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    sync(site, store, state)
    before = {c.id for c in store.all_chunks()}
    site.requests.clear()
    embedder = FakeEmbedder()

    report = sync(site, store, state, embedder=embedder)

    assert embedder.passages == [] and report.chunks_embedded == 0
    assert (report.added, report.changed, report.removed, report.gone) == (0, 0, 0, [])
    assert report.unchanged == len(STORED_PAGES | STORED_FILES)
    answered_304 = {path for path, _, validator in site.requests if validator}
    assert answered_304 == (STORED_PAGES | STORED_FILES) - {"/cp1251/"}  # it sends no ETag: fetched, not re-embedded
    assert {c.id for c in store.all_chunks()} == before


def test_a_second_sync_refetches_nothing_unchanged_and_replaces_a_changed_page(site: Site, tmp_path: Path) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    sync(site, store, state)
    before = {c.id: c.text for c in store.all_chunks()}
    site.version = 2
    site.requests.clear()
    embedder = FakeEmbedder()

    report = sync(site, store, state, embedder=embedder)

    assert report.changed == 1 and report.added == 0 and report.removed == 0
    changing = site.url("/ky/news/changing/")
    texts = {c.id: c.text for c in store.all_chunks()}
    new = [t for cid, t in texts.items() if cid not in before]
    assert len(new) == 1 and "2-нуска" in new[0] and "200 окуучуга" in new[0]
    assert not any("1-нуска" in t for t in texts.values())
    gone = set(before) - set(texts)
    assert gone and all("1-нуска" in before[cid] for cid in gone)  # only the changing page's old chunk went
    # Every page with an ETag was asked for conditionally, and only the changed one was embedded again.
    conditional = {path for path, _, validator in site.requests if validator}
    assert paths(site, STORED_PAGES) - {"/cp1251/"} <= conditional  # the cp1251 page sends no ETag
    assert conditional >= STORED_FILES
    assert embedder.passages and all("2-нуска" in p or "Өзгөрүүчү" in p for p in embedder.passages)
    assert store.documents([changing])[changing].chunk_ids


def test_a_gone_page_is_removed_after_three_syncs_in_a_row_and_a_failure_never_counts(
    site: Site, tmp_path: Path
) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    sync(site, store, state)
    removed, dropped = site.url("/ky/news/removed/"), site.url("/ky/news/dropped/")
    site.removed_gone = True
    site.dropped = True
    for _ in range(2):
        report = sync(site, store, state)
        assert set(report.gone) == {removed, dropped} and report.removed == 0
        assert {removed, dropped} <= set(store.documents(None))
    # A sync whose robots.txt cannot be read fetches nothing and counts no miss.
    site.broken_robots = True
    report = sync(site, store, state)
    assert report.gone == [] and report.fetched == 0 and report.removed == 0
    assert report.failed == [
        {
            "url": site.url("/sitemap.xml"),
            "reason": "cannot read the sitemap: robots.txt unreadable (HTTP 503): nothing is fetched from the host",
        }
    ]
    assert paths(site, store.documents(None)) == STORED_PAGES | STORED_FILES
    site.broken_robots = False

    report = sync(site, store, state)

    assert report.removed == 2 and report.gone == []
    assert paths(site, store.documents(None)) == (STORED_PAGES | STORED_FILES) - {
        "/ky/news/removed/",
        "/ky/news/dropped/",
    }
    assert removed not in json.loads(state.read_text())["pages"]


def test_pages_past_the_cap_or_behind_an_unreadable_child_sitemap_are_never_counted_as_dropped(
    site: Site, tmp_path: Path
) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    every = SyncSource(name="site", kind="sitemap", url=site.url("/sitemap.xml"))
    sync(site, store, state, source=every)
    stored = set(store.documents(None))
    capped = SyncSource(name="site", kind="sitemap", url=site.url("/sitemap.xml"), max_pages=5)
    for _ in range(3):
        report = sync(site, store, state, source=capped)
        assert report.seen == 5 and report.gone == [] and report.removed == 0
    assert set(store.documents(None)) == stored

    site.dropped = True
    index = SyncSource(name="site", kind="sitemap", url=site.url("/sitemap-index.xml"))
    for _ in range(3):
        report = sync(site, store, state, source=index)
        assert {"url": site.url("/missing-sitemap.xml"), "reason": "cannot read the sitemap: HTTP 404"} in report.failed
        assert report.gone == [] and report.removed == 0  # the listing is incomplete: nothing is dropped from it
    assert set(store.documents(None)) == stored


def test_a_page_back_before_its_third_miss_is_kept(site: Site, tmp_path: Path) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    sync(site, store, state)
    site.removed_gone = True
    sync(site, store, state)
    sync(site, store, state)
    site.removed_gone = False
    report = sync(site, store, state)
    assert report.gone == [] and site.url("/ky/news/removed/") in store.documents(None)
    site.removed_gone = True
    assert sync(site, store, state).removed == 0  # the count starts again


class FailingEmbedder(FakeEmbedder):
    """Fails on its `fail_at`-th embedding call (a crash half-way through a sync)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the model crashed")
        return super().embed_passages(texts)


def test_a_sync_that_fails_half_way_leaves_whole_documents_and_the_next_run_resumes(site: Site, tmp_path: Path) -> None:
    store, state = InMemoryChunkStore(), tmp_path / "state.json"
    with pytest.raises(RuntimeError, match="crashed"):
        sync(site, store, state, embedder=FailingEmbedder(fail_at=5))
    partial = store.documents(None)
    assert 0 < len(partial) < len(STORED_PAGES | STORED_FILES)
    reference = InMemoryChunkStore()
    sync(site, reference, tmp_path / "reference.json")
    whole = reference.documents(None)
    for doc_id, doc in partial.items():
        assert doc.chunk_ids == whole[doc_id].chunk_ids, doc_id  # no document is half written
    recorded = json.loads(state.read_text())["pages"]
    assert set(recorded) <= set(partial) | {site.url(p) for p in ("/ky/news/alias/",)}
    site.requests.clear()

    report = sync(site, store, state)

    assert paths(site, store.documents(None)) == STORED_PAGES | STORED_FILES
    assert report.added == len(whole) - len(partial)
    asked_again = {path for path, _, validator in site.requests if validator}
    assert paths(site, recorded) - {"/cp1251/"} <= asked_again  # what was written costs a conditional GET


def test_a_feed_lists_its_pages_and_a_crawl_follows_links_within_its_patterns(site: Site, tmp_path: Path) -> None:
    store = InMemoryChunkStore()
    feed = SyncSource(name="feed", kind="feed", url=site.url("/feed.xml"))
    report = sync(site, store, tmp_path / "feed.json", source=feed)
    assert paths(site, store.documents(None)) == {f"/ru/news/{i}/" for i in range(8)}
    assert report.failed == []

    crawled = InMemoryChunkStore()
    crawl = SyncSource(
        name="crawl",
        kind="start",
        url=site.url("/ky/news/1/"),
        include=(r"/ky/news/\d+/$",),
        exclude=(r"/23/",),
        depth=1,
        max_pages=6,
    )
    report = sync(site, crawled, tmp_path / "crawl.json", source=crawl)
    stored = paths(site, crawled.documents(None))
    # Page 1, the pages its related-news list links to (one hop), and the files it links to.
    assert "/ky/news/1/" in stored and {"/files/order.docx", "/files/olympiad.pdf"} <= stored
    assert report.seen == 6 and len(stored) == 6
    assert all(p.startswith(("/ky/news/", "/files/")) and "/23/" not in p for p in stored)


def test_a_body_that_trickles_is_cut_at_the_timeout_and_one_host_is_asked_politely_apart(site: Site) -> None:
    with Fetcher(POLICY) as fetcher, pytest.raises(FetchFailed, match="slower than 1 s"):
        fetcher.get(site.url("/trickle/"))

    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    with Fetcher(FetchPolicy(delay=2.0, timeout=5.0), clock=lambda: clock[0], sleep=sleep) as polite:
        polite.get(site.url("/ru/news/0/"))  # robots.txt first, then the page: the second waits its turn
        polite.get(site.url("/ru/news/1/"))
    assert slept == [2.0, 2.0]


def test_sources_toml_is_read_and_checked(tmp_path: Path) -> None:
    toml = tmp_path / "sources.toml"
    toml.write_text(
        '[[source]]\nname = "news-ky"\nsitemap = "https://edu.gov.kg/sitemap.xml"\ninclude = ["/ky/"]\n'
        'lang = "ky"\nlabels = ["news"]\n\n[[source]]\nfeed = "https://edu.gov.kg/ru/rss"\nmax_pages = 50\n',
        encoding="utf-8",
    )
    first, second = load_sources(toml)
    assert (first.name, first.kind, first.include, first.lang, first.labels) == (
        "news-ky",
        "sitemap",
        ("/ky/",),
        "ky",
        ("news",),
    )
    assert (second.name, second.kind, second.max_pages) == ("https://edu.gov.kg/ru/rss", "feed", 50)
    for bad, message in [
        ('[[source]]\nsitemap = "x"\nfeed = "y"\n', "exactly one of"),
        ('[[source]]\nsitemap = "ftp://x/s.xml"\n', "not an http"),
        ('[[source]]\nsitemap = "https://x/s.xml"\ninclude = ["("]\n', "bad pattern"),
        ('[[source]]\nsitemap = "https://x/s.xml"\ncolour = "red"\n', "unknown keys colour"),
        ("[[source]\n", "cannot read"),
    ]:
        toml.write_text(bad, encoding="utf-8")
        with pytest.raises(InvalidInput, match=message):
            load_sources(toml)


@pytest.mark.slow
def test_the_sync_command_fills_a_real_store_and_a_second_run_embeds_nothing(site: Site, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BILIM_DATA_DIR": str(tmp_path / "store"),
        "BILIM_SYNC_DELAY": "0",
        "BILIM_SYNC_TIMEOUT": "1",
        "BILIM_SYNC_MAX_BYTES": "1000000",
    }
    command = [sys.executable, "-m", "ingest", "sync", "--sitemap", site.url("/sitemap.xml"), "--json"]
    first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == 1, first.stderr  # pages failed, and are listed on stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["added"] == len(STORED_PAGES | STORED_FILES) and summary["chunks_total"] > 0
    assert {f["url"].removeprefix(site.base) for f in summary["failed"]} == set(FAILED)
    assert "failed: " + site.url("/error/") + ": HTTP 500" in first.stderr

    second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["chunks_embedded"] == 0 and again["added"] == again["changed"] == 0
    assert again["chunks_total"] == summary["chunks_total"]

    usage = subprocess.run(
        [sys.executable, "-m", "ingest", "sync", "--feed", site.url("/feed.xml"), "--sources", "x.toml"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2 and "not allowed with argument" in usage.stderr
