"""Terminal progress bars for long CLI work (shown on stderr, only when it is a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], object]]:
    """A tqdm bar over `total` units; yields the function that advances it."""
    unit = "page" if label == "pages" else "chunk"
    with tqdm(total=total, desc=label, unit=unit, disable=None if total else True, leave=False) as bar:
        yield bar.update
