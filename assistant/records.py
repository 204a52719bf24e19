"""Durable service records: conversations, answers (with each question's vector and the documents they cite),
feedback and rate-limit counters, and the staff insights' reads over them.

One code path through SQLAlchemy Core for both databases: a SQLite file in the data dir (the default, shared by
one host's workers) or PostgreSQL (`BILIM_DATABASE_URL`, shared by every host). The schema is Alembic's migrations
(assistant/migrations), applied when a store opens, by one process at a time. Nothing a request needs lives in one
worker's memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from assistant.answer_json import answer_to_json
from assistant.core.errors import NotFound, RateLimited, RecordsUnavailable
from assistant.core.models import Answer
from assistant.core.ports import Recorded, Vector

MAX_HISTORY = 5
MIGRATIONS = Path(__file__).parent / "migrations"
PG_CONNECTIONS = 16  # per worker process, at most
DEFAULT_REPLY_TIMEOUT = 10.0  # seconds PostgreSQL has to answer a connection attempt or a statement
# pg_advisory_lock keys (one 64-bit space per database): the schema migration and the retention clean-up.
MIGRATION_LOCK = 0x62696C696D_01
PURGE_LOCK = 0x62696C696D_02

metadata = sa.MetaData()
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("refused", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("vector", sa.LargeBinary),
)
answer_documents = sa.Table(
    "answer_documents",
    metadata,
    sa.Column("answer_id", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, primary_key=True),
)
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("answer_id", sa.Text, nullable=False),
    sa.Column("rating", sa.Text, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
)
LONGEST_RATE_WINDOW = 86400  # seconds: a rate is per second, minute, hour or day
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("window", sa.Integer, primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
)


class utc_day(FunctionElement[str]):
    """The UTC calendar day (YYYY-MM-DD) of a Unix time, in each database's own words."""

    type = sa.String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'unixepoch')"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(to_timestamp({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def owner_id(*parts: str | None) -> str:
    """An opaque id for who asked (key fingerprint + end user or address); raw ids are never stored."""
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:24]


def database_url(target: Path | str) -> sa.URL:
    """The SQLAlchemy URL of a records target: a SQLite file's path, or a postgresql:// or sqlite:/// URL."""
    if isinstance(target, Path):
        return sa.URL.create("sqlite+pysqlite", database=str(target))
    url = make_url(target)
    if url.drivername in ("postgres", "postgresql"):  # the libpq spelling: psycopg 3 is the driver shipped
        url = url.set(drivername="postgresql+psycopg")
    return url


def describe(target: Path | str) -> str:
    """Where records live, for messages: the file, or the URL without its password."""
    url = database_url(target)
    return str(url.database) if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)


@dataclass(frozen=True)
class FeedbackRecord:
    """One rating of a stored answer, with the question and the answer it rates."""

    id: int
    answer_id: str
    rating: str
    comment: str | None
    created: float
    question: str
    language: str
    payload: dict[str, Any]
    history: list[str]


@dataclass(frozen=True)
class AskedQuestion:
    """An asked question staff should look at: refused, or its answer's latest rating 👎."""

    question: str
    language: str
    created: float
    refused: bool
    rated_down: bool
    vector: Vector | None


@dataclass
class BusyTimeout:
    """Seconds a transaction waits for another's lock before the records count as unavailable (settable)."""

    seconds: float = 15.0


