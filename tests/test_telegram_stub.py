"""The Telegram stub is as strict as Telegram: its parsers, its HTTP API, and the real python-telegram-bot on it."""

from __future__ import annotations

import asyncio
import html
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_stub import EntityParseError, TelegramStub, parse_html, parse_markdown_v2, utf16_len

# Slow: every test drives the Telegram stub server.
pytestmark = pytest.mark.slow

TOKEN = "123456:TEST-token"
CHAT = 501
GROUP = -1001234567890
ENTITIES = "Bad Request: can't parse entities: "
BUTTONS = {"inline_keyboard": [[{"text": "👍", "callback_data": "up"}]]}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One HTTP client for the module (a fresh client per call costs an SSL context each time)."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture()
def stub() -> Iterator[TelegramStub]:
    """A running stub that knows one private chat (the bot may only write where a user wrote first)."""
    with TelegramStub(token=TOKEN) as server:
        server.add_chat(CHAT)
        yield server


class Api:
    """Bot API calls to the stub with JSON bodies, as a test client."""

    def __init__(self, stub: TelegramStub, http: httpx.Client) -> None:
        self.stub, self.http = stub, http

    def post(self, method: str, **params: Any) -> httpx.Response:
        """One call; the raw response."""
        return self.http.post(self.stub.method_url(method), json=params)

    def ok(self, method: str, **params: Any) -> Any:
        """The result of a call that must succeed."""
        response = self.post(method, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is True
        return body["result"]

    def rejected(self, method: str, **params: Any) -> str:
        """The description of a call that must fail with 400, checking Telegram's error shape."""
        response = self.post(method, **params)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body == {"ok": False, "error_code": 400, "description": body["description"]}
        return str(body["description"])


@pytest.fixture()
def api(stub: TelegramStub, http: httpx.Client) -> Api:
    """A client of the running stub."""
    return Api(stub, http)


# ---------------------------------------------------------------------------------------------------------------
# HTML: what Telegram accepts and refuses
# ---------------------------------------------------------------------------------------------------------------
VALID = '<b>375</b> &lt;x&gt; <a href="https://x.kg">y</a> <blockquote>q</blockquote>'


def test_valid_html_parses_to_the_visible_text_and_entities(api: Api, stub: TelegramStub) -> None:
    text, entities = parse_html(VALID)
    assert text == "375 <x> y q"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 8, "length": 1, "url": "https://x.kg/"},
        {"type": "blockquote", "offset": 10, "length": 1},
    ]
    message = api.ok("sendMessage", chat_id=CHAT, text=VALID, parse_mode="HTML", reply_markup=BUTTONS)
    assert message["text"] == "375 <x> y q"
    assert message["entities"] == entities
    assert message["reply_markup"] == BUTTONS
    assert message["from"] == {"id": 123456, "is_bot": True, "first_name": "Bilim", "username": "bilim_test_bot"}
    assert message["chat"]["id"] == CHAT and message["message_id"] == 1
    assert stub.sent(CHAT)[0]["source_text"] == VALID and stub.sent(CHAT)[0]["parse_mode"] == "HTML"
    assert stub.visible_text("<i>Окуу</i> &amp; <code>жыл</code>\n") == "Окуу & жыл"


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("Биринчи сап<br>экинчи", 'Unsupported start tag "br" at byte offset 21'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>375 орун", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b>Бишкек</i>", 'Unmatched end tag at byte offset 15, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        # stricter than tdlib, as the Bot API documentation demands
        (
            "1&nbsp;000 сом",
            'Unsupported HTML entity "&nbsp;" at byte offset 1; only &lt; &gt; &amp; &quot; and &#NN; are allowed',
        ),
        ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
        ('<a href="https://x.kg/?a=1&b=2">x</a>', 'Character "&" at byte offset 26 must be escaped as "&amp;"'),
        ("&lt", 'HTML entity "&lt" at byte offset 0 must end with ";"'),
        ("<a>x</a>", 'Tag "a" must have a non-empty "href" attribute at byte offset 0'),
        (
            '<a href="https://x.kg"><a href="https://y.kg">y</a></a>',
            'Tag "a" can\'t be nested in another "a" tag at byte offset 23',
        ),
    ],
)
def test_invalid_html_is_rejected_with_telegrams_description(
    api: Api, stub: TelegramStub, source: str, detail: str
) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == detail
    assert api.rejected("sendMessage", chat_id=CHAT, text=source, parse_mode="HTML") == ENTITIES + detail
    assert stub.rejections[-1] == (
        "sendMessage",
        {"chat_id": CHAT, "text": source, "parse_mode": "HTML"},
        ENTITIES + detail,
    )
    assert stub.sent() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [  # vectors from tdlib's own test/message_entities.cpp (strict_html=False is tdlib's behaviour)
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "&#57311;",
            "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched "
            "surrogate code units",
        ),
        ("&ge;&lt;&gt;&amp;&quot;&laquo;", '&ge;<>&"&laquo;'),
        ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟"),
        ('🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>', "🏟 🏟<🏟 🏟<"),
    ],
)
def test_lenient_mode_matches_tdlib(source: str, expected: str) -> None:
    try:
        text, _entities = parse_html(source, strict=False)
    except EntityParseError as exc:
        text = str(exc)
    assert text == expected


