"""The real Telegram bot (`python -m bots.telegram`) against a strict local Bot API server and the real API."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.wiring import RECORDS_FILE
from bots.texts import text
from ingest.pipeline import IngestReport
from tests.servers import ASK_KEY, QUOTA_KY, api_server, free_port
from tests.support import ROOT, cli_env
from tests.telegram_stub import Call, TelegramStub

# Slow: every test runs the bot process against the Telegram stub and the API server.
pytestmark = pytest.mark.slow

TOKEN = "123456:TEST-token-do-not-log"


@contextmanager
def running_bot(
    stub: TelegramStub, api: str, state: Path, log: Path, ready: str = "getUpdates", **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bots.telegram` on the stub, ready once it calls `ready`; stopped with SIGINT (state saved)."""
    settings = {
        "BILIM_TELEGRAM_TOKEN": TOKEN,
        "BILIM_TELEGRAM_API_URL": f"{stub.url}/bot",
        "BILIM_API_URL": api,
        "BILIM_API_KEY": ASK_KEY,
        "BILIM_TELEGRAM_STATE": str(state),
        **env,
    }
    calls_before = len(stub.calls)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bots.telegram"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(**settings),
        )
        try:
            stub.wait_for(lambda calls: any(method == ready for method, _ in calls[calls_before:]), timeout=60)
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def telegram(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramStub]:
    """The strict local Bot API server."""
    with TelegramStub(token=TOKEN) as stub:
        yield stub


