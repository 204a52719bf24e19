"""Questions limited by what they cost, through the served API: long questions spend a character budget per key
and end user, and are answered from a bounded pool, so one client's long questions cannot take what every other
client's answers need."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from eval.bench_long import corpus_words
from eval.bench_long import long_question as corpus_long_question
from eval.runner import load_qa
from ingest.pipeline import IngestReport
from tests.conftest import CORPUS
from tests.servers import ASK, ASK_KEY, QUOTA_KY, api_server

pytestmark = pytest.mark.slow

CHARS_BUDGET = 2500  # per key + end user and hour, here
DEV = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "dev.jsonl"
OTHER_KEY = "other-key"
LONG_AT_ONCE = 8  # long questions sent together, answered one at a time from the pool


def long_question(seed: int, length: int = 1000) -> str:
    """`length` characters of the sample corpus's words in random runs: a question that is costly to answer."""
    return corpus_long_question(corpus_words([CORPUS]), seed, length)


@pytest.fixture(scope="module")
def api(corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API over the sample corpus: a character budget of 2,500 an hour, one slot for long questions and no
    wait for it (so a second long question at once is turned away rather than queued)."""
    workdir = tmp_path_factory.mktemp("question-costs")
    shutil.copytree(corpus_store_dir[0], workdir / "store")
    with api_server(
        workdir / "store",
        workdir / "api.log",
        BILIM_API_KEYS=ASK_KEY,
        BILIM_RATE_LIMIT="1000/minute",
        BILIM_QUESTION_CHARS_LIMIT=f"{CHARS_BUDGET}/hour",
        BILIM_LONG_QUESTION_SLOTS="1",
        BILIM_LONG_QUESTION_WAIT="0",
    ) as url:
        yield url


def ask(api: str, question: str, user: str) -> httpx.Response:
    return httpx.post(f"{api}/v1/ask", json={"question": question}, headers={**ASK, "X-End-User": user}, timeout=120)


def test_long_questions_spend_a_character_budget_that_short_ones_barely_touch(api: str) -> None:
    for seed in (1, 2):  # 2,000 characters of the 2,500
        assert ask(api, long_question(seed), "verbose").status_code == 200
    over = ask(api, long_question(3), "verbose")
    assert over.status_code == 429 and over.json()["code"] == "rate_limited"
    assert "characters" in over.json()["detail"] and 1 <= int(over.headers["Retry-After"]) <= 3600
    # Another end user of the same key keeps a budget of its own; 20 short questions fit in it.
    assert all(ask(api, QUOTA_KY, "brief").status_code == 200 for _ in range(20))


def test_long_questions_past_the_pool_are_turned_away_and_short_ones_never(api: str) -> None:
    questions = [(long_question(10 + n), f"long-{n}") for n in range(4)] + [(QUOTA_KY, f"short-{n}") for n in range(4)]
    with ThreadPoolExecutor(len(questions)) as pool:  # all at once: one long question takes the only slot
        responses = list(pool.map(lambda asked: ask(api, *asked), questions))
    long_codes, short_codes = [r.status_code for r in responses[:4]], [r.status_code for r in responses[4:]]
    assert short_codes == [200] * 4
    assert set(long_codes) == {200, 503}, long_codes
    busy = next(r for r in responses[:4] if r.status_code == 503)
    assert busy.json()["code"] == "busy" and int(busy.headers["Retry-After"]) >= 1
    metrics = httpx.get(f"{api}/metrics", timeout=10).text
    turned_away = next(
        line for line in metrics.splitlines() if line.startswith("bilim_long_questions_turned_away_total")
    )
    assert float(turned_away.split()[-1]) == long_codes.count(503)


def test_other_keys_are_answered_while_long_questions_are_embedded(
    corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    # Long questions queued for the pool keep the long lane busy. Under one model thread another key's question
    # waited for the long embedding in progress, so about one was answered per long question.
    shutil.copytree(corpus_store_dir[0], tmp_path / "store")
    shorts = [item.question for item in load_qa(DEV)]  # each asked once: no embedding comes from the cache
    with api_server(
        tmp_path / "store",
        tmp_path / "api.log",
        BILIM_API_KEYS=f"{ASK_KEY},{OTHER_KEY}",
        BILIM_RATE_LIMIT="1000/minute",
        BILIM_QUESTION_CHARS_LIMIT="1000000/minute",
        BILIM_LONG_QUESTION_WAIT="120",
    ) as url:
        assert ask(url, QUOTA_KY, "warm-up").status_code == 200
        with ThreadPoolExecutor(LONG_AT_ONCE) as pool:
            longs = [pool.submit(ask, url, long_question(40 + n), f"verbose-{n}") for n in range(LONG_AT_ONCE)]
            answered = 0
            while not all(future.done() for future in longs) and answered < len(shorts):
                other = httpx.post(
                    f"{url}/v1/ask",
                    json={"question": shorts[answered]},
                    headers={"Authorization": f"Bearer {OTHER_KEY}"},
                    timeout=120,
                )
                assert other.status_code == 200, other.text
                answered += 1
            assert [future.result().status_code for future in longs] == [200] * LONG_AT_ONCE
    assert answered >= 3 * LONG_AT_ONCE, answered
