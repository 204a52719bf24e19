"""The reader's training runs for real on the bundled e5: 20 steps on ~50 pairs lower the loss and write a card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.wiring import trainable_reader
from eval.cli import main
from eval.train_reader import (
    ReaderConfig,
    ReaderQuestion,
    held_out,
    held_out_article,
    in_share,
    read_candidates,
    train_reader,
)

pytestmark = pytest.mark.slow  # loads and trains the real model (~1 min)

FACTS = [
    ("Сколько мест выделила Россия?", "Россия выделила 375 бюджетных мест.", "Бишкекте жаңы мектеп ачылды."),
    ("Канча окуучу окуйт?", "Мектепте 1200 окуучу окуйт.", "Министр Москвага барды."),
    ("When was the protocol signed?", "The protocol was signed on 15 March.", "The weather was cold in Osh."),
    ("Кто подписал протокол?", "Протокол подписал министр Бейшеналиев.", "В Нарыне выпал снег."),
    ("Ким келди?", "Делегацияны Асель Исакова тосуп алды.", "Баалар кымбаттады."),
    ("How many students study abroad?", "About 16,000 students study in Russia.", "The bridge was repaired."),
]


def candidates_file(path: Path) -> Path:
    rows = []
    for n in range(14):
        question, answer, other = FACTS[n % len(FACTS)]
        answerable = n % 4 != 3
        candidates = [
            {"document": f"a{n}", "title": "", "text": text, "previous": "", "cos": cos, "fitted": fit, "label": label}
            for text, cos, fit, label in (
                (other, 0.84, 0.6, 0),  # the distractor looks better to cosine and the fitted ranker
                (answer, 0.83, 0.4, int(answerable)),
                (FACTS[(n + 1) % len(FACTS)][2], 0.80, 0.2, 0),
                (FACTS[(n + 2) % len(FACTS)][2], 0.79, 0.1, 0),
            )
        ]  # fmt: skip
        rows.append(
            {"id": f"w-{n}" if n < 11 else f"g-{n}", "lang": "ru", "question": question, "source": f"a{n}",
             "answerable": answerable, "retrieved": answerable, "candidates": candidates}
        )  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_twenty_steps_on_fifty_pairs_lower_the_loss_and_report_the_checks(tmp_path: Path) -> None:
    questions = read_candidates(candidates_file(tmp_path / "candidates.jsonl"), top=4)
    assert sum(len(q.texts) for q in questions) == 56 and [q.target for q in questions[:4]] == [1, 1, 1, None]
    config = ReaderConfig(layers=2, steps=20, questions_per_step=4, head_learning_rate=5e-3, validation_share=1000)
    reader, card = train_reader(questions, config, trainable_reader, log=lambda _: None)
    assert card["probe_loss"]["after"] < card["probe_loss"]["before"]
    assert card["held_out_questions"] == 3 and card["training_questions"] == 11  # the g- ids are held out
    figures = card["held_out"]
    for key in ("top1", "fitted_top1", "cosine_top1", "question_blind_top1", "digit_share_of_picks", "by_language"):
        assert key in figures
    assert figures["fitted_top1"] == 0.0 and figures["cosine_top1"] == 0.0  # both pick the distractor by design
    assert len(reader.base.encoder.layer) == 2


def test_validation_is_by_document() -> None:
    rows = [("w-1", "article-a"), ("w-2", "article-a")]
    made = [ReaderQuestion(i, "ky", "q", s, ["t"], [0.5], [0.5], 0, True) for i, s in rows]
    assert held_out(made[0], 3) == held_out(made[1], 3)  # one article's questions fall on one side
    gold = ReaderQuestion("s001", "ky", "q", "doc.txt", ["t"], [0.5], [0.5], 0, True)
    assert held_out(gold, 3)  # gold-set questions are never trained on


def test_the_articles_eval_train_fits_on_out_of_fold_are_the_ones_readers_never_train_on() -> None:
    # `eval train --held-out-only` picks reader-set articles with held_out_article; train-reader trains on the rest.
    made = [ReaderQuestion(f"w-{n}", "ky", "q", f"24kg-{n}", ["t"], [0.5], [0.5], 0, True) for n in range(500)]
    picked = [q for q in made if held_out_article(q.source)]
    assert picked == [q for q in made if held_out(q, ReaderConfig().validation_share)]
    assert 60 < len(picked) < 140  # a fifth


def test_train_reader_without_a_candidates_file_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train-reader", "--candidates", str(tmp_path / "missing.jsonl")]) == 2
    assert "--candidates-out" in capsys.readouterr().err


def test_training_shares_are_nested_sets_of_articles() -> None:
    articles = [f"article-{n}" for n in range(2000)]
    quarter, half = ({a for a in articles if in_share(a, share)} for share in (0.25, 0.5))
    assert quarter < half and all(in_share(a, 1.0) for a in articles)  # the half holds the quarter; 1 is all
    assert 400 < len(quarter) < 600 and 900 < len(half) < 1100
    # Independent of the held-out split: the quarter is not just the articles validation would have taken.
    made = [ReaderQuestion(f"w-{n}", "ky", "q", a, ["t"], [0.5], [0.5], 0, True) for n, a in enumerate(articles)]
    valid = {q.source for q in made if held_out(q, 5)}
    assert 0.15 < len(valid & quarter) / len(valid) < 0.35


@pytest.mark.parametrize("share", ["0", "1.5", "-0.25"])
def test_a_training_share_outside_0_to_1_is_refused(
    share: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = candidates_file(tmp_path / "candidates.jsonl")
    assert main(["train-reader", "--candidates", str(path), "--train-share", share]) == 2
    assert "--train-share must be in (0, 1]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (["--patch-out", "p.patch.json", "--model-out", "m.bin"], "goes with --kind bi"),
        (["--kind", "bi", "--patch-out", "p.patch.json"], "goes with --kind bi and --model-out"),
        (["--kind", "bi", "--model-out", "m.bin", "--patch-out", "p.json"], "NAME.patch.json"),
    ],
)
def test_a_patch_without_a_bi_encoder_model_or_with_another_name_is_refused_before_training(
    extra: list[str], error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = candidates_file(tmp_path / "candidates.jsonl")
    assert main(["train-reader", "--candidates", str(path), "--out", str(tmp_path / "card.json"), *extra]) == 2
    assert error in capsys.readouterr().err and not (tmp_path / "card.json").exists()
