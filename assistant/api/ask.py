"""Asking: answers (plain and streamed), stored answers by id, and feedback."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import StreamingResponse

from assistant.api.schemas import AnswerOut, AskRequest, FeedbackOut, FeedbackRequest, StoredAnswerOut, problems
from assistant.api.security import Caller, asker, charge_question
from assistant.api.state import AppState, app_state
from assistant.core.errors import BilimError

log = logging.getLogger("bilim.api")
router = APIRouter(prefix="/v1", tags=["answers"])
ASK_ERRORS = problems(400, 401, 404, 413, 422, 429, 503)  # 503 also `busy`: no slot for a long question
# Fallback reasons given after the model did reply (it answered NO_ANSWER, or a check failed).
MODEL_REPLIED = frozenset(
    {"no_answer", "unsupported", "unknown_citation", "no_citation", "uncited", "wrong_language", "empty", "too_long"}
)


def _answer(state: AppState, caller: Caller, body: AskRequest) -> dict[str, Any]:
    """Ask in the conversation (a long question in a slot of its bounded pool), then count it; the answer JSON plus
    where it was recorded."""
    with state.answering_slot(body.question):
        asked = state.asking(body.question, body.language, body.conversation_id, caller.owner)
    state.metrics.answers.labels(asked.answer.language).inc()
    if asked.answer.refused:
        state.metrics.refusals.labels(asked.answer.language).inc()
    reason = asked.answer.fallback_reason
    if asked.answer.generator == "llm" or reason in MODEL_REPLIED:
        state.metrics.generated.inc()
    if asked.answer.generator == "llm":
        state.metrics.verified.inc()
    if reason:
        state.metrics.fallbacks.labels(reason).inc()
    state.purge_if_due()
    return {**asked.kept, "conversation_id": asked.conversation_id, "answer_id": asked.answer_id}


@router.post("/ask", response_model=AnswerOut, responses=ASK_ERRORS, summary="Answer a question with citations")
def ask(body: AskRequest, caller: Caller = Depends(asker), state: AppState = Depends(app_state)) -> dict[str, Any]:
    """The answer JSON plus `conversation_id` (send it back for follow-ups) and `answer_id`."""
    charge_question(state, caller, body.question)
    return _answer(state, caller, body)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_parts(text: str) -> list[str]:
    """The answer text cut into word groups that, joined, give the text back exactly."""
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i : i + 4]) for i in range(0, len(words), 4)]


@router.post(
    "/ask/stream",
    responses={
        **ASK_ERRORS,
        200: {"content": {"text/event-stream": {"schema": {"type": "object"}}}, "description": "Server-Sent Events"},
    },
    summary="The same answer as Server-Sent Events",
)
def ask_stream(
    body: AskRequest,
    caller: Caller = Depends(asker),
    state: AppState = Depends(app_state),
) -> StreamingResponse:
    """Events: `status` (working), `answer` ({"delta"} parts of the text), `citations`, then `done` (ids,
    refusal flag, language, lead, confidence, generator and fallback reason, timings); a failure after the stream
    started is an `error` event. A generated answer streams only once verified: nothing of it is sent before."""
    state.asking.check(body.question, body.language, body.conversation_id, caller.owner)  # 422, 404 before streaming
    charge_question(state, caller, body.question)  # and 429

    def events() -> Iterator[str]:
        yield _event("status", {"stage": "answering"})
        try:
            result = _answer(state, caller, body)
        except BilimError as exc:
            yield _event("error", {"status": exc.status_code, "code": exc.code, "detail": exc.message})
            return
        except Exception:
            log.exception("streamed answer failed")
            yield _event("error", {"status": 500, "code": "internal_error", "detail": "internal error"})
            return
        for part in answer_parts(result["answer"]):
            yield _event("answer", {"delta": part})
        yield _event("citations", {"citations": result["citations"]})
        keys = (
            "conversation_id", "answer_id", "refused", "language", "lead", "confidence", "generator",
            "fallback_reason", "timings_ms",
        )  # fmt: skip
        yield _event("done", {key: result[key] for key in keys})

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get(
    "/answers/{answer_id}",
    response_model=StoredAnswerOut,
    responses=problems(401, 404, 429, 503),
    summary="A stored answer",
)
def stored_answer(
    answer_id: str,
    caller: Caller = Depends(asker),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """An answer by id with its citations (kept for the retention period)."""
    return state.records.answer(answer_id, caller.owner)


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 404, 413, 422, 429, 503),
    tags=["feedback"],
    summary="Rate an answer",
)
def feedback(
    body: FeedbackRequest,
    caller: Caller = Depends(asker),
    state: AppState = Depends(app_state),
) -> dict[str, int]:
    """Store 👍/👎 (and an optional comment) for an answer; export with `python -m eval feedback`."""
    feedback_id = state.records.add_feedback(body.answer_id, body.rating, body.comment, caller.owner)
    state.metrics.feedback.labels(body.rating).inc()
    return {"id": feedback_id}
