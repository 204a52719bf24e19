"""`python -m eval llm-fit`: the e5 cosine a generated claim must reach to the sentence it cites when the two are
in different languages (where words cannot be matched), fitted on labelled pairs, and what verification then
accepts and rejects.

The labelled pairs come from `eval/datasets/faithful/paraphrases.jsonl`: hand-written faithful paraphrases of
sentences of the five sample documents, in the question's language. Each cross-language claim paired with the
sentence it paraphrases is a positive; paired with other sentences of the same document (the hardest negatives:
the same topic and vocabulary) a negative. Claims with an even-numbered id are the fit part, odd ones the test
part. The threshold is the lowest whose precision on the fit part reaches the target — vouching for a sentence
that does not state the claim is the failure that matters.

With the threshold, the whole checker runs on every paraphrase (the share it shows is strictness's price) and on
`false_claims.jsonl`, replies that state what their passage does not (all must be rejected).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from assistant.core.models import Chunk, Language
from assistant.core.ports import Embedder, SentenceSimilarity
from assistant.core.sentences import chunk_sentences, sentence_passage
from assistant.core.verification import Passage, verify
from assistant.gazetteer import build_gazetteer
from assistant.wiring import claim_analyzer, document_chunks

CORPUS = Path("data/corpus")
FAITHFUL = Path("eval/datasets/faithful/paraphrases.jsonl")
FALSE_CLAIMS = Path("eval/datasets/faithful/false_claims.jsonl")
TARGET_PRECISION = 0.9
NEGATIVES = 6  # other sentences of the source document per claim


def _plain(text: str) -> str:
    return " ".join(text.split())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passage_holding(text: str, chunks: Sequence[Chunk]) -> Passage:
    """The chunk holding a sentence of the documents, as the numbered passage [1] the model was given."""
    for chunk in chunks:
        sentences = tuple(chunk_sentences(chunk))
        if any(_plain(s.text) == text for s in sentences):
            return Passage(number=1, chunk=chunk, sentences=sentences)
    raise ValueError(f"no chunk of {CORPUS} holds {text[:80]!r}")


class EmbedderSimilarity:
    """Claim–sentence cosines with the embedder, each sentence under its chunk's title, as the service computes
    them (the service reads the same vectors from the store)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def similarities(self, question: str, sentences: Sequence[tuple[Chunk, str]]) -> list[float]:
        passages = [sentence_passage(chunk.title, text) for chunk, text in sentences]
        missing = [p for p in dict.fromkeys(passages) if p not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._embedder.embed_passages(missing), strict=True))
        query = self._embedder.embed_query(question)
        return [float(self._vectors[p] @ query) for p in passages]


def is_cross_language(item: dict[str, Any]) -> bool:
    return bool(item["language"] != item["passage_language"])


def pairs(items: Sequence[dict[str, Any]], chunks: Sequence[Chunk], seed: int = 0) -> list[tuple[str, Chunk, str, int]]:
    """(claim, chunk, sentence, 1 if the sentence is the one the claim paraphrases else 0)."""
    by_doc: dict[str, list[tuple[Chunk, str]]] = {}
    for chunk in chunks:
        for cut in chunk_sentences(chunk):
            by_doc.setdefault(chunk.document_id, []).append((chunk, _plain(cut.text)))
    rng = random.Random(seed)
    out: list[tuple[str, Chunk, str, int]] = []
    for item in items:
        sentences = by_doc[item["source"]]
        positive = [(c, s) for c, s in sentences if s == item["passage"]][:1]
        negative = [(c, s) for c, s in sentences if s != item["passage"]]
        out += [(item["claim"], c, s, 1) for c, s in positive]
        out += [(item["claim"], c, s, 0) for c, s in rng.sample(negative, min(NEGATIVES, len(negative)))]
    return out


