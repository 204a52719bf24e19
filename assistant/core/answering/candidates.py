"""Answer candidates — the sentences of the retrieved chunks, with their ingest-time vectors — and the generic
evidence the fitted answerer weighs: similarity, retrieval rank, term and anchor overlap, coverage of the
question's specifics, answer-type spans, what is counted, context and position.

No feature names a word of any document: the words involved are the question's own, closed-class lists
(question words) and the gazetteer's country and month names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from rapidfuzz import fuzz, process

from assistant.core.answering.reading import Asked, read_question
from assistant.core.answering.spans import Span, spans_of_type
from assistant.core.coverage import Evidence, Gazetteer, coverage, to_latin
from assistant.core.models import Analyzer, Chunk, ChunkSentence, Question, ScoredChunk
from assistant.core.numbers import is_year, join_digit_groups
from assistant.core.ports import Vector
from assistant.core.retrieval import anchors_of

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Kyrgyz place-case endings (locative, dative, ablative, "of/in" -дагы), Russian and English place prepositions.
_PLACE_CASE = re.compile(r"(?:да|де|та|те|до|дө|то|тө|дагы|деги|тагы|теги|га|ге|ка|ке|дан|ден|тан|тен)$")
_PLACE_BEFORE = re.compile(r"(?:\b(?:в|во|из|на|in|at|from|to)\s+)$", re.IGNORECASE)
_PERCENT_SPAN = re.compile(r"%|пайыз|процент|percent", re.IGNORECASE)
_MULTIPLIER_SPAN = re.compile(r"миң|млн|млрд|миллион|миллиард|тыс|thousand|million|billion", re.IGNORECASE)

SENTENCE_FEATURES = (
    "cos",
    "cos_gap",
    "cos_previous",
    "counted_cos",
    "chunk_reciprocal_rank",
    "chunk_dense",
    "chunk_lexical",
    "same_language",
    "overlap",
    "overlap_context",
    "anchors",
    "anchors_context",
    "latin_overlap",
    "latin_overlap_context",
    "cover",
    "cover_context",
    "span_of_kind",
    "novel_span",
    "counted_near",
    "overlap_gap",
    "cover_gap",
    "counted_gap",
    "first_of_document",
    "index_in_chunk",
    "log_length",
    "headline",
)
SPAN_FEATURES = (
    "in_question",
    "shares_question_word",
    "number_word",
    "near_question_word",
    "near_counted_word",
    "near_latin_question_word",
    "distance_to_question_word",
    "is_first",
    "is_last",
    "is_year",
    "percent",
    "percent_question",
    "multiplier",
    "words",
    "sentence_start",
    "place_case",
    "after_place_word",
    "cos",
)
ANSWERABLE_FEATURES = ("best", "top_chunk_dense", "chunk_cover")
LEAD_FEATURES = ("answerable", "best", "span", "counted_near", "near_counted_word", "near_question_word", "cover")


@dataclass
class Candidate:
    """A sentence of a retrieved chunk with what it is compared on; `features` in SENTENCE_FEATURES order."""

    scored: ScoredChunk
    rank: int
    sentence: ChunkSentence
    vector: Vector
    previous: str
    stems: frozenset[str]
    evidence: Evidence
    context_evidence: Evidence
    chunk_evidence: Evidence
    spans: list[Span]
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


def build_candidates(
    asked: Asked,
    chunks: Sequence[ScoredChunk],
    sentences: dict[str, list[tuple[ChunkSentence, Vector]]],
    analyze: Analyzer,
    gazetteer: Gazetteer,
) -> list[Candidate]:
    """The sentences of the chunks (each once, at its best-ranked chunk) with their features."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, scored in enumerate(chunks):
        chunk = scored.chunk
        rows = sentences.get(chunk.id, [])
        title_evidence = gazetteer.evidence(chunk.title)
        chunk_evidence = gazetteer.evidence(f"{chunk.title} {chunk.text}")
        for i, (sentence, vector) in enumerate(rows):
            key = (chunk.document_id, sentence.start)
            if key in seen:
                continue
            seen.add(key)
            previous = rows[i - 1][0].text if i > 0 else ""
            evidence = gazetteer.evidence(sentence.text)
            context = gazetteer.evidence(f"{previous} {chunk.title}") if previous else title_evidence
            out.append(
                Candidate(
                    scored=scored,
                    rank=rank,
                    sentence=sentence,
                    vector=vector,
                    previous=previous,
                    stems=frozenset(analyze(sentence.text, chunk.lang)),
                    evidence=evidence,
                    context_evidence=context,
                    chunk_evidence=chunk_evidence,
                    spans=spans_of_type(sentence.text, asked.kind, asked.expected),
                )
            )
    _add_features(asked, out, sentences, analyze)
    return out