def _sqlite_engine(url: sa.URL, busy: BusyTimeout) -> Engine:
    """A SQLite engine whose transactions take the write lock at BEGIN (no upgrade deadlock between workers)."""
    # Pooled connections stay open: opening, closing (the last close checkpoints the WAL) and a full sync on
    # every commit took ~9 ms of each answer.
    engine = sa.create_engine(
        url, connect_args={"timeout": busy.seconds, "check_same_thread": False}, pool_size=8, max_overflow=56
    )
    Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # SQLAlchemy emits BEGIN itself (below), pysqlite none of its own
        # In WAL mode (set once, by `migrate`) NORMAL never corrupts the file; a power cut (not a crash) may lose
        # the last commits.
        dbapi.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy.seconds * 1000)}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _bound_replies(engine: Engine, seconds: float) -> None:
    """Every wait of a PostgreSQL connection for the server ends after `seconds`: a stopped server held request
    threads forever (its own statement_timeout cannot fire while it does not run)."""
    import psycopg
    from psycopg import errors

    class BoundedConnection(psycopg.Connection[Any]):
        reply_timeout: float | None = seconds  # None while migrating: a schema change may take its time

        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            try:
                return super().wait(gen, interval, self.reply_timeout if timeout is None else timeout)
            except errors._WaitTimeout as exc:
                # The reply may still arrive and would answer the next statement: the connection is done for.
                self.pgconn.finish()
                raise errors.OperationalError(f"no reply from PostgreSQL within {seconds:g} s") from exc

    @sa.event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return BoundedConnection.connect(*cargs, **cparams)


