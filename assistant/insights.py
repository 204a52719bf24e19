"""Staff insights: what was asked, refused and rated 👎, which unanswered questions are near-duplicates of each
other, and which documents carry the load — read from the service's records, never naming who asked."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from assistant.core.errors import ConfigurationError, InvalidInput
from assistant.core.models import StoredDocument
from assistant.records import AskedQuestion, RecordStore

CLUSTERING_MODEL = Path(__file__).parent / "models" / "insights-clustering.json"
MAX_CLUSTERED = 2000  # the most recent unanswered questions grouped (average linkage holds n² distances)
MAX_DAYS = 366
DEFAULT_DAYS = 30
EXAMPLES = 3
LANGUAGES = ("ky", "ru", "en")
# Records are stamped in Unix seconds, so nothing is older than the epoch; a window's end is read as the start of
# the day after it, so the last day a date can hold cannot end one.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date.max - timedelta(days=1)
Linkage = Literal["ward", "complete", "average", "single"]


@dataclass(frozen=True)
class Clustering:
    """How near-duplicate questions are grouped: agglomerative clustering of their e5 vectors by cosine distance,
    after taking away each language's mean question vector."""

    linkage: Linkage
    distance_threshold: float
    # e5-small puts every question of one language close together (Kyrgyz most of all): without its language's
    # mean taken away, different questions in one language merged and one need asked in two languages split.
    language_means: Mapping[str, npt.NDArray[np.float32]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CLUSTERING_MODEL) -> Clustering:
        """The clustering fitted by `python -m eval insights-fit` on the paraphrase set's fit part."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            means = {lang: np.asarray(v, dtype=np.float32) for lang, v in data.get("language_means", {}).items()}
            linkage = data["linkage"]
            if linkage not in get_args(Linkage):
                raise ValueError(f"unknown linkage {linkage!r}")
            return cls(linkage=linkage, distance_threshold=float(data["distance_threshold"]), language_means=means)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the insights clustering model {path}: {exc}") from exc

    def centred(self, vectors: npt.NDArray[np.float32], languages: Sequence[str]) -> npt.NDArray[np.float32]:
        """Each vector less its language's mean (unchanged for a language without one), back to unit length."""
        out = np.array(vectors, dtype=np.float32, copy=True)
        for row, language in enumerate(languages):
            mean = self.language_means.get(language)
            if mean is not None:
                out[row] -= mean
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.where(norms > 0, norms, 1), dtype=np.float32)

    def labels(self, vectors: npt.NDArray[np.float32], languages: Sequence[str]) -> npt.NDArray[np.int_]:
        """A cluster label per row of `vectors` (unit-length question embeddings, each in its language)."""
        if len(vectors) < 2:
            return np.zeros(len(vectors), dtype=np.int_)
        from sklearn.cluster import AgglomerativeClustering  # imported on first use: the API starts without it

        model = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage=self.linkage, distance_threshold=self.distance_threshold
        )
        return np.asarray(model.fit_predict(self.centred(vectors, languages)), dtype=np.int_)


