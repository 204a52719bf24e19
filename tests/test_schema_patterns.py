"""Every `pattern` of the served OpenAPI schema reads alike in the JSON Schema validators of other languages
(ECMA regular expressions with the `u` flag, run by Node.js) and in Python's `re`: the same strings match."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import IngestReport
from tests.servers import api_server

pytestmark = pytest.mark.slow

NODE_HINT = (
    "node (Node.js 18 or later) is needed to check the schema's patterns under ECMA rules: apt-get install nodejs"
)
# As a JSON Schema validator runs a pattern: unanchored, Unicode-aware (the `u` flag); "error" if it does not compile.
ECMA_MATCHES = """
const {patterns, samples} = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = patterns.map((p) => {
  let re;
  try { re = new RegExp(p, 'u'); } catch (e) { return 'error: ' + e.message; }
  return samples.map((s) => re.test(s));
});
process.stdout.write(JSON.stringify(out));
"""
SAMPLES = [
    "Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?",
    "Ңөү",
    "ЖОЖ",
    "Сколько бюджетных мест выделено?",
    "ёЁ",
    "How many budget places are there?",
    "2026",
    "5?",
    "2026-11-30",
    "1970-01-01",
    "Ωμέγα",
    "中文",
    "٣",
    "𝟙",  # a digit outside the Basic Multilingual Plane
    "𐐀",  # a letter outside it
    "",
    " ",
    "!!! ???",
    "___",
    "😀🎓",
    "\u200b\u200d",
    "…—«»",
    "2026-11-30\n",
    "2026-11-30 ",
    "20261130",
    "2026-1-30",
    "x2026-11-30",
]


def patterns_in(node: Any) -> Iterator[str]:
    """Every `pattern` value anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from patterns_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from patterns_in(item)


@pytest.fixture(scope="module")
def schema(corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("schema-patterns") / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with api_server(data, data.parent / "api.log", BILIM_API_KEYS="ask-k") as url:
        served: dict[str, Any] = httpx.get(f"{url}/openapi.json", timeout=60).json()
    return served


def test_every_pattern_matches_the_same_strings_in_ecma_and_python(schema: dict[str, Any]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(NODE_HINT)
    patterns = sorted(set(patterns_in(schema)))
    assert patterns, "the schema publishes no pattern: this test would check nothing"
    run = subprocess.run(
        [node, "-e", ECMA_MATCHES],
        input=json.dumps({"patterns": patterns, "samples": SAMPLES}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ecma = json.loads(run.stdout)
    for pattern, in_ecma in zip(patterns, ecma, strict=True):
        in_python = [re.search(pattern, sample) is not None for sample in SAMPLES]
        differ = [s for s, e, p in zip(SAMPLES, in_ecma, in_python, strict=True) if e != p]
        assert in_ecma == in_python, f"{pattern[:80]!r}: ECMA and Python disagree on {differ} (ECMA: {in_ecma})"


def test_the_question_pattern_takes_every_language_the_service_answers(schema: dict[str, Any]) -> None:
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]["pattern"]
    takes = {s: re.search(question, s) is not None for s in SAMPLES[:15]}
    assert all(takes.values()), takes  # each holds a letter or a digit
    assert not any(re.search(question, s) for s in ["", " ", "!!! ???", "___", "😀🎓", "\u200b\u200d", "…—«»"])
