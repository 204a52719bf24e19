"""`python -m eval train-reader`: a cross-encoder reader trained from the bundled e5 on the service's own candidates.

Input is what `python -m eval train --candidates-out` wrote: each question's candidate sentences as the service read
them, best first by the fitted ranker, with labels. The reader scores (question, "title. sentence") pairs with the
first `layers` layers of e5 (all trainable) and a head that starts at zero on top of the cosine the service already
has (score = cosine x scale + head), so training starts from the floor. The loss is listwise per question over its
top candidates and a "no answer" option, so one softmax ranks the sentences and estimates answerability.
Validation is by document: the gold set's fit part and one fifth of the reader set's articles, never trained on.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

NULL = "no answer"


@dataclass(frozen=True)
class ReaderConfig:
    """What a training run does (recorded in the model's card)."""

    kind: str = "cross"  # a cross-encoder over (question, sentence) pairs, or e5 adapted as a bi-encoder ("bi")
    layers: int = 6  # the cross-encoder's (a bi-encoder keeps all 12)
    top: int = 4  # candidates per question, best first by the fitted ranker
    max_length: int = 64
    questions_per_step: int = 8
    steps: int = 800
    learning_rate: float = 1e-4  # 3e-5 left the fitted ranker's picks unchanged after 600 steps
    head_learning_rate: float = 3e-3
    scalar_learning_rate: float = 0.02  # the cosine's scale, the prior's weight, the "no answer" bias: one number each
    start: str = "fitted"  # what the head corrects: the fitted ranker ("fitted") or the cosine floor ("cosine")
    pooling: str = "mean"  # what the heads read: the tokens' mean (as e5 pools) or the first token ("cls")
    seed: int = 13
    validation_share: int = 5  # one article in this many is held out
    evaluate_every: int = 200  # steps between held-out checks on a fixed sample (0: only at the end)
    evaluation_sample: int = 300
    train_share: float = 1.0  # the share of training articles used (nested: a half holds the quarter), for ablations


@dataclass
class ReaderQuestion:
    """One question with its top candidates and which of them answers (None: none does)."""

    id: str
    lang: str
    question: str
    source: str
    texts: list[str]
    cosines: list[float]
    fitted: list[float]
    target: int | None
    answerable: bool


@dataclass
class Curve:
    """The training curve: loss by step and held-out figures at each evaluation."""

    loss: list[tuple[int, float]] = field(default_factory=list)
    held_out: list[dict[str, Any]] = field(default_factory=list)


def read_candidates(path: Path, top: int) -> list[ReaderQuestion]:
    """Questions of a candidates file, each cut to its `top` candidates."""
    questions = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            candidates = row["candidates"][:top]
            if not candidates:
                continue
            positives = [i for i, c in enumerate(candidates) if c["label"]]
            answerable = bool(row["answerable"] and row["retrieved"])
            questions.append(
                ReaderQuestion(
                    id=row["id"],
                    lang=row["lang"],
                    question=row["question"],
                    source=row["source"] or row["id"],
                    texts=[f"{c['title']}. {c['text']}" if c["title"] else c["text"] for c in candidates],
                    cosines=[float(c["cos"]) for c in candidates],
                    fitted=[float(c["fitted"]) for c in candidates],
                    target=positives[0] if answerable and positives else None,
                    answerable=answerable,
                )
            )
    return questions


def held_out(question: ReaderQuestion, share: int) -> bool:
    """Whether a question is for validation: every gold-set question, and the articles whose hash falls in 1/share."""
    if not question.id.startswith("w"):  # the gold set's fit part (the test part is never in a candidates file)
        return True
    return held_out_article(question.source, share)


def held_out_article(source: str, share: int = ReaderConfig.validation_share) -> bool:
    """Whether a reader-set article is one the readers never train on (its hash falls in 1/share)."""
    return int(hashlib.sha256(source.encode()).hexdigest(), 16) % share == 0


def in_share(source: str, share: float) -> bool:
    """Whether an article is in the first `share` of training articles, ordered by a hash unrelated to held_out's."""
    digest = hashlib.sha256(f"train-share:{source}".encode()).hexdigest()
    return int(digest[:8], 16) / 0x100000000 < share


def train_reader(
    questions: Sequence[ReaderQuestion],
    config: ReaderConfig,
    new_reader: Callable[[str, int, int, str, str], Any],
    log: Callable[[str], None] = print,
    checkpoint: Path | None = None,
    save: Callable[[Any, Path, dict[str, Any]], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train the reader; return (the model, its card with the curve and the held-out figures). With `checkpoint`,
    the trained part is saved there at every held-out check, so a stopped run leaves its last model."""
    import torch

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    reader = new_reader(config.kind, config.layers, config.max_length, config.start, config.pooling)
    train = [
        q for q in questions if not held_out(q, config.validation_share) and in_share(q.source, config.train_share)
    ]
    valid = [q for q in questions if held_out(q, config.validation_share)]
    log(f"{len(train)} training questions, {len(valid)} held out (by document)")
    optimiser = torch.optim.AdamW(
        [
            {"params": reader.encoder_parameters(), "lr": config.learning_rate},
            {"params": reader.head_parameters(), "lr": config.head_learning_rate},
            {"params": reader.scalar_parameters(), "lr": config.scalar_learning_rate, "weight_decay": 0.0},
        ],
        weight_decay=0.01,
    )
    probe = train[:16]  # a fixed batch whose loss is read before and after training
    loss_before = probe_loss(reader, probe)
    order = random.Random(config.seed)
    sample = random.Random(config.seed).sample(valid, min(config.evaluation_sample, len(valid)))
    curve = Curve()
    started = time.perf_counter()
    reader.train()
    running: list[float] = []
    for step in range(1, config.steps + 1):
        batch = order.sample(train, min(config.questions_per_step, len(train)))
        loss = listwise_loss(reader, batch)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reader.parameters(), 1.0)
        optimiser.step()
        running.append(float(loss.detach()))
        if step % 20 == 0 or step == config.steps:
            mean = sum(running) / len(running)
            curve.loss.append((step, round(mean, 4)))
            log(f"step {step}/{config.steps}: loss {mean:.4f} ({time.perf_counter() - started:.0f} s)")
            running = []
        if config.evaluate_every and step % config.evaluate_every == 0 and step < config.steps:
            reader.train(False)
            figures = evaluate_reader(reader, sample)
            curve.held_out.append({"step": step, "sample": len(sample), **figures})
            log(f"step {step}: held-out sample top-1 {figures['top1']} (fitted {figures['fitted_top1']}, cosine "
                f"{figures['cosine_top1']}), answerability AUC {figures['answerable_auc']}")  # fmt: skip
            if checkpoint is not None and save is not None:
                save(reader, checkpoint, {"config": asdict(config), "step": step, "curve": asdict(curve)})
            reader.train()
    reader.train(False)
    loss_after = probe_loss(reader, probe)
    figures = evaluate_reader(reader, valid)
    curve.held_out.append({"step": config.steps, "sample": len(valid), **figures})
    card = {
        "config": asdict(config),
        "training_questions": len(train),
        "held_out_questions": len(valid),
        "seconds": round(time.perf_counter() - started, 1),
        "probe_loss": {"before": round(loss_before, 4), "after": round(loss_after, 4)},
        "curve": asdict(curve),
        "held_out": figures,
    }
    return reader, card


def evaluate_reader(reader: Any, questions: Sequence[ReaderQuestion]) -> dict[str, Any]:
    """Top-1 among the candidates against the fitted ranker's and cosine's picks, answerability AUC, by language,
    and the shortcut checks (a question-blind control, the share of picks with a digit)."""
    from sklearn.metrics import roc_auc_score

    picks: list[int] = []
    nulls: list[float] = []
    blind: list[int] = []
    for start in range(0, len(questions), 16):
        batch = questions[start : start + 16]
        read = pairs(batch)
        for scores, null in reader.batch_scores(read):
            picks.append(int(np.argmax(scores)))
            nulls.append(null)
        blind.extend(int(np.argmax(scores)) for scores, _ in reader.batch_scores(read, blind=True))
    with_answer = [i for i, q in enumerate(questions) if q.target is not None]

    def top1(choice: Sequence[int]) -> float:
        return round(float(np.mean([choice[i] == questions[i].target for i in with_answer])), 4) if with_answer else 0.0

    def digit_share(choice: Sequence[int | None]) -> float:
        texts = [questions[i].texts[c] for i, c in zip(with_answer, choice, strict=True) if c is not None]
        return round(float(np.mean([any(ch.isdigit() for ch in text) for text in texts])), 4) if texts else 0.0

    fitted = [int(np.argmax(q.fitted)) for q in questions]
    cosine = [int(np.argmax(q.cosines)) for q in questions]
    answerable = np.array([q.target is not None for q in questions])
    p_answer = 1.0 - np.array(nulls)
    answerable_any = np.array([q.answerable for q in questions])
    # The refusal threshold: the highest that refuses at most 5 % of the answerable held-out questions (none of
    # which the reader trained on), and how many unanswerable ones it refuses.
    threshold = float(np.quantile(p_answer[answerable_any], 0.05)) if answerable_any.any() else 0.0
    figures: dict[str, Any] = {
        "questions": len(questions),
        "refusal_threshold": round(threshold, 6),
        "refusal_recall": round(float((p_answer[~answerable_any] < threshold).mean()), 4)
        if (~answerable_any).any()
        else None,
        "false_refusals": round(float((p_answer[answerable_any] < threshold).mean()), 4)
        if answerable_any.any()
        else None,
        "with_answer_in_top": len(with_answer),
        "top1": top1(picks),
        "fitted_top1": top1(fitted),
        "cosine_top1": top1(cosine),
        "question_blind_top1": top1(blind),
        "digit_share_of_picks": digit_share([picks[i] for i in with_answer]),
        "digit_share_of_answers": digit_share([questions[i].target for i in with_answer]),
        "answerable_auc": round(float(roc_auc_score(answerable, p_answer)), 4) if len(set(answerable)) > 1 else None,
        "by_language": {},
    }
    for lang in sorted({q.lang for q in questions}):
        idx = [i for i, q in enumerate(questions) if q.lang == lang]
        ans = answerable[idx]
        targets = [i for i in idx if questions[i].target is not None]
        figures["by_language"][lang] = {
            "questions": len(idx),
            "top1": round(float(np.mean([picks[i] == questions[i].target for i in targets])), 4) if targets else None,
            "answerable_auc": round(float(roc_auc_score(ans, p_answer[idx])), 4) if len(set(ans)) > 1 else None,
            "mean_p_answer_answerable": round(float(p_answer[idx][ans].mean()), 4) if ans.any() else None,
            "mean_p_answer_unanswerable": round(float(p_answer[idx][~ans].mean()), 4) if (~ans).any() else None,
        }
    return figures


def pairs(questions: Sequence[ReaderQuestion]) -> list[tuple[str, list[str], list[float], list[float]]]:
    """What the reader reads of each question: its text, candidates, their cosines and fitted probabilities."""
    return [(q.question, q.texts, q.cosines, q.fitted) for q in questions]


def listwise_loss(reader: Any, batch: Sequence[ReaderQuestion]) -> Any:
    """Cross-entropy of one softmax per question over its candidates and "no answer"."""
    import torch

    losses = []
    for question, logits in zip(batch, reader.batch_logits(pairs(batch)), strict=True):
        target = question.target if question.target is not None else len(question.texts)
        losses.append(torch.nn.functional.cross_entropy(logits.unsqueeze(0), torch.tensor([target])))
    return torch.stack(losses).mean()


def probe_loss(reader: Any, batch: Sequence[ReaderQuestion]) -> float:
    """The loss on a batch without training on it (dropout off)."""
    import torch

    training = reader.base.training
    reader.train(False)
    with torch.inference_mode():
        value = float(listwise_loss(reader, batch)) if batch else 0.0
    reader.train(training)
    return value


def write_card(card: dict[str, Any], path: Path) -> None:
    """The model card as JSON (figures, curve, config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
