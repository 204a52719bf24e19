"""A local Telegram Bot API server for tests, as strict as Telegram itself.

``TelegramStub`` serves the Bot API over HTTP on 127.0.0.1, so the real python-telegram-bot ``Application`` runs
against it unchanged (``.base_url(stub.api_url)``, long polling or a webhook). It checks what the bot sends the way
Telegram does and answers with Telegram's own error descriptions: HTML (a port of tdlib's ``parse_html``),
MarkdownV2 and Markdown, message length in UTF-16 code units after parsing, inline keyboards, callback answers,
edits, chat actions, commands and webhooks. A bot that passes its tests here sends output Telegram accepts.

Where Telegram is more lenient than its documentation, ``strict_html=True`` (the default) follows the documentation
and also rejects: an ``&`` that does not start ``&lt; &gt; &amp; &quot;`` or a numeric reference (Telegram shows
``&nbsp;`` and a bare ``&`` literally), a reference without its closing ``;``, ``<a>`` without ``href`` and an
``<a>`` inside another. These stub-only errors keep Telegram's ``can't parse entities:`` prefix. Pass
``strict_html=False`` for tdlib's exact behaviour.

Other deliberate choices: an inline button with more than one action field is rejected (the documentation says
"exactly one"; Telegram silently takes the first), a callback query can be answered once, the bot can only write to
chats the stub knows (from fed updates or ``add_chat``), and Telegram's automatic url/mention entities are not added
to the bot's own messages.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import select
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

__all__ = [
    "ApiError",
    "Call",
    "EntityParseError",
    "ErrorAnswer",
    "Fed",
    "Rejection",
    "TelegramStub",
    "detect_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

JSON = dict[str, Any]

MAX_MESSAGE_UTF16 = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_UTF16 = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram's default when allowed_updates is empty or was never set.
DEFAULT_UPDATE_TYPES = frozenset(UPDATE_TYPES) - {"chat_member", "message_reaction", "message_reaction_count"}
WEBHOOK_PORTS = (80, 88, 443, 8443)

_UNAUTHORIZED: JSON = {"ok": False, "error_code": 401, "description": "Unauthorized"}
_NOT_FOUND: JSON = {"ok": False, "error_code": 404, "description": "Not Found"}
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")


# ----------------------------------------------------------------------------------------------------------------
# errors and small helpers
# ----------------------------------------------------------------------------------------------------------------
class ApiError(Exception):
    """A Bot API error answer: HTTP status, Telegram's description and optional response parameters."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None, *, record: bool = True) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.record = record

    def payload(self) -> JSON:
        """The JSON body Telegram answers with."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EntityParseError(ValueError):
    """Text that Telegram's entity parser refuses; the message is tdlib's wording."""


def _bad(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _ascii_lower(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


class Call(NamedTuple):
    """One request the bot made: the method's canonical name and its decoded parameters."""

    method: str
    params: JSON


class Rejection(NamedTuple):
    """One 400 answer: the method, its decoded parameters and Telegram's description."""

    method: str
    params: JSON
    description: str


class ErrorAnswer(NamedTuple):
    """Any non-ok answer (400s, 401/404, injected faults, conflicts)."""

    method: str
    params: JSON
    status: int
    description: str


class Fed(NamedTuple):
    """An update queued for the bot and its payload (the message or the callback query)."""

    update: JSON
    payload: JSON


# ----------------------------------------------------------------------------------------------------------------
# URLs, as tdlib's check_link sees them (simplified)
# ----------------------------------------------------------------------------------------------------------------
_HOST = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}|\d{1,3}(?:\.\d{1,3}){3}", re.UNICODE)


def _url_problem(url: str) -> str | None:
    """None for a link Telegram accepts, else tdlib's reason ("Wrong HTTP URL", ...)."""
    if not url:
        return "URL host is empty"
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    scheme = match.group(1).lower() if match else "http"
    if scheme in ("tg", "ton"):
        return None
    if scheme not in ("http", "https"):
        return "Unsupported URL protocol"
    rest = url[match.end() :] if match else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    host, _, port = authority.partition(":")
    if not host:
        return "URL host is empty"
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        return "Wrong port number specified in the URL"
    if not _HOST.fullmatch(host):
        return "Wrong HTTP URL"
    return None


def _normalized_link(url: str) -> str | None:
    if _url_problem(url) is not None:
        return None
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url):
        url = "http://" + url
    scheme, _, rest = url.partition("://")
    if scheme.lower() in ("http", "https") and not re.search(r"[/?#]", rest):
        url += "/"
    return url


# ----------------------------------------------------------------------------------------------------------------
# HTML parse mode: a port of tdlib's parse_html (td/telegram/MessageEntity.cpp), plus the documented strictness
# ----------------------------------------------------------------------------------------------------------------
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre"}
    | {"code", "blockquote"}
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_SPACE = frozenset(" \t\r\n\0\v\f")  # tdlib's is_space; "\0" is the end of the text
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HEX = frozenset("0123456789abcdefABCDEF")
_DEC = frozenset("0123456789")


