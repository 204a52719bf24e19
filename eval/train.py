"""`python -m eval train`: fit the answerer's three models on the gold set's fit part, and nothing else.

Candidates and their features come from the same code the service runs (`CandidateReader`); the labels from
the gold facts: a sentence is positive when it holds every fact, a span when it holds one, a question is
answerable when the gold set says so and its facts were retrieved. Cross-validation is grouped by document,
so a document's questions never sit on both sides; the refusal threshold is chosen on the out-of-fold
probabilities for at most 5 % false refusals.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.answering.candidates import (
    ANSWERABLE_FEATURES,
    LEAD_FEATURES,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Candidate,
    CandidateReader,
    answerable_features,
    lead_features,
    span_features,
)
from assistant.core.answering.kernel import SPAN_TYPES, lacks_asked_type
from assistant.core.answering.reading import Asked
from assistant.core.answering.scoring import LinearModel, QuotePolicy, best_span, quoted, rank_candidates
from assistant.core.models import Analyzer
from assistant.core.pipeline import make_question
from eval import metrics
from eval.reader_set import words
from eval.runner import QAItem

MAX_FALSE_REFUSALS = 0.05
FOLDS = 5
PAIRWISE_C = 0.1  # regularisation of the sentence ranker: ~100 questions are few
ANSWERABLE_C = 0.3  # and of the answerability model: ~30 unanswerable questions are fewer
LEAD_THRESHOLD = 0.5  # a lead is shown when the lead model finds it more likely right than wrong


@dataclass
class Example:
    """One fit-part question with its candidates and labels."""

    item: QAItem
    asked: Asked
    candidates: list[Candidate]
    sentence_labels: list[int]
    retrieved_all_facts: bool
    oof: list[float] = field(default_factory=list)  # out-of-fold sentence probabilities
    weight: float = 1.0  # how much the question counts in the fits (`balance`)


def fit_data_hash(path: Path) -> str:
    """SHA-256 of the fit part's file: the model records it, and a test recomputes it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect(items: Sequence[QAItem], retrieve: Any, reader: CandidateReader, top_k: int) -> list[Example]:
    """Ask every question through retrieval and the candidate reader; label candidates from the gold facts."""
    examples = []
    for item in items:
        question = make_question(item.question, history=item.context)
        chunks = retrieve(question, top_k)
        asked, candidates = reader.read(question, chunks)
        labels: list[int] = []
        if item.answerable:
            shares = [
                _fact_share(item.must, c.sentence.text) if within_evidence(c.sentence.text, item.evidence) else 0.0
                for c in candidates
            ]
            best = max(shares, default=0.0)
            # A sentence with every fact is the answer; for a question of several facts that no sentence holds
            # together, the sentences holding the most of them.
            labels = [1 if share > 0 and share == best else 0 for share in shares]
        given = "\n".join(sc.chunk.text for sc in chunks[:top_k])
        examples.append(
            Example(
                item=item,
                asked=asked,
                candidates=candidates,
                sentence_labels=labels,
                retrieved_all_facts=item.answerable
                and metrics.all_facts_present(item.must, given)
                and (not item.evidence or any(labels)),
            )
        )
    return examples


def balance(examples: Sequence[Example], gold: int) -> None:
    """Weigh the first `gold` examples (the gold fit part, written like the questions answers are measured on) as
    much as all the others together (generated training questions, many times as many)."""
    extra = len(examples) - gold
    if gold and extra:
        for example in examples[:gold]:
            example.weight = extra / gold


def within_evidence(sentence: str, evidence: Sequence[str], overlap: float = 0.6) -> bool:
    """Whether a candidate sentence is (mostly) one of the evidence passages; True when none are given.

    The service's sentence splitter and a writer's passage need not cut alike, so it is the share of shared words
    either way, not string containment."""
    if not evidence:
        return True
    mine = set(words(sentence))
    for passage in evidence:
        theirs = set(words(passage))
        shared = len(mine & theirs)
        if mine and theirs and max(shared / len(mine), shared / len(theirs)) >= overlap:
            return True
    return False


def _fact_share(must: Sequence[Sequence[str]], text: str) -> float:
    return sum(1 for fact in must if metrics.fact_present(fact, text)) / len(must) if must else 0.0


