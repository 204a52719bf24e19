"""Telegram rendering (pure logic): escaping, the bold answer span, safe splitting, the texts, the answer buttons."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from bots.render import TELEGRAM_LIMIT, render_answer, render_sources, split_html
from bots.texts import TEXTS, language_of, text

QUOTE = "Кыргыз <Республикасынын> жарандары үчүн жыл сайын 375тин & тегерегинде бюджеттик орундар бөлүнөт."
PAYLOAD: dict[str, Any] = {
    "answer": f"Жооп: 375 [1]\n«{QUOTE}» [1]",
    "language": "ky",
    "refused": False,
    "lead": {"text": "375", "citation": 1},
    "citations": [
        {
            "index": 1,
            "document": "minister-visit-russia-quotas.txt",
            "title": "Министр <b>Орусияда</b>",
            "quote": QUOTE,
            "highlight": [QUOTE.index("375"), QUOTE.index("375") + 3],
            "url": 'https://edu.gov.kg/news?id=1&x="2"',
            "date": "2023-05-04",
        }
    ],
    "answer_id": "a_x",
    "conversation_id": "c_x",
}
_TAG = re.compile(r"<(/?)([a-z]+)[^>]*>")


def balanced(markup: str) -> bool:
    """Tags open and close in order (no misnesting), and no raw < or & outside tags and entities."""
    stack: list[str] = []
    for closing, name in _TAG.findall(markup):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    rest = _TAG.sub("", markup)
    return not stack and "<" not in rest and not re.search(r"&(?!(lt|gt|amp|quot);)", rest)


def visible(markup: str) -> str:
    """What Telegram shows."""
    return html.unescape(_TAG.sub("", markup))


def test_answer_is_escaped_with_the_span_in_bold() -> None:
    rendered = render_answer(PAYLOAD, "ky")
    assert rendered.startswith("Жооп: <b>375</b> [1]")
    assert "&lt;Республикасынын&gt;" in rendered and "&amp; тегерегинде" in rendered
    assert "жыл сайын <b>375</b>тин" in rendered
    assert balanced(rendered) and visible(rendered) == PAYLOAD["answer"]


def test_refusal_is_in_the_answer_language_and_the_hint_in_the_user_language() -> None:
    refusal = {"answer": "ignored <text>", "language": "en", "refused": True, "lead": None, "citations": []}
    rendered = render_answer(refusal, "ru")
    assert "the documents do not answer" in rendered and "ignored" not in rendered
    assert "https://edu.gov.kg" in rendered and "переформулировать" in rendered and balanced(rendered)


def test_a_refusal_has_no_sources_button_but_keeps_feedback_and_reset() -> None:
    from bots.telegram.app import Bot

    def data(payload: dict[str, Any]) -> list[str | object]:
        return [b.callback_data for row in Bot.answer_buttons(payload, "en").inline_keyboard for b in row]

    assert data(PAYLOAD) == ["src:a_x", "fb:up:a_x", "fb:down:a_x", "new"]
    refusal = {**PAYLOAD, "refused": True, "lead": None, "citations": []}
    assert data(refusal) == ["fb:up:a_x", "fb:down:a_x", "new"]


def test_a_passage_answer_without_a_lead_opens_with_the_intro() -> None:
    rendered = render_answer({**PAYLOAD, "language": "ru", "lead": None}, "ky")
    assert rendered.startswith("В документах сказано:\n«") and balanced(rendered)
    assert "<b>375</b>" in rendered  # the quote's highlight is still marked


def test_help_says_quotes_stay_in_the_document_language() -> None:
    assert "не переводит" in text("ru", "help") and "does not translate" in text("en", "help")


def test_sources_show_title_quote_and_a_safe_link() -> None:
    (message,) = render_sources(PAYLOAD, "en")
    assert "Министр &lt;b&gt;Орусияда&lt;/b&gt;" in message
    assert '<a href="https://edu.gov.kg/news?id=1&amp;x=&quot;2&quot;">' in message
    assert "<blockquote>" in message and "<b>375</b>" in message and balanced(message)
    unsafe = {**PAYLOAD, "citations": [{**PAYLOAD["citations"][0], "url": "javascript:alert(1)"}]}
    assert "<a " not in render_sources(unsafe, "en")[0]


def test_long_text_splits_cleanly_under_the_limit() -> None:
    markup = "<b>" + "сөз &amp; " * 900 + "</b>\n<blockquote>" + "а" * 5000 + "</blockquote>\n" + "😀" * 2500
    parts = split_html(markup)
    assert len(parts) >= 3
    for part in parts:
        assert balanced(part), part[:80]
        assert len(visible(part).encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    joined = "".join(visible(p) for p in parts)
    assert joined.replace("\n", "").replace(" ", "") == visible(markup).replace("\n", "").replace(" ", "")


def test_many_sources_are_split_into_several_messages() -> None:
    citations = [{**PAYLOAD["citations"][0], "index": i, "quote": QUOTE * 8, "highlight": None} for i in range(1, 8)]
    parts = render_sources({**PAYLOAD, "citations": citations}, "ky")
    assert len(parts) >= 2 and all(balanced(p) for p in parts)


@pytest.mark.parametrize(("code", "lang"), [("ky", "ky"), ("ru-RU", "ru"), ("en", "en"), ("de", "ky"), (None, "ky")])
def test_language_from_telegram_code(code: str | None, lang: str) -> None:
    assert language_of(code) == lang


def test_every_language_has_every_text() -> None:
    keys = set(TEXTS["ky"])
    assert all(set(table) == keys for table in TEXTS.values())
    assert "375" not in text("ru", "busy") and text("xx", "busy") == TEXTS["ky"]["busy"]


def test_the_bot_keeps_its_state_in_the_data_dir_not_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from bots.telegram.settings import BotSettings

    monkeypatch.setenv("BILIM_TELEGRAM_TOKEN", "1:x")
    monkeypatch.delenv("BILIM_DATA_DIR", raising=False)
    monkeypatch.delenv("BILIM_TELEGRAM_STATE", raising=False)
    assert BotSettings().state_file == Path("data/store/telegram-state.pickle")  # type: ignore[call-arg]  # data/store/ is git-ignored
    monkeypatch.setenv("BILIM_DATA_DIR", "/srv/bilim")
    assert BotSettings().state_file == Path("/srv/bilim/telegram-state.pickle")  # type: ignore[call-arg]
    monkeypatch.setenv("BILIM_TELEGRAM_STATE", "/var/lib/bot.pickle")
    assert BotSettings().state_file == Path("/var/lib/bot.pickle")  # type: ignore[call-arg]


def test_a_generated_answer_shows_its_sentences_with_their_markers_then_the_quotes() -> None:
    generated = {
        **PAYLOAD,
        "generator": "llm",
        "lead": None,
        "answer": "Жыл сайын <375> орун бөлүнөт [1].",
        "segments": [{"text": "Жыл сайын <375> орун бөлүнөт", "citations": [1]}, {"text": "Ооба?", "citations": [1]}],
    }
    rendered = render_answer(generated, "ky")
    assert rendered.startswith("Жыл сайын &lt;375&gt; орун бөлүнөт [1]. Ооба? [1]\n\n«")
    assert "жыл сайын <b>375</b>тин" in rendered and rendered.endswith("» [1]") and balanced(rendered)
    # An extractive answer (a fallback) renders as before, whatever else the payload holds.
    fallback = {**PAYLOAD, "generator": "extractive", "fallback_reason": "unsupported", "segments": []}
    assert render_answer(fallback, "ky") == render_answer(PAYLOAD, "ky")