def _decode_html_entity(text: str, pos: int) -> tuple[str | None, int]:
    """tdlib's decode_html_entity: the character and the index after the reference, or (None, pos)."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    end = pos + 1
    if at(end) == "#":
        end += 1
        hexadecimal = at(end) == "x"
        if hexadecimal:
            end += 1
        digits, base, value = (_HEX, 16, 0) if hexadecimal else (_DEC, 10, 0)
        while at(end) in digits:
            value = value * base + int(at(end), base)
            end += 1
            if value >= 0x10FFFF:
                return None, pos
        if value == 0 or end - pos >= 10:
            return None, pos
        char = chr(value)
    else:
        while at(end).isascii() and at(end).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None, pos
        char = named
    if at(end) == ";":
        end += 1
    return char, end


def _strict_entity(text: str, pos: int) -> tuple[str | None, int, str | None]:
    """Decode a reference under the documented rules: (char, end, error); error is set when strictness refuses."""
    char, end = _decode_html_entity(text, pos)
    where = f"at byte offset {_byte_offset(text, pos)}"
    if char is not None and text[end - 1] == ";":
        return char, end, None
    token = re.match(r"&#?[A-Za-z0-9]*;?", text[pos:])
    shown = token.group() if token else "&"
    if char is not None:
        return None, pos, f'HTML entity "{shown}" {where} must end with ";"'
    if not shown.endswith(";"):
        return None, pos, f'Character "&" {where} must be escaped as "&amp;"'
    return None, pos, f'Unsupported HTML entity "{shown}" {where}; only &lt; &gt; &amp; &quot; and &#NN; are allowed'


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int
    out_index: int
    begin: int


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: (visible text, Bot API entities); raises EntityParseError with tdlib's wording."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    def where(i: int) -> str:
        return f"at byte offset {_byte_offset(text, i)}"

    def entity(at_index: int) -> tuple[str | None, int]:
        if not strict:
            return _decode_html_entity(text, at_index)
        char, end, error = _strict_entity(text, at_index)
        if error:
            raise EntityParseError(error)
        return char, end

    out: list[str] = []
    offset = 0
    stack: list[_Open] = []
    entities: list[JSON] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            char, end = entity(i)
            if char is not None:
                out.append(char)
                offset += utf16_len(char)
                i = end
                continue
        if c != "<":
            out.append(c)
            offset += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != "/":  # a start tag
            tag_end = i
            while at(tag_end) not in _SPACE and at(tag_end) != ">":
                tag_end += 1
            if at(tag_end) == "\0":
                raise EntityParseError(f"Unclosed start tag {where(begin)}")
            tag = _ascii_lower(text[i:tag_end])
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" {where(begin)}')
            argument = ""
            i = tag_end
            while at(i) != ">":
                while at(i) != "\0" and at(i) in _SPACE:
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while at(i) not in _SPACE and at(i) not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise EntityParseError(f'Empty attribute name in the tag "{tag}" {where(begin)}')
                while at(i) != "\0" and at(i) in _SPACE:
                    i += 1
                if at(i) != "=":
                    if at(i) == "\0":
                        raise EntityParseError(f'Unclosed start tag "{tag}" {where(begin)}')
                    if tag == "blockquote" and name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != "\0" and at(i) in _SPACE:
                    i += 1
                if at(i) == "\0":
                    raise EntityParseError(f'Unclosed start tag "{tag}" {where(begin)}')
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = _ascii_lower(text[token_begin:i])
                    if at(i) not in _SPACE and at(i) != ">":
                        raise EntityParseError(f"Unexpected end of name token {where(token_begin)}")
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while at(i) != quote and at(i) != "\0":
                        if at(i) == "&":
                            char, end = entity(i)
                            if char is not None:
                                chars.append(char)
                                i = end
                                continue
                        chars.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == "\0":
                    raise EntityParseError(f"Unclosed start tag {where(begin)}")
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" {where(begin)}')
            if strict and tag == "a":
                if not argument:
                    raise EntityParseError(f'Tag "a" must have a non-empty "href" attribute {where(begin)}')
                if any(opened.tag == "a" for opened in stack):
                    raise EntityParseError(f'Tag "a" can\'t be nested in another "a" tag {where(begin)}')
            stack.append(_Open(tag, argument, offset, len(out), begin))
            i += 1
            continue

        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag {where(begin)}")
        j = i
        while at(j) not in _SPACE and at(j) != ">":
            j += 1
        end_name = text[begin + 2 : j]
        while at(j) != "\0" and at(j) in _SPACE:
            j += 1
        if at(j) != ">":
            raise EntityParseError(f"Unclosed end tag {where(begin)}")
        opened = stack.pop()
        if end_name and end_name != opened.tag:
            raise EntityParseError(
                f'Unmatched end tag {where(begin)}, expected "</{opened.tag}>", found "</{end_name}>"'
            )
        length = offset - opened.offset
        if length > 0:
            _close_html_entity(opened, length, out, entities)
        i = j + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    visible = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in visible):
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate "
            "code units"
        )
    for item in entities:
        if item["type"] == "code":
            item.pop("language", None)
    entities.sort(key=lambda item: (item["offset"], -item["length"]))
    return visible, entities


def _close_html_entity(opened: _Open, length: int, out: list[str], entities: list[JSON]) -> None:
    span = {"offset": opened.offset, "length": length}
    tag, argument = opened.tag, opened.argument
    if tag in _SIMPLE_TAGS:
        entities.append({"type": _SIMPLE_TAGS[tag], **span})
    elif tag == "a":
        url = _normalized_link(argument or "".join(out[opened.out_index :]))
        if url is not None:  # tdlib drops links it can't use, silently
            entities.append({"type": "text_link", **span, "url": url})
    elif tag == "pre":
        last = entities[-1] if entities else None
        if last and last["type"] == "code" and last.get("language") and _same_span(last, span):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", **span})
    elif tag == "code":
        last = entities[-1] if entities else None
        if last and last["type"] == "pre" and "language" not in last and argument and _same_span(last, span):
            last["language"] = argument
        else:
            entities.append({"type": "code", **span, "language": argument})
    elif tag == "tg-emoji":
        if not (argument.isascii() and argument.isdigit()) or not 0 < int(argument) < 2**63:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", **span, "custom_emoji_id": argument})
    elif tag == "blockquote":
        entities.append({"type": "expandable_blockquote" if argument else "blockquote", **span})


def _same_span(entity: JSON, span: JSON) -> bool:
    return bool(entity["offset"] == span["offset"] and entity["length"] == span["length"])


# ----------------------------------------------------------------------------------------------------------------
# MarkdownV2 and legacy Markdown: ports of tdlib's parse_markdown_v2 / parse_markdown (blockquotes simplified)
# ----------------------------------------------------------------------------------------------------------------
_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _pre_header(text: str, i: int) -> tuple[str, int]:
    """After an opening ```: the language word, and where the code starts (past one line break)."""
    n = len(text)

    def at(j: int) -> str:
        return text[j] if j < n else "\0"

    language, end = "", i
    while at(end) not in _SPACE and at(end) != "`":
        end += 1
    if i != end and end < n and text[end] != "`":
        language, i = text[i:end], end
    if at(i) in ("\n", "\r"):
        i += 2 if at(i + 1) in ("\n", "\r") and at(i) != at(i + 1) else 1
    return language, i


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Telegram's MarkdownV2 parse mode: (visible text, entities); raises EntityParseError with tdlib's wording."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    def escapable(i: int) -> bool:
        return i < n and 0 < ord(text[i]) <= 126

    out: list[str] = []
    offset = 0
    entities: list[JSON] = []
    stack: list[tuple[str, int, int, int, str]] = []  # kind, utf16 offset, source index, out index, language
    quote: tuple[int, bool] | None = None
    i = 0
    while i < n:
        if i == 0 or text[i - 1] == "\n":
            if text[i] == ">" or text.startswith("**>", i):
                expandable = text[i] == "*"
                if quote is None:
                    quote = (offset, expandable)
                i += 3 if expandable else 1
                continue
            if quote is not None:
                end = offset - 1 if out and out[-1] == "\n" else offset
                if end > quote[0]:
                    kind = "expandable_blockquote" if quote[1] else "blockquote"
                    entities.append({"type": kind, "offset": quote[0], "length": end - quote[0]})
                quote = None
        c = text[i]
        if c == "\\" and escapable(i + 1):
            out.append(text[i + 1])
            offset += 1
            i += 2
            continue
        reserved = "`" if stack and stack[-1][0] in ("code", "pre") else _MDV2_RESERVED
        if c not in reserved:
            out.append(c)
            offset += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        is_end = False
        if stack:
            kind = stack[-1][0]
            is_end = {
                "bold": c == "*",
                "italic": c == "_" and at(i + 1) != "_",
                "code": c == "`",
                "pre": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                "text_link": c == "]",
                "custom_emoji": c == "]",
                "underline": c == "_" and at(i + 1) == "_",
                "strikethrough": c == "~",
                "spoiler": c == "|" and at(i + 1) == "|",
            }[kind]
        if not is_end:
            begin, language = i, ""
            if c == "_" and at(i + 1) == "_":
                kind, i = "underline", i + 1
            elif c in "_*~[":
                kind = {"_": "italic", "*": "bold", "~": "strikethrough", "[": "text_link"}[c]
            elif c == "|" and at(i + 1) == "|":
                kind, i = "spoiler", i + 1
            elif c == "!" and at(i + 1) == "[":
                kind, i = "custom_emoji", i + 1
            elif c == "`" and at(i + 1) == "`" and at(i + 2) == "`":
                kind = "pre"
                language, i = _pre_header(text, i + 3)
                i -= 1
            elif c == "`":
                kind = "code"
            else:
                raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
            stack.append((kind, offset, begin, len(out), language))
            i += 1
            continue
        kind, start, _begin, out_index, language = stack.pop()
        extra: JSON = {}
        skip = offset == start
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if language:
                extra["language"] = language
        elif kind in ("text_link", "custom_emoji"):
            if at(i + 1) != "(":
                if kind == "custom_emoji":
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                url = "".join(out[out_index:])
            else:
                i += 2
                url_begin, chars = i, []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and escapable(i + 1):
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    what = "a custom emoji URL" if kind == "custom_emoji" else "a URL"
                    raise EntityParseError(f"Can't find end of {what} at byte offset {_byte_offset(text, url_begin)}")
                url = "".join(chars)
            if kind == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?(?:.*&)?id=(\d+)(?:&.*)?", url)
                if emoji is None:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                extra["custom_emoji_id"] = emoji.group(1)
            else:
                link = _normalized_link(url)
                if link is None:
                    skip = True
                else:
                    extra["url"] = link
        if not skip:
            entities.append({"type": kind, "offset": start, "length": offset - start, **extra})
        i += 1
    if quote is not None and offset > quote[0]:
        kind = "expandable_blockquote" if quote[1] else "blockquote"
        entities.append({"type": kind, "offset": quote[0], "length": offset - quote[0]})
    if stack:
        kind, _start, begin, _out, language = stack[-1]
        name = "PreCode" if kind == "pre" and language else _MDV2_NAMES[kind]
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(text, begin)}")
    entities.sort(key=lambda item: (item["offset"], -item["length"]))
    return "".join(out), entities


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy Markdown parse mode: (visible text, entities); raises EntityParseError like tdlib."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    out: list[str] = []
    offset = 0
    entities: list[JSON] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and at(i + 1) in ("_", "*", "`", "["):
            out.append(text[i + 1])
            offset += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            offset += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin, end_char, is_pre, language = i, "]" if c == "[" else c, False, ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language, i = _pre_header(text, i)
        start = offset
        while i < n and (text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))):
            out.append(text[i])
            offset += 2 if ord(text[i]) > 0xFFFF else 1
            i += 1
        if i == n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}")
        if offset != start:
            span = {"offset": start, "length": offset - start}
            if c == "[":
                if at(i + 1) != "(":
                    url = text[begin + 1 : i]
                else:
                    i += 2
                    url_begin = i
                    while i < n and text[i] != ")":
                        i += 1
                    url = text[url_begin:i]
                link = _normalized_link(url)
                if link is not None:
                    entities.append({"type": "text_link", **span, "url": link})
            elif is_pre:
                entities.append({"type": "pre", **span, **({"language": language} if language else {})})
            else:
                entities.append({"type": {"_": "italic", "*": "bold", "`": "code"}[c], **span})
        if is_pre:
            i += 2
        i += 1
    return "".join(out), entities


