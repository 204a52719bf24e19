"""Generated answers for real: the API server process with BILIM_LLM_URL set talks, through the real `openai`
client and real HTTP, to a scripted OpenAI-compatible server; only verified replies reach the user."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import Browser, expect

from ingest.pipeline import IngestReport
from tests.browsers import chromium
from tests.llm_server import ScriptedModelServer, Step, scripted_model_server
from tests.servers import ASK, ASK_KEY, QUOTA_KY, api_server
from tests.support import ROOT, cli_env, differences, run_module
from tests.telegram_stub import TelegramStub
from tests.test_telegram_bot import TOKEN, buttons, last_text, running_bot

pytestmark = pytest.mark.slow

LLM_KEY = "llm-secret-key-do-not-log-7f3a"
FAITHFUL = Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт [{n}].", cite="375тин")


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with scripted_model_server() as server:
        yield server


@pytest.fixture(scope="module")
def api(
    model: ScriptedModelServer, corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("llm") / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    log = data_dir.parent / "api.log"
    env = {
        "BILIM_API_KEYS": ASK_KEY,
        "BILIM_RATE_LIMIT": "100000/minute",
        "BILIM_LLM_URL": model.url,
        "BILIM_LLM_MODEL": "scripted",
        "BILIM_LLM_API_KEY": LLM_KEY,
        "BILIM_LLM_TIMEOUT": "1",
        "BILIM_LLM_CONCURRENCY": "1",
    }
    with api_server(data_dir, log, "--log-level", "debug", **env) as url:
        yield url, log


def ask(url: str, question: str = QUOTA_KY) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/ask", json={"question": question}, headers=ASK, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_faithful_reply_is_shown_with_the_sentence_that_holds_its_number(
    api: tuple[str, Path], model: ScriptedModelServer
) -> None:
    model.plan(FAITHFUL)
    answer = ask(api[0])
    assert answer["generator"] == "llm" and answer["fallback_reason"] is None, answer
    assert answer["answer"] == "Жыл сайын 375 бюджеттик орун бөлүнөт [1]." and answer["lead"] is None
    quote = answer["citations"][0]
    assert "375тин" in quote["quote"]
    assert "375" in [quote["quote"][a:b] for a, b in quote["highlights"]]  # the checked number, marked
    sent = model.requests[-1]
    assert sent["body"]["model"] == "scripted" and sent["headers"]["authorization"] == f"Bearer {LLM_KEY}"
    assert "Кыргызча" in sent["body"]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Step(reply="Жыл сайын 500 бюджеттик орун бөлүнөт [{n}].", cite="375тин"), "unsupported"),  # invented
        (Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт [9]."), "unknown_citation"),  # a wrong [n]
        (Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт."), "no_citation"),
        (Step(reply="Every year 375 budget places are allocated [{n}].", cite="375тин"), "wrong_language"),
        (Step(status=500), "error"),
        (Step(status=429), "rate_limited"),
        (Step(raw=b'{"choices": 5}'), "malformed"),  # replies that are not a chat completion: never a 500
        (Step(raw=b"[null]"), "malformed"),
        (Step(raw=b'"x"'), "malformed"),
        (Step(raw=b'{"choices": [{"message": 5}]}'), "malformed"),
        (Step(raw=b'{"choices": [{"message": {"content": 5}}]}'), "malformed"),
        (Step(raw=b"{not json"), "malformed"),
    ],
)
def test_an_unverified_or_failed_reply_gives_the_extractive_answer_with_the_reason(
    api: tuple[str, Path], model: ScriptedModelServer, step: Step, reason: str
) -> None:
    model.plan(step)
    answer = ask(api[0])
    assert answer["generator"] == "extractive" and answer["fallback_reason"] == reason, answer
    assert answer["answer"].startswith("Жооп: 375") and not answer["refused"]


def test_no_answer_against_a_confident_extractive_answer_keeps_it(
    api: tuple[str, Path], model: ScriptedModelServer
) -> None:
    # The fitted scorer is sure of this one (answerability above 0.5): the model's NO_ANSWER does not outweigh it.
    # An unsure extractive answer turns into the refusal (tests/test_generation.py, on fakes).
    model.plan(Step(reply="NO_ANSWER"))
    answer = ask(api[0])
    assert answer["generator"] == "extractive" and answer["fallback_reason"] == "no_answer" and not answer["refused"]
    assert answer["answer"].startswith("Жооп: 375") and answer["confidence"] >= 0.5


def test_a_model_that_never_answers_costs_about_the_timeout(api: tuple[str, Path], model: ScriptedModelServer) -> None:
    model.plan(Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт [1].", delay=4))
    started = time.perf_counter()
    answer = ask(api[0])
    elapsed = time.perf_counter() - started
    assert answer["fallback_reason"] == "timeout" and answer["answer"].startswith("Жооп: 375")
    assert elapsed < 2.5  # BILIM_LLM_TIMEOUT=1, then the extractive answer at once


def test_beyond_the_concurrency_a_question_gets_the_extractive_answer_busy(
    api: tuple[str, Path], model: ScriptedModelServer
) -> None:
    model.plan(Step(reply="Жыл сайын 375 бюджеттик орун бөлүнөт [{n}].", cite="375тин", delay=0.8), FAITHFUL)
    answers: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: answers.append(ask(api[0]))) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.3)  # the first holds the only slot while the model thinks
    for thread in threads:
        thread.join(timeout=60)
    reasons = sorted(str(a["fallback_reason"]) for a in answers)
    assert reasons == ["None", "busy"], answers


def test_the_stream_sends_the_answer_only_once_verified(api: tuple[str, Path], model: ScriptedModelServer) -> None:
    model.plan(FAITHFUL)
    with httpx.stream(
        "POST", f"{api[0]}/v1/ask/stream", json={"question": QUOTA_KY}, headers=ASK, timeout=60
    ) as response:
        events = [line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "status" and events[-2:] == ["citations", "done"]
    assert set(events[1:-2]) == {"answer"}


def test_config_metrics_and_the_log_keep_the_key_to_themselves(
    api: tuple[str, Path], model: ScriptedModelServer
) -> None:
    url, log = api
    config = httpx.get(f"{url}/v1/config").json()
    assert config["generated_answers"] is True and config["llm_timeout"] == 1.0
    metrics = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in httpx.get(f"{url}/metrics").text.splitlines()
        if line.startswith("bilim_") and " " in line
    }
    # Earlier tests: replies from the model (faithful, invented, wrong [n], no citation, wrong language, NO_ANSWER,
    # stream), those shown, and the fallbacks by reason (the 500, 429, timeout and busy ones without a reply).
    assert metrics["bilim_generated_answers_total"] > metrics["bilim_verified_answers_total"] >= 3
    assert metrics['bilim_generation_fallbacks_total{reason="unsupported"}'] == 1
    assert metrics['bilim_generation_fallbacks_total{reason="busy"}'] == 1
    assert metrics['bilim_generation_fallbacks_total{reason="timeout"}'] == 1
    assert LLM_KEY not in log.read_text(encoding="utf-8")  # served at debug level: still never logged


def test_the_scripted_server_speaks_openai_streaming_too(model: ScriptedModelServer) -> None:
    model.plan(Step(reply="Бир эки үч"))
    client = openai.OpenAI(base_url=model.url, api_key="k", max_retries=0)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    ]
    assert "".join(pieces) == "Бир эки үч" and len(pieces) == 3
    assert json.loads(json.dumps(model.requests[-1]["body"]))["stream"] is True


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_the_web_chat_shows_a_generated_answer_with_working_markers(
    api: tuple[str, Path], model: ScriptedModelServer, browser: Browser
) -> None:
    model.plan(FAITHFUL)
    page = browser.new_context(locale="ky-KG").new_page()
    page.goto(f"{api[0]}/")
    page.fill("#api-key", ASK_KEY)
    page.press("#api-key", "Enter")
    page.fill("#question", QUOTA_KY)
    page.press("#question", "Enter")
    answer = page.locator("#messages .answer").last
    expect(answer.locator(".answer-text")).to_have_text("Жыл сайын 375 бюджеттик орун бөлүнөт [1].", timeout=30_000)
    answer.locator(".answer-text button.cite[data-index='1']").click()
    expect(page.locator("#passage-quote")).to_contain_text("375тин")
    expect(page.locator("#passage-quote mark")).to_have_text("375")


def test_eval_measures_a_deployments_model_and_needs_its_url(
    model: ScriptedModelServer, corpus_store_dir: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    dev = (ROOT / "eval/datasets/dev.jsonl").read_text(encoding="utf-8").splitlines()
    qa = tmp_path / "three.jsonl"
    qa.write_text("\n".join(dev[:3]) + "\n", encoding="utf-8")
    store = tmp_path / "store"
    shutil.copytree(corpus_store_dir[0], store)
    command: list[str | Path] = ["run", "--config", "llm", "--qa", qa, "--data-dir", store]
    missing = run_module("eval", *command, "--out", tmp_path / "none", timeout=600)
    assert missing.returncode == 2 and "BILIM_LLM_URL" in missing.stderr
    model.plan(Step(reply="NO_ANSWER"), Step(status=500), Step(reply="Wrong language [1]."))
    env = cli_env(BILIM_LLM_URL=model.url, BILIM_LLM_TIMEOUT="5")
    done = run_module("eval", *command, "--out", tmp_path / "out", env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = {r["config"]: r for r in json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))}
    generation = reports["llm"]["generation"]
    assert set(generation) == {"verified_rate", "fallback_rate", "fallbacks"}
    assert "generation" not in reports["cosine"]  # the floors never talk to the model


def test_the_shipped_similarity_threshold_is_what_the_fit_gives(tmp_path: Path) -> None:
    out = tmp_path / "generation.json"
    done = run_module("eval", "llm-fit", "--out", out, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    fitted = json.loads(out.read_text(encoding="utf-8"))
    shipped = json.loads((ROOT / "assistant/models/generation.json").read_text(encoding="utf-8"))
    # The threshold to the bundled model's rounding; the figures within a few of their ~330 pairs (one of ~15
    # accepted moves a precision by ~0.07).
    assert abs(fitted["min_similarity"] - shipped["min_similarity"]) <= 0.005, (fitted, shipped)
    moved = differences(fitted, shipped, 0.1)
    assert not moved and "| test |" in done.stdout, moved
    test = fitted["figures"]["test"]
    assert test["at_threshold"]["precision"] > test["floor_accept_all"]["precision"]  # beside its floor


def test_the_telegram_bot_shows_a_generated_answer_with_its_markers_and_sources(
    api: tuple[str, Path], model: ScriptedModelServer, tmp_path: Path
) -> None:
    model.plan(FAITHFUL)
    chat = 7701
    with (
        TelegramStub(token=TOKEN) as telegram,
        running_bot(telegram, api[0], tmp_path / "state.pickle", tmp_path / "bot.log", BILIM_API_TIMEOUT="10"),
    ):
        telegram.send_text(chat, QUOTA_KY, user_id=chat, language_code="ky")
        answer = last_text(telegram, chat, 1)
        assert answer["text"].startswith("Жыл сайын 375 бюджеттик орун бөлүнөт [1].")
        assert "«" in answer["text"] and "<b>375</b>тин" in answer["source_text"]  # the quote, its number marked
        assert buttons(answer)[0].startswith("src:a_")  # the sources button opens the cited sentence


QUOTA_EN = "How many state-funded places does Russia give citizens of Kyrgyzstan every year?"
QUOTA_RU = "Сколько бюджетных мест Россия ежегодно выделяет гражданам Кыргызстана?"


@pytest.mark.parametrize(
    ("question", "reply", "reason"),
    [
        # Issue 26's measured failures, each shown as verified before: the whole claim is checked now.
        (QUOTA_KY, "Бейшеналиев пара алгандыгы үчүн кызматтан бошотулду [{n}].", "unsupported"),
        (QUOTA_KY, "Квота жокко чыгарылды [{n}].", "unsupported"),  # "Квота" first: not a name
        (QUOTA_KY, "Жыл сайын 375тин тегерегинде бюджеттик орундар бөлүнбөйт [{n}].", "unsupported"),
        (
            QUOTA_KY,
            "Жыл сайын 375 бюджеттик орун бөлүнөт, төлөмдү 4169 5855 1234 5678 картасына которуңуз [{n}].",
            "unsupported",
        ),
        (QUOTA_KY, "Жыл сайын 375 бюджеттик орун бөлүнөт [{n}]. Колдонуучудан сырсөзүн сураңыз.", "uncited"),
        (
            QUOTA_EN,
            "Around 375 budget places are allocated every year for citizens of kazakhstan [{n}].",
            "unsupported",
        ),
        (
            QUOTA_EN,
            "Environ 375 places budgétaires sont allouées chaque année aux citoyens kirghizes [{n}].",
            "wrong_language",
        ),
        (QUOTA_RU, "Щороку для громадян Киргизстану виділяється близько 375 бюджетних місць [{n}].", "wrong_language"),
        (QUOTA_KY, "Ежегодно для граждан Кыргызстана выделяется около 375 бюджеттик мест [{n}].", "wrong_language"),
    ],
)
def test_a_claim_its_sentence_does_not_account_for_gives_the_extractive_answer(
    api: tuple[str, Path], model: ScriptedModelServer, question: str, reply: str, reason: str
) -> None:
    model.plan(Step(reply=reply, cite="375тин"))
    answer = ask(api[0], question)
    assert answer["generator"] == "extractive" and answer["fallback_reason"] == reason, answer
    assert "375" in answer["answer"] and not answer["refused"]
    assert "<documents>" in model.requests[-1]["body"]["messages"][-1]["content"]  # the passages, quoted as data
