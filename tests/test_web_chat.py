"""The staff web chat in headless Debian Chromium (Playwright, no browser download) against the real API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, Route, expect

from tests.browsers import chromium
from tests.servers import ADMIN_KEY, ASK, ASK_KEY, QUOTA_KY
from tests.support import ROOT, TINY_DOCS

# Slow: every test drives Chromium against the API server.
pytestmark = pytest.mark.slow

SHOTS = ROOT / "tests" / "output"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def open_chat(browser: Browser, api: str, key: str = ASK_KEY, width: int = 1280, locale: str = "ky-KG") -> Page:
    """The chat page with the access key entered."""
    page = browser.new_context(viewport={"width": width, "height": 860}, locale=locale).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{api}/")
    expect(page.locator("#key-form")).to_be_visible()
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")
    expect(page.locator("#key-form")).to_be_hidden()
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_ask_in_kyrgyz_open_citation_and_give_feedback(browser: Browser, api: str) -> None:
    page = open_chat(browser, api)
    expect(page.locator("html")).to_have_attribute("lang", "ky")
    page.fill("#question", QUOTA_KY)
    page.press("#question", "Enter")
    answer = page.locator("#messages .answer").last
    expect(answer).to_be_visible(timeout=30_000)
    expect(answer).to_contain_text("375")
    # Rendered from the parts: the lead span in bold with its marker, the quote with the span marked.
    expect(answer.locator(".answer-text strong.lead")).to_have_text("375")
    expect(answer.locator(".answer-text .answer-quote mark").first).to_have_text("375")
    answer_id = answer.get_attribute("data-answer-id")
    assert answer_id and answer_id.startswith("a_")

    answer.locator("button.cite[data-index='1']").first.click()
    passage = page.locator("#passage")
    expect(passage).to_be_visible()
    stored = httpx.get(f"{api}/v1/answers/{answer_id}", headers=ASK).json()
    expect(page.locator("#passage-title")).to_have_text(stored["citations"][0]["title"])
    expect(page.locator("#passage-quote mark")).to_have_text("375")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "web-chat-citation.png"), full_page=True)
    page.keyboard.press("Escape")
    expect(passage).to_be_hidden()

    answer.locator(".fb-up").click()
    expect(answer.locator(".fb-thanks")).to_be_visible()
    expect(answer.locator(".fb-up")).to_be_disabled()
    assert page.errors == []  # type: ignore[attr-defined]


def test_follow_up_refusal_and_escaping(browser: Browser, api: str) -> None:
    page = open_chat(browser, api)
    page.fill("#question", "Министр квотаны канчага чейин көбөйтүүнү сунуштады?")
    page.click("#send")
    expect(page.locator("#messages .answer").last).to_contain_text("750", timeout=30_000)
    page.fill("#question", "Алардын ичинен жетимдерге канчасы?")
    page.press("#question", "Enter")
    expect(page.locator("#messages .answer")).to_have_count(2, timeout=30_000)
    expect(page.locator("#messages .answer").last).to_contain_text("50")

    hostile = "<img src=x onerror=alert(1)> Бишкектен Ошко чейин канча километр?"  # no passage states a distance
    page.fill("#question", hostile)
    page.press("#question", "Enter")
    refused = page.locator("#messages .answer.refused").last
    expect(refused).to_be_visible(timeout=30_000)
    expect(refused).to_contain_text("Кечиресиз")  # the refusal, rendered in the question's language

    page.fill("#question", "👍🎓 ?!")
    page.press("#question", "Enter")
    expect(page.locator("#composer-msg")).to_contain_text("сөз менен")  # no words: asked for a question
    expect(page.locator("#messages .answer")).to_have_count(3)
    expect(page.locator("#messages")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator("#messages img")).to_have_count(0)

    page.click("#new-conversation")
    expect(page.locator("#messages .answer")).to_have_count(0)


def test_phone_width_and_interface_language(browser: Browser, api: str) -> None:
    page = open_chat(browser, api, width=360, locale="en-US")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.select_option("#ui-language", "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.fill("#question", "Сколько бюджетных мест выделяется гражданам Кыргызстана в вузах России?")
    page.press("#question", "Enter")
    expect(page.locator("#messages .answer").last).to_contain_text("375", timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(SHOTS / "web-chat-phone.png"), full_page=True)


def test_admin_uploads_and_deletes_a_document(browser: Browser, api: str) -> None:
    page = open_chat(browser, api, key=ADMIN_KEY, locale="en-US")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#tab-documents")
    expect(page.locator("#documents-table tbody tr").first).to_be_visible()
    page.set_input_files(
        "#upload-files",
        [FilePayload(name="osh-olympiad.txt", mimeType="text/plain", buffer=TINY_DOCS["osh-olympiad.txt"].encode())],
    )
    page.click("#upload")
    expect(page.locator("#upload-result")).to_contain_text("1", timeout=60_000)
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    row = page.locator("#documents-table tbody tr", has_text="osh-olympiad.txt")
    expect(row).to_have_count(1)
    row.locator("button.delete-doc").click()
    expect(page.locator("#documents-table tbody tr", has_text="osh-olympiad.txt")).to_have_count(0, timeout=30_000)
    ids = {d["id"] for d in httpx.get(f"{api}/v1/documents", headers=ASK).json()["documents"]}
    assert "osh-olympiad.txt" not in ids


def test_a_wrong_key_brings_the_prompt_back(browser: Browser, api: str) -> None:
    page = browser.new_context(locale="en-US").new_page()
    page.goto(f"{api}/")
    page.fill("#api-key", "not-a-key")
    page.press("#api-key", "Enter")
    page.fill("#question", QUOTA_KY)
    page.press("#question", "Enter")
    expect(page.locator("#key-form")).to_be_visible(timeout=30_000)


def test_the_question_limit_is_the_one_the_api_tells(browser: Browser, api: str) -> None:
    page = browser.new_context(locale="en-US").new_page()

    def lowered(route: Route) -> None:  # the API's limit, as if BILIM_MAX_QUESTION_CHARS were 50
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "max_question_chars": 50})

    page.route("**/v1/config", lowered)
    page.goto(f"{api}/")
    page.fill("#api-key", ASK_KEY)
    page.press("#api-key", "Enter")
    expect(page.locator("#question-counter")).to_have_text("0 / 50 characters")
    page.fill("#question", "x" * 60)
    expect(page.locator("#question-counter")).to_have_text("60 / 50 characters")
    page.press("#question", "Enter")
    expect(page.locator("#composer-msg")).to_have_text("The question is too long: 60 characters, the limit is 50.")
    expect(page.locator("#messages .answer")).to_have_count(0)


def test_openapi_docs_render_offline(browser: Browser, api: str) -> None:
    page = browser.new_context().new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(api) else None)
    page.goto(f"{api}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/ask").first).to_be_visible(timeout=30_000)
    assert [u for u in outside if not u.startswith("data:")] == []
