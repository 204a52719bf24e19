"""Staff insights for real: 200+ questions asked and rated through a real API server, then read back by
/v1/insights, its CSV, `python -m eval insights` and the web chat's Insights tab in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from ingest.pipeline import IngestReport
from tests.browsers import chromium
from tests.servers import ADMIN, ADMIN_KEY, ASK, ASK_KEY, api_server
from tests.support import ROOT, differences, run_module

pytestmark = pytest.mark.slow

SHOTS = ROOT / "tests" / "output"
# One need nobody's documents answer, asked in other words (and once in Kyrgyz): they must form one cluster.
PARAPHRASES = [
    "Сколько стоит место в общежитии КНУ в месяц?",
    "Какая плата за общежитие в КНУ за месяц?",
    "Сколько платят студенты КНУ за общагу в месяц?",
    "Цена проживания в общежитии КНУ в месяц",
    "КНУ общежитие сколько стоит в месяц?",
]
OFF_TOPIC = [
    "What is the weather in Bishkek tomorrow?",
    "Кто выиграл чемпионат мира по футболу 2018?",
    "Эртең Бишкекте аба ырайы кандай болот?",
    "How do I bake a chocolate cake?",
    "Как починить велосипедную цепь?",
    "What is the capital of Australia?",
    "Сколько стоит билет в кино в Москве?",
    "Футбол боюнча Кыргызстандын курама командасынын машыктыруучусу ким?",
    "Where can I buy a used car in Osh?",
    "Какой курс доллара сегодня?",
    "Бүгүн доллардын курсу канча?",
    "How tall is Lenin Peak?",
]


def dataset_questions() -> list[str]:
    """The dev set's questions and the gold set's questions about the sample documents."""
    dev = [json.loads(line)["question"] for line in (ROOT / "eval/datasets/dev.jsonl").read_text().splitlines()]
    gold = []
    for part in ("fit", "test"):
        for line in (ROOT / f"eval/datasets/gold/{part}.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if str(item.get("source", "")).endswith(".txt"):
                gold.append(item["question"])
    return dev + gold


@dataclass
class Sent:
    """What the test asked and what the API said of each question."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    ratings: dict[str, str] = field(default_factory=dict)  # answer id -> latest rating


@dataclass
class Seeded:
    url: str
    data_dir: Path
    sent: Sent


def ask(client: httpx.Client, question: str) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question}, headers=ASK)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["question"] = question
    return body


def rate(client: httpx.Client, sent: Sent, answer_id: str, rating: str) -> None:
    response = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": rating}, headers=ASK)
    assert response.status_code == 201, response.text
    sent.ratings[answer_id] = rating


