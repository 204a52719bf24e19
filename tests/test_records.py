"""The records on both databases: SQLite (the default file) and a real PostgreSQL cluster — what one worker or host
commits the others see, rate limits count once across hosts, locks past the timeout are a 503, migrations run
once however many processes start together."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from assistant.core.errors import RateLimited, RecordsUnavailable
from assistant.records import PURGE_LOCK, RecordStore, describe
from assistant.settings import Settings
from tests.postgres import fresh_database

PAYLOAD = {"answer": "Жооп: 375 [1]", "language": "ky", "refused": False, "citations": [{"document": "doc-a"}]}
_names = itertools.count()
Opener = Callable[..., RecordStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A fresh records target: a SQLite file, or an empty database of the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return tmp_path / "r.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return fresh_database(url, f"records_{next(_names)}")


@pytest.fixture
def opened() -> Iterator[Opener]:
    """Open record stores (each a worker or a host) that are all closed after the test."""
    stores: list[RecordStore] = []

    def open_store(target: Path | str, **options: float) -> RecordStore:
        stores.append(RecordStore(target, **options))
        return stores[-1]

    yield open_store
    for store in stores:
        store.close()


def save(records: RecordStore, question: str, owner: str = "o") -> str:
    return records.save_answer(conversation_id=None, owner=owner, question=question, payload=PAYLOAD)[1]


def pooled(records: RecordStore) -> int:
    """Connections the store's pool keeps open and idle."""
    pool = records.engine.pool
    assert isinstance(pool, sa.QueuePool)
    return pool.checkedin()


def in_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(0..count-1) on as many threads at once; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # any thread's failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_every_commit_is_seen_by_another_worker_or_host(target: Path | str, opened: Opener) -> None:
    records, other = opened(target), opened(target)
    ids = [save(records, f"q{i}?") for i in range(20)]
    assert [other.answer(i, "o")["question"] for i in ids] == [f"q{i}?" for i in range(20)]
    conversation, answer = records.save_answer(conversation_id=None, owner="o", question="one?", payload=PAYLOAD)
    other.save_answer(conversation_id=conversation, owner="o", question="two?", payload=PAYLOAD)
    assert records.history(conversation, "o") == ["one?", "two?"]
    assert other.add_feedback(answer, "down", "wrong", "o") >= 1
    assert [(f.answer_id, f.rating, f.history) for f in records.feedback("down")] == [(answer, "down", [])]
    window = (time.time() - 60, time.time() + 60)
    assert records.cited_documents(*window, None) == {"doc-a": 22}
    assert records.unanswered(*window, "ky", 5)[1] == 1  # the 👎-rated one
    days = records.daily_counts(*window, None)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert {d["day"] for d in days} <= {today, time.strftime("%Y-%m-%d", time.gmtime(time.time() - 60))}
    assert [sum(d[k] for d in days) for k in ("asked", "refused", "rated_down", "rated_up")] == [22, 0, 1, 0]
    assert records.counts() == {"conversations": 21, "answers": 22, "feedback": 1}


def test_writers_on_many_threads_of_two_stores_lose_nothing(target: Path | str, opened: Opener) -> None:
    stores = [opened(target), opened(target)]

    def write_ten(n: int) -> None:
        for i in range(10):
            save(stores[n % 2], f"t{n}-{i}?")

    errors = in_threads(8, write_ten)
    assert errors == []
    assert stores[1].counts()["answers"] == 80


def test_a_rate_limit_is_counted_once_across_hosts(target: Path | str, opened: Opener) -> None:
    hosts = [opened(target), opened(target)]
    limited: list[int] = []

    def ask(n: int) -> None:
        for _ in range(10):
            try:
                hosts[n % 2].hit("key+user", limit=50, window_seconds=3600)
            except RateLimited as exc:
                limited.append(exc.retry_after)

    assert in_threads(8, ask) == []
    assert len(limited) == 30 and min(limited) >= 1  # 80 requests, 50 allowed, however the hosts interleaved
    with pytest.raises(RateLimited):
        hosts[0].hit("key+user", limit=50, window_seconds=3600)
    hosts[1].hit("another user", limit=50, window_seconds=3600)  # buckets are separate


def test_buckets_of_different_windows_keep_their_own_counts(target: Path | str, opened: Opener) -> None:
    records = opened(target)
    records.hit("key+user#chars", limit=2500, window_seconds=3600, weight=2000)
    records.hit("key+user", limit=50, window_seconds=60)  # a per-minute bucket once emptied every older window
    with pytest.raises(RateLimited) as over:
        records.hit("key+user#chars", limit=2500, window_seconds=3600, weight=1000)
    assert 1 <= over.value.retry_after <= 3600


def test_migrations_run_once_when_many_processes_start_together(target: Path | str, opened: Opener) -> None:
    stores: list[RecordStore] = []
    assert in_threads(4, lambda n: stores.append(opened(target))) == []
    with stores[0].engine.connect() as db:
        assert db.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == ["0004"]
    assert {t for t in sa.inspect(stores[0].engine).get_table_names()} >= {
        "conversations",
        "answers",
        "answer_documents",
        "feedback",
        "rate_windows",
    }