def _add_features(
    asked: Asked,
    candidates: list[Candidate],
    sentences: dict[str, list[tuple[ChunkSentence, Vector]]],
    analyze: Analyzer,
) -> None:
    if not candidates:
        return
    vectors = np.stack([c.vector for c in candidates])
    cosines = vectors @ asked.vector
    best = float(cosines.max())
    counted = vectors @ asked.counted_vector if asked.counted_vector is not None else np.zeros(len(candidates))
    previous_vectors = {
        (rows[i][0].chunk_id, rows[i][0].index): rows[i - 1][1]
        for rows in sentences.values()
        for i in range(1, len(rows))
    }
    wanted = list(asked.specifics)
    for cand, cos, counted_cos in zip(candidates, cosines, counted, strict=True):
        chunk = cand.scored.chunk
        same_language = chunk.lang == asked.question.language
        context_stems = frozenset(analyze(f"{cand.previous} {chunk.title}", chunk.lang)) | cand.stems
        previous_vector = previous_vectors.get((cand.sentence.chunk_id, cand.sentence.index))
        anchors_here = set(anchors_of(cand.sentence.text))
        anchors_context = anchors_here | set(anchors_of(f"{cand.previous} {chunk.title}"))
        cand.features = {
            "cos": float(cos),
            "cos_gap": best - float(cos),
            "cos_previous": float(previous_vector @ asked.vector) if previous_vector is not None else 0.0,
            "counted_cos": float(counted_cos),
            "chunk_reciprocal_rank": 1.0 / (1 + cand.rank),
            "chunk_dense": cand.scored.dense_similarity or 0.0,
            "chunk_lexical": 1.0 if cand.scored.lexical_rank is not None else 0.0,
            "same_language": 1.0 if same_language else 0.0,
            "overlap": _share(asked.stems, cand.stems) if same_language else 0.0,
            "overlap_context": _share(asked.stems, context_stems) if same_language else 0.0,
            "latin_overlap": _latin_share(asked.latin_content, cand.evidence.latin_words),
            "latin_overlap_context": _latin_share(
                asked.latin_content, cand.evidence.latin_words + cand.context_evidence.latin_words
            ),
            "anchors": _share(asked.anchors, anchors_here),
            "anchors_context": _share(asked.anchors, anchors_context),
            "cover": coverage(wanted, [cand.evidence]),
            "cover_context": coverage(wanted, [cand.evidence, cand.context_evidence]),
            "span_of_kind": 1.0 if cand.spans else 0.0,
            "novel_span": 1.0 if any(not _named_by_question(asked, span) for span in cand.spans) else 0.0,
            "counted_near": _counted_near(asked, cand, analyze) if same_language else 0.0,
            "first_of_document": 1.0 if chunk.position == 0 and cand.sentence.index == 0 else 0.0,
            "index_in_chunk": min(cand.sentence.index, 5) / 5,
            "log_length": math.log(1 + len(cand.sentence.text)),
            "headline": 1.0 if cand.sentence.text.rstrip().endswith("?") else 0.0,
        }

    # How far each candidate stands from the best of its question: ranking is within a question.
    for name, gap in (("overlap", "overlap_gap"), ("cover_context", "cover_gap"), ("counted_cos", "counted_gap")):
        top = max(c.features[name] for c in candidates)
        for cand in candidates:
            cand.features[gap] = top - cand.features[name]


def _named_by_question(asked: Asked, span: Span) -> bool:
    """Whether the question already names this span (a number, name or place it asks about, not for)."""
    normalized = join_digit_groups(span.text).lower()
    question = join_digit_groups(asked.question.search_text).lower()
    if normalized in question:
        return True
    words = _WORD.findall(normalized)
    return bool(words) and all(to_latin(w)[:5] in asked.latin_stems for w in words if not w.isdigit())


def _latin_share(wanted: tuple[str, ...], words: tuple[str, ...]) -> float:
    """The share of the question's longer words that a word of the text begins like, across scripts
    ("coronavirus" ~ "коронавирус", "партия" ~ "partiya"): names and loanwords cross languages."""
    if not wanted:
        return 0.0
    prefixes = list({w[:6] for w in words if len(w) >= 4})
    hits = sum(1 for stem in wanted if process.extractOne(stem, prefixes, scorer=fuzz.ratio, score_cutoff=80))
    return hits / len(wanted)