@dataclass(frozen=True)
class Window:
    """The days looked at (UTC, both ends included) and the language, or every language."""

    since: date
    until: date
    language: str | None = None

    @classmethod
    def of(cls, since: date | None, until: date | None, language: str | None, today: date | None = None) -> Window:
        """The asked-for window with defaults (the last 30 days up to today); InvalidInput when it is not one."""
        for name, day in (("since", since), ("until", until)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise InvalidInput(f"{name}: {day} is outside the days insights cover ({FIRST_DAY} to {LAST_DAY})")
        until = until or today or datetime.now(UTC).date()
        since = since or max(FIRST_DAY, until - timedelta(days=DEFAULT_DAYS - 1))
        if since > until:
            raise InvalidInput(f"since ({since}) is after until ({until})")
        if (until - since).days + 1 > MAX_DAYS:
            raise InvalidInput(f"the window is {(until - since).days + 1} days long; at most {MAX_DAYS} at a time")
        if language is not None and language not in LANGUAGES:
            raise InvalidInput(f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}")
        return cls(since=since, until=until, language=language)

    def seconds(self, retention_days: int, now: float) -> tuple[float, float]:
        """[start, end) in Unix seconds, starting no earlier than the retention period allows."""
        start = datetime.combine(self.since, datetime.min.time(), UTC).timestamp()
        end = datetime.combine(self.until + timedelta(days=1), datetime.min.time(), UTC).timestamp()
        return max(start, now - retention_days * 86400), end

    def days(self) -> list[str]:
        """Every day of the window, ISO-formatted."""
        return [(self.since + timedelta(days=i)).isoformat() for i in range((self.until - self.since).days + 1)]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def cluster_unanswered(questions: Sequence[AskedQuestion], clustering: Clustering) -> list[dict[str, Any]]:
    """Near-duplicate questions grouped, largest group first; each with its size, languages, examples and span."""
    with_vectors = [q for q in questions if q.vector is not None]
    if not with_vectors:
        return []
    # Identical texts (after case and spacing) are one point: clustering sees each wording once.
    wordings: dict[str, list[AskedQuestion]] = {}
    for q in with_vectors:
        wordings.setdefault(" ".join(q.question.casefold().split()), []).append(q)
    keys = list(wordings)
    vectors = np.stack([np.asarray(wordings[k][0].vector, dtype=np.float32) for k in keys])
    labels = clustering.labels(vectors, [wordings[k][0].language for k in keys])
    groups: dict[int, list[AskedQuestion]] = {}
    for key, label in zip(keys, labels, strict=True):
        groups.setdefault(int(label), []).extend(wordings[key])
    clusters: list[dict[str, Any]] = []
    for members in groups.values():
        texts = Counter(q.question for q in members)
        latest = {q.question: q.created for q in sorted(members, key=lambda q: q.created)}
        examples = sorted(texts, key=lambda t: (-texts[t], -latest[t]))[:EXAMPLES]
        clusters.append(
            {
                "size": len(members),
                "refused": sum(q.refused for q in members),
                "rated_down": sum(q.rated_down for q in members),
                "languages": dict(Counter(q.language for q in members).most_common()),
                "examples": examples,
                "first_asked": _iso(min(q.created for q in members)),
                "last_asked": _iso(max(q.created for q in members)),
            }
        )
    clusters.sort(key=lambda c: c["last_asked"], reverse=True)
    clusters.sort(key=lambda c: c["size"], reverse=True)  # stable: the largest first, the latest first among equals
    for number, cluster in enumerate(clusters, start=1):
        cluster["id"] = number
    return clusters


def build_insights(
    records: RecordStore,
    documents: Mapping[str, StoredDocument],
    window: Window,
    *,
    retention_days: int,
    clustering: Clustering,
    now: float | None = None,
    max_clustered: int = MAX_CLUSTERED,
) -> dict[str, Any]:
    """Every figure of the insights for the window: daily counts, rates, clusters of unanswered and 👎 questions,
    documents cited most and never."""
    now = time.time() if now is None else now
    start, end = window.seconds(retention_days, now)
    rows = records.daily_counts(start, end, window.language)
    days: dict[str, dict[str, Any]] = {
        day: {"day": day, "asked": 0, "refused": 0, "rated_down": 0, "rated_up": 0, "languages": {}}
        for day in window.days()
    }
    by_language: dict[str, dict[str, int]] = {}
    for row in rows:
        day = days[row["day"]]
        language = by_language.setdefault(row["language"], {"asked": 0, "refused": 0, "rated_down": 0, "rated_up": 0})
        for key in ("asked", "refused", "rated_down", "rated_up"):
            day[key] += row[key]
            language[key] += row[key]
        day["languages"][row["language"]] = row["asked"]
    asked = sum(d["asked"] for d in days.values())
    refused = sum(d["refused"] for d in days.values())
    rated_down = sum(d["rated_down"] for d in days.values())
    unanswered, unanswered_total = records.unanswered(start, end, window.language, max_clustered)
    cited = records.cited_documents(start, end, window.language)
    return {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "language": window.language,
        "timezone": "UTC",
        "retention_days": retention_days,
        "totals": {
            "asked": asked,
            "answered": asked - refused,
            "refused": refused,
            "rated_down": rated_down,
            "rated_up": sum(d["rated_up"] for d in days.values()),
            "answered_rate": _rate(asked - refused, asked),
            "refused_rate": _rate(refused, asked),
            "rated_down_rate": _rate(rated_down, asked),
        },
        "days": list(days.values()),
        "languages": dict(sorted(by_language.items())),
        "clusters": cluster_unanswered(unanswered, clustering),
        "unanswered_total": unanswered_total,
        "clustered": len(unanswered),
        "documents": {
            "cited": [
                {"document": doc, "title": documents[doc].title if doc in documents else doc, "answers": count}
                for doc, count in sorted(cited.items(), key=lambda item: (-item[1], item[0]))
            ],
            "never_cited": [
                {"document": doc.id, "title": doc.title, "ingested_at": doc.ingested_at}
                for doc in sorted(documents.values(), key=lambda d: d.id)
                if doc.id not in cited
            ],
        },
    }


CSV_COLUMNS = ("cluster", "size", "refused", "rated_down", "languages", "first_asked", "last_asked", "examples")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ gets a leading apostrophe."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def clusters_csv(insights: Mapping[str, Any]) -> str:
    """The clusters as CSV (one row each, examples joined by ' | ')."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in insights["clusters"]:
        languages = " ".join(f"{lang}:{n}" for lang, n in c["languages"].items())
        row = (c["id"], c["size"], c["refused"], c["rated_down"], languages, c["first_asked"], c["last_asked"])
        writer.writerow([_cell(v) for v in (*row, " | ".join(c["examples"]))])
    return out.getvalue()
