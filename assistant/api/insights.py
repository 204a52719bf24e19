"""Staff insights: the window's figures as JSON, and its clusters of unanswered questions as CSV (admin keys)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from assistant.api.schemas import InsightsOut, problems
from assistant.api.security import Caller, admin
from assistant.api.state import AppState, app_state
from assistant.core.errors import InvalidInput
from assistant.insights import Window, clusters_csv

router = APIRouter(prefix="/v1/insights", tags=["insights"])
ERRORS = problems(401, 403, 422, 429, 503)
# Only YYYY-MM-DD: date.fromisoformat would also take 20261130 or 2026-W48-1. Published as the JSON Schema format
# `date`, not as a pattern: `$` also matches before a final newline in Python, and at the very end in ECMA.
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AS_DATE = {"format": "date"}
Since = Query(
    None, json_schema_extra=AS_DATE, description="first day (UTC, YYYY-MM-DD); default 29 days before `until`"
)
Until = Query(None, json_schema_extra=AS_DATE, description="last day, included (UTC, YYYY-MM-DD); default today")
InLanguage = Query(None, description="only questions in this language; default all")


def day(text: str | None, name: str) -> date | None:
    """A YYYY-MM-DD parameter as a date; InvalidInput (422) for one that is no day of the calendar."""
    if text is None:
        return None
    try:
        if DAY.fullmatch(text) is None:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a day of the calendar (YYYY-MM-DD)") from None


def window(
    since: str | None = Since,
    until: str | None = Until,
    language: Literal["ky", "ru", "en"] | None = InLanguage,
) -> Window:
    """The asked-for window (a FastAPI dependency): 422 for days out of order, over 366 days, or before 1970."""
    return Window.of(day(since, "since"), day(until, "until"), language)


@router.get("", response_model=InsightsOut, responses=ERRORS, summary="What applicants ask and what goes unanswered")
def insights(
    caller: Caller = Depends(admin), asked_for: Window = Depends(window), state: AppState = Depends(app_state)
) -> dict[str, Any]:
    """Counts per day and language; answered / refused / 👎 rates; clusters of near-duplicate refused or 👎
    questions; the documents cited most and never. Up to 366 days at a time, within the retention period."""
    return state.insights_of(asked_for)


@router.get(
    "/clusters.csv",
    responses={**ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
    summary="The clusters of unanswered questions as CSV",
)
def clusters(
    caller: Caller = Depends(admin), asked_for: Window = Depends(window), state: AppState = Depends(app_state)
) -> Response:
    """One row per cluster: size, refused, 👎, languages, first and last asked, examples."""
    language = f"-{asked_for.language}" if asked_for.language else ""
    name = f"bilim-unanswered-{asked_for.since}-{asked_for.until}{language}.csv"
    return Response(
        clusters_csv(state.insights_of(asked_for)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