# ----------------------------------------------------------------------------------------------------------------
# entities of incoming (user) messages, as Telegram adds them
# ----------------------------------------------------------------------------------------------------------------
_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{4,31})?(?![\w/])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{4,31}(?![\w@])")
_URL_RE = re.compile(r"(?<![\w@])https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'»]")


def detect_entities(text: str) -> list[JSON]:
    """The bot_command, mention and url entities Telegram attaches to a user's text, offsets in UTF-16 units."""
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in (("bot_command", _COMMAND_RE), ("url", _URL_RE), ("mention", _MENTION_RE)):
        for match in pattern.finditer(text):
            if all(match.end() <= start or match.start() >= end for start, end, _ in spans):
                spans.append((match.start(), match.end(), kind))
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in sorted(spans)
    ]


# ----------------------------------------------------------------------------------------------------------------
# request parameters
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _File:
    file_name: str
    mime_type: str
    data: bytes


_INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id", "cache_time"}
    | {"max_connections", "message_thread_id", "from_chat_id"}
)
_BOOL_FIELDS = frozenset(
    {"disable_notification", "protect_content", "show_alert", "drop_pending_updates", "disable_web_page_preview"}
    | {"allow_sending_without_reply", "has_spoiler", "disable_content_type_detection", "allow_paid_broadcast"}
)
_JSON_FIELDS = frozenset(
    {"reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters", "commands"}
    | {"scope", "allowed_updates", "media"}
)


def _stringify(value: Any) -> str:
    """How Telegram reads a JSON body: every top-level value becomes the string a form would carry."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _decode_value(name: str, value: str | _File) -> Any:
    if isinstance(value, _File):
        return {"file_name": value.file_name, "mime_type": value.mime_type, "file_size": len(value.data)}
    if name in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if name in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if name in _JSON_FIELDS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(float(value))
    return None


def _as_json(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error) from None
    return value


def _parse_body(content_type: str, body: bytes) -> dict[str, str | _File]:
    kind = content_type.split(";", 1)[0].strip().lower()
    values: dict[str, str | _File] = {}
    if not body:
        return values
    try:
        if kind == "application/json":
            try:
                document = json.loads(body)
            except ValueError:
                raise _bad("can't parse JSON encoded request") from None
            if not isinstance(document, dict):
                raise _bad("can't parse JSON encoded request")
            values.update({key: _stringify(value) for key, value in document.items() if value is not None})
        elif kind == "application/x-www-form-urlencoded":
            values.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
        elif kind == "multipart/form-data":
            head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
            message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
            if not message.is_multipart():
                raise _bad("can't parse multipart/form-data request")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):
                    continue
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                file_name = part.get_filename()
                if file_name is not None:
                    values[name] = _File(file_name, part.get_content_type(), data)
                else:
                    values[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("strings must be encoded in UTF-8") from None
    return values


# ----------------------------------------------------------------------------------------------------------------
# reply markup
# ----------------------------------------------------------------------------------------------------------------
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MARKUP_FLAGS = ("resize_keyboard", "one_time_keyboard", "is_persistent", "selective", "remove_keyboard", "force_reply")
_BUTTON = "can't parse inline keyboard button: "


def _check_reply_markup(value: Any) -> JSON | None:
    """The reply markup as Telegram validates it; raises ApiError with Telegram's description."""
    if value is None or value == "":
        return None
    markup = _as_json(value, "can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise _bad("object expected as reply markup")
    for flag in _MARKUP_FLAGS:
        if flag in markup and not isinstance(markup[flag], bool):
            raise _bad(f'field "{flag}" must be of type Boolean')
    if "inline_keyboard" in markup:
        for button in _buttons(markup, "inline_keyboard"):
            _check_inline_button(button)
    elif "keyboard" in markup:
        for button in _buttons(markup, "keyboard"):
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str):
                raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
    return markup