def _groups(examples: Sequence[Example]) -> dict[str, int]:
    sources = sorted({e.item.source or e.item.id for e in examples})
    return {source: i for i, source in enumerate(sources)}


def _fit(x: np.ndarray, y: np.ndarray, c: float = 1.0, weights: np.ndarray | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(x, y, logisticregression__sample_weight=weights)
    return model


def _out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0, weights: np.ndarray | None = None
) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    predictions = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=min(FOLDS, len(set(groups)))).split(x, y, groups):
        if len(set(y[train])) < 2:
            predictions[test] = float(y[train].mean())
            continue
        fold_weights = weights[train] if weights is not None else None
        predictions[test] = _fit(x[train], y[train], c, fold_weights).predict_proba(x[test])[:, 1]
    return predictions


def _fit_pairwise(
    matrices: Sequence[np.ndarray], labels: Sequence[np.ndarray], weights: Sequence[float] | None = None
) -> tuple[Any, np.ndarray]:
    """A logistic regression on differences of standardised features between a right and a wrong sentence of
    the same question (no intercept), each pair weighted by its question's weight: its coefficients score
    sentences for ranking."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.vstack([m for m in matrices if len(m)]))
    pairs, targets, pair_weights = [], [], []
    for i, (matrix, label) in enumerate(zip(matrices, labels, strict=True)):
        if not len(matrix) or label.sum() in (0, len(label)):
            continue
        scaled = scaler.transform(matrix)
        weight = 1.0 if weights is None else weights[i]
        for right in np.where(label == 1)[0]:
            for wrong in np.where(label == 0)[0]:
                pairs += [scaled[right] - scaled[wrong], scaled[wrong] - scaled[right]]
                targets += [1, 0]
                pair_weights += [weight, weight]
    regression = LogisticRegression(C=PAIRWISE_C, fit_intercept=False, max_iter=3000).fit(
        np.array(pairs), targets, sample_weight=np.array(pair_weights)
    )
    return scaler, regression.coef_[0]


def _pairwise_out_of_fold(
    matrices: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    groups: np.ndarray,
    weights: Sequence[float] | None = None,
) -> list[np.ndarray]:
    """Each group's scores from a pairwise ranker fitted without its document (grouped cross-validation)."""
    from sklearn.model_selection import GroupKFold

    scores = [np.zeros(len(m)) for m in matrices]
    for train_idx, test_idx in GroupKFold(n_splits=min(FOLDS, len(set(groups)))).split(matrices, groups=groups):
        scaler, coef = _fit_pairwise(
            [matrices[i] for i in train_idx],
            [labels[i] for i in train_idx],
            None if weights is None else [weights[i] for i in train_idx],
        )
        for i in test_idx:
            if len(matrices[i]):
                scores[i] = scaler.transform(matrices[i]) @ coef
    return scores


def _export_pairwise(scaler: Any, coef: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    return {
        "features": list(names),
        "mean": [round(float(v), 6) for v in scaler.mean_],
        "scale": [round(float(v), 6) if v > 0 else 1.0 for v in scaler.scale_],
        "coef": [round(float(v), 6) for v in coef],
        "intercept": 0.0,
    }


def _export(model: Any, names: Sequence[str]) -> dict[str, Any]:
    scaler, regression = model.steps[0][1], model.steps[1][1]
    return {
        "features": list(names),
        "mean": [round(float(v), 6) for v in scaler.mean_],
        "scale": [round(float(v), 6) if v > 0 else 1.0 for v in scaler.scale_],
        "coef": [round(float(v), 6) for v in regression.coef_[0]],
        "intercept": round(float(regression.intercept_[0]), 6),
    }


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row[name] for name in names] for row in rows], dtype=float)


