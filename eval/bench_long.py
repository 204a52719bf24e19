"""`python -m eval bench --long-questions`: another key's latency while two keys send long questions, against idle.

A fresh server over a copy of the store answers the other key's questions (each once, `SHORT_GAP` s apart) with
nobody else asking; a second fresh server answers the same questions while two keys each send a 1,000-character
question every `LONG_EVERY` s under the default character budget (some are turned away with 429, some wait for the
long-question pool or get 503 `busy`). The result is the ratio of the two p95s, beside the goal of issue 26 (2x).
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.core.models import Question
from assistant.wiring import Service
from eval.bench import ratio, summary
from eval.bench_http import BenchError, Client, running_server, server_settings, store_copy

GOAL_X_IDLE_P95 = 2.0  # issue 26: long questions must not raise other keys' p95 past twice idle
LONG_KEYS = ("bench-long-a", "bench-long-b")
OTHER_KEY = "bench-other"
LONG_CHARS = 1000  # the longest question the API takes by default
LONG_EVERY = 2.0  # seconds between one long key's questions: 0.5 a second
SHORT_GAP = 0.2  # seconds between the other key's questions
SHORT_QUESTIONS = 80
OTHER_USERS = 10  # end users of the other key its questions come from
CHARS_BUDGET = "6000/minute"  # the default character budget (200 per request of the default 30/minute)
WARM_UP = "Кыргызстанда канча мектеп бар?"


def corpus_words(corpora: Sequence[Path]) -> list[str]:
    """The words of the `.txt` documents in the corpus folders (the long questions are made of them)."""
    files = sorted(f for folder in corpora if folder.is_dir() for f in folder.glob("*.txt"))
    words = " ".join(f.read_text(encoding="utf-8") for f in files).split()
    if len(words) < 100:
        raise BenchError(f"--long-questions needs a corpus folder of .txt documents to make questions of: {corpora}")
    return words


def long_question(words: Sequence[str], seed: int, length: int = LONG_CHARS) -> str:
    """`length` characters of the corpus's words in random runs of twelve: a question that is costly to answer."""
    pick = random.Random(seed)
    taken: list[str] = []
    while len(" ".join(taken)) < length:
        start = pick.randrange(len(words) - 12)
        taken += words[start : start + 12]
    return " ".join(taken)[: length - 1] + "?"