def open_engine(target: Path | str, busy: BusyTimeout, reply_timeout: float = DEFAULT_REPLY_TIMEOUT) -> Engine:
    """An engine for the records target (not yet migrated); a PostgreSQL server gets `reply_timeout` seconds for
    each connection attempt and each reply."""
    url = database_url(target)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy)
    # At most PG_CONNECTIONS per worker (a transaction takes ~1 ms, so a request rarely waits for one): hosts ×
    # workers × this must stay under the server's max_connections (100 by default). A request that waits past
    # the busy timeout for a connection is a 503 too.
    engine = sa.create_engine(
        url,
        pool_size=PG_CONNECTIONS // 2,
        max_overflow=PG_CONNECTIONS - PG_CONNECTIONS // 2,
        pool_timeout=busy.seconds,
        pool_pre_ping=True,  # a restarted server's dead connections are replaced, not handed to a request
        connect_args={"connect_timeout": max(1, math.ceil(reply_timeout))},
    )
    _bound_replies(engine, reply_timeout)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A lock held past the busy timeout fails the statement (a 503) instead of hanging the request.
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(busy.seconds * 1000)}")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; concurrent callers wait for the first (one process at a time)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _one_migrator(engine), engine.begin() as conn:
        driver = conn.connection.driver_connection
        bound = getattr(driver, "reply_timeout", None)
        if bound is not None:
            driver.reply_timeout = None  # type: ignore[union-attr]
        try:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        finally:
            if bound is not None:
                driver.reply_timeout = bound  # type: ignore[union-attr]


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """SQLite: one process at a time (a lock file beside the database), which also switches a new file to WAL —
    readers never wait for the (short) writes of other workers. Switching takes the file's exclusive lock, which
    SQLite's busy timeout does not wait for, so workers starting together on a new file failed without this."""
    if engine.dialect.name != "sqlite":
        yield
        return
    import fcntl

    database = Path(str(engine.url.database))
    with open(database.with_name(database.name + ".migrate.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        raw = engine.raw_connection()  # outside a transaction: SQLite switches journal modes only there
        try:
            raw.cursor().execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
        yield


def _unavailable(exc: sa.exc.SQLAlchemyError) -> RecordsUnavailable:
    return RecordsUnavailable(f"the service's records are unavailable ({exc.__class__.__name__}: {exc}); retry shortly")


@contextmanager
def unavailable_when_failing() -> Iterator[None]:
    """Turn a database that is locked past the busy timeout, full or down into RecordsUnavailable (a 503 with
    Retry-After): the request can succeed later. Other database errors are bugs and stay what they are."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
        raise _unavailable(exc) from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise _unavailable(exc) from exc
        raise


# The latest rating of each answer (a user may change their mind), joined to the answers of a window.
_a = answers.alias("a")
_latest = (
    sa.select(feedback.c.answer_id, sa.func.max(feedback.c.id).label("last")).group_by(feedback.c.answer_id).subquery()
)
_f = feedback.alias("f")
_RATED = _a.outerjoin(_latest, _latest.c.answer_id == _a.c.id).outerjoin(_f, _f.c.id == _latest.c.last)


def _counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows meet a condition (a portable SUM of a boolean)."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


class RecordStore:
    """The records of every worker and host, in SQLite or PostgreSQL (short transactions)."""

    def __init__(
        self, target: Path | str, busy_timeout: float = 15.0, reply_timeout: float = DEFAULT_REPLY_TIMEOUT
    ) -> None:
        self.target = target
        self.path = Path(str(database_url(target).database)) if self.is_sqlite(target) else None
        self._busy = BusyTimeout(busy_timeout)
        self.engine = open_engine(target, self._busy, reply_timeout)
        try:
            with unavailable_when_failing():
                migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    @staticmethod
    def is_sqlite(target: Path | str) -> bool:
        """Whether a target is a SQLite file (the default) rather than a database server."""
        return database_url(target).get_backend_name() == "sqlite"

    @property
    def busy_timeout(self) -> float:
        """Seconds a transaction waits for another's lock before a 503."""
        return self._busy.seconds

    @busy_timeout.setter
    def busy_timeout(self, seconds: float) -> None:
        self._busy.seconds = seconds

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with unavailable_when_failing(), self.engine.begin() as db:
            yield db

    def close(self) -> None:
        """Close every pooled connection (at shutdown); a later transaction opens a new one."""
        self.engine.dispose()

    # -- conversations and answers --------------------------------------------------------------------
    def history(self, conversation_id: str, owner: str) -> list[str]:
        """Earlier questions of a conversation, oldest first; NotFound for an unknown or foreign id."""
        with self._connect() as db:
            found = db.execute(
                sa.select(conversations.c.owner).where(conversations.c.id == conversation_id)
            ).scalar_one_or_none()
            if found is None or found != owner:
                raise NotFound(f"unknown conversation {conversation_id!r} (it may have expired); start a new one")
            rows = db.execute(
                sa.select(answers.c.question)
                .where(answers.c.conversation_id == conversation_id)
                .order_by(answers.c.created.desc())
                .limit(MAX_HISTORY)
            ).scalars()
            return list(reversed(list(rows)))

    def save_answer(
        self,
        *,
        conversation_id: str | None,
        owner: str,
        question: str,
        payload: dict[str, Any],
        vector: Vector | None = None,
        created: float | None = None,
    ) -> tuple[str, str]:
        """Store an answer (opening a conversation when none is given) with its question's vector and the
        documents it cites; returns (conversation id, answer id)."""
        now = time.time() if created is None else created
        answer_id = "a_" + secrets.token_urlsafe(12)
        cited = sorted({str(c["document"]) for c in payload.get("citations") or [] if c.get("document")})
        with self._connect() as db:
            if conversation_id is None:
                conversation_id = "c_" + secrets.token_urlsafe(12)
                db.execute(sa.insert(conversations).values(id=conversation_id, owner=owner, created=now, updated=now))
            else:
                db.execute(sa.update(conversations).where(conversations.c.id == conversation_id).values(updated=now))
            db.execute(
                sa.insert(answers).values(
                    id=answer_id,
                    conversation_id=conversation_id,
                    owner=owner,
                    question=question,
                    language=payload["language"],
                    refused=int(bool(payload["refused"])),
                    payload=json.dumps(payload, ensure_ascii=False),
                    created=now,
                    vector=None if vector is None else np.asarray(vector, dtype="<f4").tobytes(),
                )
            )
            if cited:
                db.execute(sa.insert(answer_documents), [{"answer_id": answer_id, "document": d} for d in cited])
        return conversation_id, answer_id

    def record(
        self, conversation_id: str | None, owner: str, question: str, answer: Answer, question_vector: Vector
    ) -> Recorded:
        """Keep an answer as the JSON the clients get, with the question's vector (the core's `Conversations` port);
        that JSON is returned too, so an answer is rendered once."""
        payload = answer_to_json(answer)
        conversation, answer_id = self.save_answer(
            conversation_id=conversation_id, owner=owner, question=question, payload=payload, vector=question_vector
        )
        return Recorded(conversation_id=conversation, answer_id=answer_id, kept=payload)

    def answer(self, answer_id: str, owner: str) -> dict[str, Any]:
        """A stored answer's JSON with its question, conversation and answer ids — for whoever asked it only
        (another caller gets the same 404 as for an unknown id, so ids reveal nothing)."""
        with self._connect() as db:
            row = db.execute(sa.select(answers).where(answers.c.id == answer_id)).mappings().one_or_none()
        if row is None or row["owner"] != owner:
            raise NotFound(f"unknown answer {answer_id!r} (it may have expired)")
        payload: dict[str, Any] = json.loads(row["payload"])
        payload.update(
            question=row["question"],
            conversation_id=row["conversation_id"],
            answer_id=row["id"],
            created=_iso(row["created"]),
        )
        return payload

    # -- feedback -------------------------------------------------------------------------------------
    def add_feedback(self, answer_id: str, rating: str, comment: str | None, owner: str) -> int:
        """Store a rating of an answer the caller was given; returns the feedback id."""
        with self._connect() as db:
            found = db.execute(sa.select(answers.c.owner).where(answers.c.id == answer_id)).scalar_one_or_none()
            if found is None or found != owner:
                raise NotFound(f"unknown answer {answer_id!r} (it may have expired)")
            added = db.execute(
                sa.insert(feedback)
                .values(answer_id=answer_id, rating=rating, comment=comment, created=time.time())
                .returning(feedback.c.id)
            ).scalar_one()
            return int(added)

    def feedback(self, rating: str | None = None) -> list[FeedbackRecord]:
        """All feedback (optionally one rating) with the rated answers and their conversation history."""
        query = (
            sa.select(
                feedback,
                answers.c.question,
                answers.c.language,
                answers.c.payload,
                answers.c.conversation_id,
                answers.c.created.label("asked"),
            )
            .join(answers, answers.c.id == feedback.c.answer_id)
            .order_by(feedback.c.id)
        )
        if rating:
            query = query.where(feedback.c.rating == rating)
        out = []
        with self._connect() as db:
            for row in db.execute(query).mappings().all():
                earlier = db.execute(
                    sa.select(answers.c.question)
                    .where(answers.c.conversation_id == row["conversation_id"], answers.c.created < row["asked"])
                    .order_by(answers.c.created)
                ).scalars()
                out.append(
                    FeedbackRecord(
                        id=row["id"],
                        answer_id=row["answer_id"],
                        rating=row["rating"],
                        comment=row["comment"],
                        created=row["created"],
                        question=row["question"],
                        language=row["language"],
                        payload=json.loads(row["payload"]),
                        history=list(earlier),
                    )
                )
        return out

    # -- rate limits and retention --------------------------------------------------------------------
    def hit(self, bucket: str, limit: int, window_seconds: int, weight: int = 1) -> None:
        """Count one request (or `weight` units of cost) in the bucket's current window (one atomic upsert, right
        across hosts); RateLimited when over the limit."""
        now = time.time()
        window = int(now // window_seconds) * window_seconds  # the window's start: comparable across window sizes
        with self._connect() as db:
            insert = (postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert)(rate_windows)
            hits = db.execute(
                insert.values(bucket=bucket, window=window, hits=weight)
                .on_conflict_do_update(
                    index_elements=[rate_windows.c.bucket, rate_windows.c.window],
                    set_={"hits": rate_windows.c.hits + weight},
                )
                .returning(rate_windows.c.hits)
            ).scalar_one()
            # This bucket's past windows, and any window past the longest (a day): not every bucket's windows
            # before this one's, which would empty an hourly bucket on each hit of a per-minute one.
            db.execute(
                sa.delete(rate_windows).where(
                    sa.or_(
                        sa.and_(rate_windows.c.bucket == bucket, rate_windows.c.window < window),
                        rate_windows.c.window < now - 2 * LONGEST_RATE_WINDOW,
                    )
                )
            )
        if hits > limit:
            retry = max(1, math.ceil(window + window_seconds - now))
            raise RateLimited(f"rate limit exceeded ({limit} per {window_seconds} s); retry in {retry} s", retry)

    def purge(self, retention_days: int) -> int:
        """Delete conversations, answers and their feedback older than the retention period; returns answers.
        On PostgreSQL one host at a time: another host already purging makes this a no-op."""
        cutoff = time.time() - retention_days * 86400
        old = sa.select(answers.c.id).where(answers.c.created < cutoff)
        with self._connect() as db:
            if (
                db.dialect.name == "postgresql"
                and not db.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK}).scalar_one()
            ):
                return 0
            db.execute(sa.delete(feedback).where(feedback.c.answer_id.in_(old)))
            db.execute(sa.delete(answer_documents).where(answer_documents.c.answer_id.in_(old)))
            removed = db.execute(sa.delete(answers).where(answers.c.created < cutoff)).rowcount
            db.execute(sa.delete(conversations).where(conversations.c.updated < cutoff))
        return int(removed)

    # -- staff insights -------------------------------------------------------------------------------
    def _in_window(self, query: sa.Select[Any], since: float, until: float, language: str | None) -> Sequence[Any]:
        """The rows of a query over answers `a` (and their latest ratings `f`) asked in [since, until), in one
        language or all."""
        query = query.where(_a.c.created >= since, _a.c.created < until)
        if language:
            query = query.where(_a.c.language == language)
        with self._connect() as db:
            return db.execute(query).mappings().all()

    def daily_counts(self, since: float, until: float, language: str | None) -> list[dict[str, Any]]:
        """Per UTC day and language: questions asked, refused, and answers whose latest rating is 👎 / 👍."""
        day = utc_day(_a.c.created).label("day")
        rows = self._in_window(
            sa.select(
                day,
                _a.c.language,
                sa.func.count().label("asked"),
                sa.func.sum(_a.c.refused).label("refused"),
                _counted(_f.c.rating == "down").label("rated_down"),
                _counted(_f.c.rating == "up").label("rated_up"),
            )
            .select_from(_RATED)
            .group_by(day, _a.c.language)
            .order_by(day, _a.c.language),
            since,
            until,
            language,
        )
        counted = ("asked", "refused", "rated_down", "rated_up")
        return [{"day": r["day"], "language": r["language"], **{k: int(r[k] or 0) for k in counted}} for r in rows]

    def cited_documents(self, since: float, until: float, language: str | None) -> dict[str, int]:
        """How many answers of the window cite each document (an answer citing it twice counts once)."""
        rows = self._in_window(
            sa.select(answer_documents.c.document, sa.func.count(sa.distinct(_a.c.id)).label("answers"))
            .select_from(_a.join(answer_documents, answer_documents.c.answer_id == _a.c.id))
            .where(_a.c.refused == 0)
            .group_by(answer_documents.c.document),
            since,
            until,
            language,
        )
        return {r["document"]: int(r["answers"]) for r in rows if r["document"]}

    def unanswered(
        self, since: float, until: float, language: str | None, limit: int
    ) -> tuple[list[AskedQuestion], int]:
        """The window's refused or 👎-rated questions, the most recent `limit` of them, and how many there are."""
        chosen = sa.or_(_a.c.refused == 1, _f.c.rating == "down")
        total = int(
            self._in_window(
                sa.select(sa.func.count().label("n")).select_from(_RATED).where(chosen), since, until, language
            )[0]["n"]
        )
        rows = self._in_window(
            sa.select(_a.c.question, _a.c.language, _a.c.created, _a.c.refused, _f.c.rating, _a.c.vector)
            .select_from(_RATED)
            .where(chosen)
            .order_by(_a.c.created.desc())
            .limit(limit),
            since,
            until,
            language,
        )
        return [
            AskedQuestion(
                question=r["question"],
                language=r["language"],
                created=r["created"],
                refused=bool(r["refused"]),
                rated_down=r["rating"] == "down",
                vector=None if r["vector"] is None else np.frombuffer(r["vector"], dtype="<f4"),
            )
            for r in rows
        ], total

    def counts(self) -> dict[str, int]:
        """Row counts (for /metrics and tests)."""
        with self._connect() as db:
            return {
                table.name: int(db.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in (conversations, answers, feedback)
            }


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
