"""This host's site sync runs: at most one at a time, on a thread of its own, and the latest one's status."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assistant.core.errors import AlreadyRunning, BilimError
from assistant.wiring import ProgressFactory, SyncReport

log = logging.getLogger("bilim.sync")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SyncRuns:
    """This host's sync runs: at most one at a time, and the latest one's status."""

    state: str = "idle"
    sources: list[str] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    pages_done: int = 0
    pages_total: int = 0
    report: SyncReport = field(default_factory=SyncReport)
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self, sources: list[str], run: Callable[[ProgressFactory], SyncReport]) -> None:
        """Run a sync of these sources (named) on a thread of its own; AlreadyRunning while one runs."""
        with self._lock:
            if self.state == "running":
                raise AlreadyRunning(
                    f"a sync of {', '.join(self.sources)} has been running since {self.started_at}; "
                    "GET /v1/sync follows it"
                )
            self.state, self.sources, self.started_at, self.finished_at = "running", list(sources), _now(), None
            self.pages_done = self.pages_total = 0
            self.report, self.error = SyncReport(), None
            self._thread = threading.Thread(target=self._run, args=(run,), name="site-sync", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until the current run ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, run: Callable[[ProgressFactory], SyncReport]) -> None:
        try:
            report = run(self._progress)
        except BilimError as exc:
            self._finish("failed", error=exc.message)
            log.warning("sync of %s failed: %s", ", ".join(self.sources), exc.message)
        except Exception:
            log.exception("sync of %s failed", ", ".join(self.sources))
            self._finish("failed", error="internal error; the details are in the server log")
        else:
            self._finish("done", report=report)
            log.info(
                "sync of %s: %d added, %d changed, %d removed, %d failed",
                ", ".join(self.sources),
                report.added,
                report.changed,
                report.removed,
                len(report.failed),
            )

    def _finish(self, state: str, *, report: SyncReport | None = None, error: str | None = None) -> None:
        with self._lock:
            self.state, self.finished_at, self.error = state, _now(), error
            if report is not None:
                self.report = report

    @contextmanager
    def _progress(self, total: int, label: str) -> Iterator[Callable[[int], object]]:
        with self._lock:
            self.pages_done, self.pages_total = 0, total

        def advance(n: int) -> None:
            with self._lock:
                self.pages_done += n

        yield advance

    def status(self) -> dict[str, Any]:
        """The latest run, as `SyncStatus`."""
        with self._lock:
            report = self.report
            return {
                "state": self.state,
                "sources": list(self.sources),
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "pages_done": self.pages_done,
                "pages_total": self.pages_total,
                **{k: getattr(report, k) for k in ("seen", "fetched", "unchanged", "added", "changed", "removed")},
                "gone": len(report.gone),
                "failed": list(report.failed),
                "skipped": list(report.skipped),
                "chunks_embedded": report.chunks_embedded,
                "error": self.error,
            }
