"""The single-writer lock of a store's data dir: one writer at a time across threads, workers and CLI runs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.core.errors import StoreBusy


def ingest_lock_path(data_dir: Path) -> Path:
    """The lock file that keeps two writers off one embedded store."""
    return Path(data_dir) / ".write.lock"


@contextmanager
def writer_lock(data_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on the data dir for a write; fail (after `wait` seconds) if another writer has it."""
    import fcntl

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(ingest_lock_path(data_dir), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"another process is writing to {data_dir} (lock {ingest_lock_path(data_dir)}); "
                        "wait for it to finish, or stop the server before ingesting into its embedded store"
                    ) from exc
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def try_file_lock(path: Path) -> Callable[[], None] | None:
    """Take an exclusive lock on `path` now, or None when another process holds it; returns its release."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return release