def _buttons(markup: JSON, field: str) -> list[Any]:
    """The buttons of a keyboard, row by row, once its shape (an Array of Arrays) is checked."""
    rows = markup[field]
    if not isinstance(rows, list):
        raise _bad(f'field "{field}" must be of type Array')
    if not all(isinstance(row, list) for row in rows):
        raise _bad(f'field "{field}" must be an Array of Arrays')
    return [button for row in rows for button in row]


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad(_BUTTON + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise _bad(_BUTTON + 'Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise _bad(_BUTTON + 'Field "text" must be of type String')
    actions = [
        key
        for key in _INLINE_ACTIONS
        if button.get(key) is not None and not (key in ("url", "callback_data") and button[key] == "")
    ]
    if not actions:
        raise _bad(_BUTTON + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:  # stub-only: the documentation's "exactly one of the optional fields"
        raise _bad(_BUTTON + f"exactly one of the optional fields must be used, got {', '.join(actions)}")
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")
    action, value = actions[0], button[actions[0]]
    if action == "callback_data":
        if not isinstance(value, str):
            raise _bad(_BUTTON + 'Field "callback_data" must be of type String')
        if len(value.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str):
            raise _bad(_BUTTON + 'Field "url" must be of type String')
        problem = _url_problem(value)
        if problem:
            raise _bad(f"inline keyboard button URL '{value}' is invalid: {problem}")
    elif action == "web_app":
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str) or not url.lower().startswith("https://") or _url_problem(url):
            raise _bad(f"inline keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed")
    elif action in ("pay", "callback_game"):
        raise _bad("BUTTON_TYPE_INVALID")
    elif action == "copy_text":
        copied = value.get("text") if isinstance(value, dict) else None
        if not isinstance(copied, str) or not 1 <= utf16_len(copied) <= 256:
            raise _bad("BUTTON_COPY_TEXT_INVALID")


_ENTITY_TYPES = frozenset(
    {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold", "italic", "underline"}
    | {"strikethrough", "spoiler", "blockquote", "expandable_blockquote", "code", "pre", "text_link", "text_mention"}
    | {"custom_emoji"}
)


def _check_entities(value: Any, text: str) -> list[JSON]:
    entities = _as_json(value, "can't parse entities JSON object")
    if not isinstance(entities, list):
        raise _bad("can't parse entities JSON object")
    total = utf16_len(text)
    checked: list[JSON] = []
    for item in entities:
        if not isinstance(item, dict):
            raise _bad("can't parse MessageEntity: expected an Object")
        for key in ("type", "offset", "length"):
            if key not in item:
                raise _bad(f"can't parse MessageEntity: Can't find field \"{key}\"")
        if item["type"] not in _ENTITY_TYPES:
            raise _bad("can't parse MessageEntity: Unsupported type specified")
        start, length = _as_int(item["offset"]), _as_int(item["length"])
        if start is None or start < 0:
            raise _bad(f"receive an entity with incorrect offset {item['offset']}")
        if length is None or length < 0:
            raise _bad(f"receive an entity with incorrect length {item['length']}")
        if start > total:
            raise _bad(f"entity begins after the end of the text at UTF-16 offset {start}")
        if start + length > total:
            raise _bad(
                f"entity beginning at UTF-16 offset {start} ends after the end of the text at UTF-16 offset "
                f"{start + length}"
            )
        needed = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}.get(item["type"])
        if needed and needed not in item:
            raise _bad(f"can't parse MessageEntity: Can't find field \"{needed}\"")
        if item["type"] == "text_link":
            problem = _url_problem(str(item["url"]))
            if problem:
                raise _bad(f"entity URL '{item['url']}' is invalid: {problem}")
        checked.append({**item, "offset": start, "length": length})
    return checked


_TRIM = " \t\n\r\x0b\x0c"


def _trim(visible: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram strips leading and trailing whitespace and clips the entities to what is left."""
    left = visible.lstrip(_TRIM)
    lead = utf16_len(visible[: len(visible) - len(left)])
    text = left.rstrip(_TRIM)
    total = utf16_len(text)
    clipped = []
    for item in entities:
        start = max(item["offset"] - lead, 0)
        end = min(item["offset"] + item["length"] - lead, total)
        if end > start:
            clipped.append({**item, "offset": start, "length": end - start})
    return text, clipped


# ----------------------------------------------------------------------------------------------------------------
# the stub
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Stored:
    message: JSON
    from_bot: bool
    parse_mode: str | None = None
    source_text: str | None = None
    reply_markup: JSON | None = None
    deleted: bool = False


@dataclass
class _Query:
    chat_id: int
    message_id: int
    answered: bool = False
    answer: JSON = field(default_factory=dict)


class _Described(NamedTuple):
    result: Any
    description: str


_UNSUPPORTED = frozenset(
    name.lower()
    for name in (
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendVideoNote",
        "sendAnimation",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "copyMessage",
        "forwardMessage",
        "editMessageCaption",
        "editMessageMedia",
        "getFile",
        "getChat",
        "getChatMember",
        "setMessageReaction",
    )
)


class TelegramStub:
    """A strict Telegram Bot API server on 127.0.0.1 for tests; use it as a context manager."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        username: str = "bilim_test_bot",
        first_name: str = "Bilim",
        strict_html: bool = True,
        allow_http_webhook: bool = False,
    ) -> None:
        self.token = token
        self.strict_html = strict_html
        self.allow_http_webhook = allow_http_webhook
        head = token.split(":", 1)[0]
        self.bot_user: JSON = {
            "id": int(head) if head.isdigit() else 123456,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._rejections: list[Rejection] = []
        self._errors: list[ErrorAnswer] = []
        self._filtered: list[JSON] = []
        self._faults: dict[str, list[ApiError]] = {}
        self._chats: dict[int, JSON] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], _Stored] = {}
        self._sent_order: list[tuple[int, int]] = []
        self._queries: dict[str, _Query] = {}
        self._commands: dict[tuple[tuple[str, int | None, int | None], str], list[JSON]] = {}
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(100_000_001)
        self._last_update_id = 0
        self._delivered_up_to = 0
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(4_382_000_000_000_000_001)
        self._webhook: JSON = {}
        self._webhook_generation = 0
        self._closing = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", self._get_me),
                ("getUpdates", self._get_updates),
                ("sendMessage", self._send_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("deleteMessage", self._delete_message),
                ("answerCallbackQuery", self._answer_callback_query),
                ("sendChatAction", self._send_chat_action),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("close", self._close_method),
                ("logOut", self._log_out),
            )
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> TelegramStub:
        """Listen on 127.0.0.1 at a free port, serving from a background thread."""
        if self._server is not None:
            return self
        self._closing = False
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="telegram-stub", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Wake every long poll, stop the server and release the port."""
        with self._cond:
            self._closing = True
            self._webhook_generation += 1
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TelegramStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The TCP port the stub listens on."""
        if self._server is None:
            raise RuntimeError("the stub is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, the stub's root."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The base_url for python-telegram-bot: requests go to <api_url><token>/<method>."""
        return f"{self.url}/bot"

    def method_url(self, method: str) -> str:
        """The full URL of one Bot API method with the stub's token."""
        return f"{self.api_url}{self.token}/{method}"

    # -- feeding updates -----------------------------------------------------------------------------------------
    def add_chat(self, chat_id: int, chat_type: str | None = None, **fields: Any) -> JSON:
        """Make a chat known (the bot may only write to chats Telegram knows); returns the Chat object."""
        with self._cond:
            chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = fields.pop("first_name", "Aibek")
            else:
                chat["title"] = fields.pop("title", "Test group")
            chat.update(fields)
            self._check_chat_shape(chat_id, chat_type, chat_id if chat_type == "private" else None)
            self._chats[chat_id] = chat
            return copy.deepcopy(chat)

    def block(self, chat_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends to the chat answer 403 like Telegram."""
        with self._cond:
            (self._blocked.add if blocked else self._blocked.discard)(chat_id)

    def send_text(self, chat_id: int, text: str, *, entities: list[JSON] | None = None, **sender: Any) -> Fed:
        """A user writes text; entities default to the bot_command/mention/url ones Telegram would add.

        `sender` takes _feed's keywords: user_id, language_code, chat_type, first_name, last_name, username,
        title, reply_to_message_id.
        """
        if not text:
            raise ValueError("Telegram delivers no empty text messages")
        content: JSON = {"text": text}
        found = detect_entities(text) if entities is None else entities
        if found:
            content["entities"] = found
        return self._feed(chat_id, content, **sender)

    def send_command(self, chat_id: int, command: str, args: str = "", **sender: Any) -> Fed:
        """A user sends /command (optionally /command@bot and arguments), with its bot_command entity."""
        if not re.fullmatch(r"/[A-Za-z0-9_]{1,32}(@\w+)?", command):
            raise ValueError(f"not a bot command: {command!r}")
        return self.send_text(chat_id, f"{command} {args}".strip(), **sender)

    def send_sticker(self, chat_id: int, *, emoji: str = "👍", **sender: Any) -> Fed:
        """A user sends a sticker."""
        sticker = {
            **self._file(512 * 40),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "TestStickers",
        }
        return self._feed(chat_id, {"sticker": sticker}, **sender)

    def send_photo(self, chat_id: int, *, caption: str | None = None, **sender: Any) -> Fed:
        """A user sends a photo (three sizes, like Telegram), optionally with a caption."""
        sizes = [{**self._file(side * side // 8), "width": side, "height": side * 3 // 4} for side in (90, 320, 1280)]
        return self._feed(chat_id, self._with_caption({"photo": sizes}, caption), **sender)

    def send_voice(self, chat_id: int, *, duration: int = 3, **sender: Any) -> Fed:
        """A user sends a voice note."""
        voice = {**self._file(duration * 4000), "duration": duration, "mime_type": "audio/ogg"}
        return self._feed(chat_id, {"voice": voice}, **sender)

    def send_document(
        self,
        chat_id: int,
        *,
        file_name: str = "buyruk.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        **sender: Any,
    ) -> Fed:
        """A user sends a file."""
        document = {"file_name": file_name, "mime_type": mime_type, **self._file(48_213)}
        return self._feed(chat_id, self._with_caption({"document": document}, caption), **sender)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Aibek",
        language_code: str | None = "ky",
        check: bool = True,
    ) -> Fed:
        """A user presses an inline button under a bot message; check=True insists the button exists."""
        with self._cond:
            stored = self._messages.get((chat_id, message_id))
            if stored is None or not stored.from_bot or stored.deleted:
                raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
            keyboard = stored.message.get("reply_markup", {}).get("inline_keyboard", [])
            available = [button.get("callback_data") for row in keyboard for button in row]
            if check and data not in available:
                raise ValueError(f"no button with callback_data {data!r} under message {message_id}: {available}")
            chat = self._chats[chat_id]
            user_id = self._sender_id(chat_id, chat["type"], user_id)
            user = self._user(user_id, first_name, None, None, language_code)
            query_id = str(next(self._query_ids))
            query = {
                "id": query_id,
                "from": user,
                "message": copy.deepcopy(stored.message),
                "chat_instance": str(-(abs(chat_id) * 7919 % 10**18) - 1),
                "data": data,
            }
            self._queries[query_id] = _Query(chat_id, message_id)
            update = self._enqueue("callback_query", query)
            return Fed(update, copy.deepcopy(query))

    def queue_update(self, kind: str, payload: JSON) -> JSON:
        """Queue any other update type (edited_message, my_chat_member, ...) as given; returns the Update."""
        if kind not in UPDATE_TYPES:
            raise ValueError(f"unknown update type {kind!r}")
        with self._cond:
            return self._enqueue(kind, copy.deepcopy(payload))

    # -- fault injection ---------------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` fail: 429 (with retry_after), 500, 502 or any status."""
        parameters = {"retry_after": retry_after} if status == 429 else None
        default = {
            400: "Bad Request: injected failure",
            403: "Forbidden: bot was blocked by the user",
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(status) or HTTPStatus(status).phrase
        with self._cond:
            queue = self._faults.setdefault(method.lower(), [])
            queue.extend(ApiError(status, description or default, parameters) for _ in range(count))

    # -- assertions ------------------------------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Every request so far, in order: (method, decoded params)."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[JSON]:
        """The params of every call of one method."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    @property
    def rejections(self) -> list[Rejection]:
        """Every 400 answer so far: (method, params, description)."""
        with self._cond:
            return list(self._rejections)

    @property
    def errors(self) -> list[ErrorAnswer]:
        """Every non-ok answer so far, injected faults included."""
        with self._cond:
            return list(self._errors)

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        """The bot's messages (not deleted) in send order, in their final state, with parse_mode and source_text."""
        with self._cond:
            result = []
            for key in self._sent_order:
                stored = self._messages[key]
                if stored.deleted or (chat_id is not None and key[0] != chat_id):
                    continue
                record = copy.deepcopy(stored.message)
                record["parse_mode"] = stored.parse_mode
                record["source_text"] = stored.source_text
                record["reply_markup"] = copy.deepcopy(stored.reply_markup)
                result.append(record)
            return result

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of any message in a chat (the bot's or a user's), or None."""
        with self._cond:
            stored = self._messages.get((chat_id, message_id))
            return None if stored is None or stored.deleted else copy.deepcopy(stored.message)

    def commands(self, language_code: str = "", scope: JSON | None = None) -> list[JSON]:
        """The command list set for a scope and language (exactly that key, as getMyCommands answers)."""
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope, self._chats), language_code), []))

    @property
    def webhook(self) -> JSON:
        """The webhook settings (url, secret_token, ...); empty when polling."""
        with self._cond:
            return copy.deepcopy(self._webhook)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by the bot."""
        with self._cond:
            return copy.deepcopy(self._updates)

    def wait_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 10.0) -> Any:
        """Poll the calls until predicate(calls) is truthy and return its value; AssertionError with a dump if not."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.calls)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s\n{self.dump()}")
            time.sleep(0.02)

    def wait_for_call(
        self, method: str, predicate: Callable[[JSON], bool] | None = None, timeout: float = 10.0
    ) -> JSON:
        """The params of the first call of `method` (matching `predicate`), waiting for it."""

        def found(calls: list[Call]) -> JSON | None:
            for call in calls:
                if call.method.lower() == method.lower() and (predicate is None or predicate(call.params)):
                    return call.params
            return None

        result: JSON = self.wait_for(found, timeout)
        return result

    def wait_for_messages(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[JSON]:
        """Wait until the bot has at least `count` messages in the chat; returns them (see sent)."""
        self.wait_for(lambda _calls: len(self.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    def wait_until_delivered(self, timeout: float = 10.0) -> None:
        """Wait until every queued update has reached the bot (returned by getUpdates or posted to the webhook)."""
        self.wait_for(lambda _calls: self._delivered_up_to >= self._last_update_id, timeout)

    def dump(self) -> str:
        """A readable account of the calls, errors and filtered updates, for failure messages."""
        lines = ["calls:"]
        for number, call in enumerate(self.calls, 1):
            lines.append(f"  {number:3}. {call.method} {json.dumps(call.params, ensure_ascii=False)[:400]}")
        lines.append("errors:")
        lines += [f"  {e.method} -> {e.status} {e.description}" for e in self.errors] or ["  none"]
        with self._cond:
            if self._filtered:
                lines.append(f"updates dropped by allowed_updates: {[list(u)[1] for u in self._filtered]}")
            if self._updates:
                lines.append(f"updates not yet confirmed: {[u['update_id'] for u in self._updates]}")
        return "\n".join(lines)

    @staticmethod
    def visible_text(html: str) -> str:
        """The text Telegram shows for HTML: tags stripped, entities decoded (lenient, as tdlib parses)."""
        try:
            return _trim(*parse_html(html, strict=False))[0]
        except EntityParseError as exc:
            raise ValueError(f"invalid Telegram HTML: {exc}") from exc

    # -- HTTP entry point ------------------------------------------------------------------------------------
    def _handle(self, path: str, content_type: str, body: bytes, connection: socket.socket) -> tuple[int, JSON]:
        split = urllib.parse.urlsplit(path)
        match = re.fullmatch(r"/bot([^/]*)/([^/]+)", split.path)
        if match is None:
            return 404, _NOT_FOUND
        token, name = match.groups()
        if token != self.token:
            status, answer = (401, _UNAUTHORIZED) if _TOKEN_SHAPE.fullmatch(token) else (404, _NOT_FOUND)
            self._record_error(name, {}, ApiError(status, answer["description"]))
            return status, answer
        method, handler = self._handlers.get(name.lower(), (name, None))
        raw: dict[str, str | _File] = {}
        try:
            raw.update(urllib.parse.parse_qsl(split.query, keep_blank_values=True, errors="strict"))
            raw.update(_parse_body(content_type, body))
            for value in raw.values():
                if isinstance(value, str):
                    value.encode("utf-8")
        except UnicodeError:
            params: JSON = {}
            error: ApiError | None = _bad("strings must be encoded in UTF-8")
        except ApiError as exc:
            params, error = {}, exc
        else:
            params, error = {key: _decode_value(key, value) for key, value in raw.items()}, None
        with self._cond:
            self._calls.append(Call(method, params))
            faults = self._faults.get(method.lower())
            if error is None and faults:
                error = faults.pop(0)
        if error is None and handler is None:
            if name.lower() in _UNSUPPORTED:
                error = _bad(f"{method} is not implemented by TelegramStub")
            else:
                self._record_error(method, params, ApiError(404, "Not Found"))
                return 404, _NOT_FOUND
        if error is None and handler is not None:
            try:
                result = handler(params, connection) if method == "getUpdates" else handler(params)
            except ApiError as exc:
                error = exc
            except Exception as exc:  # a bug in the stub: make it loud instead of hanging the client
                error = ApiError(500, f"Internal Server Error: TelegramStub failed: {exc!r}")
            else:
                if isinstance(result, _Described):
                    return 200, {"ok": True, "result": result.result, "description": result.description}
                return 200, {"ok": True, "result": result}
        assert error is not None
        if error.record:
            self._record_error(method, params, error)
        return error.status, error.payload()

    def _record_error(self, method: str, params: JSON, error: ApiError) -> None:
        with self._cond:
            self._errors.append(ErrorAnswer(method, params, error.status, error.description))
            if error.status == 400:
                self._rejections.append(Rejection(method, params, error.description))

    # -- shared checks -------------------------------------------------------------------------------------------
    def _chat(self, params: JSON, name: str = "chat_id", *, sending: bool = True) -> JSON:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad(f"{name} is empty")
        with self._cond:
            chat = None
            if isinstance(raw, int) and not isinstance(raw, bool):
                chat = self._chats.get(raw)
            elif isinstance(raw, str) and raw.startswith("@"):
                wanted = raw[1:].lower()
                chat = next((c for c in self._chats.values() if str(c.get("username", "")).lower() == wanted), None)
            if chat is None:
                raise _bad("chat not found")
            if sending and chat["id"] in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return chat

    def _format(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
        """Parse text as Telegram does; enforce non-empty and at most 4096 UTF-16 units after parsing."""
        mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
        if mode not in ("", "html", "markdown", "markdownv2"):
            raise _bad("unsupported parse_mode")
        if entities not in (None, "", []):
            visible, found = text, _check_entities(entities, text)
        else:
            try:
                if mode == "html":
                    visible, found = parse_html(text, strict=self.strict_html)
                elif mode == "markdownv2":
                    visible, found = parse_markdown_v2(text)
                elif mode == "markdown":
                    visible, found = parse_markdown(text)
                else:
                    visible, found = text, []
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        visible, found = _trim(visible, found)
        if not visible:
            raise _bad("text must be non-empty")
        if utf16_len(visible) > MAX_MESSAGE_UTF16:
            raise _bad("message is too long")
        return visible, found

    def _reply_target(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply is not None:
            reply = _as_json(reply, "can't parse reply parameters JSON object")
            if not isinstance(reply, dict):
                raise _bad("can't parse reply parameters JSON object")
            if "message_id" not in reply:
                raise _bad('can\'t find field "message_id"')
            message_id = _as_int(reply["message_id"])
            allow = reply.get("allow_sending_without_reply") is True
            if reply.get("chat_id") not in (None, chat["id"]):
                chat = self._chat(reply, sending=False)
        elif params.get("reply_to_message_id") is not None:
            message_id = _as_int(params["reply_to_message_id"])
            allow = params.get("allow_sending_without_reply") is True
        else:
            return None
        with self._cond:
            stored = self._messages.get((chat["id"], message_id or 0))
            if stored is None or stored.deleted:
                if allow:
                    return None
                raise _bad("message to be replied not found")
            target = copy.deepcopy(stored.message)
        target.pop("reply_to_message", None)
        return target

    def _editable(self, params: JSON) -> _Stored:
        no_chat = params.get("chat_id") in (None, "")
        message_id = _as_int(params.get("message_id"))
        if no_chat and not message_id:
            if params.get("inline_message_id"):
                raise _bad("MESSAGE_ID_INVALID")  # the stub sends no inline messages
            raise _bad("message identifier is not specified")
        chat = self._chat(params)
        if not message_id:
            raise _bad("message identifier is not specified")
        with self._cond:
            stored = self._messages.get((chat["id"], message_id))
            if stored is None or stored.deleted:
                raise _bad("message to edit not found")
            if not stored.from_bot:
                raise _bad("message can't be edited")
            return stored

    # -- methods -----------------------------------------------------------------------------------------------
    def _get_me(self, _params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: JSON, connection: socket.socket) -> list[JSON]:
        offset = _as_int(params.get("offset")) or 0
        limit = _as_int(params.get("limit"))
        limit = 100 if limit is None else min(max(limit, 1), 100)
        timeout = max(_as_int(params.get("timeout")) or 0, 0)
        allowed = params.get("allowed_updates")
        with self._cond:
            if self._webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                    "webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            self._confirm(offset)
            deadline = time.monotonic() + timeout
            while True:
                batch = self._updates[:limit]
                if batch or self._closing:
                    break
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
                        "running",
                        record=not _peer_closed(connection),
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if batch:
                self._delivered_up_to = max(self._delivered_up_to, batch[-1]["update_id"])
            return copy.deepcopy(batch)

    def _message_text(self, params: JSON) -> tuple[str, str, list[JSON]]:
        """The text as sent, the text Telegram shows and its entities; 400 like Telegram when it cannot parse."""
        text = params.get("text")
        if not isinstance(text, str) or text == "":
            raise _bad("message text is empty")
        visible, entities = self._format(text, params.get("parse_mode"), params.get("entities"))
        return text, visible, entities

    def _send_message(self, params: JSON) -> JSON:
        text, visible, entities = self._message_text(params)
        markup = _check_reply_markup(params.get("reply_markup"))
        preview = self._link_preview(params.get("link_preview_options"))
        chat = self._chat(params)
        self._check_thread(params)
        reply_to = self._reply_target(chat, params)
        with self._cond:
            message = self._new_message(chat)
            message["text"] = visible
            if entities:
                message["entities"] = entities
            if preview:
                message["link_preview_options"] = preview
            if reply_to is not None:
                message["reply_to_message"] = reply_to
            if markup and "inline_keyboard" in markup:
                message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
            parse_mode = params.get("parse_mode") if isinstance(params.get("parse_mode"), str) else None
            self._store(message, from_bot=True, parse_mode=parse_mode, source_text=text, reply_markup=markup)
            return copy.deepcopy(message)

    def _edit_message_text(self, params: JSON) -> JSON:
        text, visible, entities = self._message_text(params)
        markup = self._inline_markup(params.get("reply_markup"))
        stored = self._editable(params)
        with self._cond:
            current = stored.message
            same_text = current.get("text") == visible and current.get("entities", []) == entities
            if same_text and current.get("reply_markup") == markup:
                raise _bad(NOT_MODIFIED)
            current["text"] = visible
            current.pop("entities", None)
            if entities:
                current["entities"] = entities
            self._set_markup(stored, markup)
            parse_mode = params.get("parse_mode")
            stored.parse_mode = parse_mode if isinstance(parse_mode, str) else None
            stored.source_text = text
            current["edit_date"] = int(time.time())
            return copy.deepcopy(current)

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        markup = self._inline_markup(params.get("reply_markup"))
        stored = self._editable(params)
        with self._cond:
            if stored.message.get("reply_markup") == markup:
                raise _bad(NOT_MODIFIED)
            self._set_markup(stored, markup)
            stored.message["edit_date"] = int(time.time())
            return copy.deepcopy(stored.message)

    def _delete_message(self, params: JSON) -> bool:
        chat = self._chat(params, sending=False)
        message_id = _as_int(params.get("message_id"))
        if not message_id:
            raise _bad("message identifier is not specified")
        with self._cond:
            stored = self._messages.get((chat["id"], message_id))
            if stored is None or stored.deleted:
                raise _bad("message to delete not found")
            stored.deleted = True
            return True

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = params.get("callback_query_id")
        with self._cond:
            query = self._queries.get(str(query_id)) if query_id not in (None, "") else None
            if query is None or query.answered:
                raise _bad(QUERY_INVALID)
            text = params.get("text")
            if isinstance(text, str) and utf16_len(text) > MAX_CALLBACK_ANSWER_UTF16:
                raise _bad("MESSAGE_TOO_LONG")
            query.answered = True
            query.answer = dict(params)
            return True

    def _send_chat_action(self, params: JSON) -> bool:
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._chat(params)
        self._check_thread(params)
        return True

    def _set_my_commands(self, params: JSON) -> bool:
        commands = _as_json(params.get("commands"), "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        checked = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand: expected an Object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not command:
                raise _bad("command must be non-empty")
            if not isinstance(description, str) or not description:
                raise _bad("command description must be non-empty")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad("BOT_COMMAND_INVALID")
            if utf16_len(description) > 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": command, "description": description})
        key = self._commands_key(params)
        with self._cond:
            self._commands[key] = checked
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = self._commands_key(params)
        with self._cond:
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: JSON) -> bool:
        key = self._commands_key(params)
        with self._cond:
            self._commands.pop(key, None)
        return True

    def _set_webhook(self, params: JSON) -> _Described:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if not isinstance(url, str):
            raise _bad("bad webhook: URL must be a string")
        if secret not in (None, "") and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url:
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise _bad("bad webhook: Failed to resolve host: Name or service not known")
            if not self.allow_http_webhook:
                if parsed.scheme != "https":
                    raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
                if (parsed.port or 443) not in WEBHOOK_PORTS:
                    raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        allowed = params.get("allowed_updates")
        with self._cond:
            if params.get("drop_pending_updates") is True:
                self._drop_pending()
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
            if not url:
                was_set = bool(self._webhook)
                self._webhook = {}
                self._webhook_generation += 1
                return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")
            self._webhook = {
                "url": url,
                "secret_token": secret or None,
                "max_connections": _as_int(params.get("max_connections")) or 40,
                "allowed_updates": sorted(allowed) if isinstance(allowed, list) else None,
            }
            self._webhook_generation += 1
            generation = self._webhook_generation
            self._cond.notify_all()
        threading.Thread(target=self._deliver_webhooks, args=(generation,), daemon=True).start()
        return _Described(True, "Webhook was set")

    def _delete_webhook(self, params: JSON) -> _Described:
        with self._cond:
            if params.get("drop_pending_updates") is True:
                self._drop_pending()
            was_set = bool(self._webhook)
            self._webhook = {}
            self._webhook_generation += 1
            self._cond.notify_all()
            return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _get_webhook_info(self, _params: JSON) -> JSON:
        with self._cond:
            info: JSON = {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook:
                info["max_connections"] = self._webhook["max_connections"]
                info["ip_address"] = "127.0.0.1"
                if self._webhook.get("allowed_updates") is not None:
                    info["allowed_updates"] = self._webhook["allowed_updates"]
                for key in ("last_error_date", "last_error_message"):
                    if key in self._webhook:
                        info[key] = self._webhook[key]
            return info

    def _close_method(self, _params: JSON) -> bool:
        return True

    def _log_out(self, _params: JSON) -> bool:
        return True

    # -- internals -------------------------------------------------------------------------------------------------
    def _commands_key(self, params: JSON) -> tuple[tuple[str, int | None, int | None], str]:
        language = params.get("language_code") or ""
        if not isinstance(language, str) or (language and not re.fullmatch(r"[a-z]{2}", language)):
            raise _bad("LANG_CODE_INVALID")
        scope = _as_json(params.get("scope"), "can't parse BotCommandScope JSON object")
        with self._cond:
            return _scope_key(scope, self._chats), language

    @staticmethod
    def _check_thread(params: JSON) -> None:
        if _as_int(params.get("message_thread_id")):
            raise _bad("message thread not found")  # the stub's chats have no forum topics

    @staticmethod
    def _link_preview(value: Any) -> JSON | None:
        if value in (None, ""):
            return None
        options = _as_json(value, "can't parse link preview options JSON object")
        if not isinstance(options, dict):
            raise _bad("can't parse link preview options JSON object")
        for flag in ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text"):
            if flag in options and not isinstance(options[flag], bool):
                raise _bad(f'field "{flag}" must be of type Boolean')
        if "url" in options and _url_problem(str(options["url"])):
            raise _bad("WEBPAGE_URL_INVALID")
        return options

    @staticmethod
    def _inline_markup(value: Any) -> JSON | None:
        markup = _check_reply_markup(value)
        if markup is None:
            return None
        if "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        return {"inline_keyboard": markup["inline_keyboard"]}

    @staticmethod
    def _set_markup(stored: _Stored, markup: JSON | None) -> None:
        """An edit without reply_markup removes the inline keyboard, as on Telegram."""
        stored.message.pop("reply_markup", None)
        if markup:
            stored.message["reply_markup"] = markup
        stored.reply_markup = markup

    def _new_message(self, chat: JSON) -> JSON:
        message_id = self._next_message_id.get(chat["id"], 1)
        self._next_message_id[chat["id"]] = message_id + 1
        return {
            "message_id": message_id,
            "from": copy.deepcopy(self.bot_user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }

    def _store(self, message: JSON, *, from_bot: bool, **extra: Any) -> None:
        key = (message["chat"]["id"], message["message_id"])
        self._messages[key] = _Stored(message, from_bot, **extra)
        if from_bot:
            self._sent_order.append(key)

    def _enqueue(self, kind: str, payload: JSON) -> JSON:
        update_id = next(self._update_ids)
        update: JSON = {"update_id": update_id, kind: payload}
        self._last_update_id = update_id
        if kind in self._allowed_updates:
            self._updates.append(copy.deepcopy(update))
        else:
            self._filtered.append(update)
            self._delivered_up_to = update_id
        self._cond.notify_all()
        return copy.deepcopy(update)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _drop_pending(self) -> None:
        if self._updates:
            self._delivered_up_to = max(self._delivered_up_to, self._updates[-1]["update_id"])
        self._updates = []

    def _file(self, size: int) -> JSON:
        number = next(self._file_ids)
        return {
            "file_id": f"AgACAgIAAxkBAAI{number:06d}ZmVzdF9maWxl",
            "file_unique_id": f"AQAD{number:06d}",
            "file_size": size,
        }

    @staticmethod
    def _with_caption(content: JSON, caption: str | None) -> JSON:
        if caption:
            content["caption"] = caption
            found = detect_entities(caption)
            if found:
                content["caption_entities"] = found
        return content

    def _user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    @staticmethod
    def _check_chat_shape(chat_id: int, chat_type: str, user_id: int | None) -> None:
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        if chat_type == "private" and (chat_id <= 0 or user_id != chat_id):
            raise ValueError("a private chat's id is positive and equals the user's id")
        if chat_type != "private" and chat_id >= 0:
            raise ValueError("group, supergroup and channel ids are negative")

    @staticmethod
    def _sender_id(chat_id: int, chat_type: str, user_id: int | None) -> int:
        if chat_type == "private":
            return chat_id if user_id is None else user_id
        return 700_000_001 if user_id is None else user_id

    def _feed(
        self,
        chat_id: int,
        content: JSON,
        *,
        user_id: int | None = None,
        language_code: str | None = "ky",
        chat_type: str | None = None,
        first_name: str = "Aibek",
        last_name: str | None = None,
        username: str | None = None,
        title: str = "Test group",
        reply_to_message_id: int | None = None,
    ) -> Fed:
        with self._cond:
            known = self._chats.get(chat_id)
            chat_type = chat_type or (known["type"] if known else ("private" if chat_id > 0 else "supergroup"))
            sender = self._sender_id(chat_id, chat_type, user_id)
            self._check_chat_shape(chat_id, chat_type, sender)
            if known is not None and known["type"] != chat_type:
                raise ValueError(f"chat {chat_id} is a {known['type']}, not a {chat_type}")
            user = self._user(sender, first_name, last_name, username, language_code)
            if known is None:
                chat = {"id": chat_id, "type": chat_type}
                if chat_type == "private":
                    chat.update({k: user[k] for k in ("first_name", "last_name", "username") if k in user})
                else:
                    chat["title"] = title
                self._chats[chat_id] = chat
            message = self._new_message(self._chats[chat_id])
            message["from"] = user
            if reply_to_message_id is not None:
                target = self._messages.get((chat_id, reply_to_message_id))
                if target is None or target.deleted:
                    raise ValueError(f"no message {reply_to_message_id} in chat {chat_id} to reply to")
                replied = copy.deepcopy(target.message)
                replied.pop("reply_to_message", None)
                message["reply_to_message"] = replied
            message.update(content)
            self._store(message, from_bot=False)
            update = self._enqueue("message", copy.deepcopy(message))
            return Fed(update, copy.deepcopy(message))

    def _deliver_webhooks(self, generation: int) -> None:
        """Post queued updates to the webhook one by one, as Telegram does, until the webhook changes."""
        while True:
            with self._cond:
                while not self._closing and generation == self._webhook_generation and not self._updates:
                    self._cond.wait(0.5)
                if self._closing or generation != self._webhook_generation:
                    return
                update = copy.deepcopy(self._updates[0])
                url, secret = self._webhook["url"], self._webhook.get("secret_token")
            request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
            request.add_header("Content-Type", "application/json")
            if secret:
                request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
            problem = None
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                problem = f"Wrong response from the webhook: {exc.code} {exc.reason}"
            except (OSError, ValueError) as exc:
                problem = f"Connection failed: {exc}"
            with self._cond:
                if generation != self._webhook_generation:
                    return
                if problem is None:
                    self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                    self._delivered_up_to = max(self._delivered_up_to, update["update_id"])
                    self._cond.notify_all()
                    continue
                self._webhook["last_error_date"] = int(time.time())
                self._webhook["last_error_message"] = problem
            time.sleep(0.2)


def _scope_key(scope: Any, chats: dict[int, JSON]) -> tuple[str, int | None, int | None]:
    if scope in (None, ""):
        return ("default", None, None)
    if not isinstance(scope, dict):
        raise _bad("can't parse BotCommandScope JSON object")
    kind = scope.get("type")
    if kind is None:
        raise _bad("can't parse BotCommandScope: Can't find field \"type\"")
    simple = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")
    if kind in simple:
        return (kind, None, None)
    if kind not in ("chat", "chat_administrators", "chat_member"):
        raise _bad("can't parse BotCommandScope: Unsupported type specified")
    if "chat_id" not in scope:
        raise _bad("can't parse BotCommandScope: Can't find field \"chat_id\"")
    chat_id = _as_int(scope["chat_id"])
    if chat_id is None or chat_id not in chats:
        raise _bad("chat not found")
    if kind != "chat_member":
        return (kind, chat_id, None)
    if "user_id" not in scope:
        raise _bad("can't parse BotCommandScope: Can't find field \"user_id\"")
    return (kind, chat_id, _as_int(scope["user_id"]))


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client already hung up (so an answer to it is never seen)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stalls
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self.close_connection = True
            self.send_error(400)
            return
        status, payload = self.server.stub._handle(
            self.path, self.headers.get("Content-Type", ""), body, self.connection
        )
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, stub: TelegramStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away
        super().handle_error(request, client_address)
