"""What every request handler needs, built once per app by the lifespan."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fastapi import Request

from assistant.api.metrics import Metrics
from assistant.api.sync_runs import SyncRuns
from assistant.api.writes import WriteGuard
from assistant.core.errors import Busy
from assistant.core.usecases import AskInConversation
from assistant.insights import Clustering, Window, build_insights
from assistant.records import RecordStore
from assistant.settings import Settings
from assistant.wiring import Service, StoreLibrary, sync_status_path

log = logging.getLogger("bilim.api")
PURGE_EVERY_SECONDS = 3600


@dataclass
class AppState:
    """The wired service, its use cases, the records, write guard and metrics of this app."""

    settings: Settings
    service: Service
    records: RecordStore
    guard: WriteGuard
    metrics: Metrics
    uploads: Path
    library: StoreLibrary
    asking: AskInConversation
    clustering: Clustering
    sync_runs: SyncRuns = field(init=False)
    long_questions: threading.Semaphore = field(init=False)  # the bounded pool of long questions
    _last_purge: float = 0.0
    _purge_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.long_questions = threading.BoundedSemaphore(self.settings.long_question_slots)
        self.sync_runs = SyncRuns(sync_status_path(self.settings))

    @contextmanager
    def answering_slot(self, question: str) -> Iterator[None]:
        """A slot of the long-question pool for a long question (short ones need none): a few long questions of
        one client cannot take the cores every other client's answers need."""
        if len(" ".join(question.split())) < self.settings.long_question_chars:
            yield
            return
        self.metrics.long_questions_waiting.inc()
        try:
            acquired = self.long_questions.acquire(timeout=self.settings.long_question_wait)
        finally:
            self.metrics.long_questions_waiting.dec()
        if not acquired:
            self.metrics.long_questions_turned_away.inc()
            raise Busy(
                f"long questions (from {self.settings.long_question_chars} characters) are answered "
                f"{self.settings.long_question_slots} at a time and none was free within "
                f"{self.settings.long_question_wait:g} s; retry shortly, or ask a shorter question"
            )
        try:
            yield
        finally:
            self.long_questions.release()

    def purge_if_due(self) -> None:
        """Apply the retention period at most once an hour per worker."""
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        with self._purge_lock:
            if self._last_purge and now - self._last_purge < PURGE_EVERY_SECONDS:
                return
            self._last_purge = now
            removed = self.records.purge(self.settings.retention_days)
            if removed:
                log.info("retention: removed %d answers older than %d days", removed, self.settings.retention_days)

    def insights_of(self, window: Window) -> dict[str, Any]:
        """The staff insights of a window, over this server's records and documents."""
        return build_insights(
            self.records,
            self.library.documents(),
            window,
            retention_days=self.settings.retention_days,
            clustering=self.clustering,
        )


def app_state(request: Request) -> AppState:
    """The app's state (a FastAPI dependency)."""
    return cast(AppState, request.app.state.bilim)
