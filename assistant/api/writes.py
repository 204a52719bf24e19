"""Keeps writes to the store single-file: one writer at a time across threads, workers, CLI runs and hosts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from assistant.settings import Settings
from assistant.wiring import Fence, no_fence, store_lock


class WriteGuard:
    """Embedded Chroma: the server holds the data dir's writer lock for its whole life, so `python -m ingest`
    stops with a clear message instead of corrupting the store. Chroma server mode: each write takes the
    lock briefly (waiting for other workers) — the writer lease in PostgreSQL when the records are there, so
    hosts write in turn too."""

    def __init__(self, settings: Settings, embedded: bool, wait_seconds: float = 60.0) -> None:
        self._settings = settings
        self._embedded = embedded
        self._wait = wait_seconds
        self._threads = threading.Lock()
        self._held = ExitStack()
        self._fence: Fence = no_fence

    def start(self) -> None:
        """Take the lifetime lock in embedded mode (raises StoreBusy when another writer has it)."""
        if self._embedded:
            self._held.enter_context(store_lock(self._settings))

    def stop(self) -> None:
        """Release the lifetime lock."""
        self._held.close()

    def fence(self) -> None:
        """Before each write batch: raises when the write's lease was taken over (a no-op under a lock file)."""
        self._fence()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Exclusive access for one write."""
        with self._threads:
            if self._embedded:
                yield
                return
            with store_lock(self._settings, wait=self._wait) as fence:
                self._fence = fence
                try:
                    yield
                finally:
                    self._fence = no_fence
