"""The answer JSON contract shared by the CLI, the API, the bot and evaluation, and its plain-text rendering."""

from __future__ import annotations

from typing import Any

from assistant.core.models import Answer

LEAD_IN = {"ky": "Жооп: {span}", "ru": "Ответ: {span}", "en": "Answer: {span}"}
QUOTE_INTRO = {"ky": "Документтерде мындай деп айтылат:", "ru": "В документах сказано:", "en": "The documents say:"}
REFUSAL = {
    "ky": "Кечиресиз, бул суроонун жообун документтерден таба алган жокмун. Суроону башкача берип көрүңүз "
    "же Билим берүү жана илим министрлигинин расмий булактарына кайрылыңыз.",
    "ru": "К сожалению, в документах нет ответа на этот вопрос. Попробуйте переформулировать его "
    "или обратитесь к официальным каналам Министерства образования и науки.",
    "en": "Sorry, the documents do not answer this question. Try rephrasing it, "
    "or check the official channels of the Ministry of Education and Science.",
}


def answer_text(answer: Answer) -> str:
    """The answer as plain text in its language, for clients that only print: a generated answer as written, else
    lead-in, then «quotes» [n]."""
    if answer.refused:
        return REFUSAL[answer.language]
    if answer.generated is not None:
        return answer.generated  # verified: each [n] points at the citation whose quote states it
    if answer.lead is not None:
        first = LEAD_IN[answer.language].format(span=answer.lead.text) + f" [{answer.lead.citation}]"
    else:
        first = QUOTE_INTRO[answer.language]
    return "\n".join([first, *(f"«{c.quote}» [{c.index}]" for c in answer.citations)])


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """Serialise an answer: its parts (lead, quotes as citations, refusal, confidence), the rendered text, timings."""
    return {
        "answer": answer_text(answer),
        "language": answer.language,
        "refused": answer.refused,
        "lead": {"text": answer.lead.text, "citation": answer.lead.citation} if answer.lead else None,
        "confidence": answer.confidence,
        "citations": [
            {
                "index": c.index,
                "document": c.document,
                "title": c.title,
                "chunk_id": c.chunk_id,
                "quote": c.quote,
                "start": c.start,
                "end": c.end,
                "score": c.score,
                "url": c.url,
                "date": c.date,
                "highlight": list(c.highlight) if c.highlight else None,
                "highlights": [list(h) for h in c.highlights],
                "context": {"text": c.context, "quote": list(c.context_quote)} if c.context_quote else None,
            }
            for c in answer.citations
        ],
        "segments": [{"text": seg.text, "citations": list(seg.citations)} for seg in answer.segments],
        "generator": answer.generator,
        "fallback_reason": answer.fallback_reason,
        "timings_ms": dict(answer.timings_ms),
    }
