"""The reader scorer in the answering kernel, with a scripted pair reader: it reads the fitted ranker's best
candidates as "title. sentence", re-ranks them, and its "no answer" probability decides refusal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.core.answering.candidates import CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.reader import NO_ANSWER, ReaderScorer
from assistant.core.answering.scoring import FittedScorer
from assistant.core.models import Chunk
from assistant.core.pipeline import make_question
from tests.fakes import FakeEmbedder, InMemoryChunkStore, put_chunks, scored
from tests.test_core_kernel import GAZETTEER, MEETING, NARYN, RUSSIA, SPANS, TALAS
from vectorstore.stemming import analyze


@dataclass
class ScriptedReader:
    """Prefers passages holding `favourite`; says "no answer" with probability `none`; records what it read."""

    favourite: str
    none: float = 0.1
    read_calls: list[tuple[str, list[str], list[float], list[float]]] = field(default_factory=list)

    def read(
        self, question: str, passages: Sequence[str], cosines: Sequence[float], priors: Sequence[float]
    ) -> tuple[list[float], float]:
        self.read_calls.append((question, list(passages), list(cosines), list(priors)))
        weights = [10.0 if self.favourite in p else 1.0 for p in passages]
        return [(1.0 - self.none) * w / sum(weights) for w in weights], self.none


def reader_answerer(
    chunks: Sequence[Chunk], reader: ScriptedReader, threshold: float | None = 0.5, top: int = 4
) -> ExtractiveAnswerer:
    embedder, store = FakeEmbedder(), InMemoryChunkStore()
    put_chunks(store, embedder, chunks)
    candidates = CandidateReader(analyze=analyze, gazetteer=GAZETTEER, embedder=embedder, sentences=store)
    return ExtractiveAnswerer(candidates, ReaderScorer(FittedScorer(SPANS, analyze), reader, top, threshold))


def test_the_reader_re_ranks_the_fitted_head_and_reads_title_then_sentence() -> None:
    reader = ScriptedReader(favourite="Нарын")
    question = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"
    answer = reader_answerer([TALAS, NARYN], reader).generate(make_question(question), scored([TALAS, NARYN]))
    assert not answer.refused and answer.citations[0].quote == NARYN.text  # the reader's pick, not the fitted one
    assert answer.confidence == 0.9  # one minus "no answer"
    ((asked, passages, cosines, priors),) = reader.read_calls
    assert asked == question and len(passages) == len(cosines) == len(priors) == 4
    assert priors == sorted(priors, reverse=True) and 0.0 < sum(priors) <= 1.0  # the fitted shares, best first
    assert "Талас. Мектеп 2024-жылы курулуп, анда 640 окуучу окуйт." in passages  # under its document's title
    assert all(-1.0 <= c <= 1.0 for c in cosines)


def test_only_the_top_candidates_are_read_and_the_rest_keep_the_fitted_order_after_them() -> None:
    chunks = [TALAS, NARYN, RUSSIA, MEETING]
    reader = ScriptedReader(favourite="Бишкек")
    answerer = reader_answerer(chunks, reader, top=2)
    asked, found = answerer.reader.read(make_question("Канча окуучу окуйт?"), scored(chunks))
    fitted = [c.sentence.text for c in FittedScorer(SPANS, analyze).rank(asked, list(found))]
    asked, found = answerer.reader.read(make_question("Канча окуучу окуйт?"), scored(chunks))
    ranked = answerer.scorer.rank(asked, found)
    assert len(reader.read_calls[0][1]) == 2
    assert {c.sentence.text for c in ranked[:2]} == set(fitted[:2])
    assert [c.sentence.text for c in ranked[2:]] == fitted[2:]
    assert all(c.probability == 0.0 for c in ranked[2:]) and all(NO_ANSWER in c.features for c in ranked[:2])


def test_a_likely_no_answer_refuses_and_an_unlikely_one_answers() -> None:
    question = make_question("Орусияда кыргызстандыктар үчүн канча бюджеттик орун бар?")
    refused = reader_answerer([RUSSIA], ScriptedReader("375", none=0.8)).generate(question, scored([RUSSIA]))
    answered = reader_answerer([RUSSIA], ScriptedReader("375", none=0.2)).generate(question, scored([RUSSIA]))
    assert refused.refused and refused.citations == () and refused.confidence == 0.2
    assert not answered.refused and answered.lead is not None and answered.lead.text == "375"


def test_a_follow_up_is_read_with_the_question_it_leans_on() -> None:
    reader = ScriptedReader(favourite="Бишкек")
    answerer = reader_answerer([MEETING], reader)
    question = make_question("Ал кайда болду?", history=["Жолугушууну ким өткөрдү?"])
    answerer.generate(question, scored([MEETING]))
    assert reader.read_calls[0][0] == question.search_text


def test_without_candidates_there_is_nothing_to_read_and_no_answerability() -> None:
    reader = ScriptedReader(favourite="x")
    answer = reader_answerer([TALAS], reader).generate(make_question("Канча?"), [])
    assert answer.refused and reader.read_calls == []
