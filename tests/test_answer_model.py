"""The fitted answerer's weights: where they came from (the fit part only), and that one wiring builds it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.core.answering.candidates import ANSWERABLE_FEATURES, SENTENCE_FEATURES, SPAN_FEATURES
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.scoring import AnswerModel, FittedScorer
from assistant.core.pipeline import make_question
from assistant.settings import Settings
from assistant.wiring import ADAPTED_ANSWER_MODEL, ANSWER_MODEL, Service, build_answerer, load_answer_model
from eval.runner import load_qa, load_reader_set
from eval.train import fit_data_hash
from eval.train_reader import held_out_article
from tests.conftest import ROOT

GOLD = ROOT / "eval" / "datasets" / "gold"
RAW = json.loads(ANSWER_MODEL.read_text(encoding="utf-8"))


@pytest.mark.parametrize("weights", [ANSWER_MODEL, ADAPTED_ANSWER_MODEL], ids=["bundled-e5", "adapted-e5"])
def test_the_weights_were_fitted_on_the_fit_part_as_it_is_now_and_never_on_the_test_part(weights: Path) -> None:
    raw = json.loads(weights.read_text(encoding="utf-8"))
    assert raw["fit_data_sha256"] == fit_data_hash(GOLD / "fit.jsonl"), "fit.jsonl changed: run python -m eval train"
    fit = {item.id for item in load_qa(GOLD, "fit")}
    test = {item.id for item in load_qa(GOLD, "test")}
    # Beside the fit part, only the reader training set files the weights name, as they are now.
    extra = set()
    for data in raw.get("extra_data", []):
        path = ROOT / data["path"]
        assert data["sha256"] == fit_data_hash(path), f"{data['path']} changed: run python -m eval train"
        items = load_reader_set(path)
        if data["articles"] == "held-out":  # eval train --held-out-only: the articles the readers never trained on
            items = [item for item in items if item.source is not None and held_out_article(item.source)]
        extra |= {item.id for item in items}
    assert set(raw["fit_ids"]) == fit | extra and not set(raw["fit_ids"]) & test
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", raw["commit"])


def test_the_weights_name_this_codes_features_and_a_threshold() -> None:
    model = load_answer_model(Settings())
    assert model.sentence.features == SENTENCE_FEATURES and model.span.features == SPAN_FEATURES
    assert model.answerable.features == ANSWERABLE_FEATURES
    assert 0.0 < model.threshold < 1.0 and RAW["cv"]["false_refusals"] <= 0.05


def test_a_weights_file_for_other_features_is_refused(tmp_path: Path) -> None:
    broken = {**RAW, "span": {**RAW["span"], "features": ["something", *RAW["span"]["features"][1:]]}}
    with pytest.raises(ValueError, match="features"):
        AnswerModel.from_json(broken)


def test_the_fitted_answerer_is_wired_with_the_weights(service: Service) -> None:
    settings = service.settings.model_copy(update={"answerer": "fitted"})
    answerer = build_answerer(settings, service.embedder, service.store)
    assert isinstance(answerer, ExtractiveAnswerer) and isinstance(answerer.scorer, FittedScorer)
    assert answerer.scorer.model.version == RAW["version"]
    # The default refusal bar: the threshold that refused no answerable fit-part question out of fold.
    assert answerer.scorer.policy.threshold == answerer.scorer.model.safe_threshold < answerer.scorer.model.threshold
    question = make_question("How many state-funded places do Russian universities give Kyrgyz citizens?")
    answer = answerer.generate(question, service.retriever.retrieve(question, 8))
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    chunks = {c.id: c for c in service.store.all_chunks()}
    for citation in answer.citations:  # verbatim quotes: the cleaned document's text at their span
        chunk = chunks[citation.chunk_id]
        assert chunk.text[citation.start - chunk.start : citation.end - chunk.start] == citation.quote
    if answer.lead is not None:
        cited = answer.citations[answer.lead.citation - 1]
        assert cited.highlight is not None and cited.quote[cited.highlight[0] : cited.highlight[1]] == answer.lead.text


def test_only_the_composition_root_builds_an_answerer() -> None:
    builders = re.compile(r"\b(?:ExtractiveAnswerer|FittedScorer|CosineScorer|CandidateReader)\(")
    places = [
        path.relative_to(ROOT).as_posix()
        for package in ("assistant", "eval", "bots", "ingest", "vectorstore")
        for path in (ROOT / package).rglob("*.py")
        if builders.search(path.read_text(encoding="utf-8"))
    ]
    assert places == ["assistant/wiring.py"]