def _share(wanted: frozenset[str] | set[str], found: frozenset[str] | set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


def _counted_near(asked: Asked, cand: Candidate, analyze: Analyzer) -> float:
    """1 when a word of what the question counts stands within three words of a number span."""
    if not asked.counted_stems or not cand.spans:
        return 0.0
    lang = cand.scored.chunk.lang
    text = cand.sentence.text
    for span in cand.spans:
        around = _WORD.findall(text[max(0, span.start - 40) : span.start])[-3:]
        around += _WORD.findall(text[span.end : span.end + 60])[:3]
        if set(analyze(" ".join(around), lang)) & asked.counted_stems:
            return 1.0
    return 0.0


def span_features(asked: Asked, cand: Candidate, span: Span, analyze: Analyzer) -> dict[str, float]:
    """What tells the asked-for span from the others in the chosen sentence."""
    text = cand.sentence.text
    lang = cand.scored.chunk.lang
    words = _WORD.findall(text)
    # Word positions of the span and of the sentence's words that the question (or what it counts) uses.
    starts = [m.start() for m in _WORD.finditer(text)]
    span_word = sum(1 for s in starts if s < span.start)
    stems = [set(analyze(w, lang)) for w in words]
    question_positions = [i for i, st in enumerate(stems) if st & asked.stems]
    counted_positions = [i for i, st in enumerate(stems) if st & asked.counted_stems]
    distance = min((abs(i - span_word) for i in question_positions), default=20)
    in_question = _named_by_question(asked, span)
    index = cand.spans.index(span) if span in cand.spans else 0
    return {
        "in_question": 1.0 if in_question else 0.0,
        # A name span that holds a name the question gives ("Алмазбек Бейшеналиев …" for "Бейшеналиев … ким
        # менен") is what the question asks about, not for.
        "shares_question_word": 1.0
        if any(
            to_latin(w)[:5] in asked.latin_stems for w in _WORD.findall(span.text) if len(w) >= 3 and not w.isdigit()
        )
        else 0.0,
        "number_word": 1.0
        if span.text and not any(ch.isdigit() for ch in span.text) and asked.kind == "count"
        else 0.0,
        "near_question_word": 1.0 if distance <= 3 else 0.0,
        "near_counted_word": 1.0 if any(abs(i - span_word) <= 3 for i in counted_positions) else 0.0,
        "near_latin_question_word": _latin_share(
            asked.latin_content, tuple(to_latin(w) for w in words[max(0, span_word - 3) : span_word + 4])
        )
        if asked.latin_content
        else 0.0,
        "distance_to_question_word": min(distance, 20) / 20,
        "is_first": 1.0 if index == 0 else 0.0,
        "is_last": 1.0 if index == len(cand.spans) - 1 else 0.0,
        "is_year": 1.0 if is_year(span.text) else 0.0,
        "percent": 1.0 if _PERCENT_SPAN.search(span.text) else 0.0,
        "percent_question": 1.0 if asked.percent and _PERCENT_SPAN.search(span.text) else 0.0,
        "multiplier": 1.0 if _MULTIPLIER_SPAN.search(span.text) else 0.0,
        "words": min(len(span.text.split()), 5) / 5,
        "sentence_start": 1.0 if span.start == 0 else 0.0,
        "place_case": 1.0 if _PLACE_CASE.search(span.text.lower()) else 0.0,
        "after_place_word": 1.0 if _PLACE_BEFORE.search(text[: span.start]) else 0.0,
        "cos": cand.features.get("cos", 0.0),
    }


def answerable_features(asked: Asked, ranked: Sequence[Candidate]) -> dict[str, float]:
    """What tells a question the documents answer from a near miss: whether the best sentence's chunk names all
    the numbers, countries, months and names the question does, how similar the top chunk is, how sure the
    ranker is. Three features: ~130 questions, ~30 of them unanswerable, fit no more."""
    features = {name: 0.0 for name in ANSWERABLE_FEATURES}
    if not ranked:
        return features
    best = ranked[0]
    features.update(
        best=best.probability,
        top_chunk_dense=max((c.features["chunk_dense"] for c in ranked), default=0.0),
        chunk_cover=coverage(list(asked.specifics), [best.chunk_evidence]),
    )
    return features


def lead_features(
    best: Candidate, span_values: dict[str, float], span_probability: float, answerable: float
) -> dict[str, float]:
    """What tells a right lead from a wrong one: how answerable the question looks, how sure the ranker is of the
    best sentence and the span model of its span, and whether what is asked about stands by the span."""
    return {
        "answerable": answerable,
        "best": best.probability,
        "span": span_probability,
        "counted_near": best.features.get("counted_near", 0.0),
        "near_counted_word": span_values.get("near_counted_word", 0.0),
        "near_question_word": span_values.get("near_question_word", 0.0),
        "cover": best.features.get("cover_context", 0.0),
    }


class QueryEmbedder(Protocol):
    """Embeds a question (cached by the adapter, so retrieval and the answerer share one embedding)."""

    def embed_query(self, text: str) -> Vector: ...


class SentenceVectors(Protocol):
    """Where each chunk's ingest-time sentence vectors are read."""

    def sentences(self, chunks: Sequence[Chunk]) -> dict[str, list[tuple[ChunkSentence, Vector]]]: ...


class CandidateReader:
    """Reads a question once and turns the retrieved chunks' sentences into candidates with features."""

    def __init__(
        self,
        *,
        analyze: Analyzer,
        gazetteer: Gazetteer,
        embedder: QueryEmbedder,
        sentences: SentenceVectors,
        max_chunks: int = 8,
    ) -> None:
        self.analyze = analyze
        self._gazetteer = gazetteer
        self._embedder = embedder
        self._sentences = sentences
        self._max_chunks = max_chunks

    def read(self, question: Question, chunks: Sequence[ScoredChunk]) -> tuple[Asked, list[Candidate]]:
        """The question as read, and the candidates of its top chunks (the query path embeds at most the
        question, which retrieval already did, and what a how-many question counts)."""
        top = list(chunks[: self._max_chunks])
        asked = read_question(question, self._embedder.embed_query, self.analyze, self._gazetteer)
        found = build_candidates(
            asked, top, self._sentences.sentences([sc.chunk for sc in top]), self.analyze, self._gazetteer
        )
        return asked, found
