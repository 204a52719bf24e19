"""The lock files (`make lock`): they cover pyproject's dependency lists and hold no CUDA build.

Pure file parsing: no network, no model. requirements/lock.txt is what `make setup` installs (the project with
every extra, torch as the local CPU wheel); requirements/lock-runtime.txt is its subset for the Docker image.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
RUNTIME_LOCK = ROOT / "requirements" / "lock-runtime.txt"
PYPROJECT = ROOT / "pyproject.toml"
# The CPU build on the machines' disk; PyPI's torch of the same version is the CUDA build, with nvidia-* and triton.
TORCH = "2.13.0+cpu"

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==(?P<version>\S+)$")


def read_pins(text: str) -> dict[str, str]:
    """A lock file's `name==version` lines by canonical name; anything else but comments is an error."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"line {number} is not a name==version pin: {raw!r}")
        name = canonicalize_name(match["name"])
        if name in pins:
            raise ValueError(f"line {number} pins {name} a second time")
        pins[name] = match["version"]
    return pins


def is_cuda_package(name: str) -> bool:
    """Packages that only a CUDA build of torch brings (multi-GB downloads, useless on these CPU machines)."""
    return name.startswith(("nvidia-", "cuda-")) or "triton" in name.split("-")


def project_requirements(project: Mapping[str, Any], extras: Iterable[str]) -> Iterator[Requirement]:
    """The project's dependencies and those of the given extras, following self-references like `me[st,eval]`."""
    own = canonicalize_name(project["name"])
    optional: Mapping[str, list[str]] = project.get("optional-dependencies", {})
    yield from map(Requirement, project.get("dependencies", []))
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == own:
                todo.extend(requirement.extras)
            else:
                yield requirement


def lock_problems(pins: Mapping[str, str], requirements: Iterable[Requirement], *, torch: str | None) -> list[str]:
    """What is wrong with a lock: CUDA packages, a torch other than `torch` (None: no torch at all), and
    requirements of pyproject that it lacks or pins to a version outside their range (a stale lock)."""
    problems = [f"{name}=={version} is part of a CUDA build" for name, version in pins.items() if is_cuda_package(name)]
    if pins.get("torch") != torch:
        wanted = f"torch=={torch}" if torch else "no torch"
        problems.append(f"torch is {pins.get('torch', 'absent')}, wanted {wanted}")
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} (pyproject.toml) is not in the lock: run make lock")
        elif not requirement.specifier.contains(Version(pins[name]), prereleases=True):
            problems.append(f"{name}=={pins[name]} does not satisfy {requirement} (pyproject.toml): run make lock")
    return problems


def _project() -> dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def _full_problems(lock_text: str, project: dict[str, Any] | None = None) -> list[str]:
    project = project or _project()
    extras = project.get("optional-dependencies", {})
    return lock_problems(read_pins(lock_text), project_requirements(project, extras), torch=TORCH)


def _runtime_problems(runtime_text: str, lock_text: str) -> list[str]:
    pins, full = read_pins(runtime_text), read_pins(lock_text)
    problems = lock_problems(pins, project_requirements(_project(), []), torch=None)
    differing = {name: version for name, version in pins.items() if full.get(name) != version}
    problems += [f"{name}=={version} differs from lock.txt ({full.get(name)})" for name, version in differing.items()]
    return problems


def test_lock_covers_pyproject_and_holds_no_cuda_build() -> None:
    problems = _full_problems(LOCK.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_runtime_lock_is_the_subset_for_the_base_dependencies() -> None:
    problems = _runtime_problems(RUNTIME_LOCK.read_text(encoding="utf-8"), LOCK.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


# The check must fail on a bad lock: each of these edits of the real lock, written to a file and read back.
def _edited(text: str, drop: str = "", add: str = "") -> str:
    """The lock without the pin of `drop`, with the line `add` at the end."""
    lines = [line for line in text.splitlines() if not (drop and line.startswith(f"{drop}=="))]
    return "\n".join([*lines, add, ""])


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"add": "nvidia-cublas==13.1.0.3"}, "nvidia-cublas==13.1.0.3 is part of a CUDA build"),
        ({"add": "triton==3.6.0"}, "triton==3.6.0 is part of a CUDA build"),
        ({"drop": "torch", "add": "torch==2.13.0"}, "torch is 2.13.0, wanted torch==2.13.0+cpu"),
        ({"drop": "fastapi"}, "fastapi>=0.115 (pyproject.toml) is not in the lock"),
        ({"drop": "schemathesis"}, "schemathesis>=4.3 (pyproject.toml) is not in the lock"),
        ({"drop": "sentence-transformers"}, "sentence-transformers>=3 (pyproject.toml) is not in the lock"),
        ({"drop": "chromadb", "add": "chromadb==0.4.24"}, "chromadb==0.4.24 does not satisfy chromadb<2,>=1.5"),
    ],
)
def test_a_bad_lock_fails(tmp_path: Path, edit: dict[str, Any], expected: str) -> None:
    bad = tmp_path / "lock.txt"
    bad.write_text(_edited(LOCK.read_text(encoding="utf-8"), **edit), encoding="utf-8")
    problems = _full_problems(bad.read_text(encoding="utf-8"))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_bad_runtime_lock_fails(tmp_path: Path) -> None:
    lock_text = LOCK.read_text(encoding="utf-8")
    bad = tmp_path / "lock-runtime.txt"
    bad.write_text(_edited(RUNTIME_LOCK.read_text(encoding="utf-8"), drop="uvicorn", add=f"torch=={TORCH}"), "utf-8")
    assert _runtime_problems(bad.read_text(encoding="utf-8"), lock_text) == [
        f"torch is {TORCH}, wanted no torch",
        "uvicorn>=0.30 (pyproject.toml) is not in the lock: run make lock",
    ]


def test_a_lock_older_than_pyproject_fails() -> None:
    project = _project()
    # Jinja2 is locked already (torch needs it): a new requirement that the lock satisfies needs no relock.
    project["dependencies"] = [*project["dependencies"], "Jinja2>=3.1", "pendulum>=3"]
    project["optional-dependencies"] = {**project["optional-dependencies"], "eval": ["matplotlib>=99"]}
    problems = _full_problems(LOCK.read_text(encoding="utf-8"), project)
    assert [problem.split(" (")[0].split(" does")[0] for problem in problems] == [
        "pendulum>=3",
        f"matplotlib=={read_pins(LOCK.read_text(encoding='utf-8'))['matplotlib']}",
    ]


@pytest.mark.parametrize(
    "line", ["torch>=2.13", "-e .", "--find-links /opt/wheels", "numpy==2.4.1 ; python_version<'3'"]
)
def test_a_line_that_is_not_a_pin_is_an_error(line: str) -> None:
    with pytest.raises(ValueError, match="not a name==version pin"):
        read_pins(f"numpy==2.4.1\n{line}\n")
