"""Keeps writes to the store single-file: one writer at a time across threads, workers and CLI runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ingest.pipeline import writer_lock


class WriteGuard:
    """Embedded Chroma: the server holds the data dir's writer lock for its whole life, so `python -m ingest`
    stops with a clear message instead of corrupting the store. Chroma server mode: each write takes the
    lock briefly (waiting for other workers), so several workers can write in turn."""

    def __init__(self, data_dir: Path, embedded: bool, wait_seconds: float = 60.0) -> None:
        self._data_dir = data_dir
        self._embedded = embedded
        self._wait = wait_seconds
        self._threads = threading.Lock()
        self._held = ExitStack()

    def start(self) -> None:
        """Take the lifetime lock in embedded mode (raises StoreBusy when another writer has it)."""
        if self._embedded:
            self._held.enter_context(writer_lock(self._data_dir))

    def stop(self) -> None:
        """Release the lifetime lock."""
        self._held.close()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Exclusive access for one write."""
        with self._threads:
            if self._embedded:
                yield
                return
            with writer_lock(self._data_dir, wait=self._wait):
                yield
