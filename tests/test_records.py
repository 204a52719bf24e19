"""The SQLite records' connections: one per thread, kept open, replaced after a failure, closed at shutdown."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.core.errors import RecordsUnavailable
from assistant.records import RecordStore

PAYLOAD = {"answer": "Жооп: 375 [1]", "language": "ky", "refused": False, "citations": []}


def save(records: RecordStore, question: str) -> str:
    return records.save_answer(conversation_id=None, owner="o", question=question, payload=PAYLOAD)[1]


def test_a_thread_keeps_one_connection_and_another_worker_sees_each_commit(tmp_path: Path) -> None:
    records, other_worker = RecordStore(tmp_path / "r.sqlite3"), RecordStore(tmp_path / "r.sqlite3")
    ids = [save(records, f"q{i}?") for i in range(20)]
    records.hit("bucket", limit=100, window_seconds=60)
    assert len(records._open) == 1  # twenty-one transactions, one connection
    # Committed, not merely written into this connection: another process's store reads every answer at once.
    assert [other_worker.answer(i, "o")["question"] for i in ids] == [f"q{i}?" for i in range(20)]
    assert records._open.copy().pop().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, under WAL


def test_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    records = RecordStore(tmp_path / "r.sqlite3")
    errors: list[BaseException] = []

    def write_ten(n: int) -> None:
        try:
            for i in range(10):
                save(records, f"t{n}-{i}?")
        except BaseException as exc:  # any thread's failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=write_ten, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert records.counts()["answers"] == 60
    gc.collect()
    assert len(records._open) == 1  # this thread's; each writer's connection closed when its thread ended


def test_a_lock_past_the_timeout_is_unavailable_and_the_next_transaction_works(tmp_path: Path) -> None:
    records = RecordStore(tmp_path / "r.sqlite3", busy_timeout=0.2)
    save(records, "before?")
    first = records._open.copy().pop()
    holder = sqlite3.connect(records.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RecordsUnavailable, match="retry shortly"):
            save(records, "during?")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert first not in records._open  # the failed connection was dropped …
    save(records, "after?")  # … and a fresh one serves the next transaction
    assert records.counts()["answers"] == 2


def test_close_closes_every_connection_and_a_later_transaction_reopens(tmp_path: Path) -> None:
    records = RecordStore(tmp_path / "r.sqlite3")
    save(records, "one?")
    opened = records._open.copy().pop()
    records.close()
    assert len(records._open) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        opened.execute("SELECT 1")
    save(records, "two?")
    assert records.counts()["answers"] == 2
