"""The store's writer lease in PostgreSQL: one upload or ingestion at a time across every host.

A row (`writer_lease`) names the holder, a fencing token that every take-over increments, and an expiry on the
database's clock (no two hosts' clocks are compared). The holder renews it from a thread of its own; a holder
that crashed stops renewing and the lease frees when it expires; a holder that stalled past its expiry finds a
newer token when it re-checks before its next write batch, and stops before writing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from assistant.core.errors import StoreBusy, WriterLeaseLost
from assistant.records import unavailable_when_failing

log = logging.getLogger("bilim.lease")
STORE = "store"  # writes to the vector store
SYNC = "sync"  # the scheduled site sync (of several hosts, one syncs at a time)
_lease = sa.table(
    "writer_lease",
    sa.column("name", sa.Text),
    sa.column("holder", sa.Text),
    sa.column("token", sa.BigInteger),
    sa.column("expires", sa.DateTime(timezone=True)),
)
_NOW = sa.func.clock_timestamp()  # the database's clock, not this host's


def _lasting(seconds: float) -> sa.ColumnElement[object]:
    """An expiry `seconds` from now on the database's clock."""
    return _NOW + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def holder_name() -> str:
    """Who holds the lease, for the messages another host shows: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class WriterLease:
    """A held lease: its fencing token, renewed by a thread until released."""

    def __init__(self, engine: Engine, token: int, seconds: float, name: str = STORE) -> None:
        self._engine = engine
        self.name = name
        self.token = token
        self._seconds = seconds
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_released, name="writer-lease", daemon=True)

    def check(self) -> None:
        """Raise WriterLeaseLost unless this lease is still the current one and unexpired (before a write);
        RecordsUnavailable when the database cannot say."""
        with unavailable_when_failing(), self._engine.connect() as db:
            current = db.execute(
                sa.select(_lease.c.token).where(
                    _lease.c.name == self.name, _lease.c.token == self.token, _lease.c.expires > _NOW
                )
            ).scalar_one_or_none()
        if current is None:
            raise WriterLeaseLost(
                "this write's lease on the store expired and another writer may hold it now; nothing more was "
                "written — retry the upload"
            )

    def renew(self) -> bool:
        """Move the expiry on; False when another writer took the lease over meanwhile."""
        with self._engine.begin() as db:
            renewed = db.execute(
                sa.update(_lease)
                .where(_lease.c.name == self.name, _lease.c.token == self.token, _lease.c.expires > _NOW)
                .values(expires=_lasting(self._seconds))
            ).rowcount
        return bool(renewed)

    def _renew_until_released(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                if not self.renew():
                    log.warning("the store's writer lease (token %d) was lost before it was released", self.token)
                    return
            except sa.exc.SQLAlchemyError as exc:  # the next renewal (or the fencing check) decides
                log.warning("could not renew the store's writer lease: %s", exc)

    def start(self) -> None:
        """Start renewing."""
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and free the lease at once (only if it is still this one); when the database is down
        it frees itself at expiry."""
        self._stop.set()
        if self._renewer.is_alive():
            self._renewer.join()
        try:
            with self._engine.begin() as db:
                db.execute(
                    sa.update(_lease)
                    .where(_lease.c.name == self.name, _lease.c.token == self.token)
                    .values(holder=None, expires=_NOW)
                )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not release the store's writer lease (it frees itself at expiry): %s", exc)


def try_acquire(engine: Engine, seconds: float, holder: str, name: str = STORE) -> int | None:
    """Take the lease when it is free or expired (one atomic update); its new token, or None when held."""
    with unavailable_when_failing(), engine.begin() as db:
        token = db.execute(
            sa.update(_lease)
            .where(_lease.c.name == name, sa.or_(_lease.c.holder.is_(None), _lease.c.expires <= _NOW))
            .values(holder=holder, token=_lease.c.token + 1, expires=_lasting(seconds))
            .returning(_lease.c.token)
        ).scalar_one_or_none()
    return None if token is None else int(token)


def current_holder(engine: Engine, name: str = STORE) -> tuple[str | None, float]:
    """Who holds the lease and in how many seconds it expires (for the busy message)."""
    with unavailable_when_failing(), engine.connect() as db:
        row = db.execute(
            sa.select(_lease.c.holder, sa.func.extract("epoch", _lease.c.expires - _NOW)).where(_lease.c.name == name)
        ).one_or_none()
    return (None, 0.0) if row is None else (row[0], max(0.0, float(row[1] or 0.0)))


@contextmanager
def writer_lease(engine: Engine, seconds: float, wait: float = 0.0, name: str = STORE) -> Iterator[WriterLease]:
    """Hold the store's writer lease for a write (waiting up to `wait` seconds); StoreBusy when another holds it.
    The engine's database must be migrated (the lease row exists)."""
    deadline = time.monotonic() + wait
    while (token := try_acquire(engine, seconds, holder_name(), name)) is None:
        if time.monotonic() >= deadline:
            holder, left = current_holder(engine, name)
            raise StoreBusy(
                f"another writer ({holder or 'unknown'}) holds the store's writer lease for up to {left:.0f} s "
                "more; retry when its upload or ingestion has finished"
            )
        time.sleep(0.2)
    lease = WriterLease(engine, token, seconds, name)
    lease.start()
    try:
        yield lease
    finally:
        lease.release()