@pytest.fixture(scope="module")
def bot(telegram: TelegramStub, api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bot running for the module; yields its log file."""
    folder = tmp_path_factory.mktemp("bot")
    log = folder / "bot.log"
    with running_bot(telegram, api, folder / "state.pickle", log):
        yield log


def last_text(stub: TelegramStub, chat_id: int, count: int, timeout: float = 60) -> dict[str, Any]:
    """Wait until the bot has sent `count` messages to the chat; the last one."""
    messages = stub.wait_for_messages(chat_id, count, timeout=timeout)
    return messages[-1]


def buttons(message: dict[str, Any]) -> list[str]:
    """Callback data of a message's inline keyboard."""
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def test_start_greets_in_the_users_language_with_language_buttons(telegram: TelegramStub, bot: Path) -> None:
    chat = 7101
    telegram.send_command(chat, "/start", user_id=chat, language_code="ru", first_name="Айгерим")
    greeting = last_text(telegram, chat, 1)
    assert "Здравствуйте, Айгерим" in greeting["text"]
    assert buttons(greeting) == ["lang:ky", "lang:ru", "lang:en"]
    telegram.send_command(chat, "/about", user_id=chat, language_code="ru")
    about = last_text(telegram, chat, 2)
    assert about["text"].startswith("Я знаю эти документы") and about["text"].count("•") >= 5


def test_kyrgyz_and_russian_questions_get_cited_answers(telegram: TelegramStub, bot: Path) -> None:
    chat = 7102
    telegram.send_text(chat, QUOTA_KY, user_id=chat, language_code="ky")
    answer = last_text(telegram, chat, 1)
    assert "375" in answer["text"] and "[1]" in answer["text"] and "<b>375</b>" in answer["source_text"]
    data = buttons(answer)
    assert data[0].startswith("src:a_") and data[1].startswith("fb:up:") and "new" in data
    assert all(len(d.encode()) <= 64 for d in data)
    assert any(m == "sendChatAction" and p.get("action") == "typing" for m, p in telegram.calls)

    telegram.send_text(chat, "Когда был подписан протокол с Кравцовым?", user_id=chat)
    russian = last_text(telegram, chat, 2)
    assert russian["text"].startswith("Ответ: 15-мартта")
    assert russian["source_text"].startswith("Ответ: <b>15-мартта</b> [1]\n«")  # rendered from the lead and quotes


def test_follow_up_sources_and_feedback(telegram: TelegramStub, bot: Path, api: str, api_dir: Path) -> None:
    chat = 7103
    telegram.send_text(chat, "Министр квотаны канчага чейин көбөйтүүнү сунуштады?", user_id=chat)
    first = last_text(telegram, chat, 1)
    assert "750" in first["text"]
    telegram.send_text(chat, "Алардын ичинен жетимдерге канчасы?", user_id=chat)
    follow = last_text(telegram, chat, 2)
    assert "50" in follow["text"]

    source_data = buttons(follow)[0]
    telegram.press_button(chat, follow["message_id"], source_data, user_id=chat)
    sources = last_text(telegram, chat, 3)
    assert "minister-visit-russia-quotas.txt" in sources["text"] and "50 орун" in sources["text"]
    assert "<blockquote>" in sources["source_text"]

    telegram.press_button(chat, follow["message_id"], buttons(follow)[1], user_id=chat)
    telegram.wait_for(
        lambda calls: any(m == "answerCallbackQuery" and "Рахмат" in str(p.get("text", "")) for m, p in calls)
    )
    telegram.press_button(chat, follow["message_id"], "new", user_id=chat)
    telegram.wait_for(
        lambda calls: any(m == "answerCallbackQuery" and "Жаңы маек" in str(p.get("text", "")) for m, p in calls)
    )
    # An old or forged button (an unknown kind, a language the bot lacks) only stops its spinner.
    for data in ("old:button", "lang:xx"):
        pressed = telegram.press_button(chat, follow["message_id"], data, user_id=chat, check=False)
        query = pressed.payload["id"]

        def stopped(calls: list[Call], query: object = query) -> bool:
            return any(
                m == "answerCallbackQuery" and p.get("callback_query_id") == query and not p.get("text")
                for m, p in calls
            )

        telegram.wait_for(stopped)
    assert len(telegram.sent(chat)) == 3
    # The reset starts a new conversation in the API: the next answer is not part of the first one's.
    telegram.send_text(chat, "Алардын ичинен жетимдерге канчасы?", user_id=chat)
    after_reset = last_text(telegram, chat, 4)

    def conversation(message: dict[str, Any]) -> str:
        # A stored answer is served only to the end user it was given to (the bot's hashed id), so the test
        # reads the API's records directly.
        answer_id = buttons(message)[0].removeprefix("src:")
        with sqlite3.connect(api_dir / RECORDS_FILE) as db:
            (conversation_id,) = db.execute("SELECT conversation_id FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return str(conversation_id)

    assert conversation(first) == conversation(follow) != conversation(after_reset)


def test_a_refusal_has_no_sources_button(telegram: TelegramStub, bot: Path) -> None:
    chat = 7108
    telegram.send_text(chat, "Бишкектен Ошко чейин канча километр?", user_id=chat)  # no passage states a distance
    refusal = last_text(telegram, chat, 1)
    assert refusal["text"].startswith(f"🤷 {text('ky', 'refusal')}")
    # Nothing to show under Sources; the rating and the reset stay.
    data = buttons(refusal)
    assert not any(d.startswith("src:") for d in data) and data[0].startswith("fb:up:a_") and "new" in data


def test_stickers_long_questions_and_group_etiquette(telegram: TelegramStub, bot: Path) -> None:
    chat = 7104
    telegram.send_sticker(chat, user_id=chat)
    assert "текст" in last_text(telegram, chat, 1)["text"]
    telegram.send_text(chat, "ж" * 5000, user_id=chat)
    assert "5000" in last_text(telegram, chat, 2)["text"]
    telegram.send_text(chat, "👍🎓 ?!", user_id=chat)  # no words: the API's 422 reads as "ask in words"
    assert "сөз менен" in last_text(telegram, chat, 3)["text"]

    group = -100777
    telegram.send_text(group, QUOTA_KY, user_id=7105, chat_type="supergroup")
    telegram.send_text(group, f"@bilim_test_bot {QUOTA_KY}", user_id=7105, chat_type="supergroup")
    answer = last_text(telegram, group, 1)
    assert "375" in answer["text"]
    assert len(telegram.sent(group)) == 1  # the message without a mention got no reply


def test_telegram_errors_are_retried(telegram: TelegramStub, bot: Path) -> None:
    chat = 7106
    telegram.fail_next("sendMessage", status=429, retry_after=1)
    telegram.send_text(chat, QUOTA_KY, user_id=chat)
    assert "375" in last_text(telegram, chat, 1)["text"]
    telegram.fail_next("sendMessage", status=502)
    telegram.send_text(chat, QUOTA_KY, user_id=chat)
    assert "375" in last_text(telegram, chat, 2)["text"]


def test_every_message_was_valid_for_telegram_and_the_token_stays_secret(telegram: TelegramStub, bot: Path) -> None:
    telegram.send_text(7107, QUOTA_KY, user_id=7107)
    last_text(telegram, 7107, 1)
    assert telegram.rejections == []
    assert TOKEN not in bot.read_text()


def test_api_down_or_slow_gets_a_friendly_reply(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    state, log = tmp_path / "state.pickle", tmp_path / "bot.log"
    with TelegramStub(token=TOKEN) as telegram:
        with running_bot(telegram, dead, state, log, BILIM_TELEGRAM_QUESTIONS_PER_MINUTE="2"):
            telegram.send_text(7201, QUOTA_KY, user_id=7201)
            assert "кайра" in last_text(telegram, 7201, 1)["text"]
            telegram.send_command(7201, "/about", user_id=7201)
            assert "кайра" in last_text(telegram, 7201, 2)["text"]
            telegram.send_sticker(7201, user_id=7201)
            last_text(telegram, 7201, 3)
            telegram.send_text(7201, "Стипендия канча?", user_id=7201)
            last_text(telegram, 7201, 4)
            telegram.send_text(7201, "Квота канча?", user_id=7201)  # the third question within a minute
            assert "Суроолор өтө көп" in last_text(telegram, 7201, 5)["text"]
            telegram.wait_until_delivered()
            assert telegram.pending_updates == []
        # An API that accepts the connection and never answers: the bot gives up after BILIM_API_TIMEOUT.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            slow = f"http://127.0.0.1:{silent.getsockname()[1]}"
            with running_bot(telegram, slow, state, log, BILIM_API_TIMEOUT="2"):
                telegram.send_text(7202, QUOTA_KY, user_id=7202, language_code="en")
                assert "try again" in last_text(telegram, 7202, 1, timeout=30)["text"]
                requests = received_requests(silent)
    assert "API unavailable" in log.read_text()
    # What reached the API: the question with the key and a hashed end user, never the Telegram id.
    ask = next(r for r in requests if r.startswith("POST /v1/ask "))
    headers = dict(line.split(": ", 1) for line in ask.split("\r\n\r\n")[0].split("\r\n")[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["authorization"] == f"Bearer {ASK_KEY}"
    assert len(headers["x-end-user"]) == 32 and "7202" not in headers["x-end-user"]


def received_requests(server: socket.socket) -> list[str]:
    """The requests waiting on a listening socket that never answers."""
    server.settimeout(0.5)
    found: list[str] = []
    while True:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            return found
        with connection:
            connection.settimeout(0.5)
            found.append(connection.recv(65536).decode("utf-8", "replace"))


def test_chosen_language_survives_a_restart(api: str, tmp_path: Path) -> None:
    chat = 7301
    state, log = tmp_path / "state.pickle", tmp_path / "bot.log"
    # A stub of its own: two bots polling one token would steal each other's updates.
    with TelegramStub(token=TOKEN) as telegram:
        with running_bot(telegram, api, state, log):
            telegram.send_command(chat, "/lang", user_id=chat, language_code="ky")
            menu = last_text(telegram, chat, 1)
            telegram.press_button(chat, menu["message_id"], "lang:en", user_id=chat)
            telegram.wait_for_messages(chat, 2)
        with running_bot(telegram, api, state, log):
            telegram.send_command(chat, "/help", user_id=chat, language_code="ky")
            assert last_text(telegram, chat, 3)["text"].startswith("Just type a question")


def test_webhook_mode_checks_the_secret_token(api: str, tmp_path: Path) -> None:
    port, secret = free_port(), "s3cret-webhook_token"
    url = f"http://127.0.0.1:{port}/telegram"
    env = {
        "BILIM_TELEGRAM_WEBHOOK_URL": url,
        "BILIM_TELEGRAM_WEBHOOK_SECRET": secret,
        "BILIM_TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
        "BILIM_TELEGRAM_WEBHOOK_PORT": str(port),
    }
    bot_log = tmp_path / "bot.log"
    with (
        TelegramStub(token=TOKEN, allow_http_webhook=True) as telegram,
        running_bot(telegram, api, tmp_path / "state.pickle", bot_log, ready="setWebhook", **env),
    ):
        assert telegram.webhook["url"] == url and telegram.webhook["secret_token"] == secret
        telegram.send_text(7401, QUOTA_KY, user_id=7401)
        assert "375" in last_text(telegram, 7401, 1)["text"]
        forged = {
            "update_id": 1,
            "message": {"message_id": 1, "date": 0, "chat": {"id": 7402, "type": "private"}, "text": QUOTA_KY},
        }
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = httpx.post(url, json=forged, headers=headers, timeout=10)
            assert response.status_code == 403
        assert telegram.sent(7402) == []


def test_missing_token_is_a_clear_error() -> None:
    env = cli_env()
    env.pop("BILIM_TELEGRAM_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "bots.telegram"], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"BILIM_TELEGRAM_TOKEN" in done.stderr and b"Traceback" not in done.stderr


def test_the_apis_rate_limit_applies_per_student(corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    with (
        api_server(data_dir, tmp_path / "api.log", BILIM_API_KEYS=ASK_KEY, BILIM_RATE_LIMIT="2/hour") as api,
        TelegramStub(token=TOKEN) as telegram,
        running_bot(telegram, api, tmp_path / "state.pickle", tmp_path / "bot.log"),
    ):
        for count in (1, 2):
            telegram.send_text(7501, QUOTA_KY, user_id=7501)
            assert "375" in last_text(telegram, 7501, count)["text"]
        telegram.send_text(7501, QUOTA_KY, user_id=7501)
        assert "Суроолор өтө көп" in last_text(telegram, 7501, 3)["text"]
        # The API counts each student apart (X-End-User), not the bot's one key.
        telegram.send_text(7502, QUOTA_KY, user_id=7502)
        assert "375" in last_text(telegram, 7502, 1)["text"]


def test_the_bot_holds_questions_to_the_apis_limit(corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    question = "Орусиянын ЖОЖдорунда канча бюджеттик орун бар жана канча окуйт?"[:60]
    api_log = tmp_path / "api.log"
    with (
        api_server(data_dir, api_log, BILIM_API_KEYS=ASK_KEY, BILIM_MAX_QUESTION_CHARS="50") as api,
        TelegramStub(token=TOKEN) as telegram,
        running_bot(telegram, api, tmp_path / "state.pickle", tmp_path / "bot.log"),
    ):
        telegram.send_text(7601, question, user_id=7601)
        assert last_text(telegram, 7601, 1)["text"] == text("ky", "too_long", length=60, limit=50)
        telegram.send_text(7601, "Стипендия канча?", user_id=7601)  # within the limit: asked
        last_text(telegram, 7601, 2)
    requests = api_log.read_text()
    assert '"GET /v1/config HTTP/1.1" 200' in requests  # learnt from the API, not written into the bot
    assert requests.count('"POST /v1/ask HTTP/1.1"') == 1  # the long question never reached the API


class FakeApi(ThreadingHTTPServer):
    """An API down at the bot's start-up that then refuses long questions (a 422) under a limit of 50."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeApiHandler)
        self.up = False
        self.requests: list[str] = []
        self.config: dict[str, Any] = {"auth_required": True, "admin_enabled": False, "max_question_chars": 50}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeApiHandler(BaseHTTPRequestHandler):
    server: FakeApi

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path}")
        if not self.server.up:
            self._reply(503, {"code": "store_unavailable", "detail": "down"})
        else:
            self._reply(200, self.server.config)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(f"POST {self.path}")
        self._reply(422, {"code": "invalid_input", "detail": "the question is too long"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_api_down_at_start_up_checks_the_length_itself_and_tells_its_limit(tmp_path: Path) -> None:
    fake = FakeApi()
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    try:
        with (
            TelegramStub(token=TOKEN) as telegram,
            running_bot(telegram, fake.url, tmp_path / "state.pickle", tmp_path / "bot.log"),
        ):
            fake.up = True
            telegram.send_text(7602, "ж" * 60, user_id=7602)  # the limit is unknown: the API is asked
            assert last_text(telegram, 7602, 1)["text"] == text("ky", "too_long", length=60, limit=50)
            telegram.send_text(7602, "ж" * 70, user_id=7602)  # now the bot knows it
            assert last_text(telegram, 7602, 2)["text"] == text("ky", "too_long", length=70, limit=50)
    finally:
        fake.shutdown()
        fake.server_close()
    assert fake.requests == ["GET /v1/config", "POST /v1/ask", "GET /v1/config"]


def test_the_bot_refuses_to_start_when_the_api_may_wait_longer_for_its_model(tmp_path: Path) -> None:
    fake = FakeApi()
    fake.up = True
    fake.config = {**fake.config, "generated_answers": True, "llm_timeout": 12.0}
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    try:
        with TelegramStub(token=TOKEN) as telegram:
            env = {
                "BILIM_TELEGRAM_TOKEN": TOKEN,
                "BILIM_TELEGRAM_API_URL": f"{telegram.url}/bot",
                "BILIM_API_URL": fake.url,
                "BILIM_API_KEY": ASK_KEY,
                "BILIM_API_TIMEOUT": "10",
                "BILIM_TELEGRAM_STATE": str(tmp_path / "state.pickle"),
            }
            done = subprocess.run(
                [sys.executable, "-m", "bots.telegram"], cwd=ROOT, env=cli_env(**env), capture_output=True, timeout=60
            )
    finally:
        fake.shutdown()
        fake.server_close()
    assert done.returncode == 2, done.stderr[-2000:]
    message = done.stderr.decode()
    assert "waits up to 12 s for its language model" in message and "BILIM_API_TIMEOUT to at least 17" in message
    assert "Traceback" not in message
