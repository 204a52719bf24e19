"""Answers and sources rendered as Telegram HTML: everything escaped, the answer span in bold, split safely."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from typing import Any

from bots.texts import MINISTRY_SITE, text

TELEGRAM_LIMIT = 4096
# Headroom under Telegram's limit: it counts UTF-16 units of the visible text.
SAFE_LIMIT = 4000
_TAG = re.compile(r"<(/?)([a-z-]+)[^>]*>")


def _quote_html(quote: str, highlight: Sequence[int] | None) -> str:
    """A quote escaped, with its answer span in bold."""
    if not highlight or not 0 <= highlight[0] < highlight[1] <= len(quote):
        return html.escape(quote, quote=False)
    start, end = highlight[0], highlight[1]
    return (
        html.escape(quote[:start], quote=False)
        + "<b>"
        + html.escape(quote[start:end], quote=False)
        + "</b>"
        + html.escape(quote[end:], quote=False)
    )


def render_answer(payload: dict[str, Any], language: str) -> str:
    """The answer's parts as Telegram HTML: a generated answer's sentences with their [n], or the lead span in bold
    with its [n]; then each quote with its span in bold.

    Lead-in and refusal are in the answer's language; the hint after a refusal in the user's interface language.
    """
    answer_language = str(payload.get("language") or language)
    if payload.get("refused"):
        hint = text(language, "refusal_hint", site=MINISTRY_SITE)
        refusal = text(answer_language, "refusal")
        return f"🤷 {html.escape(refusal, quote=False)}\n\n<i>{html.escape(hint, quote=False)}</i>"
    segments = [g for g in payload.get("segments") or [] if isinstance(g, dict) and g.get("text")]
    if payload.get("generator") == "llm" and segments:
        # A generated answer, verified against its quotes: its sentences with their [n], then the quotes.
        said = " ".join(
            html.escape(str(g["text"]), quote=False)
            + "".join(f" [{int(n)}]" for n in g.get("citations") or [])
            + ("" if str(g["text"])[-1:] in "?!…" else ".")
            for g in segments
        )
        quotes = [
            f"«{_quote_html(str(c['quote']), c.get('highlight'))}» [{int(c['index'])}]"
            for c in payload.get("citations", [])
        ]
        return "\n".join([said, "", *quotes])
    lead = payload.get("lead")
    if isinstance(lead, dict) and lead.get("text"):
        label = html.escape(text(answer_language, "answer_label"), quote=False)
        lines = [f"{label}: <b>{html.escape(str(lead['text']), quote=False)}</b> [{int(lead['citation'])}]"]
    else:
        lines = [html.escape(text(answer_language, "quote_intro"), quote=False)]
    for c in payload.get("citations", []):
        lines.append(f"«{_quote_html(str(c['quote']), c.get('highlight'))}» [{int(c['index'])}]")
    return "\n".join(lines)


def render_sources(payload: dict[str, Any], language: str) -> list[str]:
    """Each cited document's title, id, date/link and quote, as messages within Telegram's limit."""
    citations = payload.get("citations", [])
    if not citations:
        return [html.escape(text(language, "no_sources"), quote=False)]
    blocks = [f"<b>{html.escape(text(language, 'sources_title'), quote=False)}</b>"]
    for c in citations:
        meta = [f"<code>{html.escape(str(c['document']), quote=False)}</code>"]
        if c.get("date"):
            meta.append(html.escape(str(c["date"]), quote=False))
        url = str(c.get("url") or "")
        if url.startswith(("http://", "https://")):
            meta.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url, quote=False)}</a>')
        title = html.escape(str(c.get("title") or c["document"]), quote=False)
        blocks.append(
            f"<b>[{int(c['index'])}] {title}</b>\n{' · '.join(meta)}\n"
            f"<blockquote>{_quote_html(str(c['quote']), c.get('highlight'))}</blockquote>"
        )
    return split_html("\n\n".join(blocks))


def _tokens(markup: str) -> Iterator[tuple[str, str]]:
    """("tag", raw) and ("text", raw) pieces of our own markup (entities stay inside text pieces)."""
    position = 0
    for match in _TAG.finditer(markup):
        if match.start() > position:
            yield "text", markup[position : match.start()]
        yield "tag", match.group(0)
        position = match.end()
    if position < len(markup):
        yield "text", markup[position:]


def _units(raw_text: str) -> int:
    """How long Telegram counts a text piece: UTF-16 units of its unescaped characters."""
    return len(html.unescape(raw_text).encode("utf-16-le")) // 2


def _cut(raw_text: str, room: int) -> int:
    """Where to cut a text piece so its visible part fits in `room`: at a line break or space, never in an entity."""
    count = 0
    cut = 0
    best_space = 0
    i = 0
    while i < len(raw_text):
        if raw_text[i] == "&":
            end = raw_text.find(";", i)
            step = end + 1 - i if end != -1 else 1
        else:
            step = 1
        piece = raw_text[i : i + step]
        width = _units(piece)
        if count + width > room:
            break
        count += width
        i += step
        cut = i
        if piece in ("\n", " "):
            best_space = i
    return best_space or cut


def split_html(markup: str, limit: int = SAFE_LIMIT) -> list[str]:
    """Split our HTML into messages of at most `limit` visible characters, closing and reopening open tags."""
    parts: list[str] = []
    current: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, opening tag)
    size = 0

    def flush() -> None:
        nonlocal current, size
        body = "".join(current) + "".join(f"</{name}>" for name, _ in reversed(open_tags))
        if html.unescape(_TAG.sub("", body)).strip():
            parts.append(body.strip())
        current = [tag for _, tag in open_tags]
        size = 0

    for kind, raw in _tokens(markup):
        if kind == "tag":
            match = _TAG.match(raw)
            assert match is not None
            closing, name = match.group(1), match.group(2)
            if closing:
                if open_tags and open_tags[-1][0] == name:
                    open_tags.pop()
            else:
                open_tags.append((name, raw))
            current.append(raw)
            continue
        while raw:
            room = limit - size
            if _units(raw) <= room:
                current.append(raw)
                size += _units(raw)
                break
            at = _cut(raw, room)
            if at == 0:
                flush()
                continue
            current.append(raw[:at])
            raw = raw[at:]
            flush()
    flush()
    return parts or [""]
