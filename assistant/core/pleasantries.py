"""Greetings, politeness and filler around a question ("Здравствуйте!", "Саламатсызбы", "подскажите пожалуйста",
"Hi there!", "Thanks in advance"): they ask nothing, so they are taken off before the question is read.

Every phrase here is a closed-class formula of ky / ru / en greetings, thanks and requests, as any phrasebook lists.
"""

from __future__ import annotations

import re

_SEPARATORS = r"[\s,.!?:;)(\-–—…]*"
# Formulas a message may open with, each followed by separators; taken off one after another.
_OPENING = re.compile(
    r"^(?:"
    # Russian
    r"здравствуй(?:те)?|привет(?:ствую)?|добр(?:ый|ое|ого)\s+(?:день|дня|вечер|вечера|утро|утра)"
    r"|доброго\s+времени\s+суток|уважаем(?:ый|ая|ые)(?:\s+коллеги)?|извините(?:\s+за\s+беспокойство)?|простите"
    r"|(?:под)?скажите(?:,?\s+пожалуйста)?|пожалуйста|будьте\s+добры|не\s+подскажете"
    r"|(?:у\s+меня\s+)?(?:есть\s+)?(?:один\s+)?вопрос(?=\s*[:?.!—–-])|можно\s+(?:задать\s+)?вопрос(?=\s*[:?.!—–-])"
    r"|хотел(?:а|ось)?\s+(?:бы\s+)?(?:узнать|уточнить|спросить)|хочу\s+(?:узнать|уточнить|спросить)"
    # Kyrgyz
    r"|саламатсы(?:з|ңар)(?:бы)?|салам(?:\s+баарыңарга)?|ассал(?:о|а)ому?\s+алейкум|кутман\s+(?:күн|таң|кеч)(?:үңүз)?"
    r"|кечиресиз|сураныч|суранам|эже|байке|агай|(?:бир\s+)?суроо(?:м|бу)?\s+бар(?:\s+эле)?|сурасам\s+болобу"
    r"|билгим\s+келет|сурагым\s+келет|айтып\s+(?:бериңизчи|койчу|коюңузчу)|жардам\s+берип\s+(?:коюңузчу|койчу)"
    r"|жардам\s+бериңизчи"
    # English
    r"|hi(?:\s+there)?|hello(?:\s+(?:there|team|all|everyone))?|hey(?:\s+there)?|good\s+(?:morning|afternoon|evening|day)"
    r"|greetings|dear\s+(?:team|sir|madam|all)|sorry(?:\s+to\s+bother\s+you)?(?:,?\s+but)?|excuse\s+me|please"
    r"|(?:quick|(?:i\s+have\s+)?a)\s+question(?=\s*[:?.!—–-])|(?:could|can|would)\s+you\s+(?:please\s+)?(?:help\s+me|tell\s+me)"
    r"|i\s+was\s+wondering(?:\s+if)?|i(?:'d|\s+would)\s+like\s+to\s+know|i\s+want\s+to\s+know|tell\s+me"
    r")(?![^\W\d_])" + _SEPARATORS,
    re.IGNORECASE,
)
# Thanks and sign-offs a message may close with.
_CLOSING = re.compile(
    r"(?:^|(?<=[\s,.!?)]))(?:"
    r"(?:заранее\s+)?спасибо(?:\s+(?:заранее|большое|вам))?|благодарю|буду\s+благодар(?:ен|на)(?:\s+за\s+ответ)?"
    r"|(?:алдын\s+ала\s+|чоң\s+)?рахмат|жооп\s+берсеңиздер\s+рахмат"
    r"|thanks(?:\s+(?:in\s+advance|a\s+lot))?|thank\s+you(?:\s+(?:so\s+much|in\s+advance))?|appreciate\s+it|cheers"
    r")" + _SEPARATORS + r"$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]")


def strip_pleasantries(text: str) -> str:
    """The question without the greetings, politeness and thanks around it (the text as it was when nothing with
    words would remain)."""
    core = text.strip()
    while (opening := _OPENING.match(core)) and opening.end() > 0 and _WORD.search(core[opening.end() :]):
        core = core[opening.end() :]
    while (closing := _CLOSING.search(core)) and _WORD.search(core[: closing.start()]):
        core = core[: closing.start()].rstrip()
    # "Здравствуйте, сколько мест?" asks what "Сколько мест?" does: the question's first letter as a question's.
    return core if core == text.strip() else core[:1].upper() + core[1:]
