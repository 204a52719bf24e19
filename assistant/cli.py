"""`python -m assistant ask "…" [--json]` and `python -m assistant serve [--host] [--port] [--data-dir D]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path
from typing import cast

from assistant.answer_json import answer_to_json
from assistant.core.errors import BilimError, StoreUnavailable
from assistant.core.models import Language
from assistant.progress import progress_bar
from assistant.settings import Settings, get_settings
from assistant.wiring import build_service, seed_store, upgrade_sentence_vectors

SEED_MARKER = ".seeded"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the assistant."""
    parser = argparse.ArgumentParser(prog="python -m assistant", description="Bilim Assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one or more questions from the ingested documents")
    ask.add_argument("questions", nargs="+", help="the question(s), in Kyrgyz, Russian or English")
    ask.add_argument("--data-dir", type=Path, help="store location (default: $BILIM_DATA_DIR or data/store)")
    ask.add_argument("--language", choices=["ky", "ru", "en"], help="answer language (default: the question's)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (one object per line)")
    serve = sub.add_parser("serve", help="serve the HTTP API and the web chat")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--data-dir", type=Path, help="store location (default: $BILIM_DATA_DIR or data/store)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn workers (more than 1 needs BILIM_CHROMA_URL)")
    serve.add_argument(
        "--seed", type=Path, help="ingest this folder into an empty store on the first run only (e.g. data/corpus)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _seed(settings: Settings, corpus: Path) -> None:
    """Ingest the sample corpus into a store that has never been seeded, so deleted documents stay deleted."""
    marker = settings.data_dir / SEED_MARKER
    if marker.exists():
        return
    report = seed_store(settings, corpus, progress=progress_bar)
    if report is not None:
        print(f"seeded the store from {corpus}: {report.documents} documents, {report.chunks_total} chunks")
        if report.failed:
            print(f"warning: {len(report.failed)} file(s) failed to load", file=sys.stderr)
    marker.write_text(f"{corpus}\n", encoding="utf-8")


def _raise_file_limit() -> None:
    """Open files up to the hard limit: every connection is one, and the soft default (often 1,024) is far below
    what BILIM_MAX_CONNECTIONS lets each worker hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and hard != resource.RLIM_INFINITY and soft < hard:
        # A sandbox may forbid it: the connection cap still keeps each worker within what it has.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(args: argparse.Namespace) -> int:
    """Seed if asked, then run uvicorn with the app factory (settings reach every worker through the env)."""
    import uvicorn

    if args.data_dir is not None:
        os.environ["BILIM_DATA_DIR"] = str(args.data_dir)
    settings = get_settings()
    if args.workers > 1 and settings.chroma_url is None:
        print(
            "error: an embedded store has a single writer; several workers need a `chroma run` server "
            "(set BILIM_CHROMA_URL)",
            file=sys.stderr,
        )
        return 2
    try:
        # A new host's data dir: with Chroma and PostgreSQL elsewhere nothing else would create it, yet the seed
        # marker (and, by default, the uploads) live there.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create the data dir {settings.data_dir}: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        _seed(settings, args.seed)
    # A store made before BILIM_ANSWER_EMBEDDER changed gets that model's sentence vectors before serving.
    try:
        upgraded, by = upgrade_sentence_vectors(settings, progress_bar)
    except StoreUnavailable as exc:  # the service starts anyway and answers 503 until the store is back
        print(f"warning: the sentence vectors were not checked: {exc.message}", file=sys.stderr)
    else:
        if upgraded:
            print(f"re-embedded {upgraded} sentences with {by}")
    metrics_dir = None
    if args.workers > 1:
        # One scrape must see every worker: prometheus_client's multiprocess mode, in a fresh folder per run
        # (the workers, started after this, inherit the variable).
        metrics_dir = tempfile.mkdtemp(prefix="bilim-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _raise_file_limit()
    print(f"Bilim Assistant: web chat and API at http://{args.host}:{args.port}/ (OpenAPI at /docs)", flush=True)
    try:
        uvicorn.run(
            "assistant.api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            # X-Forwarded-For is believed only from the proxies named in BILIM_TRUSTED_PROXIES (uvicorn would
            # otherwise believe any caller on 127.0.0.1, so a local proxy would make every client anonymous).
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=",".join(settings.trusted_proxies) or "",
            # Header and body deadlines and the connection cap (BILIM_HEADER_TIMEOUT, BILIM_BODY_TIMEOUT,
            # BILIM_MAX_CONNECTIONS): uvicorn's own protocol has none of them.
            http="assistant.api.connections:GuardedHttpTools",
            timeout_keep_alive=settings.keep_alive_timeout,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _print_human(question: str, payload: dict[str, object]) -> None:
    print(f"? {question}")
    print(payload["answer"])
    for citation in payload["citations"]:  # type: ignore[attr-defined]
        title = f"{citation['title']} — " if citation["title"] else ""
        where = f"characters {citation['start']}–{citation['end']}"
        print(f"  [{citation['index']}] {title}{citation['document']} ({where})")
    print()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; exit 2 on an error, with the message on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        service = build_service(get_settings(data_dir=args.data_dir))
        if service.store.count() == 0:
            print(
                f"error: the store at {service.settings.data_dir} is empty; run `python -m ingest data/corpus` first",
                file=sys.stderr,
            )
            return 2
        for question in args.questions:
            payload = answer_to_json(service.ask(question, cast(Language | None, args.language)))
            if args.json:
                print(json.dumps(payload, ensure_ascii=False))
            else:
                _print_human(question, payload)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0
