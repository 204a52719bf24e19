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
            "/about — кайсы документтерди билем\n/help — жардам\n\n"
            "Цитаталар документтин тилинде (көбүнчө кыргызча) берилет: бот которбойт."
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
        "refusal": "Кечиресиз, бул суроонун жообун документтерден таба алган жокмун.",
        "answer_label": "Жооп",
        "quote_intro": "Документтерде мындай деп айтылат:",
        "too_long": "Суроо өтө узун ({length} белги). Кыскараак жазыңыз — {limit} белгиден ашпасын.",
        "empty": "Суроо бош. Сурооңузду текст менен жазыңыз.",
        "not_a_question": "Сурооңузду сөз менен жазыңыз, мисалы: «Орусиянын ЖОЖдорунда канча бюджеттик орун бар?»",
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
            "/about — какие документы я знаю\n/help — помощь\n\n"
            "Цитаты приводятся на языке документа — чаще всего на кыргызском: бот их не переводит. "
            "По-русски пишется только начало ответа (число, дата или имя)."
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
        "refusal": "К сожалению, в документах нет ответа на этот вопрос.",
        "answer_label": "Ответ",
        "quote_intro": "В документах сказано:",
        "too_long": "Вопрос слишком длинный ({length} символов). Сократите его до {limit} символов.",
        "empty": "Вопрос пустой. Напишите вопрос текстом.",
        "not_a_question": "Пожалуйста, задайте вопрос словами, например: «Сколько бюджетных мест в вузах России?»",
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
            "/lang — choose the language\n/about — which documents I know\n/help — help\n\n"
            "Quotes are given in the language of the document — mostly Kyrgyz: the bot does not translate them. "
            "Only the start of the answer (a number, date or name) is in English."
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
        "refusal": "Sorry, the documents do not answer this question.",
        "answer_label": "Answer",
        "quote_intro": "The documents say:",
        "too_long": "The question is too long ({length} characters). Please keep it under {limit}.",
        "empty": "The question is empty. Please type it as text.",
        "not_a_question": "Please ask a question in words, for example: “How many state-funded places are there?”",
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
