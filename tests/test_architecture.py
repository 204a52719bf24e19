"""The layering contracts (import-linter, in pyproject.toml) hold, and a forbidden import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("assistant", "ingest", "vectorstore", "eval", "bots")
# Each test runs lint-imports in a process.
pytestmark = pytest.mark.slow

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and its pyproject.toml, to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_the_project(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("assistant/core/models.py", "import vectorstore.lexical", "assistant.core imports nothing"),
        ("assistant/core/pipeline.py", "import fastapi", "assistant.core imports nothing"),
        ("vectorstore/lexical.py", "import assistant.wiring", "vectorstore and ingest import neither"),
        ("ingest/chunking.py", "import assistant.settings", "vectorstore and ingest import neither"),
        ("assistant/api/ask.py", "import vectorstore.chroma_store", "the API reaches the store"),
        ("bots/api_client.py", "import assistant.core.models", "bots speak HTTP only"),
        ("eval/bench.py", "import vectorstore.embedders", "the entry points"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree: Path, module: str, line: str, contract: str) -> None:
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
    broken = [row for row in result.stdout.splitlines() if "BROKEN" in row or contract in row]
    assert any(contract in row for row in broken), result.stdout
