"""`python -m ingest PATH... [--data-dir D] [--prune] [--rebuild] [--json]`, or `--reconcile [--check]`, or
`python -m ingest sync (--sitemap URL | --feed URL | --start URL | --sources sources.toml) ...`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from assistant.core.errors import BilimError
from assistant.progress import progress_bar
from assistant.settings import get_settings
from assistant.wiring import (
    SOURCE_KINDS,
    IngestReport,
    Reconciliation,
    SyncReport,
    SyncSource,
    ingest_into,
    load_sources,
    make_embedder,
    rebuild_store,
    reconcile_store,
    sync_sites,
)


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


def build_sync_parser() -> argparse.ArgumentParser:
    """Command-line options of `python -m ingest sync`."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest sync",
        description="Bring the store in line with websites: new and changed pages (and the PDF/DOCX files they link "
        "to) are ingested, unchanged ones cost a conditional GET, and a page gone for BILIM_SYNC_REMOVE_AFTER syncs "
        "in a row is removed.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sitemap", metavar="URL", help="a sitemap (or sitemap index) listing the pages")
    where.add_argument("--feed", metavar="URL", help="an RSS or Atom feed listing the pages")
    where.add_argument("--start", metavar="URL", help="a page to crawl from, following links on its host")
    where.add_argument("--sources", type=Path, metavar="TOML", help="a sources.toml with several [[source]] tables")
    parser.add_argument("--name", help="the source's name (default: its URL); its documents record sync:NAME")
    parser.add_argument("--include", action="append", default=[], metavar="REGEX", help="take only matching URLs")
    parser.add_argument("--exclude", action="append", default=[], metavar="REGEX", help="skip matching URLs")
    parser.add_argument("--max-pages", type=int, default=500, help="URLs fetched per source (default 500)")
    parser.add_argument("--depth", type=int, default=2, help="--start: link hops from the start page (default 2)")
    parser.add_argument("--lang", choices=("ky", "ru", "en"), help="the language of pages that declare none")
    parser.add_argument("--label", action="append", default=[], help="a label for the source's documents")
    parser.add_argument("--data-dir", type=Path, help="store location (default: $BILIM_DATA_DIR or data/store)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    return parser


def _sync_sources(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[SyncSource]:
    if args.sources:
        if args.name or args.include or args.exclude or args.lang or args.label:
            parser.error("--sources takes its options from the file")
        return load_sources(args.sources)
    kind, url = next((k, str(getattr(args, k))) for k in SOURCE_KINDS if getattr(args, k))
    return [
        SyncSource(
            name=args.name or url,
            kind=kind,
            url=url,
            include=tuple(args.include),
            exclude=tuple(args.exclude),
            max_pages=args.max_pages,
            depth=args.depth,
            lang=args.lang,
            labels=tuple(args.label),
        )
    ]


def sync_main(argv: list[str]) -> int:
    """Run `python -m ingest sync`; exit 1 if a page failed, 2 on a usage or store error."""
    parser = build_sync_parser()
    args = parser.parse_args(argv)
    try:
        sources = _sync_sources(args, parser)
        report: SyncReport = sync_sites(get_settings(data_dir=args.data_dir), sources, progress_bar)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for failure in report.failed:
        print(f"  failed: {failure['url']}: {failure['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(
            f"pages seen: {report.seen}  fetched: {report.fetched}  unchanged: {report.unchanged}  "
            f"added: {report.added}  changed: {report.changed}  removed: {report.removed}  "
            f"gone (kept for now): {len(report.gone)}  failed: {len(report.failed)}  skipped: {len(report.skipped)}\n"
            f"chunks embedded: {report.chunks_embedded}  chunks in store: {report.chunks_total}"
        )
        for skipped in report.skipped:
            print(f"  skipped: {skipped['url']}: {skipped['reason']}")
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run the ingester; exit 1 if any file failed, 2 on a usage or store error."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sync"]:
        return sync_main(argv[1:])
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
