"""End-to-end answers over the real sample-corpus store: citations, spans, refusals, the JSON contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.answer_json import answer_text, answer_to_json
from assistant.core.models import Answer
from assistant.core.pipeline import make_question
from assistant.wiring import Service
from eval.metrics import unsupported_numbers
from ingest.cleaning import clean_text
from tests.conftest import CORPUS
from tests.support import ask_json, run_module

# Slow: every test answers with the real model over an ingested Chroma store (some through the CLI).
pytestmark = pytest.mark.slow

QUOTA_QUESTIONS = [
    ("Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?", "ky", "Жооп: 375"),
    pytest.param(
        "Сколько бюджетных мест выделяется гражданам Кыргызстана в вузах России?",
        "ru",
        "Ответ: 375",
        marks=pytest.mark.xfail(
            strict=True,
            reason="the fitted ranker prefers the policy summary's 75 % sentence for this wording (a test-part "
            "document, never tuned on)",
        ),
    ),
    ("How many state-funded places do Russian universities give Kyrgyz citizens each year?", "en", "Answer: 375"),
]
OUT_OF_SCOPE = [
    pytest.param(
        "Кыргызстандыктар үчүн Казакстандын ЖОЖдорунда канча бюджеттик орун бар?",
        "ky",
        marks=pytest.mark.xfail(
            strict=True,
            reason="the list of countries naming Kazakhstan next to the Russian quota covers the question's "
            "specifics: the answerability stays high (the rule-based answerer's lexicon knew host countries)",
        ),
    ),
    ("Какова стоимость обучения в Гарвардском университете?", "ru"),
    ("What is the capital of France?", "en"),
    ("How many Kyrgyz students study in Japan?", "en"),
    ("Бишкектен Ошко чейин канча километр?", "ky"),  # no passage states a distance
]


def assert_quotes_are_verbatim(answer: Answer) -> None:
    for citation in answer.citations:
        cleaned = clean_text((CORPUS / citation.document).read_text(encoding="utf-8"))
        assert cleaned[citation.start : citation.end] == citation.quote
        if citation.highlight is not None:
            start, end = citation.highlight
            assert 0 <= start < end <= len(citation.quote)
    if answer.lead is not None:
        cited = {c.index: c for c in answer.citations}[answer.lead.citation]
        assert cited.highlight is not None
        assert cited.quote[cited.highlight[0] : cited.highlight[1]] == answer.lead.text
    assert [c.index for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert not unsupported_numbers(answer_text(answer), [c.quote for c in answer.citations])


@pytest.mark.parametrize(("question", "lang", "lead"), QUOTA_QUESTIONS)
def test_quota_question_answers_375_with_citation(service: Service, question: str, lang: str, lead: str) -> None:
    answer = service.ask(question)
    assert not answer.refused and answer.language == lang
    assert answer.lead is not None and answer.lead.text == "375"
    assert answer_text(answer).startswith(lead)
    cited = answer.citations[answer.lead.citation - 1]
    assert cited.document == "minister-visit-russia-quotas.txt" and "375" in cited.quote
    start, end = cited.highlight or (0, 0)
    assert cited.quote[start:end] == "375"
    assert len(answer_text(answer)) <= 400
    assert_quotes_are_verbatim(answer)


@pytest.mark.parametrize(("question", "lang"), OUT_OF_SCOPE)
def test_out_of_scope_questions_are_refused_in_their_language(service: Service, question: str, lang: str) -> None:
    answer = service.ask(question)
    assert answer.refused, answer_text(answer)
    assert answer.language == lang and not answer.citations
    expected_word = {"ky": "Кечиресиз", "ru": "К сожалению", "en": "Sorry"}[lang]
    # The answerability that refused it, below the threshold (or a question whose answer type no passage holds).
    assert answer.lead is None and answer.confidence is not None and 0.0 <= answer.confidence < 1.0
    assert answer_text(answer).startswith(expected_word)


def test_followup_is_resolved_against_the_previous_question(service: Service) -> None:
    first = "Министр квотаны канчага чейин көбөйтүүнү сунуштады?"
    assert "750" in answer_text(service.ask(first))
    answer = service.ask("Алардын ичинен жетимдерге канчасы?", history=[first])
    assert not answer.refused and any("50 орун" in c.quote for c in answer.citations)
    assert answer.citations[0].document == "minister-visit-russia-quotas.txt"


@pytest.mark.xfail(strict=True, reason="the span model leads with 200, the number beside 'ичинен' (of them)")
def test_a_followup_leads_with_its_own_number(service: Service) -> None:
    first = "Министр квотаны канчага чейин көбөйтүүнү сунуштады?"
    answer = service.ask("Алардын ичинен жетимдерге канчасы?", history=[first])
    assert answer.lead is not None and answer.lead.text == "50"


@pytest.mark.xfail(strict=True, reason="the span model leads with 200, the number beside 'ичинен' (of them)")
def test_the_number_next_to_the_asked_for_word_is_the_answer(service: Service) -> None:
    # "ичинен" ("of them") stands next to 200 too; only "жетим" (orphans) says which number is asked for.
    for question in ("Алардын ичинен жетимдерге канчасы?", "Алардын ичинен жетимдерге канча орун?"):
        assert answer_text(service.ask(question)).startswith("Жооп: 50"), question


@pytest.mark.xfail(
    strict=True, reason="the fitted ranker's best sentence is the 3,000 applicants one; 750 is only quoted"
)
def test_a_two_part_question_quotes_both_facts(service: Service) -> None:
    answer = service.ask(
        "To what number did the minister propose raising the quota, and how many of those places would go to orphans?"
    )
    assert not answer.refused and "750" in answer_text(answer) and "50 орун" in answer_text(answer)
    assert_quotes_are_verbatim(answer)


def test_language_override_changes_lead_in_not_quote(service: Service) -> None:
    plain = service.ask("Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?")
    answer = service.ask("Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?", language="en")
    assert answer.language == "en" and answer_text(answer).startswith("Answer:")
    assert answer_text(plain).startswith("Жооп: 375")


def test_who_and_when_questions(service: Service) -> None:
    who = service.ask("Who is the Russian minister of science and higher education?")
    assert "Фальков" in answer_text(who) and who.citations[0].document == "minister-visit-russia-quotas.txt"
    when = service.ask("Когда был подписан протокол с Кравцовым?")
    assert "15-мартта" in answer_text(when) and when.citations[0].document == "protocol-kravtsov-march-15.txt"
    assert_quotes_are_verbatim(who)
    assert_quotes_are_verbatim(when)


def test_answer_json_contract(service: Service) -> None:
    payload = answer_to_json(service.ask("Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?"))
    assert set(payload) == {
        "answer", "language", "refused", "lead", "confidence", "citations", "segments", "generator",
        "fallback_reason", "timings_ms",
    }  # fmt: skip
    assert 0.0 < payload["confidence"] <= 1.0
    # Without BILIM_LLM_URL the answer is the extractive one, with nothing of a generated answer.
    assert (payload["generator"], payload["fallback_reason"], payload["segments"]) == ("extractive", None, [])
    assert payload["lead"] == {"text": "375", "citation": 1}
    assert payload["language"] == "ky" and payload["refused"] is False
    citation = payload["citations"][0]
    assert set(citation) == {
        "index",
        "document",
        "title",
        "chunk_id",
        "quote",
        "start",
        "end",
        "score",
        "url",
        "date",
        "highlight",
        "highlights",
        "context",
    }
    assert citation["highlights"] == []
    context = citation["context"]  # the paragraph around the quote, the quote where it stands in it
    assert context["text"][context["quote"][0] : context["quote"][1]] == citation["quote"]
    assert re.fullmatch(r"[0-9a-f]{32}", citation["chunk_id"])
    assert "375" in citation["quote"]
    assert set(payload["timings_ms"]) >= {"retrieve", "answer", "total"}


def test_cli_ask_json_prints_one_object_per_question(corpus_store_dir: tuple[Path, object]) -> None:
    answers = ask_json(
        corpus_store_dir[0],
        "Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?",
        "What is the capital of France?",
    )
    assert [p["refused"] for p in answers] == [False, True]
    assert answers[0]["citations"][0]["document"] == "minister-visit-russia-quotas.txt"


def test_cli_rejects_empty_question_and_empty_store(tmp_path: Path, corpus_store_dir: tuple[Path, object]) -> None:
    empty = run_module("assistant", "ask", "--data-dir", corpus_store_dir[0], "   ")
    assert empty.returncode == 2 and "empty" in empty.stderr
    no_store = run_module("assistant", "ask", "--data-dir", tmp_path / "nothing", "Сколько мест?")
    assert no_store.returncode == 2 and "python -m ingest" in no_store.stderr


def test_the_question_vector_kept_for_insights_is_the_one_retrieval_embedded(service: Service) -> None:
    earlier = ["Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?"]
    service.ask("Алардын ичинен жетимдерге канчасы?", history=earlier)
    embedded = service.embedder.embed_query.cache_info().misses  # type: ignore[attr-defined]
    vector = service.question_vector(make_question("Алардын ичинен жетимдерге канчасы?", history=earlier))
    assert service.embedder.embed_query.cache_info().misses == embedded  # type: ignore[attr-defined]
    assert vector is service.embedder.embed_query(f"{earlier[0]} Алардын ичинен жетимдерге канчасы?")