def ask_as(client: Client, key: str, question: str, user: str = "") -> tuple[int, float]:
    """POST /v1/ask with a key (for one end user of it); the status and the latency in ms."""
    body = json.dumps({"question": question}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    if user:
        headers["X-End-User"] = user
    started = time.perf_counter()
    status, _ = client.request("POST", "/v1/ask", body, headers)
    return status, (time.perf_counter() - started) * 1000


@contextmanager
def long_load(port: int, words: Sequence[str]) -> Iterator[Counter[str]]:
    """Two keys each sending a long question every LONG_EVERY s (the next at once when one took longer) until the
    block ends; the count of their answers by status."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def send(key: str, first_seed: int) -> None:
        client = Client(port)
        seed = first_seed
        try:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    status, _ = ask_as(client, key, long_question(words, seed))
                    outcome = str(status)
                except (OSError, http.client.HTTPException):
                    outcome = "connection error"
                with lock:
                    outcomes[outcome] += 1
                seed += len(LONG_KEYS)
                stop.wait(max(0.0, LONG_EVERY - (time.perf_counter() - started)))
        finally:
            client.close()

    threads = [threading.Thread(target=send, args=(key, n), daemon=True) for n, key in enumerate(LONG_KEYS)]
    for thread in threads:
        thread.start()
    try:
        stop.wait(LONG_EVERY)  # the load is running before the other key asks
        yield outcomes
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def other_key_latencies(port: int, texts: Sequence[str], advance: Any) -> list[float]:
    """The other key's questions, each once, SHORT_GAP s apart; the latencies in ms (BenchError unless 200)."""
    client = Client(port)
    samples = []
    try:
        for n, text in enumerate(texts):
            # A bot or school asks for many end users, each with a character budget of its own.
            status, elapsed = ask_as(client, OTHER_KEY, text, f"student-{n % OTHER_USERS}")
            if status != 200:
                raise BenchError(f"the other key's question was answered {status}: {text!r}")
            samples.append(elapsed)
            advance(1)
            time.sleep(SHORT_GAP)
    finally:
        client.close()
    return samples


def phase(
    service: Service, data_dir: Path, texts: Sequence[str], words: Sequence[str], advance: Any, *, loaded: bool
) -> tuple[list[float], dict[str, int]]:
    """The other key's latencies on a fresh server (its question vectors uncached), idle or under the long
    questions; and the long keys' answers by status."""
    settings = {
        **server_settings(service),
        "BILIM_API_KEYS": ",".join([OTHER_KEY, *LONG_KEYS]),
        "BILIM_QUESTION_CHARS_LIMIT": CHARS_BUDGET,
    }
    with tempfile.TemporaryDirectory(prefix="bilim-bench-long-") as tmp:
        copy = store_copy(data_dir, Path(tmp))
        with running_server(copy, Path(tmp) / "server.log", settings) as server:
            warm = Client(server.port)
            for question in (WARM_UP, long_question(words, -1)):
                status, _ = ask_as(warm, OTHER_KEY, question, "warm-up")  # the first answers load what others reuse
                if status != 200:
                    raise BenchError(f"a warm-up question was answered {status}")
            warm.close()
            if not loaded:
                return other_key_latencies(server.port, texts, advance), {}
            with long_load(server.port, words) as outcomes:
                samples = other_key_latencies(server.port, texts, advance)
            return samples, dict(sorted(outcomes.items()))


def run_long_questions(
    service: Service, data_dir: Path, questions: Sequence[Question], corpora: Sequence[Path], progress: Any
) -> dict[str, Any]:
    """The other key's p50/p95 idle and under two keys' long questions, and their ratio beside the goal."""
    words = corpus_words(corpora)
    texts = list(dict.fromkeys(q.text for q in questions))[:SHORT_QUESTIONS]
    with progress(2 * len(texts), "another key's questions, idle then under long questions") as advance:
        idle, _ = phase(service, data_dir, texts, words, advance, loaded=False)
        loaded, outcomes = phase(service, data_dir, texts, words, advance, loaded=True)
    return long_questions_report(len(texts), summary(idle), summary(loaded), outcomes)


def long_questions_report(
    questions: int, idle: dict[str, float], loaded: dict[str, float], long_answers: dict[str, int]
) -> dict[str, Any]:
    """The mode's result: the two summaries, their ratios and whether the goal is met."""
    x_p95 = ratio(loaded["p95_ms"], idle["p95_ms"])
    return {
        "questions": questions,
        "long_chars": LONG_CHARS,
        "long_keys": len(LONG_KEYS),
        "long_per_s_per_key": round(1 / LONG_EVERY, 2),
        "chars_budget": CHARS_BUDGET,
        "idle": idle,
        "loaded": loaded,
        "long_answers": long_answers,
        "x_idle_p50": ratio(loaded["p50_ms"], idle["p50_ms"]),
        "x_idle_p95": x_p95,
        "goal_x_idle_p95": GOAL_X_IDLE_P95,
        "goal_met": x_p95 <= GOAL_X_IDLE_P95,
    }


def long_questions_lines(r: dict[str, Any]) -> list[str]:
    """The mode's table, for the terminal."""
    answers = ", ".join(f"{status}: {count}" for status, count in r["long_answers"].items()) or "none"
    verdict = "met" if r["goal_met"] else "NOT met"
    return [
        f"long questions: {r['long_keys']} keys each sending {r['long_chars']}-character questions at "
        f"{r['long_per_s_per_key']:g}/s (budget {r['chars_budget']}); another key asking {r['questions']} questions",
        f"{'another key':14s} {'p50 ms':>9s} {'p95 ms':>9s}",
        f"{'idle':14s} {r['idle']['p50_ms']:9.1f} {r['idle']['p95_ms']:9.1f}",
        f"{'loaded':14s} {r['loaded']['p50_ms']:9.1f} {r['loaded']['p95_ms']:9.1f}",
        f"{'x idle':14s} {r['x_idle_p50']:9.2f} {r['x_idle_p95']:9.2f}   goal p95 <= {r['goal_x_idle_p95']:g}x: "
        f"{verdict}",
        f"long questions answered: {answers}",
    ]