@pytest.fixture(scope="module")
def seeded(corpus_store_dir: tuple[Path, IngestReport], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A server of its own (nobody else's questions in its records), seeded through its API."""
    data_dir = tmp_path_factory.mktemp("insights") / "store"
    shutil.copytree(corpus_store_dir[0], data_dir)
    env = {"BILIM_API_KEYS": ASK_KEY, "BILIM_ADMIN_KEYS": ADMIN_KEY, "BILIM_RATE_LIMIT": "100000/minute"}
    with api_server(data_dir, data_dir.parent / "api.log", **env) as url, httpx.Client(base_url=url, timeout=60) as c:
        sent = Sent()
        for question in dataset_questions():
            sent.answers.append(ask(c, question))
        answered = [a for a in sent.answers if not a["refused"]]
        for i, answer in enumerate(answered):
            if i % 9 == 0:
                rate(c, sent, answer["answer_id"], "down")
            elif i % 7 == 0:
                rate(c, sent, answer["answer_id"], "up")
        rate(c, sent, answered[1]["answer_id"], "down")  # changed from 👍 (or no rating) to 👎: the latest counts
        for question in [*PARAPHRASES, *OFF_TOPIC]:
            answer = ask(c, question)
            sent.answers.append(answer)
            if not answer["refused"]:
                rate(c, sent, answer["answer_id"], "down")  # answered, but not what was asked
        yield Seeded(url=url, data_dir=data_dir, sent=sent)


def insights(seeded: Seeded, headers: dict[str, str] = ADMIN, **params: str) -> httpx.Response:
    return httpx.get(f"{seeded.url}/v1/insights", params=params, headers=headers, timeout=60)


def test_the_counts_match_what_was_asked_and_rated(seeded: Seeded) -> None:
    answers = seeded.sent.answers
    assert len(answers) >= 200
    got = insights(seeded).json()
    down = {i for i, r in seeded.sent.ratings.items() if r == "down"}
    up = {i for i, r in seeded.sent.ratings.items() if r == "up"}
    refused = [a for a in answers if a["refused"]]
    assert 0 < len(refused) < len(answers) and len(down) >= 10
    assert got["totals"]["asked"] == len(answers)
    assert got["totals"]["refused"] == len(refused)
    assert got["totals"]["answered"] == len(answers) - len(refused)
    assert (got["totals"]["rated_down"], got["totals"]["rated_up"]) == (len(down), len(up))
    assert got["totals"]["refused_rate"] == round(len(refused) / len(answers), 4)
    assert got["unanswered_total"] == len({a["answer_id"] for a in refused} | down)
    languages = Counter(a["language"] for a in answers)
    assert {lang: row["asked"] for lang, row in got["languages"].items()} == dict(languages)
    assert set(languages) == {"ky", "ru", "en"}
    assert sum(d["asked"] for d in got["days"]) == len(answers) and len(got["days"]) == 30
    per_day_and_language: Counter[str] = Counter()
    for d in got["days"]:
        per_day_and_language.update(d["languages"])
    assert per_day_and_language == languages
    cited = Counter(doc for a in answers if not a["refused"] for doc in {c["document"] for c in a["citations"]})
    assert {d["document"]: d["answers"] for d in got["documents"]["cited"]} == dict(cited)
    stored = httpx.get(f"{seeded.url}/v1/documents", headers=ADMIN).json()["documents"]
    assert {d["document"] for d in got["documents"]["never_cited"]} == {d["id"] for d in stored} - set(cited)
    only_en = insights(seeded, language="en").json()
    assert only_en["totals"]["asked"] == languages["en"]
    # Nothing but the documented figures: no end-user, conversation or answer id anywhere.
    assert set(got) == {
        "since", "until", "language", "timezone", "retention_days", "totals", "days", "languages", "clusters",
        "unanswered_total", "clustered", "documents",
    }  # fmt: skip
    cluster_keys = {"id", "size", "refused", "rated_down", "languages", "examples", "first_asked", "last_asked"}
    assert all(set(c) == cluster_keys for c in got["clusters"])
    ids = {a["answer_id"] for a in answers} | {a["conversation_id"] for a in answers}
    assert not any(i in json.dumps(got) for i in ids)


def test_paraphrases_of_one_unanswered_question_form_one_cluster(seeded: Seeded) -> None:
    clusters = insights(seeded).json()["clusters"]
    holding = [c for c in clusters if set(c["examples"]) & set(PARAPHRASES)]
    assert len(holding) == 1, holding
    cluster = holding[0]
    assert cluster["size"] == len(PARAPHRASES) and cluster["languages"] == {"ru": len(PARAPHRASES)}
    assert len(cluster["examples"]) == 3 and set(cluster["examples"]) <= set(PARAPHRASES)
    sizes = [c["size"] for c in clusters]
    assert sizes == sorted(sizes, reverse=True) and [c["id"] for c in clusters] == list(range(1, len(clusters) + 1))
    # No unrelated question joined them (the cluster holds exactly the paraphrases), and they joined no other group.
    assert not any(set(other["examples"]) & set(PARAPHRASES) for other in clusters if other is not cluster)
    assert any(set(c["examples"]) & set(OFF_TOPIC) for c in clusters)  # the off-topic questions are elsewhere


def test_only_admin_keys_read_insights(seeded: Seeded) -> None:
    assert insights(seeded, headers=ASK).status_code == 403
    assert insights(seeded, headers={}).status_code == 401
    bad = insights(seeded, since="2026-11-05", until="2026-11-01")
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
    assert insights(seeded, language="de").status_code == 422
    assert insights(seeded, until="0").status_code == 422  # a bare number is not a day
    not_a_day = insights(seeded, since="2026-02-30")
    assert not_a_day.status_code == 422 and "not a day of the calendar" in not_a_day.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"until": "0001-01-01"},  # the default `since` would be before the first day a date can hold
        {"since": "0001-01-01", "until": "0001-01-31"},
        {"since": "1969-12-31", "until": "1970-01-05"},  # before the Unix epoch: no record can be that old
        {"since": "9999-12-31", "until": "9999-12-31"},  # the day after `until` is past the last a date can hold
        {"since": "9999-12-01"},
    ],
)
def test_a_window_outside_the_days_insights_cover_is_a_422_not_a_500(seeded: Seeded, params: dict[str, str]) -> None:
    for path in ("/v1/insights", "/v1/insights/clusters.csv"):
        response = httpx.get(f"{seeded.url}{path}", params=params, headers=ADMIN, timeout=60)
        assert response.status_code == 422, response.text
        assert "outside the days insights cover" in response.json()["detail"] or "after" in response.json()["detail"]