def reliability(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10
) -> tuple[float, float, list[dict[str, Any]]]:
    """Brier score, expected calibration error and the reliability table (equal-width bins)."""
    brier = float(np.mean((probabilities - labels) ** 2))
    table, ece = [], 0.0
    edges = np.linspace(0, 1, bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (probabilities >= low) & ((probabilities < high) | (high == 1.0))
        if inside.any():
            mean_p, rate = float(probabilities[inside].mean()), float(labels[inside].mean())
            ece += inside.mean() * abs(mean_p - rate)
            table.append(
                {
                    "bin": f"{low:.1f}–{high:.1f}",
                    "n": int(inside.sum()),
                    "predicted": round(mean_p, 3),
                    "observed": round(rate, 3),
                }
            )
    return round(brier, 4), round(float(ece), 4), table


def train(
    examples: list[Example],
    fit_path: Path,
    analyze: Analyzer,
    extra_paths: Sequence[Path] = (),
    extra_articles: str = "all",
) -> dict[str, Any]:
    """Fit the sentence, span and answerability models; return the weights file's content with CV figures
    (`extra_articles`: which articles of the extra files were fitted on, "all" or the readers' "held-out")."""
    group_of = _groups(examples)
    # 1. Sentences (answerable questions only): which sentence holds the answer — fitted on pairs of a
    # question's sentences (right against wrong), since only the ranking within a question matters.
    answerable = [e for e in examples if e.item.answerable]
    matrices = [_matrix([c.features for c in e.candidates], SENTENCE_FEATURES) for e in answerable]
    labels = [np.array(e.sentence_labels) for e in answerable]
    groups = np.array([group_of[e.item.source or e.item.id] for e in answerable])
    weights = [e.weight for e in answerable]
    oof_scores = _pairwise_out_of_fold(matrices, labels, groups, weights)
    scaler, coef = _fit_pairwise(matrices, labels, weights)
    for example, scores in zip(answerable, oof_scores, strict=True):
        label_of = {id(c): label for c, label in zip(example.candidates, example.sentence_labels, strict=True)}
        rank_candidates(example.candidates, list(scores))
        example.oof = [c.probability for c in example.candidates]
        example.sentence_labels = [label_of[id(c)] for c in example.candidates]
    # Unanswerable questions were not in the sentence fit: the final model scores their candidates.
    for example in examples:
        if not example.item.answerable:
            matrix = _matrix([c.features for c in example.candidates], SENTENCE_FEATURES)
            rank_candidates(example.candidates, list(scaler.transform(matrix) @ coef) if len(matrix) else [])
            example.oof = [c.probability for c in example.candidates]
    top1 = [
        max(zip(e.oof, e.sentence_labels, strict=True))[1] if e.candidates else 0 for e in examples if e.item.answerable
    ]
    cosine_top1 = [
        max(zip((c.features["cos"] for c in e.candidates), e.sentence_labels, strict=True))[1] if e.candidates else 0
        for e in examples
        if e.item.answerable
    ]
    quote_policy, quoting = _fit_second_sentence(examples)
    # 2. Spans: inside sentences that hold a fact, which span is the asked-for one — ranked against the other
    # spans of the same sentence, like the sentences.
    span_matrices, span_labels, span_groups, span_weights = [], [], [], []
    for example in examples:
        if not example.item.answerable:
            continue
        for cand, label in zip(example.candidates, example.sentence_labels, strict=True):
            if not label or not cand.spans:
                continue
            rows = [span_features(example.asked, cand, span, analyze) for span in cand.spans]
            span_matrices.append(_matrix(rows, SPAN_FEATURES))
            span_labels.append(
                np.array(
                    [
                        1
                        if any(metrics.fact_present(f, s.text) or _span_in_fact(s.text, f) for f in example.item.must)
                        else 0
                        for s in cand.spans
                    ]
                )
            )
            span_groups.append(group_of[example.item.source or example.item.id])
            span_weights.append(example.weight)
    span_scores = _pairwise_out_of_fold(span_matrices, span_labels, np.array(span_groups), span_weights)
    span_top1 = [
        float(label[int(np.argmax(scores))])
        for label, scores in zip(span_labels, span_scores, strict=True)
        if label.any()
    ]
    span_scaler, span_coef = _fit_pairwise(span_matrices, span_labels, span_weights)
    # 3. Answerability, from each question's best candidate by out-of-fold probability.
    answer_rows, answer_y, answer_groups = [], [], []
    for example in examples:
        ranked = sorted(zip(example.oof, example.candidates, strict=True), key=lambda pc: -pc[0])
        for probability, cand in ranked:
            cand.probability = probability
        answer_rows.append(answerable_features(example.asked, [c for _, c in ranked]))
        answer_y.append(1 if example.retrieved_all_facts else 0)
        answer_groups.append(group_of[example.item.source or example.item.id])
    ax, ay, ag = _matrix(answer_rows, ANSWERABLE_FEATURES), np.array(answer_y), np.array(answer_groups)
    aw = np.array([e.weight for e in examples])
    answer_oof = _out_of_fold(ax, ay, ag, c=ANSWERABLE_C, weights=aw)
    answer_model = _fit(ax, ay, c=ANSWERABLE_C, weights=aw)
    gold_answerable = np.array([1 if e.item.answerable else 0 for e in examples])
    typeless = np.array([lacks_asked_type(e.asked, e.candidates) for e in examples])
    threshold, typeless_threshold = _thresholds(answer_oof, gold_answerable, typeless)
    brier, ece, table = reliability(answer_oof, ay)
    from sklearn.metrics import roc_auc_score

    refused = (answer_oof < threshold) | (typeless & (answer_oof < typeless_threshold))
    # The threshold that refused no answerable question out of fold: what the service refuses below by default.
    safe_threshold = min(threshold, round(float(answer_oof[gold_answerable == 1].min()) - 1e-6, 6))
    safely_refused = (answer_oof < safe_threshold) | (typeless & (answer_oof < typeless_threshold))
    # 4. Leads: whether the span proposed in the best sentence is the answer, from the out-of-fold answerability
    # and ranking; shown only when more likely right than wrong.
    span_model = LinearModel.from_json(_export_pairwise(span_scaler, span_coef, SPAN_FEATURES))
    lead_rows, lead_y, lead_groups, lead_weights = [], [], [], []
    for example, answerability in zip(examples, answer_oof, strict=True):
        if example.asked.expected not in SPAN_TYPES or not example.candidates:
            continue
        best = max(zip(example.oof, example.candidates, strict=True), key=lambda pc: pc[0])[1]
        span, probability, values = best_span(span_model, example.asked, best, analyze)
        if span is None:
            continue
        lead_rows.append(lead_features(best, values, probability, float(answerability)))
        lead_y.append(1 if example.item.answerable and metrics.all_facts_present(example.item.must, span.text) else 0)
        lead_groups.append(group_of[example.item.source or example.item.id])
        lead_weights.append(example.weight)
    lx, ly, lg = _matrix(lead_rows, LEAD_FEATURES), np.array(lead_y), np.array(lead_groups)
    lw = np.array(lead_weights)
    lead_oof = _out_of_fold(lx, ly, lg, c=ANSWERABLE_C, weights=lw)
    lead_model = _fit(lx, ly, c=ANSWERABLE_C, weights=lw)
    shown = lead_oof >= LEAD_THRESHOLD
    cv = {
        "folds": FOLDS,
        "questions": len(examples),
        "answerable": int(gold_answerable.sum()),
        "sentence_top1": round(float(np.mean(top1)), 4),
        "quoting": quoting,
        "cosine_top1": round(float(np.mean(cosine_top1)), 4),
        "span_top1_in_right_sentences": round(float(np.mean(span_top1)), 4) if span_top1 else None,
        "answerable_auc": round(float(roc_auc_score(ay, answer_oof)), 4) if len(set(ay)) > 1 else None,
        "brier": brier,
        "ece": ece,
        "reliability": table,
        "threshold": threshold,
        "typeless_threshold": typeless_threshold,
        "safe_threshold": safe_threshold,
        "safe_false_refusals": round(float(safely_refused[gold_answerable == 1].mean()), 4),
        "safe_refusal_recall": round(float(safely_refused[gold_answerable == 0].mean()), 4)
        if (gold_answerable == 0).any()
        else None,
        "typeless_questions": {
            "answerable": int((typeless & (gold_answerable == 1)).sum()),
            "unanswerable": int((typeless & (gold_answerable == 0)).sum()),
        },
        "leads": {
            "proposed": len(ly),
            "right_when_all_shown": round(float(ly.mean()), 4) if len(ly) else None,
            "shown": round(float(shown.mean()), 4) if len(ly) else None,
            "right_when_shown": round(float(ly[shown].mean()), 4) if shown.any() else None,
            "right_ones_kept": round(float(shown[ly == 1].mean()), 4) if (ly == 1).any() else None,
            "auc": round(float(roc_auc_score(ly, lead_oof)), 4) if len(set(ly)) > 1 else None,
        },
        "false_refusals": round(float(refused[gold_answerable == 1].mean()), 4),
        "refusal_recall": round(float(refused[gold_answerable == 0].mean()), 4)
        if (gold_answerable == 0).any()
        else None,
    }
    return {
        "version": datetime.now(UTC).strftime("%Y%m%d") + "-" + fit_data_hash(fit_path)[:8],
        "commit": _commit(),
        "fit_data": str(fit_path),
        "fit_data_sha256": fit_data_hash(fit_path),
        "fit_ids": sorted(e.item.id for e in examples),
        "extra_data": [
            {"path": _repo_path(p), "sha256": fit_data_hash(p), "articles": extra_articles} for p in extra_paths
        ],
        "cv": cv,
        # What the fits were given, read off the examples: `balance` decides it, not the files named.
        "weights": "the gold fit part as much as the extra questions together"
        if any(e.weight != 1.0 for e in examples)
        else "equal",
        "threshold": threshold,
        "typeless_threshold": typeless_threshold,
        "safe_threshold": safe_threshold,
        "span_threshold": 0.0,
        "unsure_floor": quote_policy.unsure_floor,
        "second_ratio": quote_policy.second_ratio,
        "second_same_document": quote_policy.second_same_document,
        "unsure_below": quote_policy.unsure_below,
        "sentence": _export_pairwise(scaler, coef, SENTENCE_FEATURES),
        "span": _export_pairwise(span_scaler, span_coef, SPAN_FEATURES),
        "answerable": _export(answer_model, ANSWERABLE_FEATURES),
        "lead": _export(lead_model, LEAD_FEATURES),
        "lead_threshold": LEAD_THRESHOLD,
    }


def _fit_second_sentence(examples: Sequence[Example]) -> tuple[QuotePolicy, dict[str, float]]:
    """When to quote the runner-up beside the best sentence: the grid point with the best accuracy plus
    citation precision on the answerable questions, from out-of-fold probabilities."""
    best: tuple[float, QuotePolicy, dict[str, float]] = (-1.0, QuotePolicy(), {})
    grid = [
        QuotePolicy(second_ratio=ratio, second_same_document=same, unsure_below=unsure, unsure_floor=floor)
        for same in (True, False)
        for ratio in (1.01, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.0)
        for unsure in ((0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.01) if same else (0.0,))
        for floor in ((0, 1, 2) if unsure > 0 else (0,))
    ]
    for policy in grid:
        accuracy, precision = _quoting(examples, policy)
        if accuracy + precision > best[0]:
            figures = {"accuracy": round(accuracy, 4), "citation_precision": round(precision, 4)}
            best = (accuracy + precision, policy, figures)
    floor_accuracy, floor_precision = _quoting(examples, QuotePolicy(unsure_below=1.01, unsure_floor=2), floor=True)
    best[2].update(floor_accuracy=round(floor_accuracy, 4), floor_citation_precision=round(floor_precision, 4))
    return best[1], best[2]


def _quoting(examples: Sequence[Example], policy: QuotePolicy, floor: bool = False) -> tuple[float, float]:
    """Accuracy and citation precision of the sentences the policy quotes (out of fold); `floor`: the cosine
    floor's two sentences instead."""
    correct, cited = [], []
    for example in examples:
        if not example.item.answerable:
            continue
        ranked = [c for _, c in sorted(zip(example.oof, example.candidates, strict=True), key=lambda pc: -pc[0])]
        for probability, cand in zip(sorted(example.oof, reverse=True), ranked, strict=True):
            cand.probability = probability
        if not ranked:
            correct.append(0.0)
            continue
        if floor:
            chosen = sorted((c for c in ranked if c.rank < 4), key=lambda c: -c.features["cos"])[:2]
        else:
            chosen = quoted(ranked, example.asked.multi_part, policy)
        text = "\n".join(c.sentence.text for c in chosen)
        correct.append(1.0 if metrics.all_facts_present(example.item.must, text) else 0.0)
        cited += [
            1.0
            if c.scored.chunk.document_id == example.item.source
            or any(metrics.fact_present(f, c.sentence.text) for f in example.item.must)
            else 0.0
            for c in chosen
        ]
    return float(np.mean(correct)), float(np.mean(cited)) if cited else 0.0


def _span_in_fact(span: str, fact: Sequence[str]) -> bool:
    """A span such as "15-мартта" holds the fact "15-март"; "Фальков" is held by the fact "Валерий Фальков"."""
    normalized = metrics.normalize(span)
    return any(normalized and normalized in metrics.normalize(alt) for alt in fact)


def _threshold(probabilities: np.ndarray, answerable: np.ndarray) -> float:
    """The highest threshold that refuses at most 5 % of the answerable questions (out-of-fold)."""
    scores = np.sort(probabilities[answerable == 1])
    if not len(scores):
        return 0.5
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(scores)))
    return round(float(scores[allowed]) - 1e-6, 6) if allowed < len(scores) else 0.0


