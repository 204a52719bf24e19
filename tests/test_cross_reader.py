"""The trained reader's adapter on the real bundled e5: an untrained reader is the cosine floor, the trained part
survives a save and a load over the base, the service builds it by name, and concurrent reads agree."""

from __future__ import annotations

import copy
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch

from assistant.core.answering.reader import ReaderScorer
from assistant.core.errors import ConfigurationError
from assistant.settings import Settings
from assistant.wiring import reader_scorer
from vectorstore.cross_reader import CrossReader, load_cross_reader, new_cross_reader, save_cross_reader
from vectorstore.e5_torch import load_e5_torch

pytestmark = pytest.mark.slow  # loads the real model (a few seconds each)


@pytest.fixture(scope="module")
def bundled() -> tuple[Any, Any]:
    """The bundled e5 loaded once; each reader gets its own copy (a reader keeps only its first layers)."""
    return load_e5_torch()


def fresh(bundled: tuple[Any, Any], layers: int = 2, start: str = "cosine") -> CrossReader:
    return new_cross_reader(layers, 64, start, load_base=lambda: copy.deepcopy(bundled))


QUESTION = "Сколько бюджетных мест выделила Россия?"
PASSAGES = ["Квота. Россия выделила 375 бюджетных мест.", "Новости. В Нарыне выпал снег.", "Бишкекте мектеп ачылды."]
COSINES = [0.86, 0.79, 0.75]
PRIORS = [0.3, 0.5, 0.1]


def test_an_untrained_reader_is_the_cosine_floor(bundled: tuple[Any, Any]) -> None:
    reader = fresh(bundled)
    reader.train(False)
    probabilities, none = reader.read(QUESTION, PASSAGES, COSINES, PRIORS)
    logits = [20.0 * c for c in COSINES] + [15.0]  # the heads start at zero
    expected = [math.exp(v) / sum(math.exp(w) for w in logits) for v in logits]
    assert [*probabilities, none] == pytest.approx(expected, rel=1e-4)
    # Reading only the first layers from the bundled file gives the same reader as cutting the full model.
    alone = new_cross_reader(layers=2, max_length=64)
    assert len(alone.base.encoder.layer) == 2 and alone.base.config.num_hidden_layers == 2
    for name, tensor in alone.base.state_dict().items():
        assert torch.equal(tensor, reader.base.state_dict()[name]), name


def test_an_untrained_reader_started_from_the_fitted_ranker_keeps_its_order(bundled: tuple[Any, Any]) -> None:
    reader = fresh(bundled, start="fitted")
    reader.train(False)
    probabilities, none = reader.read(QUESTION, PASSAGES, COSINES, PRIORS)
    logits = [math.log(p) for p in PRIORS] + [-1.0]
    expected = [math.exp(v) / sum(math.exp(w) for w in logits) for v in logits]
    assert [*probabilities, none] == pytest.approx(expected, rel=1e-4)


def test_the_trained_part_survives_saving_and_loading_over_the_bundled_base(
    tmp_path: Path, bundled: tuple[Any, Any]
) -> None:
    reader = fresh(bundled)
    torch.manual_seed(3)
    with torch.no_grad():  # stand-ins for training: heads and one layer moved away from the base
        reader.head.weight.normal_(0.0, 0.2)
        reader.null_head.weight.normal_(0.0, 0.2)
        reader.base.encoder.layer[1].output.dense.weight.mul_(1.1)
    reader.train(False)
    before = reader.read(QUESTION, PASSAGES, COSINES, PRIORS)
    path = tmp_path / "reader.pt"
    save_cross_reader(reader, path, {"card": {"held_out": {"refusal_threshold": 0.4}}})
    assert path.stat().st_size < 40_000_000  # two layers in fp16, no vocabulary
    loaded, record = load_cross_reader(path)
    after = loaded.read(QUESTION, PASSAGES, COSINES, PRIORS)
    assert len(loaded.base.encoder.layer) == 2 and record["card"]["held_out"]["refusal_threshold"] == 0.4
    assert after[0] == pytest.approx(before[0], abs=2e-3) and after[1] == pytest.approx(before[1], abs=2e-3)
    assert before != fresh(bundled).read(QUESTION, PASSAGES, COSINES, PRIORS)  # the stand-ins changed something


def test_the_service_builds_the_reader_by_name_and_says_how_to_get_one(
    tmp_path: Path, bundled: tuple[Any, Any]
) -> None:
    with pytest.raises(ConfigurationError, match="train-reader"):
        reader_scorer(Settings(answerer="reader", reader_model=tmp_path / "missing.pt"))
    path = tmp_path / "reader.pt"
    save_cross_reader(fresh(bundled), path, {"card": {"held_out": {"refusal_threshold": 0.37}}})
    scorer = reader_scorer(Settings(answerer="reader", reader_model=path))
    assert isinstance(scorer, ReaderScorer) and scorer.name == "reader" and scorer.policy.threshold == 0.37
    assert reader_scorer(Settings(reader_model=path, min_answer_confidence=0.6)).policy.threshold == 0.6
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(ConfigurationError, match="cannot load the reader"):
        reader_scorer(Settings(reader_model=broken))


def test_concurrent_reads_agree_with_one_at_a_time(bundled: tuple[Any, Any]) -> None:
    reader = fresh(bundled)
    with torch.no_grad():
        reader.head.weight.normal_(0.0, 0.2)
    reader.train(False)
    questions = [f"{QUESTION} {n}" for n in range(8)]

    def read(n: int, question: str) -> tuple[list[float], float]:
        return reader.read(question, PASSAGES[: 1 + n % 3], COSINES[: 1 + n % 3], PRIORS[: 1 + n % 3])

    alone = [read(n, q) for n, q in enumerate(questions)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda nq: read(*nq), enumerate(questions)))
    for (p1, n1), (p2, n2) in zip(alone, together, strict=True):
        assert p1 == pytest.approx(p2, abs=1e-5) and n1 == pytest.approx(n2, abs=1e-5)