def test_a_window_at_the_edges_of_the_days_insights_cover_is_fine(seeded: Seeded) -> None:
    first = insights(seeded, since="1970-01-01", until="1970-01-31")
    assert first.status_code == 200 and first.json()["totals"]["asked"] == 0, first.text
    last = insights(seeded, since="9999-12-01", until="9999-12-30")
    assert last.status_code == 200 and len(last.json()["days"]) == 30, last.text


def test_the_csv_export_has_one_row_per_cluster(seeded: Seeded) -> None:
    response = httpx.get(f"{seeded.url}/v1/insights/clusters.csv", headers=ADMIN, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][0] == "cluster" and len(rows) - 1 == len(insights(seeded).json()["clusters"])
    assert httpx.get(f"{seeded.url}/v1/insights/clusters.csv", headers=ASK).status_code == 403


def test_the_html_report_holds_the_same_figures(seeded: Seeded, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(seeded.data_dir, copy, ignore=shutil.ignore_patterns(".write.lock"))
    out = tmp_path / "report.html"
    done = run_module("eval", "insights", "--out", out, "--data-dir", copy, timeout=300)
    assert done.returncode == 0, done.stderr
    got = insights(seeded).json()
    page = out.read_text(encoding="utf-8")
    assert f"<b>{got['totals']['asked']}</b>" in page and "Chart.js v4.6.1" in page
    assert all(example in page for example in got["clusters"][0]["examples"])
    assert f"{got['totals']['asked']} questions" in done.stdout
    missing = run_module("eval", "insights", "--out", out, "--data-dir", tmp_path / "none", timeout=300)
    assert missing.returncode == 2 and "no service records" in missing.stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_the_insights_tab_draws_its_chart_offline(seeded: Seeded, browser: Browser) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 2000}, locale="en-GB").new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{seeded.url}/")
    page.fill("#api-key", ADMIN_KEY)
    page.press("#api-key", "Enter")
    page.click("#tab-insights")
    chart = page.locator("#insights-chart")
    expect(chart).to_have_attribute("data-rendered", "30", timeout=30_000)
    got = insights(seeded).json()
    expect(page.locator(".insight-card .insight-value").first).to_have_text(str(got["totals"]["asked"]))
    expect(page.locator("#insights-clusters > li.cluster")).to_have_count(len(got["clusters"]))
    expect(page.locator("#insights-clusters > li.cluster").first).to_contain_text(got["clusters"][0]["examples"][0])
    # The canvas holds drawn pixels (the lines and axes), not an empty box.
    drawn = page.evaluate(
        "() => { const c = document.querySelector('#insights-chart');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
    )
    assert drawn > 1000
    with page.expect_download() as download:
        page.click("#insights-csv")
    assert download.value.suggested_filename.startswith("bilim-unanswered-")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "insights-tab.png"), full_page=True)
    assert errors == []
    assert [u for u in requests if not u.startswith(seeded.url) and not u.startswith(("data:", "blob:"))] == []
    assert any(u.endswith("/static/vendor/chart.umd.min.js") for u in requests)


