"""`POST /v1/sync` and `GET /v1/sync` on a real server over a copy of the sample store, syncing the loopback site:
a changed page is answered with its new text only, and a page gone for three syncs is gone from answers."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from ingest.pipeline import IngestReport
from tests.browsers import chromium
from tests.servers import ADMIN, ADMIN_KEY, ASK, api_test_server
from tests.support import ROOT
from tests.web_site import Site, serve_site

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture(scope="module")
def api(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory, site: Site
) -> Iterator[str]:
    target = tmp_path_factory.mktemp("sync-api") / "store"
    shutil.copytree(corpus_store_dir[0], target)
    sources = target.parent / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "ministry"\nsitemap = "{site.url("/sitemap.xml")}"\nlabels = ["news"]\n', encoding="utf-8"
    )
    with api_test_server(
        target,
        BILIM_SYNC_SOURCES=str(sources),
        BILIM_SYNC_DELAY="0",
        BILIM_SYNC_TIMEOUT="1",
        BILIM_SYNC_MAX_BYTES="1000000",
    ) as url:
        yield url


def run_sync(api: str, **body: Any) -> dict[str, Any]:
    """Start a sync and wait for it to end; its final status."""
    started = httpx.post(f"{api}/v1/sync", headers=ADMIN, json=body or None, timeout=30)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status: dict[str, Any] = httpx.get(f"{api}/v1/sync", headers=ADMIN, timeout=30).json()
        if status["state"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError("the sync did not end within 300 s")


def cited(api: str, question: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{api}/v1/ask", json={"question": question}, headers=ASK, timeout=60)
    assert response.status_code == 200, response.text
    citations: list[dict[str, Any]] = response.json()["citations"]
    return citations


def test_sync_needs_an_admin_key_and_sources_it_can_read(api: str) -> None:
    assert httpx.post(f"{api}/v1/sync", headers=ASK, timeout=30).status_code == 403
    assert httpx.get(f"{api}/v1/sync", timeout=30).status_code == 401
    bad = httpx.post(f"{api}/v1/sync", headers=ADMIN, json={"sources": [{"sitemap": "ftp://x/s.xml"}]}, timeout=30)
    assert bad.status_code == 422 and "not an http(s) URL" in bad.json()["detail"]
    idle = httpx.get(f"{api}/v1/sync", headers=ADMIN, timeout=30).json()
    assert idle["state"] in ("idle", "done")


def test_a_synced_site_is_answerable_with_links_and_a_changed_page_only_with_its_new_text(api: str, site: Site) -> None:
    status = run_sync(api)
    assert status["state"] == "done" and status["sources"] == ["ministry"], status
    assert status["added"] == 39 and status["removed"] == 0 and status["pages_done"] == status["pages_total"]
    assert {f["url"].removeprefix(site.base) for f in status["failed"]} == {
        "/bomb/",
        "/error/",
        "/slow/",
        "/loop/a",
        "/files/huge.pdf",
    }
    documents = httpx.get(f"{api}/v1/documents", headers=ASK, timeout=30).json()["documents"]
    changing = site.url("/ky/news/changing/")
    listed = {d["id"]: d for d in documents}
    assert listed[changing]["url"] == changing and listed[changing]["date"] == "2026-03-15"
    assert listed[changing]["labels"] == ["news"] and listed[changing]["synced_at"]
    assert all(d["labels"] == [] and d["synced_at"] is None for d in documents if not d["id"].startswith("http"))
    question = "Министрлик канча окуучуга стипендия бөлөрүн билдирди?"
    quotes = [c for c in cited(api, question) if c["document"] == changing]
    assert quotes and quotes[0]["url"] == changing and "100 окуучуга" in quotes[0]["quote"]

    site.version = 2
    status = run_sync(api)
    assert (status["changed"], status["added"], status["chunks_embedded"]) == (1, 0, 1), status

    citations = cited(api, question)
    assert any(c["document"] == changing and "200 окуучуга" in c["quote"] for c in citations)
    assert not any("100 окуучуга" in c["quote"] for c in citations)


def test_a_page_gone_for_three_syncs_is_gone_from_answers_and_a_second_run_waits_its_turn(api: str, site: Site) -> None:
    removed = site.url("/ky/news/removed/")
    question = "Кайсы макала министрликтин сайтында бир нече күн турду?"
    run_sync(api)
    assert any(c["document"] == removed for c in cited(api, question))
    site.removed_gone = True
    for _ in range(2):
        status = run_sync(api)
        assert status["gone"] == 1 and status["removed"] == 0
        assert any(c["document"] == removed for c in cited(api, question))
    started = httpx.post(f"{api}/v1/sync", headers=ADMIN, timeout=30)
    assert started.status_code == 202
    again = httpx.post(f"{api}/v1/sync", headers=ADMIN, timeout=30)  # the slow page keeps the first one going
    assert again.status_code == 409 and again.json()["code"] == "already_running"
    while (status := httpx.get(f"{api}/v1/sync", headers=ADMIN, timeout=30).json())["state"] == "running":
        time.sleep(0.2)
    assert status["removed"] == 1
    assert not any(c["document"] == removed for c in cited(api, question))
    ids = {d["id"] for d in httpx.get(f"{api}/v1/documents", headers=ASK, timeout=30).json()["documents"]}
    assert removed not in ids and site.url("/ky/news/changing/") in ids


def test_the_web_chat_syncs_and_shows_each_source_with_its_link_date_and_paragraph(api: str, site: Site) -> None:
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{api}/")
        page.fill("#api-key", ADMIN_KEY)
        page.press("#api-key", "Enter")
        page.click("#tab-documents")
        expect(page.locator("#sync-card")).to_be_visible()
        page.click("#sync")
        expect(page.locator("#sync-result")).to_contain_text("Done:", timeout=120_000)
        changing = site.url("/ky/news/changing/")
        row = page.locator("#documents-table tbody tr", has=page.locator(f"a[href='{changing}']"))
        expect(row).to_have_count(1)
        expect(row.locator(".cell-date")).to_have_text("2026-03-15")
        expect(row.locator(".cell-synced")).not_to_have_text("—")

        page.click("#tab-chat")
        page.fill("#question", "Министрлик канча окуучуга стипендия бөлөрүн билдирди?")
        page.press("#question", "Enter")
        answer = page.locator("#messages .answer").last
        expect(answer).to_be_visible(timeout=30_000)
        source = answer.locator(".sources-list li", has=page.locator(f"a.source-url[href='{changing}']")).first
        expect(source.locator(".source-date")).to_have_text("2026-03-15")
        expect(source.locator("a.source-url")).to_have_text(site.base.removeprefix("http://"))
        source.locator("button").click()
        expect(page.locator("#passage")).to_be_visible()
        expect(page.locator("#passage-quote .quote-in-context")).to_contain_text("окуучуга")
        expect(page.locator("#passage-quote .context-text").first).to_be_visible()  # the paragraph around it
        expect(page.locator("#passage-quote")).to_contain_text("Арыздар онлайн кабыл алынат")
        page.screenshot(path=str(ROOT / "tests" / "output" / "web-chat-synced-source.png"), full_page=True)
        assert errors == []


def test_a_server_with_a_sync_schedule_syncs_soon_after_start_up(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path, site: Site
) -> None:
    target = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], target)
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "ru-news"\nfeed = "{site.url("/feed.xml")}"\n', encoding="utf-8")
    with api_test_server(
        target, BILIM_SYNC_SOURCES=str(sources), BILIM_SYNC_INTERVAL="3600", BILIM_SYNC_DELAY="0"
    ) as url:
        deadline = time.monotonic() + 120
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{url}/v1/sync", headers=ADMIN, timeout=30).json()
            if status["state"] == "done":
                break
            time.sleep(0.5)
        assert status["state"] == "done" and status["sources"] == ["ru-news"] and status["added"] == 8, status
        ids = {d["id"] for d in httpx.get(f"{url}/v1/documents", headers=ASK, timeout=30).json()["documents"]}
        assert {site.url(f"/ru/news/{i}/") for i in range(8)} <= ids
        assert (target / "uploads" / ".sync-state.json").is_file()
