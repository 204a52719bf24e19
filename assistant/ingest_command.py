"""`python -m ingest PATH... [--data-dir D] [--prune] [--rebuild] [--json]`, or `--reconcile [--check]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from assistant.core.errors import BilimError
from assistant.progress import progress_bar
from assistant.settings import get_settings
from assistant.wiring import IngestReport, Reconciliation, ingest_into, make_embedder, rebuild_store, reconcile_store


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the ingester."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Ingest documents (.txt .md .html .pdf .docx folders, or .jsonl files) into the store.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="folders (recursive), files, or .jsonl files")
    parser.add_argument("--data-dir", type=Path, help="store location (default: $BILIM_DATA_DIR or data/store)")
    parser.add_argument(
        "--prune", action="store_true", help="remove documents ingested from these paths that are gone from them"
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="re-embed every stored chunk with the configured embedder (after changing it)",
    )
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="compare the uploaded originals (BILIM_UPLOADS_DIR, else uploads/ in the data dir) with the store and "
        "repair what disagrees, as the API does at start-up",
    )
    parser.add_argument("--check", action="store_true", help="with --reconcile: only report, change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    return parser


def _reconcile(args: argparse.Namespace) -> int:
    """Run `--reconcile`; exit 1 if an original failed to load (or, with --check, if anything disagrees)."""
    settings = get_settings(data_dir=args.data_dir)
    try:
        found: Reconciliation = reconcile_store(settings, repair=not args.check)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found.as_dict(), ensure_ascii=False))
    else:
        print(("would do: " if args.check and found.writes else "") + found.summary())
        for name, why in found.reingested.items():
            print(f"  ingested again: {name}: {why}")
        for name in found.removed:
            print(f"  removed (its original is gone): {name}")
        for name in found.kept:
            print(f"  kept without its original (the uploads folder is empty): {name}")
        for failure in found.failed:
            print(f"  failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    return 1 if found.failed or (args.check and found.writes) else 0


def _print_summary(report: IngestReport) -> None:
    print(
        f"documents: {report.documents}  added: {report.added}  updated: {report.updated}  "
        f"unchanged: {report.unchanged}  removed: {report.removed}  failed: {len(report.failed)}\n"
        f"chunks embedded: {report.chunks_embedded}  sentences embedded: {report.sentences_embedded}  "
        f"chunks in store: {report.chunks_total}"
    )
    for failure in report.failed:
        print(f"  failed: {failure['path']}: {failure['error']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the ingester; exit 1 if any file failed, 2 on a usage or store error."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.reconcile:
        if args.paths or args.rebuild or args.prune:
            build_parser().error("--reconcile takes no PATH, --rebuild or --prune")
        return _reconcile(args)
    if args.check:
        build_parser().error("--check goes with --reconcile")
    if not args.paths and not args.rebuild:
        build_parser().error("give at least one PATH (or --rebuild, or --reconcile)")
    settings = get_settings(data_dir=args.data_dir)
    try:
        embedder = make_embedder(settings)
        report = IngestReport()
        if args.rebuild:
            # A rebuild re-embeds every stored chunk: the summary says so instead of reporting an empty store.
            rebuilt, sentences = rebuild_store(settings, embedder, progress_bar)
            print(f"rebuilt {rebuilt} chunks with {embedder.name}", file=sys.stderr)
            report = IngestReport(chunks_embedded=rebuilt, sentences_embedded=sentences, chunks_total=rebuilt)
        if args.paths:
            added = ingest_into(settings, args.paths, embedder=embedder, prune=args.prune, progress=progress_bar)
            added.chunks_embedded += report.chunks_embedded
            added.sentences_embedded += report.sentences_embedded
            report = added
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        for failure in report.failed:
            print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_summary(report)
    return 1 if report.failed else 0