def test_an_asking_key_is_told_the_tab_needs_an_admin_key(seeded: Seeded, browser: Browser) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{seeded.url}/")
    page.fill("#api-key", ASK_KEY)
    page.press("#api-key", "Enter")
    page.click("#tab-insights")
    expect(page.locator("#insights-error")).to_contain_text("An admin key is required")
    expect(page.locator("#insights-body")).to_be_hidden()


def test_rows_past_retention_are_gone_from_every_figure(seeded: Seeded) -> None:
    """Last in the module: it ages some of the seeded rows."""
    today = datetime.now(UTC).date()
    since, until = (today - timedelta(days=120)).isoformat(), today.isoformat()
    before = insights(seeded, since=since, until=until).json()
    aged = [a for a in seeded.sent.answers if a["question"] in PARAPHRASES or a["question"] in OFF_TOPIC[:3]]
    cited_by_aged = Counter(d for a in aged if not a["refused"] for d in {c["document"] for c in a["citations"]})
    db = sqlite3.connect(seeded.data_dir / "records.sqlite3", timeout=30)
    with db:
        db.executemany(
            "UPDATE answers SET created = created - ? WHERE id = ?",
            [(100 * 86400, a["answer_id"]) for a in aged],  # 100 days old: past the default 90-day retention
        )
    db.close()
    after = insights(seeded, since=since, until=until).json()
    assert after["totals"]["asked"] == before["totals"]["asked"] - len(aged)
    assert sum(d["asked"] for d in after["days"]) == after["totals"]["asked"]
    assert after["unanswered_total"] == before["unanswered_total"] - len(aged)
    assert not any(set(c["examples"]) & {a["question"] for a in aged} for c in after["clusters"])
    cited_before = {d["document"]: d["answers"] for d in before["documents"]["cited"]}
    cited_after = {d["document"]: d["answers"] for d in after["documents"]["cited"]}
    assert all(cited_after.get(doc, 0) == cited_before[doc] - n for doc, n in cited_by_aged.items())


def test_the_shipped_clustering_is_what_the_fit_gives_on_the_frozen_set(tmp_path: Path) -> None:
    out = tmp_path / "clustering.json"
    done = run_module("eval", "insights-fit", "--out", out, timeout=600)
    assert done.returncode == 0, done.stderr
    fitted = json.loads(out.read_text(encoding="utf-8"))
    shipped = json.loads((ROOT / "assistant/models/insights-clustering.json").read_text(encoding="utf-8"))
    assert (fitted["linkage"], fitted["distance_threshold"]) == (shipped["linkage"], shipped["distance_threshold"])
    # The figures to the bundled model's rounding between CPUs and runs (seen: ARI 0.5556 against 0.5603, plain e5's
    # pair precision 0.5646 against 0.5903).
    moved = differences(fitted["figures"], shipped["figures"], 0.04)
    assert not moved, moved
    assert sorted(fitted["language_means"]) == ["en", "ky", "ru"]
    test = fitted["figures"]["test"]
    # Reported beside its floors: better than exact wording and than plain e5 on the part nobody tuned on.
    assert test["clustering"]["ari"] > test["plain_e5"]["ari"] > test["floor"]["ari"]
    assert "| test |" in done.stdout
