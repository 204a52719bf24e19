"""Sync runs in the service: one at a time across processes, a status every worker reports, and the schedule."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.api.sync_runs import STALE_SECONDS, SyncRuns, SyncSchedule
from assistant.core.errors import AlreadyRunning, InvalidInput
from assistant.settings import Settings
from assistant.wiring import ProgressFactory, SyncReport, claim_sync, seconds_since_sync, sync_state_path


def test_one_process_at_a_time_takes_the_sync_turn(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    release = claim_sync(settings)
    assert release is not None
    assert claim_sync(settings) is None  # another worker (a second open file description) is refused
    release()
    again = claim_sync(settings)
    assert again is not None
    again()


def test_a_run_reports_its_progress_and_result_to_every_worker_and_a_second_run_waits(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    here, other = SyncRuns(path), SyncRuns(path)
    assert other.status()["state"] == "idle"
    gate, counting = threading.Event(), threading.Event()
    released: list[bool] = []

    def run(progress: ProgressFactory) -> SyncReport:
        with progress(4, "pages") as advance:
            advance(1)
            counting.set()
            gate.wait(10)
            advance(3)
        return SyncReport(seen=4, fetched=4, added=3, failed=[{"url": "http://x/a", "reason": "HTTP 500"}])

    def claim() -> Callable[[], None]:
        return lambda: released.append(True)

    here.start(["ministry"], run, claim)
    with pytest.raises(AlreadyRunning, match="has been running since"):
        here.start(["ministry"], run, claim)
    with pytest.raises(AlreadyRunning, match="another host"):
        other.start(["ministry"], run, lambda: None)  # the turn is taken elsewhere
    assert other.status()["state"] == "running"  # written before start() returned
    assert counting.wait(10)
    seen = other.status()
    assert (seen["state"], seen["sources"], seen["pages_total"]) == ("running", ["ministry"], 4)
    gate.set()
    here.wait(10)
    done = other.status()
    assert (done["state"], done["added"], done["pages_done"], done["failed"]) == (
        "done",
        3,
        4,
        [{"url": "http://x/a", "reason": "HTTP 500"}],
    )
    assert released == [True]


def test_a_running_status_nobody_updates_any_more_reads_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    runs = SyncRuns(path)
    raw = {**runs.status(), "state": "running", "updated_at": time.time() - STALE_SECONDS - 5}
    path.write_text(json.dumps(raw), encoding="utf-8")
    status = runs.status()
    assert status["state"] == "failed" and status["error"].startswith("interrupted")


def test_a_failing_run_is_reported_with_its_reason_and_frees_the_turn(tmp_path: Path) -> None:
    runs, released = SyncRuns(tmp_path / "status.json"), []

    def run(progress: ProgressFactory) -> SyncReport:
        raise InvalidInput("sources.toml: no [[source]] tables")

    runs.start(["x"], run, lambda: lambda: released.append(1))
    runs.wait(10)
    assert runs.status()["state"] == "failed" and runs.status()["error"] == "sources.toml: no [[source]] tables"
    assert released == [1]


def test_the_schedule_starts_a_sync_when_none_ran_for_its_interval_and_skips_a_taken_turn(tmp_path: Path) -> None:
    runs = SyncRuns(tmp_path / "status.json")
    since = [float("inf")]
    begun: list[float] = []

    def begin() -> None:
        begun.append(time.monotonic())
        since[0] = 0.0  # a sync just ran
        if len(begun) == 2:
            raise AlreadyRunning("another host has the turn")

    schedule = SyncSchedule(runs, interval=3600, since_last=lambda: since[0], begin=begin, check=0.05)
    schedule.start()
    time.sleep(0.4)
    assert len(begun) == 1  # once at start-up, then not again within the interval
    since[0] = 3600.0
    time.sleep(0.3)
    schedule.stop()
    assert len(begun) >= 2  # due again; the turn was taken elsewhere, and the schedule went on checking


def test_seconds_since_sync_reads_the_shared_state_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    assert seconds_since_sync(settings) == float("inf")
    sync_state_path(settings).parent.mkdir(parents=True)
    sync_state_path(settings).write_text('{"pages": {}}', encoding="utf-8")
    assert 0 <= seconds_since_sync(settings) < 60
    with pytest.raises(ValueError, match="BILIM_SYNC_SOURCES"):
        Settings(data_dir=tmp_path, sync_interval=3600)