def test_markdown_v2_is_checked_too(api: Api) -> None:
    assert parse_markdown_v2("*375* орун\\.")[0] == "375 орун."
    detail = "Character '.' is reserved and must be escaped with the preceding '\\'"
    assert api.rejected("sendMessage", chat_id=CHAT, text="375 орун.", parse_mode="MarkdownV2") == ENTITIES + detail
    assert (
        api.rejected("sendMessage", chat_id=CHAT, text="x", parse_mode="Html5") == "Bad Request: unsupported parse_mode"
    )


def test_length_is_counted_in_utf16_units_of_the_visible_text(api: Api) -> None:
    too_long = "Bad Request: message is too long"
    assert api.rejected("sendMessage", chat_id=CHAT, text="x" * 4097) == too_long
    assert api.ok("sendMessage", chat_id=CHAT, text="x" * 4096)["text"] == "x" * 4096
    # tags and entity spelling do not count; what Telegram shows does
    tagged = "<b>" + "x" * 2048 + "</b><i>" + "&lt;" * 2048 + "</i>"
    assert utf16_len(api.ok("sendMessage", chat_id=CHAT, text=tagged, parse_mode="HTML")["text"]) == 4096
    assert api.rejected("sendMessage", chat_id=CHAT, text=tagged + "!", parse_mode="HTML") == too_long
    # 🎓 is one character but two UTF-16 units
    assert api.ok("sendMessage", chat_id=CHAT, text="🎓" * 2048)
    assert api.rejected("sendMessage", chat_id=CHAT, text="🎓" * 2049) == too_long
    # Telegram trims surrounding whitespace before counting and keeps entities in place
    trimmed = api.ok("sendMessage", chat_id=CHAT, text="\n  <b>жооп</b>  \n", parse_mode="HTML")
    assert (trimmed["text"], trimmed["entities"]) == ("жооп", [{"type": "bold", "offset": 0, "length": 4}])
    assert api.rejected("sendMessage", chat_id=CHAT, text="") == "Bad Request: message text is empty"
    assert api.rejected("sendMessage", chat_id=CHAT, text=" \n ") == "Bad Request: text must be non-empty"
    assert api.rejected("sendMessage", chat_id=CHAT, text="<b></b>", parse_mode="HTML") == (
        "Bad Request: text must be non-empty"
    )


def test_callback_data_is_limited_to_64_bytes(api: Api) -> None:
    def keyboard(data: str) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "Булактар", "callback_data": data}]]}

    assert api.ok("sendMessage", chat_id=CHAT, text="ok", reply_markup=keyboard("x" * 64))
    assert api.rejected("sendMessage", chat_id=CHAT, text="no", reply_markup=keyboard("x" * 65)) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    assert api.ok("sendMessage", chat_id=CHAT, text="ok", reply_markup=keyboard("д" * 32))  # 32 chars, 64 bytes
    assert api.rejected("sendMessage", chat_id=CHAT, text="no", reply_markup=keyboard("д" * 33)) == (
        "Bad Request: BUTTON_DATA_INVALID"  # only 33 characters, but 66 bytes
    )
    assert api.rejected("sendMessage", chat_id=CHAT, text="no", reply_markup=keyboard("x" + "д" * 32)) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )


