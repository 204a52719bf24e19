"""Durable service records in SQLite: conversations, answers (with each question's vector), feedback and rate-limit
counters, and the staff insights' reads over them.

Every uvicorn worker opens the same file, so nothing a request needs lives in one worker's memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer_json import answer_to_json
from assistant.core.errors import NotFound, RateLimited, RecordsUnavailable
from assistant.core.models import Answer
from assistant.core.ports import Vector

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, owner TEXT NOT NULL, question TEXT NOT NULL,
    language TEXT NOT NULL, refused INTEGER NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_conversation ON answers (conversation_id, created);
CREATE INDEX IF NOT EXISTS answers_by_age ON answers (created);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL, rating TEXT NOT NULL,
    comment TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_windows (
    bucket TEXT NOT NULL, window INTEGER NOT NULL, hits INTEGER NOT NULL, PRIMARY KEY (bucket, window)
);
CREATE INDEX IF NOT EXISTS feedback_by_answer ON feedback (answer_id, id);
"""
# Columns added after the first release, added to an older file when it is opened: (table, column, declaration).
ADDED_COLUMNS = (("answers", "vector", "BLOB"),)
MAX_HISTORY = 5
RECORDS_FILE = "records.sqlite3"  # in the data dir


def owner_id(*parts: str | None) -> str:
    """An opaque id for who asked (key fingerprint + end user or address); raw ids are never stored."""
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:24]


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the base type cannot)."""


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


# The latest rating of each answer (a user may change their mind), joined to the answers of a window.
_RATED = (
    "FROM answers a LEFT JOIN (SELECT answer_id, MAX(id) AS last FROM feedback GROUP BY answer_id) l "
    "ON l.answer_id = a.id LEFT JOIN feedback f ON f.id = l.last"
)


def _window(since: float, until: float, language: str | None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause and its arguments for answers asked in [since, until), in one language or all."""
    clause = "WHERE a.created >= ? AND a.created < ?"
    args: tuple[Any, ...] = (since, until)
    if language:
        clause += " AND a.language = ?"
        args += (language,)
    return clause, args