def at(threshold: float, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Precision and recall of accepting every score at or above the threshold."""
    accepted = scores >= threshold
    precision = float(labels[accepted].mean()) if accepted.any() else 0.0
    recall = float(accepted[labels == 1].mean()) if (labels == 1).any() else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4)}


@dataclass(frozen=True)
class Checked:
    """One reply as verification judged it."""

    item: dict[str, Any]
    ok: bool
    reason: str | None
    detail: str


def check_all(
    items: Sequence[dict[str, Any]],
    chunks: Sequence[Chunk],
    similarity: SentenceSimilarity | None,
    threshold: float,
) -> list[Checked]:
    """Verify each item's reply (a paraphrase's claim cites [1]) against the chunk holding its passage."""
    gazetteer = build_gazetteer(frozenset({"KG"}))  # as the service builds it for the default home country
    analyze = claim_analyzer()
    out = []
    for item in items:
        reply = item.get("reply") or f"{item['claim']} [1]."
        language: Language = item["language"]
        verdict = verify(
            reply,
            [passage_holding(item["passage"], chunks)],
            language,
            gazetteer,
            analyze,
            similarity=similarity,
            min_similarity=threshold,
        )
        out.append(Checked(item=item, ok=verdict.ok, reason=verdict.reason, detail=verdict.detail))
    return out


def _share(checked: Sequence[Checked]) -> dict[str, float | int]:
    return {"claims": len(checked), "verified": round(sum(c.ok for c in checked) / max(1, len(checked)), 4)}


def fit_min_similarity(embedder: Embedder) -> dict[str, Any]:
    """The threshold, both parts' figures beside the floor (accepting every sentence), the share of faithful
    paraphrases verification shows and the false claims it rejects."""
    chunks = document_chunks([CORPUS])
    faithful = read_jsonl(FAITHFUL)
    cross = [item for item in faithful if is_cross_language(item)]
    parts = {
        "fit": pairs([i for i in cross if int(i["id"][2:]) % 2 == 0], chunks),
        "test": pairs([i for i in cross if int(i["id"][2:]) % 2 == 1], chunks),
    }
    similarity = EmbedderSimilarity(embedder)
    scored = {
        part: (
            np.array([label for *_, label in rows]),
            np.array([similarity.similarities(claim, [(chunk, text)])[0] for claim, chunk, text, _ in rows]),
        )
        for part, rows in parts.items()
    }
    labels, scores = scored["fit"]
    precision, _, thresholds = precision_recall_curve(labels, scores)
    reaching = [float(t) for p, t in zip(precision[:-1], thresholds, strict=True) if p >= TARGET_PRECISION]
    threshold = round(min(reaching) if reaching else float(scores.max()), 4)
    checked = check_all(faithful, chunks, similarity, threshold)
    false = check_all(read_jsonl(FALSE_CLAIMS), chunks, similarity, threshold)
    return {
        "min_similarity": threshold,
        "selected_by": (
            f"the lowest e5 cosine with precision >= {TARGET_PRECISION} on the fit part of the cross-language "
            f"faithful paraphrases (each against its own sentence and {NEGATIVES} other sentences of its document)"
        ),
        "figures": {
            part: {
                "pairs": len(parts[part]),
                "positives": int(scored[part][0].sum()),
                "at_threshold": at(threshold, *scored[part]),
                "floor_accept_all": at(-1.0, *scored[part]),
            }
            for part in parts
        },
        "faithful": {
            "all": _share(checked),
            **{
                f"{lang} claims": _share([c for c in checked if c.item["language"] == lang])
                for lang in ("ky", "ru", "en")
            },
            "same language": _share([c for c in checked if not is_cross_language(c.item)]),
            "cross-language": _share([c for c in checked if is_cross_language(c.item)]),
        },
        "false_claims": {
            "claims": len(false),
            "rejected": sum(not c.ok for c in false),
            "with the expected reason": sum(not c.ok and c.reason == c.item["reason"] for c in false),
        },
    }


def markdown_table(model: dict[str, Any]) -> str:
    """The README's tables: each part at the fitted threshold beside accepting every sentence, then the share of
    faithful claims verified beside the false claims rejected."""
    lines = [
        f"Threshold {model['min_similarity']} ({model['selected_by']}).",
        "",
        "| part | pairs (paraphrased sentence) | precision | recall | floor precision (accept all) |",
        "|---|---|---|---|---|",
    ]
    for part, f in model["figures"].items():
        lines.append(
            f"| {part} | {f['pairs']} ({f['positives']}) | {f['at_threshold']['precision']:.3f} | "
            f"{f['at_threshold']['recall']:.3f} | {f['floor_accept_all']['precision']:.3f} |"
        )
    lines += ["", "| faithful paraphrases | claims | verified (shown) |", "|---|---|---|"]
    for name, share in model["faithful"].items():
        lines.append(f"| {name} | {share['claims']} | {share['verified']:.1%} |")
    false = model["false_claims"]
    lines += [
        "",
        f"False claims rejected: {false['rejected']} of {false['claims']} "
        f"({false['with the expected reason']} with the expected reason).",
    ]
    return "\n".join(lines)
