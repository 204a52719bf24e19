"""Handlers and wiring of the Telegram bot: questions → API → Telegram HTML with Sources and feedback buttons."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import sys
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PicklePersistence,
    filters,
)

from bots.api_client import ApiRejected, ApiUnavailable, BilimClient
from bots.render import render_answer, render_sources, split_html
from bots.telegram.settings import BotSettings, get_bot_settings
from bots.texts import LANGUAGE_NAMES, LANGUAGES, language_of, text

log = logging.getLogger("bilim.telegram")
MAX_ABOUT_TITLES = 15
TYPING_EVERY_SECONDS = 4.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Which handler a button's callback data goes to: its kind is what stands before the first ":".
LANGUAGE_BUTTON = rf"^lang:(?:{'|'.join(LANGUAGES)})$"
NEW_BUTTON = r"^new(?::|$)"
SOURCES_BUTTON = r"^src(?::|$)"
FEEDBACK_BUTTON = r"^fb(?::|$)"

Context = ContextTypes.DEFAULT_TYPE


class RetryingRateLimiter(AIORateLimiter):
    """Telegram's flood limits and 429 retries (AIORateLimiter) plus backoff on 5xx and network errors."""

    def __init__(self, network_retries: int = 3, first_delay: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._network_retries = network_retries
        self._first_delay = first_delay

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Send through AIORateLimiter; retry server and network failures with exponential backoff."""
        delay = self._first_delay
        for attempt in range(self._network_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except BadRequest:
                raise
            except NetworkError as exc:
                if attempt == self._network_retries or endpoint == "getUpdates":
                    raise
                log.warning("Telegram %s failed (%s); retry %d in %.1f s", endpoint, exc, attempt + 1, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


class RedactToken(logging.Filter):
    """Belt and braces: no log line may carry the bot token (library loggers print request URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the token in the formatted message."""
        message = record.getMessage()
        if self._token and self._token in message:
            record.msg = message.replace(self._token, "<token>")
            record.args = ()
        return True


API_TIMEOUT_MARGIN = 5.0  # seconds the bot waits beyond the API's wait for its language model


class TimeoutsDisagree(Exception):
    """The API may wait for its model longer than the bot waits for the API: the bot does not start."""


class Bot:
    """The bot's behaviour; one instance per Application."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.client: BilimClient | None = None
        self.max_question: int | None = None  # the API's question limit (GET /v1/config), once learnt
        salt = settings.telegram_user_salt or settings.telegram_token
        self._salt = hashlib.sha256(salt.get_secret_value().encode()).hexdigest()
        self._recent: dict[int, deque[float]] = defaultdict(deque)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Open the API client, learn the question limit, and register the command menu per language."""
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else None
        self.client = BilimClient(self.settings.api_url, key, timeout=self.settings.api_timeout)
        await self.learn_question_limit()
        descriptions = {
            "ky": ["Баштоо", "Жардам", "Тилди тандоо", "Кайсы документтерди билем", "Жаңы суроо"],
            "ru": ["Начать", "Помощь", "Выбрать язык", "Какие документы я знаю", "Новый вопрос"],
            "en": ["Start", "Help", "Choose the language", "Which documents I know", "New question"],
        }
        names = ["start", "help", "lang", "about", "new"]
        for lang, words in descriptions.items():
            commands = [BotCommand(name, word) for name, word in zip(names, words, strict=True)]
            await app.bot.set_my_commands(commands, language_code=lang)
        await app.bot.set_my_commands([BotCommand(n, w) for n, w in zip(names, descriptions["ky"], strict=True)])

    async def post_shutdown(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Close the API client."""
        if self.client is not None:
            await self.client.close()

    # -- helpers --------------------------------------------------------------------------------------
    def end_user(self, update: Update) -> str:
        """The user's id hashed with the bot's salt: the API limits per student without learning who."""
        user_id = update.effective_user.id if update.effective_user else 0
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:32]

    @staticmethod
    def language(update: Update, context: Context) -> str:
        """The chosen interface language, else the user's Telegram language, else Kyrgyz."""
        chosen = (context.user_data or {}).get("lang")
        if chosen in LANGUAGES:
            return str(chosen)
        return language_of(update.effective_user.language_code if update.effective_user else None)

    async def learn_question_limit(self) -> int | None:
        """The API's question limit from GET /v1/config; None while the API cannot say (it checks questions itself).
        At start-up the bot also refuses to run when the API may wait for its language model longer than the bot
        waits for the API (a student would get "try again" just as the API falls back to its own answer)."""
        try:
            config = await self._api().config()
        except (ApiUnavailable, ApiRejected) as exc:
            log.warning("the API's question limit is unknown (%s); the API checks the length itself", exc)
            return self.max_question
        reported = config.get("llm_timeout")
        model_wait = float(reported) if isinstance(reported, int | float) and not isinstance(reported, bool) else 0.0
        if model_wait > self.settings.api_timeout - API_TIMEOUT_MARGIN:
            raise TimeoutsDisagree(
                f"the API waits up to {model_wait:g} s for its language model (BILIM_LLM_TIMEOUT) but the bot "
                f"waits only {self.settings.api_timeout:g} s for the API (BILIM_API_TIMEOUT): set "
                f"BILIM_API_TIMEOUT to at least {model_wait + API_TIMEOUT_MARGIN:g}, or lower BILIM_LLM_TIMEOUT"
            )
        limit = config.get("max_question_chars")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            self.max_question = limit
        return self.max_question

    def _api(self) -> BilimClient:
        if self.client is None:
            raise ApiUnavailable("the API client is not open yet")
        return self.client

    def _allowed(self, user_id: int) -> int:
        """0 when the user may ask now, else the seconds to wait (a sliding one-minute window)."""
        now = time.monotonic()
        recent = self._recent[user_id]
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self.settings.telegram_questions_per_minute:
            return int(60 - (now - recent[0])) + 1
        recent.append(now)
        return 0

    @staticmethod
    async def reply(message: Message, html_text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Send HTML split under Telegram's limit; buttons go under the last part."""
        parts = split_html(html_text)
        for i, part in enumerate(parts):
            await message.reply_html(
                part, reply_markup=markup if i == len(parts) - 1 else None, link_preview_options=NO_PREVIEW
            )

    @staticmethod
    def answer_buttons(payload: dict[str, Any], lang: str) -> InlineKeyboardMarkup:
        """📄 Sources (unless refused), 👍/👎 and a new-question reset under an answer (callback data ≤ 64 bytes)."""
        answer_id = payload["answer_id"]
        rating = [
            InlineKeyboardButton(text(lang, "up"), callback_data=f"fb:up:{answer_id}"),
            InlineKeyboardButton(text(lang, "down"), callback_data=f"fb:down:{answer_id}"),
        ]
        # A refusal cites nothing, so its Sources button could only say so. 👍/👎 stay: rating a refusal is still
        # feedback for the staff's insights.
        if not payload.get("refused") and payload.get("citations"):
            rating.insert(0, InlineKeyboardButton(text(lang, "sources"), callback_data=f"src:{answer_id}"))
        return InlineKeyboardMarkup([rating, [InlineKeyboardButton(text(lang, "new_question"), callback_data="new")]])

    @staticmethod
    def language_buttons() -> InlineKeyboardMarkup:
        """ky / ru / en switches."""
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(LANGUAGE_NAMES[lang], callback_data=f"lang:{lang}") for lang in LANGUAGES]]
        )

    # -- commands -------------------------------------------------------------------------------------
    async def start(self, update: Update, context: Context) -> None:
        """Greeting in the user's language, with language buttons."""
        if update.effective_message is None:
            return
        lang = self.language(update, context)
        name = update.effective_user.first_name if update.effective_user else ""
        greeting = text(lang, "start", name=name or "")
        await update.effective_message.reply_html(
            _escape(greeting), reply_markup=self.language_buttons(), link_preview_options=NO_PREVIEW
        )

    async def help(self, update: Update, context: Context) -> None:
        """How to ask, and the commands."""
        if update.effective_message is not None:
            await update.effective_message.reply_html(text(self.language(update, context), "help"))

    async def choose_language(self, update: Update, context: Context) -> None:
        """/lang: the language buttons."""
        if update.effective_message is not None:
            lang = self.language(update, context)
            await update.effective_message.reply_text(
                text(lang, "choose_language"), reply_markup=self.language_buttons()
            )

    async def about(self, update: Update, context: Context) -> None:
        """/about: the documents the API knows."""
        message = update.effective_message
        if message is None:
            return
        lang = self.language(update, context)
        try:
            docs = await self._api().documents(end_user=self.end_user(update))
        except (ApiUnavailable, ApiRejected) as exc:
            log.warning("documents list failed: %s", exc)
            await message.reply_text(text(lang, "busy"))
            return
        lines = [f"<b>{_escape(text(lang, 'about', count=len(docs)))}</b>"]
        lines += [f"• {_escape(doc.get('title') or doc['id'])}" for doc in docs[:MAX_ABOUT_TITLES]]
        if len(docs) > MAX_ABOUT_TITLES:
            lines.append(_escape(text(lang, "about_more", count=len(docs) - MAX_ABOUT_TITLES)))
        await self.reply(message, "\n".join(lines))

    async def new_conversation(self, update: Update, context: Context) -> None:
        """/new: forget the conversation of this chat."""
        if context.chat_data is not None:
            context.chat_data.pop("conversation_id", None)
        if update.effective_message is not None:
            await update.effective_message.reply_text(text(self.language(update, context), "new_done"))

    # -- questions ------------------------------------------------------------------------------------
    async def question(self, update: Update, context: Context) -> None:
        """Any text is a question: typing…, the API's answer in Telegram HTML, then the buttons."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        question = message.text
        if message.chat.type != ChatType.PRIVATE:
            addressed = self._addressed_text(message, context)
            if addressed is None:
                return  # in groups, only mentions and replies to the bot are questions
            question = addressed
        lang = self.language(update, context)
        question = question.strip()
        if not question:
            await message.reply_text(text(lang, "empty"))
            return
        if self.max_question is not None and len(question) > self.max_question:
            await message.reply_text(text(lang, "too_long", length=len(question), limit=self.max_question))
            return
        wait = self._allowed(update.effective_user.id if update.effective_user else 0)
        if wait:
            await message.reply_text(text(lang, "slow_down", seconds=wait))
            return
        typing = asyncio.create_task(self._keep_typing(context, message.chat_id))
        try:
            payload, expired = await self._ask(update, context, question)
        except ApiUnavailable as exc:
            log.warning("API unavailable for a question: %s", exc)
            await message.reply_text(text(lang, "busy"))
            return
        except ApiRejected as exc:
            await message.reply_text(await self._rejection(exc, lang, len(question)))
            return
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        if context.chat_data is not None:
            context.chat_data["conversation_id"] = payload["conversation_id"]
        body = render_answer(payload, lang)
        if expired:
            body = f"<i>{_escape(text(lang, 'expired'))}</i>\n\n{body}"
        await self.reply(message, body, self.answer_buttons(payload, lang))

    async def _ask(self, update: Update, context: Context, question: str) -> tuple[dict[str, Any], bool]:
        conversation = (context.chat_data or {}).get("conversation_id")
        api, end_user = self._api(), self.end_user(update)
        try:
            return await api.ask(question, end_user=end_user, conversation_id=conversation), False
        except ApiRejected as exc:
            if exc.status == 404 and conversation:  # expired or from before a reset of the API's records
                return await api.ask(question, end_user=end_user), True
            raise

    async def _rejection(self, exc: ApiRejected, lang: str, length: int) -> str:
        """What the user reads when the API refuses a question (4xx)."""
        if exc.status == 429:
            return text(lang, "slow_down", seconds=exc.retry_after or 60)
        if exc.status == 422 and exc.code == "not_a_question":
            return text(lang, "not_a_question")
        if exc.status == 422:  # over the API's limit: not learnt yet (the API was down), or lowered since
            limit = await self.learn_question_limit()
            return text(lang, "too_long", length=length, limit=min(limit or length - 1, length - 1))
        log.warning("API rejected a question: %s", exc)
        return text(lang, "busy")

    def _addressed_text(self, message: Message, context: Context) -> str | None:
        """In a group: the question without the @mention, if the bot is mentioned or replied to, else None."""
        mention = f"@{context.bot.username or ''}".lower()
        mentions = [v for v in message.parse_entities([MessageEntityType.MENTION]).values() if v.lower() == mention]
        if not (mentions or _replies_to_bot(message, context)):
            return None
        question = message.text or ""
        for value in mentions:
            question = question.replace(value, " ")
        return " ".join(question.split())

    async def _keep_typing(self, context: Context, chat_id: int) -> None:
        """Show "typing…" until the answer is ready (Telegram shows it for ~5 s per call)."""
        while True:
            with contextlib.suppress(NetworkError, Forbidden):
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(TYPING_EVERY_SECONDS)

    async def not_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice, files: a polite "text questions only" (in groups only when addressed)."""
        message = update.effective_message
        if message is None:
            return
        if message.chat.type != ChatType.PRIVATE and not _replies_to_bot(message, context):
            return
        await message.reply_text(text(self.language(update, context), "text_only"))

    # -- buttons: one handler per kind, chosen by CallbackQueryHandler's pattern on the callback data ------
    async def language_button(self, update: Update, context: Context) -> None:
        """lang:<ky|ru|en>: switch the interface language, then show the help in it."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        lang = query.data.partition(":")[2]
        if context.user_data is not None:
            context.user_data["lang"] = lang
        await query.answer(text(lang, "language_set"))
        if query.message is not None:
            with contextlib.suppress(BadRequest):  # "message is not modified" when pressed twice
                await query.edit_message_text(text(lang, "language_set"))
            await context.bot.send_message(query.message.chat.id, text(lang, "help"), parse_mode=ParseMode.HTML)

    async def new_button(self, update: Update, context: Context) -> None:
        """new: forget the conversation of this chat."""
        query = update.callback_query
        if query is None:
            return
        if context.chat_data is not None:
            context.chat_data.pop("conversation_id", None)
        await query.answer(text(self.language(update, context), "new_done"))

    async def sources_button(self, update: Update, context: Context) -> None:
        """src:<answer id>: the cited documents of a stored answer, as messages."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        lang = self.language(update, context)
        answer_id = query.data.partition(":")[2]
        async with self._button_call(query, lang):
            payload = await self._api().answer(answer_id, end_user=self.end_user(update))
            await query.answer()
            if query.message is not None:
                for part in render_sources(payload, lang):
                    await context.bot.send_message(
                        query.message.chat.id, part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                    )

    async def feedback_button(self, update: Update, context: Context) -> None:
        """fb:<up|down>:<answer id>: the user's rating of an answer."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        lang = self.language(update, context)
        rating, _, answer_id = query.data.partition(":")[2].partition(":")
        async with self._button_call(query, lang):
            await self._api().feedback(answer_id, rating, end_user=self.end_user(update))
            await query.answer(text(lang, "thanks"))

    async def other_button(self, update: Update, context: Context) -> None:
        """Any other callback data (an old or forged button): just stop the button's spinner."""
        if update.callback_query is not None:
            await update.callback_query.answer()

    @contextlib.asynccontextmanager
    async def _button_call(self, query: CallbackQuery, lang: str) -> AsyncIterator[None]:
        """An API call behind a button: a gone answer or a busy API is said in the button's toast."""
        try:
            yield
        except ApiRejected as exc:
            await query.answer(text(lang, "answer_gone") if exc.status == 404 else text(lang, "busy"))
        except ApiUnavailable as exc:
            log.warning("API unavailable for a button: %s", exc)
            await query.answer(text(lang, "busy"), show_alert=True)

    # -- errors ---------------------------------------------------------------------------------------
    async def on_error(self, update: object, context: Context) -> None:
        """One place for unexpected errors: log them, and never leave the user in silence."""
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(Exception):
                await update.effective_message.reply_text(text(self.language(update, context), "busy"))