def _thresholds(probabilities: np.ndarray, answerable: np.ndarray, typeless: np.ndarray) -> tuple[float, float]:
    """The refusal threshold and the higher one for questions no candidate holds the asked type for: of the pairs
    that refuse at most 5 % of the answerable questions (out-of-fold), the one refusing most unanswerable ones (of
    equal ones, the highest typeless threshold: with no such question in the fit part, every typeless one refuses)."""
    base = _threshold(probabilities, answerable)
    best = (float(np.mean(probabilities[answerable == 0] < base)) if (answerable == 0).any() else 0.0, base, base)
    allowed = int(np.floor(MAX_FALSE_REFUSALS * int(answerable.sum())))
    for typeless_threshold in sorted({*np.round(probabilities[typeless], 6).tolist(), 1.0}):
        extra = typeless & (probabilities < typeless_threshold)
        # The base threshold that still keeps the false refusals within the allowance.
        scores = np.sort(probabilities[(answerable == 1) & ~extra])
        room = allowed - int((extra & (answerable == 1)).sum())
        if room < 0 or not len(scores):
            continue
        threshold = round(float(scores[room]) - 1e-6, 6) if room < len(scores) else 0.0
        threshold = min(threshold, typeless_threshold)
        refused = (probabilities < threshold) | (typeless & (probabilities < typeless_threshold))
        recall = float(np.mean(refused[answerable == 0])) if (answerable == 0).any() else 0.0
        if recall >= best[0]:  # of equal recall, the higher typeless threshold: it costs no false refusal here
            best = (recall, threshold, round(float(typeless_threshold), 6))
    return best[1], max(best[2], best[1])


