"""`python -m eval bench --sync`: `python -m ingest sync` of a site beside `python -m ingest` of the same pages from
disk.

The first N allowed distractor articles (no reserved topic) become HTML pages as a CMS renders them — navigation,
the article, related news and a footer — served on loopback with a sitemap and ETags, and written to a folder as
.html files. Fresh processes then ingest the folder, sync the site into another fresh store, and sync it again with
nothing changed (conditional GETs, nothing embedded). The politeness delay is 0 here (BILIM_SYNC_DELAY, 1 s by
default, would make the sync last at least a second a page on a real site).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eval.bench_http import ROOT, BenchError, module_env
from eval.bench_ingest import allowed_articles

NAV = ("Башкы бет", "Жаңылыктар", "Документтер", "Байланыш")
FOOTER = "© Билим берүү жана илим министрлиги. Бардык укуктар корголгон."


def page_html(path: str, title: str, text: str, related: Sequence[tuple[str, str]]) -> str:
    """An article as a news page with navigation, related news and a footer around it."""
    nav = "".join(f'<li><a href="/">{item}</a></li>' for item in NAV)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    links = "".join(f'<li><a href="{p}">{html.escape(t)}</a></li>' for p, t in related)
    return (
        f'<!DOCTYPE html><html lang="ky"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<link rel="canonical" href="{path}"></head><body><header><nav><ul>{nav}</ul></nav></header>'
        f"<main><article><h1>{html.escape(title)}</h1>{body}</article>"
        f"<aside><h3>Окшош жаңылыктар</h3><ul>{links}</ul></aside></main><footer><p>{FOOTER}</p></footer></body></html>"
    )


def build_pages(articles: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Path → HTML of each article's page."""
    titles = {f"/news/{i}/": str(a["text"]).strip().split(".")[0][:90] for i, a in enumerate(articles)}
    paths = list(titles)
    return {
        path: page_html(path, titles[path], str(a["text"]).strip(), [(p, titles[p]) for p in paths[i + 1 : i + 4]])
        for i, (path, a) in enumerate(zip(paths, articles, strict=True))
    }


@contextmanager
def serve_pages(pages: dict[str, str]) -> Iterator[tuple[str, list[int]]]:
    """The pages on a loopback port with a sitemap, answering If-None-Match with 304; (base URL, statuses)."""
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://{self.headers.get('Host')}"
            if self.path == "/robots.txt":
                return self._send(200, "text/plain", b"User-agent: *\nAllow: /\n", None)
            if self.path == "/sitemap.xml":
                urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in pages)
                xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                return self._send(200, "application/xml", xml.encode(), None)
            if self.path not in pages:
                return self._send(404, "text/plain", b"not found", None)
            body = pages[self.path].encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            status = 304 if self.headers.get("If-None-Match") == etag else 200
            statuses.append(status)
            return self._send(status, "text/html; charset=utf-8", b"" if status == 304 else body, etag)

        def _send(self, status: int, kind: str, body: bytes, etag: str | None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    finally:
        server.shutdown()
        server.server_close()


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Run a command, its wall time and its last line's JSON."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0 or not result.stdout.strip():
        raise BenchError(f"{' '.join(command[1:4])} exited with {result.returncode}: {result.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return wall, summary


def run_sync(distractors: Path, articles: int) -> dict[str, Any]:
    """Time ingest of the pages from disk, a first sync of the site and a second one with nothing changed."""
    records = allowed_articles(distractors)[:articles]
    if not records:
        raise BenchError(f"no allowed articles in {distractors}")
    pages = build_pages(records)
    env = {**module_env(), "BILIM_SYNC_DELAY": "0", "ANONYMIZED_TELEMETRY": "False"}
    with tempfile.TemporaryDirectory(prefix="bilim-bench-sync-") as tmp, serve_pages(pages) as (base, statuses):
        folder = Path(tmp) / "pages"
        folder.mkdir()
        for path, page in pages.items():
            (folder / (path.strip("/").replace("/", "-") + ".html")).write_text(page, encoding="utf-8")
        ingest_s, ingested = _timed(
            [sys.executable, "-m", "ingest", str(folder), "--data-dir", str(Path(tmp) / "disk"), "--json"], env
        )
        sync = [sys.executable, "-m", "ingest", "sync", "--sitemap", f"{base}/sitemap.xml", "--json"]
        sync_env = {**env, "BILIM_DATA_DIR": str(Path(tmp) / "synced")}
        first_s, first = _timed([*sync, "--data-dir", str(Path(tmp) / "synced")], sync_env)
        statuses.clear()
        again_s, again = _timed([*sync, "--data-dir", str(Path(tmp) / "synced")], sync_env)
    n = len(pages)
    return {
        "pages": n,
        "ingest_from_disk": {
            "seconds": round(ingest_s, 2),
            "pages_per_s": round(n / ingest_s, 2),
            "chunks": ingested["chunks_total"],
        },
        "first_sync": {
            "seconds": round(first_s, 2),
            "pages_per_s": round(n / first_s, 2),
            "chunks": first["chunks_total"],
            "added": first["added"],
            "failed": len(first["failed"]),
        },
        "second_sync": {
            "seconds": round(again_s, 2),
            "pages_per_s": round(n / again_s, 2),
            "chunks_embedded": again["chunks_embedded"],
            "not_modified": statuses.count(304),
        },
        "x_ingest_seconds": round(first_s / ingest_s, 3),
        "cpu_count": os.cpu_count(),
    }


def print_sync(result: dict[str, Any]) -> None:
    """The sync bench as a few lines."""
    d, f, s = result["ingest_from_disk"], result["first_sync"], result["second_sync"]
    print(
        f"sync of {result['pages']} pages: {f['seconds']:.1f} s ({f['pages_per_s']:.1f} pages/s, {f['chunks']} chunks) "
        f"against ingesting the same pages from disk {d['seconds']:.1f} s ({d['pages_per_s']:.1f} pages/s, "
        f"{d['chunks']} chunks with their navigation and footers): {result['x_ingest_seconds']:.2f} x; "
        f"again with nothing changed {s['seconds']:.1f} s, {s['not_modified']} answered 304, "
        f"{s['chunks_embedded']} chunks embedded"
    )