def _replies_to_bot(message: Message, context: Context) -> bool:
    """Whether the message answers one of the bot's own messages."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id


def _escape(value: str) -> str:
    return html.escape(value, quote=False)


def build_application(settings: BotSettings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot Application with every handler, persistence and the retrying rate limiter."""
    bot = Bot(settings)
    settings.state_file.parent.mkdir(parents=True, exist_ok=True)
    app = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_api_url.replace("/bot", "/file/bot"))
        .persistence(PicklePersistence(filepath=settings.state_file, update_interval=5))
        .rate_limiter(RetryingRateLimiter(max_retries=3))
        .concurrent_updates(True)
        .post_init(bot.post_init)
        .post_shutdown(bot.post_shutdown)
        .build()
    )
    app.add_handler(CommandHandler("start", bot.start))
    app.add_handler(CommandHandler("help", bot.help))
    app.add_handler(CommandHandler("lang", bot.choose_language))
    app.add_handler(CommandHandler("about", bot.about))
    app.add_handler(CommandHandler("new", bot.new_conversation))
    app.add_handler(CallbackQueryHandler(bot.language_button, pattern=LANGUAGE_BUTTON))
    app.add_handler(CallbackQueryHandler(bot.new_button, pattern=NEW_BUTTON))
    app.add_handler(CallbackQueryHandler(bot.sources_button, pattern=SOURCES_BUTTON))
    app.add_handler(CallbackQueryHandler(bot.feedback_button, pattern=FEEDBACK_BUTTON))
    app.add_handler(CallbackQueryHandler(bot.other_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, bot.question))
    app.add_handler(MessageHandler(~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL, bot.not_text))
    app.add_error_handler(bot.on_error)
    return app


def main() -> int:
    """Run the bot until interrupted; exit 2 on configuration errors."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines print request URLs, token included
    try:
        settings = get_bot_settings()
    except ValidationError as exc:
        missing = ", ".join(f"BILIM_{'_'.join(str(p) for p in e['loc']).upper()}" for e in exc.errors())
        print(f"error: invalid or missing settings: {missing}", file=sys.stderr)
        return 2
    redact = RedactToken(settings.telegram_token.get_secret_value())
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    app = build_application(settings)
    try:
        serve(app, settings)
        return 0
    except TimeoutsDisagree as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 2


def serve(app: Application[Any, Any, Any, Any, Any, Any], settings: BotSettings) -> None:
    """Long polling, or the webhook when BILIM_TELEGRAM_WEBHOOK_URL is set, until interrupted."""
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
        app.run_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path="telegram",
            webhook_url=settings.telegram_webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
