"""The answer JSON contract shared by the CLI, the API, the bot and evaluation."""

from __future__ import annotations

from typing import Any

from assistant.core.models import Answer


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """Serialise an answer: text, language, refusal flag, verbatim citations and timings."""
    return {
        "answer": answer.text,
        "language": answer.language,
        "refused": answer.refused,
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
            }
            for c in answer.citations
        ],
        "timings_ms": dict(answer.timings_ms),
    }
