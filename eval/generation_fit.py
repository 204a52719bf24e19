"""`python -m eval llm-fit`: the e5-cosine a generated claim with no number or name must reach to the sentence it
cites, fitted on the gold set's fit part and reported on its test part.

A question and the sentences of its source document stand in for a claim and the sentences it may cite: the
evidence sentences are the positives, the document's other sentences the negatives (the hardest ones: the same
document, the same topic). The threshold is the lowest whose precision on the fit part reaches the target —
accepting a sentence that does not state the claim is the failure that matters.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from assistant.core.models import Chunk
from assistant.core.ports import Embedder
from assistant.core.sentences import chunk_sentences, sentence_passage
from assistant.wiring import document_chunks

GOLD = Path("eval/datasets/gold")
CORPUS = Path("data/corpus")
TARGET_PRECISION = 0.9
NEGATIVES = 6  # other sentences of the source document per question


def _plain(text: str) -> str:
    return " ".join(text.split())


def pairs(part: str, chunks: Sequence[Chunk], seed: int = 0) -> list[tuple[str, str, int]]:
    """(question, titled sentence passage, 1 if the sentence holds the gold evidence else 0) for a part."""
    by_doc: dict[str, list[tuple[str, str]]] = {}
    for chunk in chunks:
        for cut in chunk_sentences(chunk):
            by_doc.setdefault(chunk.document_id, []).append((chunk.title, cut.text))
    rng = random.Random(seed)
    out: list[tuple[str, str, int]] = []
    for line in (GOLD / f"{part}.jsonl").read_text(encoding="utf-8").splitlines():
        item: dict[str, Any] = json.loads(line)
        sentences = by_doc.get(str(item.get("source")), [])
        evidence = _plain(str(item.get("evidence") or ""))
        if not item.get("answerable") or not evidence or not sentences:
            continue
        positive = [(t, s) for t, s in sentences if _plain(s) in evidence or evidence in _plain(s)]
        negative = [(t, s) for t, s in sentences if (t, s) not in positive]
        if not positive:
            continue
        for title, sentence in positive:
            out.append((item["question"], sentence_passage(title, sentence), 1))
        for title, sentence in rng.sample(negative, min(NEGATIVES, len(negative))):
            out.append((item["question"], sentence_passage(title, sentence), 0))
    return out


def cosines(embedder: Embedder, rows: Sequence[tuple[str, str, int]]) -> np.ndarray:
    """The e5 cosine of each question (a query) to its sentence passage, as the answer-time similarity computes."""
    passages = embedder.embed_passages([p for _, p, _ in rows])
    questions = np.stack([embedder.embed_query(q) for q, _, _ in rows])
    return np.asarray(np.sum(passages * questions, axis=1), dtype=np.float64)


def at(threshold: float, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Precision and recall of accepting every score at or above the threshold."""
    accepted = scores >= threshold
    precision = float(labels[accepted].mean()) if accepted.any() else 0.0
    recall = float(accepted[labels == 1].mean()) if (labels == 1).any() else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4)}


def fit_min_similarity(embedder: Embedder) -> dict[str, Any]:
    """The threshold and both parts' figures beside the floor (accepting every sentence)."""
    chunks = document_chunks([CORPUS, GOLD / "articles-fit.jsonl", GOLD / "articles-test.jsonl"])
    parts = {part: pairs(part, chunks) for part in ("fit", "test")}
    scored = {part: (np.array([label for *_, label in rows]), cosines(embedder, rows)) for part, rows in parts.items()}
    labels, scores = scored["fit"]
    precision, _, thresholds = precision_recall_curve(labels, scores)
    reaching = [float(t) for p, t in zip(precision[:-1], thresholds, strict=True) if p >= TARGET_PRECISION]
    threshold = round(min(reaching) if reaching else float(scores.max()), 4)
    return {
        "min_similarity": threshold,
        "selected_by": f"the lowest e5 cosine with precision >= {TARGET_PRECISION} on the gold fit part",
        "figures": {
            part: {
                "pairs": len(parts[part]),
                "positives": int(scored[part][0].sum()),
                "at_threshold": at(threshold, *scored[part]),
                "floor_accept_all": at(-1.0, *scored[part]),
            }
            for part in parts
        },
    }


def markdown_table(model: dict[str, Any]) -> str:
    """The README's table: each part at the fitted threshold, beside accepting every sentence."""
    lines = [
        f"Threshold {model['min_similarity']} ({model['selected_by']}).",
        "",
        "| part | pairs (evidence) | precision | recall | floor precision (accept all) |",
        "|---|---|---|---|---|",
    ]
    for part, f in model["figures"].items():
        lines.append(
            f"| {part} | {f['pairs']} ({f['positives']}) | {f['at_threshold']['precision']:.3f} | "
            f"{f['at_threshold']['recall']:.3f} | {f['floor_accept_all']['precision']:.3f} |"
        )
    return "\n".join(lines)
