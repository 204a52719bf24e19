"""What the bot says, in Kyrgyz, Russian and English."""

from __future__ import annotations

LANGUAGES = ("ky", "ru", "en")
LANGUAGE_NAMES = {"ky": "🇰🇬 Кыргызча", "ru": "🇷🇺 Русский", "en": "🇬🇧 English"}
MINISTRY_SITE = "https://edu.gov.kg"

TEXTS: dict[str, dict[str, str]] = {
    "ky": {
        "start": (
            "Саламатсызбы, {name}! Мен Билим берүү жана илим министрлигинин документтери боюнча суроолорго "
            "жооп берем: окууга квоталар, стипендиялар, алмашуу программалары жана башкалар.\n\n"
            "Суроону кыргызча, орусча же англисче жазыңыз. Ар бир жоопто булак [1] көрсөтүлөт."
        ),
        "help": (
            "Суроону жөн гана жазыңыз, мисалы: <i>Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик "
            "орун бар?</i>\n\n/new — жаңы суроо (мурунку маекти унутуу)\n/lang — тилди тандоо\n"
            "/about — кайсы документтерди билем\n/help — жардам"
        ),
        "choose_language": "Интерфейстин тилин тандаңыз:",
        "language_set": "Тил: Кыргызча ✅",
        "about": "Мен төмөнкү документтерди билем ({count}):",
        "about_more": "…жана дагы {count} документ.",
        "sources": "📄 Булактар",
        "sources_title": "📄 Булактар:",
        "no_sources": "Бул жоопто булак жок.",
        "up": "👍",
        "down": "👎",
        "new_question": "🔄 Жаңы суроо",
        "new_done": "Жаңы маек башталды. Сурооңузду жазыңыз.",
        "thanks": "Рахмат! Баа сакталды.",
        "refusal_hint": "Суроону башкача берип көрүңүз же министрликтин расмий сайтына кайрылыңыз: {site}",
        "too_long": "Суроо өтө узун ({length} белги). Кыскараак жазыңыз — {limit} белгиден ашпасын.",
        "empty": "Суроо бош. Сурооңузду текст менен жазыңыз.",
        "text_only": "Мен текст түрүндөгү суроолорго гана жооп берем. Сурооңузду жазып жибериңиз.",
        "busy": "Кызмат азыр жооп бере албай жатат. Бир аздан кийин кайра аракет кылыңыз.",
        "slow_down": "Суроолор өтө көп. {seconds} секунддан кийин кайра жазыңыз.",
        "expired": "Мурунку маек эскирди, ошондуктан суроону жаңы маекте карадым.",
        "answer_gone": "Бул жооп эми сакталган эмес. Суроону кайра бериңиз.",
    },
    "ru": {
        "start": (
            "Здравствуйте, {name}! Я отвечаю на вопросы по документам Министерства образования и науки "
            "Кыргызской Республики: квоты на обучение, стипендии, программы обмена и другое.\n\n"
            "Пишите вопрос на кыргызском, русском или английском. В каждом ответе указан источник [1]."
        ),
        "help": (
            "Просто напишите вопрос, например: <i>Сколько бюджетных мест выделяется гражданам Кыргызстана в "
            "вузах России?</i>\n\n/new — новый вопрос (забыть прошлый диалог)\n/lang — выбрать язык\n"
            "/about — какие документы я знаю\n/help — помощь"
        ),
        "choose_language": "Выберите язык интерфейса:",
        "language_set": "Язык: Русский ✅",
        "about": "Я знаю эти документы ({count}):",
        "about_more": "…и ещё {count} документов.",
        "sources": "📄 Источники",
        "sources_title": "📄 Источники:",
        "no_sources": "У этого ответа нет источников.",
        "up": "👍",
        "down": "👎",
        "new_question": "🔄 Новый вопрос",
        "new_done": "Начат новый диалог. Напишите вопрос.",
        "thanks": "Спасибо! Оценка сохранена.",
        "refusal_hint": "Попробуйте переформулировать вопрос или загляните на официальный сайт министерства: {site}",
        "too_long": "Вопрос слишком длинный ({length} символов). Сократите его до {limit} символов.",
        "empty": "Вопрос пустой. Напишите вопрос текстом.",
        "text_only": "Я отвечаю только на текстовые вопросы. Напишите, пожалуйста, вопрос текстом.",
        "busy": "Сервис сейчас не отвечает. Попробуйте ещё раз чуть позже.",
        "slow_down": "Слишком много вопросов. Напишите снова через {seconds} с.",
        "expired": "Прошлый диалог устарел, поэтому я рассмотрел вопрос в новом диалоге.",
        "answer_gone": "Этот ответ больше не хранится. Задайте вопрос ещё раз.",
    },
    "en": {
        "start": (
            "Hello, {name}! I answer questions about the documents of the Ministry of Education and Science of "
            "the Kyrgyz Republic: study quotas, scholarships, exchange programmes and more.\n\n"
            "Ask in Kyrgyz, Russian or English. Every answer cites its source [1]."
        ),
        "help": (
            "Just type a question, for example: <i>How many state-funded places do Russian universities give "
            "Kyrgyz citizens each year?</i>\n\n/new — new question (forget the conversation)\n"
            "/lang — choose the language\n/about — which documents I know\n/help — help"
        ),
        "choose_language": "Choose the interface language:",
        "language_set": "Language: English ✅",
        "about": "I know these documents ({count}):",
        "about_more": "…and {count} more.",
        "sources": "📄 Sources",
        "sources_title": "📄 Sources:",
        "no_sources": "This answer has no sources.",
        "up": "👍",
        "down": "👎",
        "new_question": "🔄 New question",
        "new_done": "New conversation started. Type your question.",
        "thanks": "Thank you! Your rating is saved.",
        "refusal_hint": "Try rephrasing the question, or check the ministry's official website: {site}",
        "too_long": "The question is too long ({length} characters). Please keep it under {limit}.",
        "empty": "The question is empty. Please type it as text.",
        "text_only": "I only answer text questions. Please type your question.",
        "busy": "The service is not answering right now. Please try again in a moment.",
        "slow_down": "Too many questions. Please write again in {seconds} s.",
        "expired": "The earlier conversation expired, so I read the question on its own.",
        "answer_gone": "This answer is no longer stored. Please ask again.",
    },
}


def text(language: str, key: str, **values: object) -> str:
    """A message in the language (Kyrgyz when unknown), with values filled in."""
    table = TEXTS.get(language, TEXTS["ky"])
    return table[key].format(**values) if values else table[key]


def language_of(code: str | None) -> str:
    """The bot language for a Telegram `language_code` (Kyrgyz by default)."""
    code = (code or "").lower()
    for lang in LANGUAGES:
        if code.startswith(lang):
            return lang
    return "ky"
