"""Staff insights over real SQLite records with made-up vectors (no model): counts, rates, latest ratings,
retention, windows, clusters, cited documents, the CSV, and the vendored chart library."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.core.errors import ConfigurationError, InvalidInput
from assistant.core.models import StoredDocument
from assistant.insights import Clustering, Window, build_insights, clusters_csv
from assistant.records import RecordStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
CLUSTERING = Clustering(linkage="complete", distance_threshold=0.15)
VENDOR = Path(__file__).resolve().parent.parent / "assistant" / "api" / "static" / "vendor"


def unit(seed: int, near: np.ndarray | None = None, noise: float = 0.02) -> np.ndarray:
    """A random unit vector, or one a little off `near` (cosine distance well under 0.15)."""
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=64) if near is None else near + noise * rng.normal(size=64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def document(doc_id: str, title: str) -> StoredDocument:
    return StoredDocument(
        id=doc_id, chunk_ids=frozenset(), source=doc_id, title=title, lang="ky", url=None, date=None,
        ingested_at="2026-11-01T00:00:00Z",
    )  # fmt: skip


DOCUMENTS = {"quotas.txt": document("quotas.txt", "Quotas"), "unused.txt": document("unused.txt", "Unused")}


class Seed:
    """Answers saved straight into a real RecordStore, with the vectors and times a test chooses."""

    def __init__(self, tmp_path: Path) -> None:
        self.records = RecordStore(tmp_path / "records.sqlite3")

    def ask(
        self,
        question: str,
        *,
        language: str = "ky",
        refused: bool = False,
        cites: tuple[str, ...] = (),
        vector: np.ndarray | None = None,
        days_ago: float = 0.0,
    ) -> str:
        payload = {
            "answer": "…",
            "language": language,
            "refused": refused,
            "citations": [{"document": doc, "title": doc} for doc in (*cites, *cites)],  # cited twice: counts once
        }
        return self.records.save_answer(
            conversation_id=None,
            owner="someone",
            question=question,
            payload=payload,
            vector=vector if vector is not None else unit(hash(question) % 2**32),
            created=NOW - days_ago * DAY,
        )[1]

    def rate(self, answer_id: str, rating: str) -> None:
        self.records.add_feedback(answer_id, rating, None, "someone")

    def insights(self, window: Window | None = None, retention_days: int = 90) -> dict[str, Any]:
        return build_insights(
            self.records,
            DOCUMENTS,
            window or Window.of(date(2026, 11, 1), date(2026, 11, 30), None),
            retention_days=retention_days,
            clustering=CLUSTERING,
            now=NOW,
        )


def test_counts_rates_days_and_languages_match_what_was_asked(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    for i in range(6):
        seed.ask(f"answered {i}", cites=("quotas.txt",), language="ky" if i % 2 else "ru", days_ago=i % 3)
    refused = [seed.ask(f"refused {i}", refused=True, language="en", days_ago=1) for i in range(3)]
    down = seed.ask("rated down", cites=("quotas.txt",))
    seed.rate(down, "down")
    seed.rate(refused[0], "down")  # a refusal rated 👎 is still one question
    got = seed.insights()
    assert got["totals"] == {
        "asked": 10, "answered": 7, "refused": 3, "rated_down": 2, "rated_up": 0,
        "answered_rate": 0.7, "refused_rate": 0.3, "rated_down_rate": 0.2,
    }  # fmt: skip
    assert len(got["days"]) == 30 and sum(d["asked"] for d in got["days"]) == 10
    by_day = {d["day"]: d for d in got["days"]}
    assert by_day["2026-11-30"]["asked"] == 3 and by_day["2026-11-28"]["asked"] == 2 and by_day["2026-11-29"] == {
        "day": "2026-11-29", "asked": 5, "refused": 3, "rated_down": 1, "rated_up": 0,
        "languages": {"en": 3, "ky": 1, "ru": 1},
    }  # fmt: skip
    assert by_day["2026-11-01"]["asked"] == 0  # days without questions are there, with zeros
    assert {lang: v["asked"] for lang, v in got["languages"].items()} == {"en": 3, "ky": 4, "ru": 3}
    assert got["documents"]["cited"] == [{"document": "quotas.txt", "title": "Quotas", "answers": 7}]
    assert [d["document"] for d in got["documents"]["never_cited"]] == ["unused.txt"]
    only_en = seed.insights(Window.of(date(2026, 11, 1), date(2026, 11, 30), "en"))
    assert only_en["totals"]["asked"] == 3 and only_en["documents"]["cited"] == []


def test_the_latest_rating_of_an_answer_counts(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    changed_mind, stayed = seed.ask("first"), seed.ask("second")
    seed.rate(changed_mind, "down")
    seed.rate(changed_mind, "up")
    seed.rate(stayed, "up")
    seed.rate(stayed, "down")
    got = seed.insights()
    assert (got["totals"]["rated_down"], got["totals"]["rated_up"]) == (1, 1)
    assert [c["examples"] for c in got["clusters"]] == [["second"]]


def test_nothing_past_retention_counts_anywhere(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    seed.ask("recent refusal", refused=True, days_ago=2)
    seed.ask("recent answer", cites=("quotas.txt",), days_ago=2)
    seed.ask("old refusal", refused=True, days_ago=40)
    seed.ask("old answer", cites=("unused.txt",), days_ago=40)
    wide = Window.of(date(2026, 9, 1), date(2026, 11, 30), None)
    kept = seed.insights(wide, retention_days=30)
    assert kept["totals"]["asked"] == 2 and kept["unanswered_total"] == 1
    assert [c["examples"] for c in kept["clusters"]] == [["recent refusal"]]
    assert [d["document"] for d in kept["documents"]["cited"]] == ["quotas.txt"]
    assert sum(d["asked"] for d in kept["days"]) == 2
    assert seed.insights(wide, retention_days=60)["totals"]["asked"] == 4


def test_near_duplicates_cluster_and_unrelated_questions_stay_apart(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    dorm = unit(1)
    for i, (text, lang) in enumerate(
        [("Жатакана канча турат?", "ky"), ("Сколько стоит общежитие?", "ru"), ("How much is the dorm?", "en")]
    ):
        seed.ask(text, language=lang, refused=True, vector=unit(10 + i, near=dorm), days_ago=i)
    seed.ask("Жатакана канча турат?", refused=True, vector=unit(10, near=dorm), days_ago=0.5)  # the same wording again
    for i in range(4):
        seed.ask(f"unrelated {i}", refused=True, vector=unit(100 + i))
    got = seed.insights()
    assert got["unanswered_total"] == got["clustered"] == 8
    biggest = got["clusters"][0]
    assert biggest["size"] == 4 and biggest["refused"] == 4 and biggest["id"] == 1
    assert biggest["languages"] == {"ky": 2, "ru": 1, "en": 1}
    assert biggest["examples"][0] == "Жатакана канча турат?"  # asked most often first
    assert set(biggest["examples"]) == {"Жатакана канча турат?", "Сколько стоит общежитие?", "How much is the dorm?"}
    assert biggest["first_asked"] == "2026-11-28T12:00:00Z" and biggest["last_asked"] == "2026-11-30T12:00:00Z"
    assert sorted(c["size"] for c in got["clusters"][1:]) == [1, 1, 1, 1]


def test_only_the_latest_questions_are_clustered_and_the_rest_are_counted(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    for i in range(5):
        seed.ask(f"refused {i}", refused=True, days_ago=i)
    got = build_insights(
        seed.records,
        DOCUMENTS,
        Window.of(date(2026, 11, 1), date(2026, 11, 30), None),
        retention_days=90,
        clustering=CLUSTERING,
        now=NOW,
        max_clustered=3,
    )
    assert (got["unanswered_total"], got["clustered"]) == (5, 3)
    assert sorted(e for c in got["clusters"] for e in c["examples"]) == ["refused 0", "refused 1", "refused 2"]


def test_records_written_before_vectors_gain_the_column_and_are_counted_not_clustered(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE answers (id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, owner TEXT NOT NULL,"
        " question TEXT NOT NULL, language TEXT NOT NULL, refused INTEGER NOT NULL, payload TEXT NOT NULL,"
        " created REAL NOT NULL);"
    )
    db.execute(
        "INSERT INTO answers VALUES ('a_old', 'c', 'o', 'old question?', 'ky', 1, ?, ?)",
        ('{"language": "ky", "refused": true, "citations": []}', NOW - DAY),
    )
    db.commit()
    db.close()
    records = RecordStore(path)  # adds the vector column
    got = build_insights(
        records, {}, Window.of(date(2026, 11, 1), date(2026, 11, 30), None), retention_days=90,
        clustering=CLUSTERING, now=NOW,
    )  # fmt: skip
    assert got["totals"]["refused"] == 1 and got["unanswered_total"] == 1 and got["clusters"] == []


@pytest.mark.parametrize(
    ("since", "until", "language", "message"),
    [
        (date(2026, 11, 5), date(2026, 11, 1), None, "is after"),
        (date(2025, 1, 1), date(2026, 11, 30), None, "at most 366"),
        (None, None, "de", "unknown language"),
        (None, date(1, 1, 1), None, "outside the days insights cover"),
        (date(1969, 12, 31), date(1970, 1, 1), None, "outside the days insights cover"),
        (date(9999, 12, 31), date(9999, 12, 31), None, "outside the days insights cover"),
        (date(9999, 12, 30), date(9999, 12, 31), None, "outside the days insights cover"),
    ],
)
def test_a_window_that_is_not_one_is_invalid_input(
    since: date | None, until: date | None, language: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Window.of(since, until, language)


def test_the_default_window_starts_no_earlier_than_the_epoch() -> None:
    window = Window.of(None, date(1970, 1, 10), None)
    assert (window.since, len(window.days())) == (date(1970, 1, 1), 10)


def test_the_default_window_is_the_last_30_days() -> None:
    window = Window.of(None, None, None, today=date(2026, 11, 30))
    assert (window.since, window.until, len(window.days())) == (date(2026, 11, 1), date(2026, 11, 30), 30)


def test_the_csv_has_one_row_per_cluster_and_neutralises_formulas(tmp_path: Path) -> None:
    seed = Seed(tmp_path)
    seed.ask('=HYPERLINK("http://x")', refused=True)
    seed.ask("Сколько мест?", refused=True, language="ru")
    rows = list(csv.reader(io.StringIO(clusters_csv(seed.insights()))))
    assert rows[0] == ["cluster", "size", "refused", "rated_down", "languages", "first_asked", "last_asked", "examples"]
    assert len(rows) == 3 and {r[7] for r in rows[1:]} == {'\'=HYPERLINK("http://x")', "Сколько мест?"}


def test_the_fitted_clustering_model_loads_with_a_mean_per_language() -> None:
    clustering = Clustering.load()
    assert clustering.linkage in ("average", "complete", "single") and 0 < clustering.distance_threshold < 1
    assert sorted(clustering.language_means) == ["en", "ky", "ru"]
    assert all(mean.shape == (384,) for mean in clustering.language_means.values())


def test_each_language_loses_its_own_mean_before_clustering() -> None:
    # Every question of a language shares that language's direction: one need asked in Kyrgyz and in Russian
    # differs by it, two needs asked in Kyrgyz share it. Taken away, the need is what is left.
    e = np.eye(6, dtype=np.float32)
    need, other_need = e[4], e[5]
    ky_mean, ru_mean = 2 * e[0] / np.sqrt(5), 2 * e[1] / np.sqrt(5)
    asked = np.stack([2 * e[0] + need, 2 * e[1] + need, 2 * e[0] + other_need]) / np.sqrt(5)
    languages = ["ky", "ru", "ky"]
    plain = Clustering(linkage="average", distance_threshold=0.3)
    assert plain.labels(asked, languages).tolist() in ([0, 1, 0], [1, 0, 1])  # by language, not by need
    centred = Clustering(linkage="average", distance_threshold=0.3, language_means={"ky": ky_mean, "ru": ru_mean})
    assert centred.labels(asked, languages).tolist() in ([0, 0, 1], [1, 1, 0])  # by need
    assert np.allclose(np.linalg.norm(centred.centred(asked, ["ky", "en", "ru"]), axis=1), 1.0)  # en: no mean


def test_a_clustering_model_that_cannot_be_read_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "model.json"
    broken.write_text('{"linkage": "average"}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot read the insights clustering model"):
        Clustering.load(broken)


def test_the_vendored_chart_library_is_the_recorded_release() -> None:
    script = (VENDOR / "chart.umd.min.js").read_bytes()
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert script.startswith(b"/*!\n * Chart.js v4.6.1") and "| 4.6.1 |" in readme
    assert hashlib.sha256(script).hexdigest() in readme
    assert (VENDOR / "chart.js-LICENSE.md").read_text(encoding="utf-8").startswith("The MIT License")
