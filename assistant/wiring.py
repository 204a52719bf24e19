"""Composition root: builds the service from settings by wiring the adapters to the core."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.answering import ExtractiveAnswerer
from assistant.core.cosine_picker import CosinePicker
from assistant.core.errors import ConfigurationError, StoreMismatch
from assistant.core.fitted import AnswerModel, CandidateReader, FittedAnswerer
from assistant.core.models import Answer, Language
from assistant.core.pipeline import answer_question, make_question
from assistant.core.ports import AnswerGenerator, Embedder
from assistant.core.retrieval import FusionConfig, HybridRetriever
from assistant.core.sentences import SENTENCE_VECTORS_VERSION
from assistant.gazetteer import build_gazetteer
from assistant.settings import Settings
from vectorstore.chroma_store import ChromaChunkStore, connect, recover_interrupted_rebuild
from vectorstore.embedders import EmbeddingSimilarity, create_embedder
from vectorstore.lexical import BM25Index, plain_analyzer
from vectorstore.stemming import analyze

ANSWER_MODEL = Path(__file__).parent / "models" / "answerer.json"


@dataclass
class Service:
    """Everything needed to answer questions over one store."""

    settings: Settings
    embedder: Embedder
    store: ChromaChunkStore
    lexical: BM25Index
    retriever: HybridRetriever
    answerer: AnswerGenerator
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh_lexical(self, force: bool = False) -> None:
        """Rebuild the BM25 index from the store when the store's generation moved on."""
        generation = self.store.generation()
        if not force and generation == self.lexical.generation:
            return
        with self._refresh_lock:
            if force or generation != self.lexical.generation:
                self.lexical.rebuild(self.store.all_chunks(), generation)

    def ask(self, text: str, language: Language | None = None, history: Sequence[str] = ()) -> Answer:
        """Answer one question with citations (or a refusal); `history` holds earlier questions."""
        question = make_question(text, language, self.settings.max_question_chars, history)
        self.refresh_lexical()
        return answer_question(question, retriever=self.retriever, generator=self.answerer, k=self.settings.top_k)


def open_store(settings: Settings, embedder: Embedder, *, create: bool = True, client: Any = None) -> ChromaChunkStore:
    """Open (or create) the configured Chroma collection, checking it matches the embedder."""
    client = client or connect(settings.data_dir, settings.chroma_url)
    recover_interrupted_rebuild(client, settings.collection)
    return ChromaChunkStore(
        client,
        settings.collection,
        embedder_name=embedder.name,
        dim=embedder.dim,
        data_dir=settings.data_dir,
        create=create,
    )


def load_answer_model(settings: Settings) -> AnswerModel:
    """The fitted answerer's weights: the settings' file, or the one `python -m eval train` wrote."""
    path = settings.answer_model or ANSWER_MODEL
    try:
        return AnswerModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot load the answer model {path}: {exc} (write one with `python -m eval train`)"
        ) from exc


def build_candidate_reader(settings: Settings, embedder: Embedder, store: ChromaChunkStore) -> CandidateReader:
    """How the fitted answerer (and its training) reads a question and the retrieved sentences."""
    return CandidateReader(
        analyze=analyze,
        gazetteer=build_gazetteer(frozenset({settings.home_country.upper()})),
        embedder=embedder,
        sentences=store,
        max_chunks=settings.top_k,
    )


def build_answerer(settings: Settings, embedder: Embedder, store: ChromaChunkStore) -> AnswerGenerator:
    """The answerer the settings name; the API, the CLIs, evaluation and the benchmark all get it from here."""
    if settings.answerer == "cosine":
        return CosinePicker(EmbeddingSimilarity(embedder))
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(analyze, similarity=EmbeddingSimilarity(embedder))
    return FittedAnswerer(
        load_answer_model(settings),
        build_candidate_reader(settings, embedder, store),
        min_confidence=settings.min_answer_confidence,
    )


def build_service(
    settings: Settings,
    *,
    fusion: FusionConfig | None = None,
    embedder: Embedder | None = None,
    stemmed: bool = True,
) -> Service:
    """Wire embedder, store, lexical index, retriever and answerer for these settings."""
    embedder = embedder or create_embedder(settings.embedder)
    store = open_store(settings, embedder)
    if store.count() and store.sentence_version() != SENTENCE_VECTORS_VERSION:
        raise StoreMismatch(
            f"the store at {settings.data_dir} was built before sentence vectors (or another kind of them). "
            f"Add them with: python -m ingest --rebuild --data-dir {settings.data_dir}"
        )
    lexical = BM25Index(analyze if stemmed else plain_analyzer)
    service = Service(
        settings=settings,
        embedder=embedder,
        store=store,
        lexical=lexical,
        retriever=HybridRetriever(embedder, store, lexical, fusion),
        answerer=build_answerer(settings, embedder, store),
    )
    service.refresh_lexical(force=True)
    return service