def candidate_rows(examples: Sequence[Example]) -> list[dict[str, Any]]:
    """Each question's candidates as the service read them, best first by the fitted ranker's out-of-fold
    probability, with their labels: what a neural reader trains on, so it sees what it will be given."""
    rows = []
    for example in examples:
        # After train() the probabilities and labels are in the candidates' order (unanswerable: no labels).
        probabilities = example.oof or [0.0] * len(example.candidates)
        labels = example.sentence_labels or [0] * len(example.candidates)
        ranked = sorted(zip(probabilities, labels, example.candidates, strict=True), key=lambda plc: -plc[0])
        rows.append(
            {
                "id": example.item.id,
                "lang": example.item.lang,
                "question": example.item.question,
                "source": example.item.source,
                "answerable": example.item.answerable,
                "retrieved": example.retrieved_all_facts,
                "candidates": [
                    {
                        "document": c.scored.chunk.document_id,
                        "title": c.scored.chunk.title,
                        "text": c.sentence.text,
                        "previous": c.previous,
                        "cos": round(c.features.get("cos", 0.0), 5),
                        "fitted": round(probability, 5),
                        "label": label,
                    }
                    for probability, label, c in ranked
                ],
            }
        )
    return rows


def _repo_path(path: Path) -> str:
    """A data file's path from the repository root (so a test in any clone finds it), else as given."""
    root = Path(__file__).resolve().parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_model(content: dict[str, Any], target: Path) -> None:
    """Write the weights file (small, versioned, diff-friendly)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
