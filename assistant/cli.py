"""`python -m assistant ask "…" [--data-dir D] [--json]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import cast

from assistant.answer_json import answer_to_json
from assistant.core.errors import BilimError
from assistant.core.models import Language
from assistant.settings import get_settings
from assistant.wiring import build_service


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the assistant."""
    parser = argparse.ArgumentParser(prog="python -m assistant", description="Bilim Assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one or more questions from the ingested documents")
    ask.add_argument("questions", nargs="+", help="the question(s), in Kyrgyz, Russian or English")
    ask.add_argument("--data-dir", type=Path, help="store location (default: $BILIM_DATA_DIR or data/store)")
    ask.add_argument("--language", choices=["ky", "ru", "en"], help="answer language (default: the question's)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (one object per line)")
    return parser


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