def test_purge_removes_old_answers_with_their_feedback_and_citations(target: Path | str, opened: Opener) -> None:
    records = opened(target)
    old = records.save_answer(
        conversation_id=None, owner="o", question="old?", payload=PAYLOAD, created=time.time() - 100 * 86400
    )[1]
    records.add_feedback(old, "up", None, "o")
    save(records, "new?")
    assert records.purge(90) == 1
    assert records.counts() == {"conversations": 1, "answers": 1, "feedback": 0}
    assert records.cited_documents(0, time.time() + 60, None) == {"doc-a": 1}


def test_close_releases_every_connection_and_a_later_transaction_reopens(target: Path | str, opened: Opener) -> None:
    records = opened(target)
    save(records, "one?")
    records.close()
    assert pooled(records) == 0
    save(records, "two?")
    assert records.counts()["answers"] == 2


def test_a_sqlite_lock_past_the_timeout_is_a_503_and_the_next_transaction_works(tmp_path: Path, opened: Opener) -> None:
    records = opened(tmp_path / "r.sqlite3", busy_timeout=0.2)
    save(records, "before?")
    holder = sqlite3.connect(tmp_path / "r.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RecordsUnavailable, match="retry shortly"):
            save(records, "during?")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    save(records, "after?")
    assert records.counts()["answers"] == 2


def test_sqlite_connections_are_kept_open_with_normal_sync_under_wal(tmp_path: Path, opened: Opener) -> None:
    records = opened(tmp_path / "r.sqlite3")
    for i in range(20):
        save(records, f"q{i}?")
    assert pooled(records) == 1  # twenty transactions, one connection kept
    with records.engine.connect() as db:
        assert db.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.slow
def test_a_postgresql_lock_past_the_timeout_is_a_503_and_the_next_one_works(postgres_url: str, opened: Opener) -> None:
    url = fresh_database(postgres_url, "records_locked")
    records = opened(url, busy_timeout=0.3)
    save(records, "before?")
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(RecordsUnavailable, match="retry shortly"):
            save(records, "during?")
        assert time.monotonic() - started < 5
    save(records, "after?")
    assert records.counts()["answers"] == 2


@pytest.mark.slow
def test_postgresql_connections_the_server_dropped_are_replaced_not_failed(postgres_url: str, opened: Opener) -> None:
    url = fresh_database(postgres_url, "records_dropped")
    records = opened(url)
    save(records, "before?")
    with psycopg.connect(url, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped is not None and dropped[0] >= 1
    save(records, "after?")  # the pool's pre-ping found the dead connection and opened another
    assert records.counts()["answers"] == 2


@pytest.mark.slow
def test_one_host_purges_at_a_time_on_postgresql(postgres_url: str, opened: Opener) -> None:
    url = fresh_database(postgres_url, "records_purge")
    records = opened(url)
    records.save_answer(conversation_id=None, owner="o", question="old?", payload=PAYLOAD, created=1.0)
    with psycopg.connect(url) as other_host:
        other_host.execute("SELECT pg_advisory_xact_lock(%s)", (PURGE_LOCK,))  # another host is purging
        assert records.purge(90) == 0
    assert records.purge(90) == 1


def test_an_old_sqlite_file_is_migrated_and_its_answers_citations_filled_in(tmp_path: Path, opened: Opener) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL,"
        " updated REAL NOT NULL);"
        "CREATE TABLE answers (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, owner TEXT NOT NULL,"
        " question TEXT NOT NULL, language TEXT NOT NULL, refused INTEGER NOT NULL, payload TEXT NOT NULL,"
        " created REAL NOT NULL);"
    )
    db.execute("INSERT INTO conversations VALUES ('c', 'o', 1, 1)")
    db.execute(
        "INSERT INTO answers VALUES ('a_old', 'c', 'o', 'old?', 'ky', 0, ?, ?)",
        ('{"language": "ky", "refused": false, "citations": [{"document": "d1"}, {"document": "d1"}]}', time.time()),
    )
    db.commit()
    db.close()
    records = opened(path)
    assert records.answer("a_old", "o")["question"] == "old?"
    assert records.cited_documents(0, time.time() + 60, None) == {"d1": 1}
    save(records, "new?")
    assert records.counts()["answers"] == 2


def test_the_database_url_names_a_supported_database_and_hides_its_password() -> None:
    with pytest.raises(ValidationError, match="postgresql://"):
        Settings(database_url="mysql://u:p@h/db")  # type: ignore[arg-type]
    settings = Settings(database_url="postgresql://bilim:s3cret@db:5432/bilim")  # type: ignore[arg-type]
    assert "s3cret" not in repr(settings)
    assert describe(settings.database_url.get_secret_value()) == "postgresql+psycopg://bilim:***@db:5432/bilim"  # type: ignore[union-attr]
