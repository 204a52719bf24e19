"""The near-duplicate question set: its split by family, fitting the insights' clustering on the fit part (each
language's mean question vector, the linkage and the distance threshold), and scoring a clustering (adjusted Rand
index, pairwise precision and recall) beside the exact-wording floor and plain e5 clustering."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import pair_confusion_matrix

from assistant.core.language import detect_language
from assistant.insights import Clustering, Linkage

PARAPHRASES = Path("eval/datasets/paraphrases/paraphrases.jsonl")
LINKAGES: tuple[Linkage, ...] = ("average", "complete", "single")
THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(1, 50))  # cosine distance 0.02 … 0.98


@dataclass(frozen=True)
class Paraphrase:
    """One question of the set: its group (one information need), its language as written and as the service
    detects it (what the records keep)."""

    group: str
    lang: str
    question: str

    @property
    def detected(self) -> str:
        return detect_language(self.question)


def family_of(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each group's family: groups joined by `sibling_of` share one (named by its smallest group id)."""
    parent = {r["group"]: r["group"] for r in rows}

    def root(group: str) -> str:
        while parent[group] != group:
            group = parent[group]
        return group

    for r in rows:
        if r.get("sibling_of"):
            a, b = sorted((root(r["group"]), root(r["sibling_of"])))
            parent[b] = a
    return {group: root(group) for group in parent}


def load_paraphrases(part: str = "all", path: Path = PARAPHRASES) -> list[Paraphrase]:
    """The set's questions; `part` "fit" or "test" deals families alternately by the SHA-256 of their id."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    families = family_of(rows)
    order = sorted(set(families.values()), key=lambda f: hashlib.sha256(f.encode()).hexdigest())
    dealt = {family: ("fit", "test")[i % 2] for i, family in enumerate(order)}
    return [
        Paraphrase(group=r["group"], lang=r["lang"], question=" ".join(r["question"].split()))
        for r in rows
        if part == "all" or dealt[families[r["group"]]] == part
    ]


def score(truth: Sequence[str], labels: Sequence[int]) -> dict[str, float]:
    """Adjusted Rand index and pairwise precision / recall / F1 of predicted labels against the groups."""
    (_, fp), (fn, tp) = pair_confusion_matrix(list(truth), list(labels)) // 2
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "ari": round(float(adjusted_rand_score(list(truth), list(labels))), 4),
        "pair_precision": round(float(precision), 4),
        "pair_recall": round(float(recall), 4),
        "pair_f1": round(float(f1), 4),
    }


def exact_wording_labels(items: Sequence[Paraphrase]) -> list[int]:
    """The floor: questions grouped only when their wording is the same (case and spacing aside)."""
    ids: dict[str, int] = {}
    return [ids.setdefault(item.question.casefold(), len(ids)) for item in items]


def embed_all(items: Sequence[Paraphrase], embed_query: Callable[[str], Any]) -> npt.NDArray[np.float32]:
    """The questions' vectors, as the service stores them (the query embedding of the normalised text)."""
    return np.stack([np.asarray(embed_query(item.question), dtype=np.float32) for item in items])


def language_means(items: Sequence[Paraphrase], vectors: npt.NDArray[np.float32]) -> dict[str, Any]:
    """Each detected language's mean question vector over these items."""
    languages = [item.detected for item in items]
    return {
        lang: vectors[[i for i, x in enumerate(languages) if x == lang]].mean(axis=0) for lang in sorted(set(languages))
    }


def search(
    items: Sequence[Paraphrase], vectors: npt.NDArray[np.float32], means: dict[str, Any]
) -> tuple[Clustering, float]:
    """The linkage and threshold with the best adjusted Rand index on these items, given the language means."""
    truth = [item.group for item in items]
    languages = [item.detected for item in items]
    best: tuple[float, Clustering] | None = None
    for linkage in LINKAGES:
        for threshold in THRESHOLDS:
            clustering = Clustering(linkage=linkage, distance_threshold=threshold, language_means=means)
            ari = float(adjusted_rand_score(truth, clustering.labels(vectors, languages)))
            if best is None or ari > best[0]:
                best = (ari, clustering)
    assert best is not None
    return best[1], round(best[0], 4)


def fit_clustering(items: Sequence[Paraphrase], vectors: npt.NDArray[np.float32]) -> tuple[Clustering, float]:
    """The language means, linkage and distance threshold fitted on these items; and the fit's adjusted Rand index."""
    return search(items, vectors, language_means(items, vectors))


def plain_clustering(items: Sequence[Paraphrase], vectors: npt.NDArray[np.float32]) -> tuple[Clustering, float]:
    """The reference without language means: only the linkage and threshold fitted."""
    return search(items, vectors, {})


def evaluate_clustering(
    clustering: Clustering,
    plain: Clustering,
    parts: Mapping[str, tuple[Sequence[Paraphrase], npt.NDArray[np.float32]]],
) -> dict[str, dict[str, Any]]:
    """Each part's figures for the clustering, for plain e5 clustering and for the exact-wording floor."""
    out = {}
    for name, (items, vectors) in parts.items():
        truth = [item.group for item in items]
        languages = [item.detected for item in items]
        out[name] = {
            "questions": len(items),
            "groups": len(set(truth)),
            "clustering": score(truth, clustering.labels(vectors, languages).tolist()),
            "plain_e5": score(truth, plain.labels(vectors, languages).tolist()),
            "floor": score(truth, exact_wording_labels(items)),
        }
    return out


def embedded_parts(
    embed_query: Callable[[str], Any],
) -> dict[str, tuple[list[Paraphrase], npt.NDArray[np.float32]]]:
    """The fit and test parts with their questions' vectors."""
    parts = {}
    for part in ("fit", "test"):
        items = load_paraphrases(part)
        parts[part] = (items, embed_all(items, embed_query))
    return parts


def clustering_report(embed_query: Callable[[str], Any], clustering: Clustering) -> str:
    """The README's table for a clustering (the shipped one in `make eval`), beside plain e5 and the floor."""
    parts = embedded_parts(embed_query)
    plain, _ = plain_clustering(*parts["fit"])
    return markdown_table(evaluate_clustering(clustering, plain, parts), clustering, plain)


def markdown_table(figures: dict[str, dict[str, Any]], clustering: Clustering, plain: Clustering) -> str:
    """The README's table: each part, the fitted clustering beside plain e5 clustering and the exact-wording floor."""
    lines = [
        f"Clustering: language means taken away, {clustering.linkage} linkage, cosine distance threshold "
        f"{clustering.distance_threshold}; plain e5: {plain.linkage} linkage, threshold {plain.distance_threshold}; "
        "both fitted on the fit part. Floor: exact wording only.",
        "",
        "| part | questions / groups | ARI | pair precision | pair recall | pair F1 | plain e5 ARI | floor ARI |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        c = f["clustering"]
        lines.append(
            f"| {name} | {f['questions']} / {f['groups']} | {c['ari']:.3f} | {c['pair_precision']:.3f} | "
            f"{c['pair_recall']:.3f} | {c['pair_f1']:.3f} | {f['plain_e5']['ari']:.3f} | {f['floor']['ari']:.3f} |"
        )
    return "\n".join(lines)
