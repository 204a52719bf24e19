"""A hostile DOCX sent to the real API server is refused while it is streamed: the serve process's memory, read
from /proc, is back near where it was once the 413 is in."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import IngestReport
from tests.servers import ADMIN, ADMIN_KEY, api_process
from tests.test_loaders import WORD_NS, docx_with_body, write_docx

pytestmark = pytest.mark.slow

MB = 1024 * 1024
HEADROOM = 50 * MB  # what the refused upload may leave behind in the server


def rss(pid: int) -> int:
    """The resident memory of a process, in bytes (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture(scope="module")
def server(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    data = tmp_path_factory.mktemp("upload-memory") / "store"
    shutil.copytree(corpus_store_dir[0], data)
    with api_process(data, data.parent / "api.log", BILIM_ADMIN_KEYS=ADMIN_KEY, BILIM_API_KEYS="ask-k") as running:
        url, process = running
        yield url, process.pid


def upload(url: str, name: str, path: Path) -> httpx.Response:
    with path.open("rb") as fh:
        return httpx.post(f"{url}/v1/documents", headers=ADMIN, files=[("files", (name, fh))], timeout=900)


def test_seven_million_paragraphs_under_another_prefix_are_refused_without_holding_memory(
    server: tuple[str, int], tmp_path: Path
) -> None:
    url, pid = server
    # A real DOCX first: python-docx, lxml and the upload path are loaded before the baseline is read.
    assert upload(url, "warm-up.docx", write_docx(tmp_path / "warm-up.docx")).status_code == 200
    flood = docx_with_body(tmp_path / "flood.docx", b"<x:p/>" * 7_000_000, declare=b'xmlns:x="' + WORD_NS + b'"')
    assert flood.stat().st_size < 150_000  # 95 kB that unzip to 42 MB of paragraphs
    before = rss(pid)
    response = upload(url, "flood.docx", flood)
    after = rss(pid)
    assert response.status_code == 413 and "paragraphs and table cells" in response.json()["detail"], response.text
    assert after - before < HEADROOM, f"the server holds {(after - before) / MB:.0f} MB more after the refusal"
    documents = httpx.get(f"{url}/v1/documents", headers=ADMIN, timeout=60).json()["documents"]
    assert "warm-up.docx" in {d["id"] for d in documents} and "flood.docx" not in {d["id"] for d in documents}