@pytest.mark.parametrize(
    ("button", "description"),
    [
        (
            {"text": "Жөн гана текст"},
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "x", "callback_data": ""},
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        ({"callback_data": "x"}, "can't parse inline keyboard button: Can't find field \"text\""),
        (
            {"text": "x", "callback_data": "a", "url": "https://x.kg"},
            "can't parse inline keyboard button: exactly one "
            "of the optional fields must be used, got url, callback_data",
        ),
        ({"text": "x", "url": "not-a-url"}, "inline keyboard button URL 'not-a-url' is invalid: Wrong HTTP URL"),
        (
            {"text": "x", "url": "ftp://x.kg"},
            "inline keyboard button URL 'ftp://x.kg' is invalid: Unsupported URL protocol",
        ),
    ],
)
def test_inline_buttons_are_checked(api: Api, button: dict[str, Any], description: str) -> None:
    markup = {"inline_keyboard": [[button]]}
    assert api.rejected("sendMessage", chat_id=CHAT, text="x", reply_markup=markup) == f"Bad Request: {description}"


# ---------------------------------------------------------------------------------------------------------------
# the HTTP API
# ---------------------------------------------------------------------------------------------------------------
def test_wrong_token_and_unknown_method_answer_like_telegram(api: Api, stub: TelegramStub) -> None:
    response = api.http.post(f"{stub.api_url}999:WRONG/getMe")
    assert (response.status_code, response.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    response = api.http.post(stub.method_url("sendMesage"), json={"chat_id": CHAT, "text": "x"})
    assert (response.status_code, response.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert api.http.get(f"{stub.url}/favicon.ico").status_code == 404
    me = api.http.get(stub.method_url("getme")).json()["result"]  # method names are case-insensitive
    assert me == {
        "id": 123456,
        "is_bot": True,
        "first_name": "Bilim",
        "username": "bilim_test_bot",
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def test_parameters_arrive_as_json_form_multipart_or_query(api: Api, stub: TelegramStub) -> None:
    url = stub.method_url("sendMessage")
    markup = json.dumps(BUTTONS)
    answers = [
        api.http.post(
            url, json={"chat_id": CHAT, "text": "<b>json</b>", "parse_mode": "HTML", "reply_markup": BUTTONS}
        ),
        api.http.post(
            url, data={"chat_id": str(CHAT), "text": "<b>form</b>", "parse_mode": "HTML", "reply_markup": markup}
        ),
        api.http.post(
            url,
            data={"chat_id": str(CHAT), "text": "<b>multipart</b>", "parse_mode": "HTML", "reply_markup": markup},
            files={"thumbnail": ("a.txt", b"ignored", "text/plain")},
        ),
        api.http.get(
            url, params={"chat_id": CHAT, "text": "<b>query</b>", "parse_mode": "HTML", "reply_markup": markup}
        ),
    ]
    assert [answer.json()["result"]["text"] for answer in answers] == ["json", "form", "multipart", "query"]
    for _method, params in stub.calls:
        assert params["chat_id"] == CHAT and params["reply_markup"] == BUTTONS
    assert stub.calls[2].params["thumbnail"] == {"file_name": "a.txt", "mime_type": "text/plain", "file_size": 7}
    assert [message["message_id"] for message in stub.sent(CHAT)] == [1, 2, 3, 4]


def test_methods_refuse_what_telegram_refuses(api: Api, stub: TelegramStub) -> None:
    assert api.rejected("sendMessage", text="x") == "Bad Request: chat_id is empty"
    assert api.rejected("sendMessage", chat_id=42, text="x") == "Bad Request: chat not found"
    assert api.rejected("sendMessage", chat_id=CHAT, text="x", reply_parameters={"message_id": 99}) == (
        "Bad Request: message to be replied not found"
    )
    assert api.rejected("sendChatAction", chat_id=CHAT, action="thinking") == (
        "Bad Request: wrong parameter action in request"
    )
    assert api.ok("sendChatAction", chat_id=CHAT, action="typing") is True
    sent = api.ok("sendMessage", chat_id=CHAT, text="Тил: кыргызча", reply_markup=BUTTONS)
    assert api.rejected("editMessageText", chat_id=CHAT, message_id=77, text="x") == (
        "Bad Request: message to edit not found"
    )
    assert api.rejected(
        "editMessageText", chat_id=CHAT, message_id=sent["message_id"], text="Тил: кыргызча", reply_markup=BUTTONS
    ) == (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message"
    )
    edited = api.ok(
        "editMessageText", chat_id=CHAT, message_id=sent["message_id"], text="<b>Тил: орусча</b>", parse_mode="HTML"
    )
    assert edited["text"] == "Тил: орусча" and "reply_markup" not in edited and "edit_date" in edited
    user_message = stub.send_text(CHAT, "Салам").payload
    assert api.rejected("editMessageText", chat_id=CHAT, message_id=user_message["message_id"], text="x") == (
        "Bad Request: message can't be edited"
    )
    assert api.rejected("answerCallbackQuery", callback_query_id="123") == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    with_button = api.ok("sendMessage", chat_id=CHAT, text="?", reply_markup=BUTTONS)
    query = stub.press_button(CHAT, with_button["message_id"], "up").payload
    assert api.rejected("answerCallbackQuery", callback_query_id=query["id"], text="ы" * 201) == (
        "Bad Request: MESSAGE_TOO_LONG"
    )
    assert api.ok("answerCallbackQuery", callback_query_id=query["id"], text="ы" * 200) is True
    assert api.rejected("answerCallbackQuery", callback_query_id=query["id"]).startswith("Bad Request: query is")
    with pytest.raises(ValueError, match="no button with callback_data 'down'"):
        stub.press_button(CHAT, with_button["message_id"], "down")
    stub.block(CHAT)
    response = api.post("sendMessage", chat_id=CHAT, text="x")
    assert response.status_code == 403 and response.json()["description"] == "Forbidden: bot was blocked by the user"


def test_commands_are_stored_per_scope_and_language(api: Api, stub: TelegramStub) -> None:
    commands = [{"command": "start", "description": "Баштоо"}, {"command": "help", "description": "Жардам"}]
    assert api.ok("setMyCommands", commands=commands, language_code="ky") is True
    assert api.ok("getMyCommands", language_code="ky") == commands
    assert api.ok("getMyCommands") == []
    assert stub.commands("ky") == commands
    bad = [{"command": "Start Now", "description": "x"}]
    assert api.rejected("setMyCommands", commands=bad) == "Bad Request: BOT_COMMAND_INVALID"
    assert api.rejected("setMyCommands", commands=[{"command": "start", "description": ""}]) == (
        "Bad Request: command description must be non-empty"
    )
    assert api.ok("deleteMyCommands", language_code="ky") is True
    assert api.ok("getMyCommands", language_code="ky") == []


def test_get_updates_long_polls_and_confirms_by_offset(api: Api, stub: TelegramStub) -> None:
    started = time.monotonic()
    assert api.ok("getUpdates", timeout=1) == []
    assert time.monotonic() - started >= 0.9

    results: list[Any] = []
    poller = threading.Thread(target=lambda: results.append(api.ok("getUpdates", timeout=5)))
    poller.start()
    time.sleep(0.2)
    fed = stub.send_text(CHAT, "/start", language_code="ru")
    poller.join(timeout=5)
    assert time.monotonic() - started < 3, "a queued update must end the long poll at once"
    [update] = results[0]
    assert update == fed.update
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert update["message"]["from"]["language_code"] == "ru"

    assert api.ok("getUpdates") == [update]  # not confirmed yet: delivered again
    second = stub.send_text(CHAT, "экинчи").update
    assert api.ok("getUpdates", offset=update["update_id"] + 1) == [second]
    assert api.ok("getUpdates", offset=second["update_id"] + 1, timeout=0) == []
    assert stub.pending_updates == []

    api.ok("getUpdates", allowed_updates=["message"])
    stub.press_button(CHAT, api.ok("sendMessage", chat_id=CHAT, text="?", reply_markup=BUTTONS)["message_id"], "up")
    assert api.ok("getUpdates") == []  # callback queries were not asked for: Telegram drops them


def test_a_second_poller_terminates_the_first(api: Api, stub: TelegramStub) -> None:
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(api.post("getUpdates", timeout=5)))
    first.start()
    stub.wait_for(lambda calls: len(calls) == 1)
    time.sleep(0.05)  # the first poll is now waiting for updates
    assert api.ok("getUpdates", timeout=0) == []
    first.join(timeout=5)
    assert answers[0].status_code == 409
    assert answers[0].json()["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    )


def test_fault_injection(api: Api, stub: TelegramStub) -> None:
    stub.fail_next("sendMessage", 429, retry_after=3, count=2)
    stub.fail_next("getMe", 500)
    stub.fail_next("getMe", 502)
    for _ in range(2):
        response = api.post("sendMessage", chat_id=CHAT, text="x")
        assert (response.status_code, response.json()) == (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            },
        )
    assert api.ok("sendMessage", chat_id=CHAT, text="x")["text"] == "x"
    assert api.post("getMe").json() == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    assert api.post("getMe").json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    assert api.ok("getMe")["username"] == "bilim_test_bot"
    assert [error.status for error in stub.errors] == [429, 429, 500, 502]
    assert stub.rejections == []


def test_webhook_settings(api: Api, stub: TelegramStub) -> None:
    assert api.rejected("setWebhook", url="http://bot.example.kg/telegram") == (
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )
    assert api.rejected("setWebhook", url="https://bot.example.kg:9000/t") == (
        "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
    )
    assert api.rejected("setWebhook", url="https://bot.example.kg/t", secret_token="a:b") == (
        "Bad Request: secret token contains unallowed characters"
    )
    assert api.ok("setWebhook", url="https://bot.example.kg/t", secret_token="s3cret_-") is True
    assert stub.webhook["secret_token"] == "s3cret_-"
    assert api.ok("getWebhookInfo")["url"] == "https://bot.example.kg/t"
    response = api.post("getUpdates")
    assert response.status_code == 409 and response.json()["description"].startswith("Conflict: can't use getUpdates")
    assert api.post("deleteWebhook").json() == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert api.ok("getWebhookInfo") == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


def test_fed_updates_are_valid_telegram_objects(stub: TelegramStub) -> None:
    stub.add_chat(GROUP, "supergroup", title="9-класс")
    fed = [
        stub.send_text(GROUP, "@bilim_test_bot 🎓 кабыл алуу качан?", user_id=601, first_name="Айжан"),
        stub.send_sticker(CHAT),
        stub.send_photo(CHAT, caption="Бул эмне?"),
        stub.send_voice(CHAT, duration=7),
        stub.send_document(CHAT, file_name="buyruk.pdf"),
    ]
    updates = [Update.de_json(item.update, None) for item in fed]
    mention = updates[0].message
    assert mention is not None and mention.chat.type == "supergroup" and mention.from_user is not None
    assert mention.parse_entities(["mention"]) == {mention.entities[0]: "@bilim_test_bot"}
    assert mention.from_user.id == 601 and mention.chat.title == "9-класс"
    assert updates[1].message is not None and updates[1].message.sticker is not None
    assert updates[2].message is not None and len(updates[2].message.photo) == 3
    assert updates[3].message is not None and updates[3].message.voice is not None
    assert updates[3].message.voice.file_id == fed[3].payload["voice"]["file_id"]
    assert updates[4].message is not None and updates[4].message.document is not None
    assert len({item.update["update_id"] for item in fed}) == 5
    reply = stub.send_text(GROUP, "дагы бир суроо", user_id=601, reply_to_message_id=fed[0].payload["message_id"])
    assert reply.payload["reply_to_message"]["text"].startswith("@bilim_test_bot")
    with pytest.raises(ValueError, match="private chat"):
        stub.send_text(CHAT, "x", user_id=999)


# ---------------------------------------------------------------------------------------------------------------
# the real python-telegram-bot Application, long polling against the stub
# ---------------------------------------------------------------------------------------------------------------
async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the text in bold with two buttons."""
    message = update.effective_message
    assert message is not None and message.text is not None
    buttons = [[InlineKeyboardButton("👍", callback_data="up"), InlineKeyboardButton("👎", callback_data="down")]]
    await message.reply_html(f"<b>{html.escape(message.text)}</b>", reply_markup=InlineKeyboardMarkup(buttons))


async def on_button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Thank for the vote and remove the buttons."""
    query = update.callback_query
    assert query is not None
    await query.answer("Рахмат!")
    await query.edit_message_reply_markup(None)


async def bad_html(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send HTML Telegram refuses."""
    assert update.effective_message is not None
    await update.effective_message.reply_html("<div>Бул туура эмес</div>")


def run_bot(stub: TelegramStub, scenario: Callable[[], Awaitable[None]]) -> list[Exception]:
    """Run the echo bot with long polling while the scenario plays; returns the errors its handlers raised."""
    errors: list[Exception] = []

    async def on_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        errors.append(context.error)

    async def main() -> None:
        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(f"{stub.url}/bot")
            .rate_limiter(AIORateLimiter(max_retries=2))
            .build()
        )
        app.add_handler(CommandHandler("bad", bad_html))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
        app.add_handler(CallbackQueryHandler(on_button))
        app.add_error_handler(on_error)
        assert app.updater is not None
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            await scenario()
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    asyncio.run(main())
    return errors


def test_ptb_echo_over_long_polling(stub: TelegramStub) -> None:
    question = "Салам <дүйнө> & 🎓"

    async def scenario() -> None:
        stub.send_text(CHAT, question)
        [answer] = await asyncio.to_thread(stub.wait_for_messages, CHAT, 1)
        assert answer["text"] == question
        assert answer["entities"] == [{"type": "bold", "offset": 0, "length": utf16_len(question)}]
        assert answer["parse_mode"] == "HTML"
        assert answer["source_text"] == "<b>Салам &lt;дүйнө&gt; &amp; 🎓</b>"
        assert answer["reply_markup"]["inline_keyboard"][0][1] == {"text": "👎", "callback_data": "down"}
        # in a group PTB quotes the question; the stub checks the quoted message exists
        asked = stub.send_text(GROUP, "@bilim_test_bot окуу жылы качан?", user_id=601)
        [reply] = await asyncio.to_thread(stub.wait_for_messages, GROUP, 1)
        assert reply["reply_to_message"]["message_id"] == asked.payload["message_id"]

    assert run_bot(stub, scenario) == []
    methods = [call.method for call in stub.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"] and "getUpdates" in methods
    assert stub.rejections == []
    assert stub.pending_updates == []  # PTB confirmed everything on shutdown
    assert stub.errors == []  # incl. no 409 for the long poll PTB abandoned on shutdown


def test_ptb_button_press_is_answered(stub: TelegramStub) -> None:
    async def scenario() -> None:
        stub.send_text(CHAT, "Кабыл алуу качан?")
        [answer] = await asyncio.to_thread(stub.wait_for_messages, CHAT, 1)
        pressed = stub.press_button(CHAT, answer["message_id"], "up")
        params = await asyncio.to_thread(stub.wait_for_call, "answerCallbackQuery")
        assert params == {"callback_query_id": pressed.payload["id"], "text": "Рахмат!"}
        await asyncio.to_thread(stub.wait_for, lambda _calls: "edit_date" in stub.sent(CHAT)[0])

    assert run_bot(stub, scenario) == []
    [final] = stub.sent(CHAT)
    stored = stub.message(CHAT, final["message_id"])
    assert final["reply_markup"] is None and stored is not None and "reply_markup" not in stored
    assert stub.rejections == []


def test_ptb_rate_limiter_retries_after_429_and_sees_other_faults(stub: TelegramStub) -> None:
    async def scenario() -> None:
        stub.fail_next("sendMessage", 429, retry_after=1)
        started = time.monotonic()
        stub.send_text(CHAT, "Биринчи")
        await asyncio.to_thread(stub.wait_for_messages, CHAT, 1)
        assert time.monotonic() - started >= 1.0, "AIORateLimiter waits retry_after before retrying"
        stub.fail_next("sendMessage", 502)
        stub.send_text(CHAT, "Экинчи")
        await asyncio.to_thread(stub.wait_for, lambda _calls: len(stub.calls_to("sendMessage")) == 3)
        await asyncio.sleep(0.2)

    errors = run_bot(stub, scenario)
    assert [message["text"] for message in stub.sent(CHAT)] == ["Биринчи"]
    assert [(error.status, error.description) for error in stub.errors] == [
        (429, "Too Many Requests: retry after 1"),
        (502, "Bad Gateway"),
    ]
    assert len(errors) == 1 and isinstance(errors[0], NetworkError) and "Bad Gateway" in str(errors[0])


def test_ptb_invalid_html_is_rejected(stub: TelegramStub) -> None:
    async def scenario() -> None:
        stub.send_command(CHAT, "/bad")
        await asyncio.to_thread(stub.wait_for, lambda _calls: stub.rejections)
        await asyncio.sleep(0.2)

    errors = run_bot(stub, scenario)
    [(method, params, description)] = stub.rejections
    assert method == "sendMessage" and params["text"] == "<div>Бул туура эмес</div>"
    assert description == ENTITIES + 'Unsupported start tag "div" at byte offset 0'
    assert len(errors) == 1 and isinstance(errors[0], BadRequest)
    assert stub.sent() == []
