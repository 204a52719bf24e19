"""This host's site sync runs: at most one at a time, on a thread of its own, and the latest one's status."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.core.errors import AlreadyRunning, BilimError
from assistant.wiring import ProgressFactory, SyncReport, write_json_atomically

log = logging.getLogger("bilim.sync")
PROGRESS_SAVE_SECONDS = 1.0  # how often a run's progress reaches the shared status file
STALE_SECONDS = 300.0  # a "running" status not updated for this long belongs to a process that stopped


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SyncRuns:
    """Sync runs: at most one at a time in this process, and (through `claim`) across processes and hosts. The
    latest run's status is written to `status_path`, beside the sync state every host shares, so any worker of any
    host reports it."""

    status_path: Path
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
    _saved: float = 0.0

    def start(
        self,
        sources: list[str],
        run: Callable[[ProgressFactory], SyncReport],
        claim: Callable[[], Callable[[], None] | None],
    ) -> None:
        """Run a sync of these sources (named) on a thread of its own, holding the turn `claim` gives (released when
        it ends); AlreadyRunning while one runs here, or while another host or process has the turn."""
        with self._lock:
            if self.state == "running":
                raise AlreadyRunning(
                    f"a sync of {', '.join(self.sources)} has been running since {self.started_at}; "
                    "GET /v1/sync follows it"
                )
            release = claim()
            if release is None:
                raise AlreadyRunning("another host (or server process) is syncing now; GET /v1/sync follows it")
            self.state, self.sources, self.started_at, self.finished_at = "running", list(sources), _now(), None
            self.pages_done = self.pages_total = 0
            self.report, self.error = SyncReport(), None
            self._save()
            self._thread = threading.Thread(target=self._run, args=(run, release), name="site-sync", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until the current run ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, run: Callable[[ProgressFactory], SyncReport], release: Callable[[], None]) -> None:
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
        finally:
            release()

    def _finish(self, state: str, *, report: SyncReport | None = None, error: str | None = None) -> None:
        with self._lock:
            self.state, self.finished_at, self.error = state, _now(), error
            if report is not None:
                self.report = report
            self._save()

    @contextmanager
    def _progress(self, total: int, label: str) -> Iterator[Callable[[int], object]]:
        with self._lock:
            self.pages_done, self.pages_total = 0, total
            self._save()

        def advance(n: int) -> None:
            with self._lock:
                self.pages_done += n
                if time.monotonic() - self._saved >= PROGRESS_SAVE_SECONDS:
                    self._save()

        yield advance

    def _current(self) -> dict[str, Any]:
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

    def _save(self) -> None:
        """Write the status for every worker and host (called under the lock); a failure only costs the report."""
        self._saved = time.monotonic()
        try:
            write_json_atomically(self.status_path, {**self._current(), "updated_at": time.time()})
        except OSError as exc:
            log.warning("the sync status could not be written to %s: %s", self.status_path, exc)

    def status(self) -> dict[str, Any]:
        """The latest run on any host, as `SyncStatus`: this process's own while it runs one, else the shared file's
        (a run whose host stopped reporting is shown failed)."""
        with self._lock:
            if self.state == "running":
                return self._current()
            current = self._current()
        try:
            raw = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return current
        if not isinstance(raw, dict) or set(current) - set(raw):
            return current
        updated = float(raw.pop("updated_at", 0.0) or 0.0)
        if raw["state"] == "running" and time.time() - updated > STALE_SECONDS:
            raw["state"] = "failed"
            raw["error"] = (
                f"interrupted: the process running it stopped reporting at "
                f"{datetime.fromtimestamp(updated, UTC).isoformat(timespec='seconds')}"
            )
        return {k: raw[k] for k in current}


class SyncSchedule:
    """Starts a sync of the configured sources when none ran (on any host) for `interval` seconds: checked soon
    after start-up, then every `check` seconds; of several hosts the one that takes the turn syncs."""

    def __init__(
        self,
        runs: SyncRuns,
        interval: float,
        since_last: Callable[[], float],
        begin: Callable[[], None],
        check: float = 60.0,
    ) -> None:
        self._runs = runs
        self._interval = interval
        self._since_last = since_last
        self._begin = begin
        self._check = min(check, interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sync-schedule", daemon=True)

    def start(self) -> None:
        """Start checking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop checking (a run under way finishes on its own thread)."""
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        wait = min(2.0, self._check)  # the first check soon after start-up: a new server syncs what is due
        while not self._stop.wait(wait):
            wait = self._check
            if self._runs.state == "running" or self._since_last() < self._interval:
                continue
            try:
                self._begin()
            except AlreadyRunning:
                continue  # another host has the turn
            except BilimError as exc:
                log.warning("the scheduled sync did not start: %s", exc.message)
            except Exception:
                log.exception("the scheduled sync did not start")
