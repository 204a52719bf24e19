"""The answering kernel with the fitted scorer and the shipped weights, on hand-built chunks whose sentence vectors
come from the fake embedder: which sentence it quotes, the lead span, the answerability that decides refusal; and the
pieces it is built from."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

import assistant
from assistant.core.answering.candidates import ANSWERABLE_FEATURES, LEAD_FEATURES, Candidate, CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.scoring import (
    AnswerModel,
    FittedScorer,
    LinearModel,
    QuotePolicy,
    rank_candidates,
    second_sentence,
)
from assistant.core.coverage import Evidence
from assistant.core.models import Answer, Chunk, ChunkSentence
from assistant.core.pipeline import make_question
from assistant.gazetteer import build_gazetteer
from tests.fakes import FakeEmbedder, InMemoryChunkStore, make_chunk, put_chunks, scored
from vectorstore.stemming import analyze

WEIGHTS = Path(assistant.__file__).parent / "models" / "answerer.json"
MODEL = AnswerModel.from_json(json.loads(WEIGHTS.read_text(encoding="utf-8")))
# The fake embedder's cosines run far below e5's, so the lead model would rarely find a lead likely right here: the
# tests of which span leads let the span model alone decide (as the service does by default), and the lead model
# has tests of its own below.
SPANS = replace(MODEL, lead=None)
GAZETTEER = build_gazetteer(frozenset({"KG"}))

TALAS = make_chunk(
    "Талас облусунда жаңы мектеп ачылды. Мектеп 2024-жылы курулуп, анда 640 окуучу окуйт. "
    "Мектептин курулушуна республикалык бюджеттен 120 миллион сом бөлүнгөн.",
    doc="talas",
    start=100,
    title="Талас",
)
NARYN = make_chunk("Нарын облусунун мектептеринде 85 мугалим жетишпейт.", doc="naryn")
RUSSIA = make_chunk(
    "Орусияда кыргызстандыктар үчүн 375 бюджеттик орун бөлүнөт. Бул орундар жыл сайын берилет.", doc="russia"
)
MEETING = make_chunk(
    "Министрлик менен жолугушууну Алмазбек Бейшеналиев өткөрдү. Жолугушуу Бишкекте болду.", doc="meeting"
)


def answerer_over(
    chunks: Sequence[Chunk],
    model: AnswerModel = MODEL,
    min_confidence: float | None = None,
    max_answer_chars: int = 600,
    likely_leads: bool = False,
) -> tuple[ExtractiveAnswerer, FakeEmbedder]:
    """A fitted answerer whose reader gets sentence vectors from an in-memory store holding these chunks."""
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    put_chunks(store, embedder, chunks)
    reader = CandidateReader(analyze=analyze, gazetteer=GAZETTEER, embedder=embedder, sentences=store)
    scorer = FittedScorer(
        model, analyze, min_confidence=min_confidence, max_answer_chars=max_answer_chars, likely_leads=likely_leads
    )
    return ExtractiveAnswerer(reader, scorer), embedder


def ask(answerer: ExtractiveAnswerer, question: str, chunks: Sequence[Chunk], similarity: float = 0.9) -> Answer:
    answer = answerer.generate(make_question(question), scored(chunks, similarity=similarity))
    by_id = {c.id: c for c in chunks}
    for citation in answer.citations:  # verbatim quotes; the lead stands at its citation's highlight
        chunk = by_id[citation.chunk_id]
        assert chunk.text[citation.start - chunk.start : citation.end - chunk.start] == citation.quote
    if answer.lead is not None:
        cited = answer.citations[answer.lead.citation - 1]
        assert cited.highlight is not None and cited.quote[slice(*cited.highlight)] == answer.lead.text
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    return answer


# -- the answerer -------------------------------------------------------------------------------------------


def test_a_count_question_leads_with_the_counted_number_and_quotes_its_neighbour_from_the_same_document() -> None:
    answerer, embedder = answerer_over([TALAS, NARYN], model=SPANS)
    question = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"
    answer = ask(answerer, question, [TALAS, NARYN])
    assert not answer.refused and answer.lead is not None and answer.lead.text == "640"
    (citation,) = answer.citations  # the best sentence and the one before it, merged
    assert citation.quote == "Талас облусунда жаңы мектеп ачылды. Мектеп 2024-жылы курулуп, анда 640 окуучу окуйт."
    assert (citation.start, citation.end, citation.highlight, answer.lead.citation) == (100, 184, (67, 70), 1)
    assert citation.context_quote is not None  # the merged quote's place in its paragraph, not the first sentence's
    assert citation.context[citation.context_quote[0] : citation.context_quote[1]] == citation.quote
    assert answer.confidence is not None and answer.confidence >= MODEL.threshold
    assert embedder.queries == [question, "окуучу окуйт"]  # the question and what it counts, once each


def test_the_number_next_to_the_counted_word_is_chosen_over_the_better_ranked_chunk() -> None:
    answerer, _ = answerer_over([TALAS, NARYN], model=SPANS)
    answer = ask(answerer, "Нарында канча мугалим жетишпейт?", [TALAS, NARYN])
    assert answer.lead is not None and answer.lead.text == "85"
    assert [c.quote for c in answer.citations] == [NARYN.text]  # no runner-up from another document


@pytest.mark.parametrize(
    ("question", "lead"),
    [("Жолугушууну ким өткөрдү?", "Алмазбек Бейшеналиев"), ("Жолугушуу кайда болду?", "Бишкекте")],
)
def test_who_and_where_questions_lead_with_the_name_or_the_place(question: str, lead: str) -> None:
    answerer, _ = answerer_over([MEETING], model=SPANS)
    answer = ask(answerer, question, [MEETING])
    assert answer.lead is not None and answer.lead.text == lead
    assert [c.quote for c in answer.citations] == [MEETING.text]


def test_a_country_the_passage_does_not_name_lowers_answerability_below_the_threshold() -> None:
    answerer, _ = answerer_over([RUSSIA], model=SPANS)
    russia = ask(answerer, "Орусияда кыргызстандыктар үчүн канча бюджеттик орун бар?", [RUSSIA], similarity=0.8)
    kazakhstan = ask(answerer, "Казакстанда кыргызстандыктар үчүн канча бюджеттик орун бар?", [RUSSIA], similarity=0.8)
    assert not russia.refused and russia.lead is not None and russia.lead.text == "375"
    assert kazakhstan.refused and kazakhstan.citations == () and kazakhstan.lead is None
    assert russia.confidence is not None and kazakhstan.confidence is not None
    assert kazakhstan.confidence < MODEL.threshold <= russia.confidence


def test_a_less_similar_top_chunk_lowers_answerability() -> None:
    answerer, _ = answerer_over([RUSSIA])
    question = "Орусияда кыргызстандыктар үчүн канча бюджеттик орун бар?"
    confidences = [ask(answerer, question, [RUSSIA], similarity=s).confidence for s in (0.6, 0.75, 0.9)]
    assert confidences == sorted(confidences) and confidences[0] != confidences[-1]  # type: ignore[type-var]
    assert ask(answerer, question, [RUSSIA], similarity=0.6).refused


def test_with_nothing_retrieved_or_no_sentence_vectors_it_refuses_with_the_prior_answerability() -> None:
    answerer, _ = answerer_over([TALAS])
    prior = round(MODEL.answerable.probability(dict.fromkeys(ANSWERABLE_FEATURES, 0.0)), 4)
    empty = ask(answerer, "Канча окуучу окуйт?", [])
    assert (empty.refused, empty.confidence, empty.retrieved) == (True, prior, ())
    unstored = ask(answerer, "Канча мугалим жетишпейт?", [NARYN])  # a chunk the store holds no sentences of
    assert unstored.refused and unstored.confidence == prior and len(unstored.retrieved) == 1


def test_the_confidence_floor_can_be_set_either_way() -> None:
    question = "Казакстанда кыргызстандыктар үчүн канча бюджеттик орун бар?"
    eager, _ = answerer_over([RUSSIA], min_confidence=0.0)
    assert eager.scorer.policy.threshold == 0.0 and not ask(eager, question, [RUSSIA], similarity=0.6).refused
    strict, _ = answerer_over([RUSSIA], min_confidence=1.0)
    assert ask(strict, "Орусияда канча бюджеттик орун бар?", [RUSSIA]).refused
    default, _ = answerer_over([RUSSIA])
    assert default.scorer.policy.threshold == MODEL.threshold


def test_without_a_sure_enough_span_there_is_no_lead() -> None:
    answerer, _ = answerer_over([TALAS], model=replace(SPANS, span_threshold=1.01))
    answer = ask(answerer, "Талас облусундагы жаңы мектепте канча окуучу окуйт?", [TALAS])
    assert not answer.refused and answer.lead is None and all(c.highlight is None for c in answer.citations)


def _lead_model(**coef: float) -> LinearModel:
    """A lead model over the shipped features, weighing only the ones given (intercept under "intercept")."""
    intercept = coef.pop("intercept", 0.0)
    names = LEAD_FEATURES
    return LinearModel(
        features=names,
        mean=(0.0,) * len(names),
        scale=(1.0,) * len(names),
        coef=tuple(coef.get(name, 0.0) for name in names),
        intercept=intercept,
    )


def test_a_lead_is_shown_only_when_the_lead_model_finds_it_more_likely_right_than_wrong() -> None:
    question = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"
    sure, _ = answerer_over([TALAS], model=replace(MODEL, lead=_lead_model(intercept=1.0)), likely_leads=True)
    unsure, _ = answerer_over([TALAS], model=replace(MODEL, lead=_lead_model(intercept=-1.0)), likely_leads=True)
    every, _ = answerer_over([TALAS], model=replace(MODEL, lead=_lead_model(intercept=-1.0)))  # the default
    assert (lead := ask(every, question, [TALAS]).lead) is not None and lead.text == "640"
    shown, hidden = ask(sure, question, [TALAS]), ask(unsure, question, [TALAS])
    assert shown.lead is not None and shown.lead.text == "640"
    # The same quotes either way: only the bold number goes, and nothing is highlighted.
    assert hidden.lead is None and all(c.highlight is None for c in hidden.citations)
    assert [c.quote for c in hidden.citations] == [c.quote for c in shown.citations]


def test_the_lead_model_weighs_the_answerability_estimate() -> None:
    question = "Орусияда кыргызстандыктар үчүн канча бюджеттик орун бар?"
    model = replace(MODEL, lead=_lead_model(answerable=10.0, intercept=-5.0))  # right when answerability > 0.5
    answerer, _ = answerer_over([RUSSIA], model=model, min_confidence=0.0, likely_leads=True)
    likely, unlikely = ask(answerer, question, [RUSSIA], similarity=0.9), ask(answerer, question, [RUSSIA], 0.6)
    assert likely.confidence is not None and unlikely.confidence is not None
    assert likely.confidence > 0.5 > unlikely.confidence
    assert likely.lead is not None and likely.lead.text == "375" and unlikely.lead is None


def test_a_two_part_question_quotes_the_runner_up_from_another_document_as_a_second_citation() -> None:
    answerer, _ = answerer_over([NARYN, TALAS], model=SPANS)
    question = "Нарында канча мугалим жетишпейт жана Таласта канча окуучу окуйт?"
    answer = ask(answerer, question, [NARYN, TALAS])
    assert [(c.index, c.document) for c in answer.citations] == [(1, "naryn"), (2, "talas")]  # by document
    assert answer.lead is not None and answer.citations[answer.lead.citation - 1].highlight is not None
    short, _ = answerer_over([NARYN, TALAS], max_answer_chars=60)
    assert len(ask(short, question, [NARYN, TALAS]).citations) == 1  # the pair would be too long


def test_candidates_are_ranked_by_a_softmax_over_the_questions_sentences() -> None:
    answerer, _ = answerer_over([TALAS, NARYN])
    asked, ranked = answerer.candidates(make_question("Нарында канча мугалим жетишпейт?"), scored([TALAS, NARYN]))
    assert asked.kind == "count" and asked.counted_stems
    assert sum(c.probability for c in ranked) == pytest.approx(1.0)
    assert [c.probability for c in ranked] == sorted((c.probability for c in ranked), reverse=True)
    assert ranked[0].sentence.text == NARYN.text and len(ranked) == 4


# -- its parts ------------------------------------------------------------------------------------------------


def test_a_linear_model_standardises_its_features_and_saturates_its_probability() -> None:
    model = LinearModel(features=("a", "b"), mean=(1.0, 0.0), scale=(2.0, 1.0), coef=(1.0, -1.0), intercept=0.5)
    assert model.score({"a": 3.0, "b": 1.0}) == pytest.approx(0.5)
    assert model.score({}) == pytest.approx(0.0)  # a missing feature counts as 0: (0 - 1) / 2 + 0.5
    assert model.probability({"a": 3.0, "b": 1.0}) == pytest.approx(1 / (1 + math.exp(-0.5)))
    assert model.probability({"a": 1e6}) == pytest.approx(1 / (1 + math.exp(-30)))  # clamped, no overflow
    assert 0.0 < model.probability({"b": 1e6}) == pytest.approx(1 / (1 + math.exp(30)))


def test_the_shipped_weights_read_into_four_models_and_thresholds() -> None:
    assert 0.0 < MODEL.threshold < 1.0 and MODEL.version and 0.0 <= MODEL.second_ratio <= 1.0
    assert len(MODEL.sentence.coef) == len(MODEL.sentence.features) == len(MODEL.sentence.mean)
    assert MODEL.lead is not None and MODEL.lead.features == LEAD_FEATURES and MODEL.lead_threshold == 0.5
    assert FittedScorer(MODEL, analyze, likely_leads=True).policy.span_threshold == 0.5  # the lead model decides
    assert FittedScorer(MODEL, analyze).policy.span_threshold == MODEL.span_threshold  # by default, the span model


def _candidate(doc: str, start: int, text: str, probability: float, rank: int = 0) -> Candidate:
    chunk = make_chunk(text, doc=doc, start=start)
    evidence = Evidence.of(text, GAZETTEER)
    return Candidate(
        scored=scored([chunk])[0],
        rank=rank,
        sentence=ChunkSentence(chunk.id, 0, start, start + len(text), text),
        vector=FakeEmbedder().vector(text),
        previous="",
        stems=frozenset(),
        evidence=evidence,
        context_evidence=evidence,
        chunk_evidence=evidence,
        spans=[],
        probability=probability,
    )


def test_the_second_sentence_rule() -> None:
    best = _candidate("a", 0, "Протокол төмөнкүлөрдү камтыйт:", 0.6)
    after = _candidate("a", 31, "алмашуу программасы.", 0.01)
    other = _candidate("b", 0, "Башка документ.", 0.3)

    def policy(ratio: float, same_document: bool, max_chars: int = 600, unsure: float = 0.0) -> QuotePolicy:
        return QuotePolicy(
            second_ratio=ratio, second_same_document=same_document, max_answer_chars=max_chars, unsure_below=unsure
        )

    assert second_sentence([], False, policy(0.5, True)) is None
    assert second_sentence([best, other, after], False, policy(0.9, True)) is after  # the item after a colon
    plain = _candidate("a", 0, "Мектеп ачылды.", 0.6)
    near = _candidate("a", 100, "Мектеп чоң.", 0.3)
    assert second_sentence([plain, other, near], False, policy(0.5, True)) is near  # same document, half as likely
    assert second_sentence([plain, other, near], False, policy(0.6, True)) is None  # not likely enough
    assert second_sentence([plain, other, near], False, policy(0.5, False)) is other  # any document
    assert second_sentence([plain, near], True, policy(0.99, True)) is near  # a question of several parts
    assert second_sentence([plain, other], False, policy(0.1, True)) is None  # nothing else in the document
    assert second_sentence([plain, near], False, policy(0.1, True, max_chars=20)) is None  # too long together
    # Unsure of the best (0.6 < 0.7), the runner-up is quoted from any document, however likely.
    assert second_sentence([plain, other, near], False, policy(0.99, True, unsure=0.7)) is other


def test_rank_candidates_turns_scores_into_shares_and_breaks_ties_by_rank_then_position() -> None:
    late, early = _candidate("a", 50, "Б.", 0, rank=1), _candidate("a", 0, "А.", 0, rank=1)
    first_chunk, worse = _candidate("c", 90, "Г.", 0, rank=0), _candidate("b", 0, "В.", 0)
    found = [late, worse, early, first_chunk]
    rank_candidates(found, [2.0, 0.0, 2.0, 2.0])
    assert found == [first_chunk, early, late, worse]
    total = 3 * math.exp(0) + math.exp(-2)
    assert [c.probability for c in found] == pytest.approx([1 / total, 1 / total, 1 / total, math.exp(-2) / total])
    empty: list[Candidate] = []
    rank_candidates(empty, [])
    assert empty == []


def test_the_settings_choose_which_leads_are_shown() -> None:
    from assistant.settings import Settings
    from assistant.wiring import fitted_scorer

    every, likely = fitted_scorer(Settings()), fitted_scorer(Settings(leads="likely"))
    assert isinstance(every, FittedScorer) and isinstance(likely, FittedScorer)
    assert (every.policy.span_threshold, likely.policy.span_threshold) == (MODEL.span_threshold, 0.5)