class RecordStore:
    """SQLite-backed records shared by all workers (WAL mode, short transactions)."""

    def __init__(self, path: Path, busy_timeout: float = 15.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout  # seconds a write waits for another worker's before a 503
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Weak: a connection lives as long as its thread (anyio retires idle worker threads), not as long as this.
        self._open: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._open_lock = threading.Lock()
        db = sqlite3.connect(self.path, timeout=15)
        try:
            db.execute("PRAGMA busy_timeout=15000")
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the (short) writes of other workers
            db.executescript(SCHEMA)
            for table, column, declaration in ADDED_COLUMNS:
                present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            db.commit()
        finally:
            db.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._transaction() as db:
                yield db
        except sqlite3.OperationalError as exc:
            # Locked past the busy timeout, disk full, I/O error: the request can succeed later (503).
            raise RecordsUnavailable(f"the service's records are unavailable ({exc}); retry shortly") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._thread_connection()
        try:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            self._forget(db)
            raise
        try:
            yield db
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                self._forget(db)
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error:
            self._forget(db)
            raise

    def _thread_connection(self) -> sqlite3.Connection:
        """This thread's connection, opened once: opening, closing (the last close checkpoints the WAL) and a
        full sync on every commit took ~9 ms of each answer."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
            db.row_factory = sqlite3.Row
            # In WAL mode NORMAL never corrupts the file; a power cut (not a crash) may lose the last commits.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._open_lock:
                self._open.add(db)
        return db

    def _forget(self, db: sqlite3.Connection) -> None:
        """Drop a connection that failed, so the thread's next transaction starts on a fresh one."""
        self._local.db = None
        with self._open_lock:
            self._open.discard(db)
        with suppress(sqlite3.Error):
            db.rollback()
            db.close()

    def close(self) -> None:
        """Close every thread's connection (at shutdown); a later transaction opens a new one."""
        with self._open_lock:
            connections, self._open = list(self._open), weakref.WeakSet()
        for db in connections:
            with suppress(sqlite3.Error):
                db.close()
        self._local = threading.local()

    # -- conversations and answers --------------------------------------------------------------------
    def history(self, conversation_id: str, owner: str) -> list[str]:
        """Earlier questions of a conversation, oldest first; NotFound for an unknown or foreign id."""
        with self._connect() as db:
            row = db.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None or row["owner"] != owner:
                raise NotFound(f"unknown conversation {conversation_id!r} (it may have expired); start a new one")
            rows = db.execute(
                "SELECT question FROM answers WHERE conversation_id = ? ORDER BY created DESC LIMIT ?",
                (conversation_id, MAX_HISTORY),
            ).fetchall()
        return [r["question"] for r in reversed(rows)]

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
        """Store an answer (opening a conversation when none is given) with its question's vector; returns
        (conversation id, answer id)."""
        now = time.time() if created is None else created
        answer_id = "a_" + secrets.token_urlsafe(12)
        with self._connect() as db:
            if conversation_id is None:
                conversation_id = "c_" + secrets.token_urlsafe(12)
                db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)", (conversation_id, owner, now, now))
            else:
                db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            db.execute(
                "INSERT INTO answers (id, conversation_id, owner, question, language, refused, payload, created,"
                " vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    conversation_id,
                    owner,
                    question,
                    payload["language"],
                    int(bool(payload["refused"])),
                    json.dumps(payload, ensure_ascii=False),
                    now,
                    None if vector is None else np.asarray(vector, dtype="<f4").tobytes(),
                ),
            )
        return conversation_id, answer_id

    def record(
        self, conversation_id: str | None, owner: str, question: str, answer: Answer, question_vector: Vector
    ) -> tuple[str, str]:
        """Keep an answer as the JSON the clients get, with the question's vector (the core's `Conversations` port)."""
        return self.save_answer(
            conversation_id=conversation_id,
            owner=owner,
            question=question,
            payload=answer_to_json(answer),
            vector=question_vector,
        )

    def answer(self, answer_id: str, owner: str) -> dict[str, Any]:
        """A stored answer's JSON with its question, conversation and answer ids — for whoever asked it only
        (another caller gets the same 404 as for an unknown id, so ids reveal nothing)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
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
            row = db.execute("SELECT owner FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None or row["owner"] != owner:
                raise NotFound(f"unknown answer {answer_id!r} (it may have expired)")
            cursor = db.execute(
                "INSERT INTO feedback (answer_id, rating, comment, created) VALUES (?, ?, ?, ?)",
                (answer_id, rating, comment, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def feedback(self, rating: str | None = None) -> list[FeedbackRecord]:
        """All feedback (optionally one rating) with the rated answers and their conversation history."""
        query = (
            "SELECT f.*, a.question, a.language, a.payload, a.conversation_id, a.created AS asked "
            "FROM feedback f JOIN answers a ON a.id = f.answer_id"
        )
        args: tuple[Any, ...] = ()
        if rating:
            query += " WHERE f.rating = ?"
            args = (rating,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY f.id", args).fetchall()
            out = []
            for row in rows:
                earlier = db.execute(
                    "SELECT question FROM answers WHERE conversation_id = ? AND created < ? ORDER BY created",
                    (row["conversation_id"], row["asked"]),
                ).fetchall()
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
                        history=[r["question"] for r in earlier],
                    )
                )
        return out

    # -- rate limits and retention --------------------------------------------------------------------
    def hit(self, bucket: str, limit: int, window_seconds: int) -> None:
        """Count one request in the bucket's current window; RateLimited when over the limit."""
        now = time.time()
        window = int(now // window_seconds)
        with self._connect() as db:
            db.execute(
                "INSERT INTO rate_windows VALUES (?, ?, 1) ON CONFLICT (bucket, window) DO UPDATE SET hits = hits + 1",
                (bucket, window),
            )
            hits = db.execute(
                "SELECT hits FROM rate_windows WHERE bucket = ? AND window = ?", (bucket, window)
            ).fetchone()["hits"]
            db.execute("DELETE FROM rate_windows WHERE window < ?", (window - 1,))
        if hits > limit:
            retry = max(1, math.ceil((window + 1) * window_seconds - now))
            raise RateLimited(f"rate limit exceeded ({limit} per {window_seconds} s); retry in {retry} s", retry)

    def purge(self, retention_days: int) -> int:
        """Delete conversations, answers and their feedback older than the retention period; returns answers."""
        cutoff = time.time() - retention_days * 86400
        with self._connect() as db:
            db.execute("DELETE FROM feedback WHERE answer_id IN (SELECT id FROM answers WHERE created < ?)", (cutoff,))
            removed = db.execute("DELETE FROM answers WHERE created < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,))
        return int(removed)

    # -- staff insights -------------------------------------------------------------------------------
    def _in_window(self, query: str, since: float, until: float, language: str | None, *more: Any) -> list[sqlite3.Row]:
        """The rows of a query over answers `a` whose {where} is the window's clause ({rated}: their latest ratings
        `f`), with `more` arguments after the window's."""
        where, args = _window(since, until, language)
        with self._connect() as db:
            return list(db.execute(query.format(rated=_RATED, where=where), (*args, *more)).fetchall())

    def daily_counts(self, since: float, until: float, language: str | None) -> list[dict[str, Any]]:
        """Per UTC day and language: questions asked, refused, and answers whose latest rating is 👎 / 👍."""
        rows = self._in_window(
            "SELECT date(a.created, 'unixepoch') AS day, a.language, COUNT(*) AS asked, SUM(a.refused) AS refused,"
            " SUM(f.rating = 'down') AS rated_down, SUM(f.rating = 'up') AS rated_up {rated} {where}"
            " GROUP BY day, a.language ORDER BY day, a.language",
            since,
            until,
            language,
        )
        counted = ("asked", "refused", "rated_down", "rated_up")
        return [{"day": r["day"], "language": r["language"], **{k: int(r[k] or 0) for k in counted}} for r in rows]

    def cited_documents(self, since: float, until: float, language: str | None) -> dict[str, int]:
        """How many answers of the window cite each document (an answer citing it twice counts once)."""
        rows = self._in_window(
            "SELECT json_extract(c.value, '$.document') AS document, COUNT(DISTINCT a.id) AS answers"
            " FROM answers a, json_each(a.payload, '$.citations') c {where} AND a.refused = 0 GROUP BY document",
            since,
            until,
            language,
        )
        return {r["document"]: int(r["answers"]) for r in rows if r["document"]}

    def unanswered(
        self, since: float, until: float, language: str | None, limit: int
    ) -> tuple[list[AskedQuestion], int]:
        """The window's refused or 👎-rated questions, the most recent `limit` of them, and how many there are."""
        chosen = "{rated} {where} AND (a.refused = 1 OR f.rating = 'down')"
        total = int(self._in_window("SELECT COUNT(*) " + chosen, since, until, language)[0][0])
        rows = self._in_window(
            "SELECT a.question, a.language, a.created, a.refused, f.rating, a.vector " + chosen
            + " ORDER BY a.created DESC LIMIT ?",
            since,
            until,
            language,
            limit,
        )  # fmt: skip
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
                table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("conversations", "answers", "feedback")
            }


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
