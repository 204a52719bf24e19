"""The incremental BM25 index: bm25s's scores after a full build, no drift after updates, searches during updates,
and the service applying another worker's upload or deletion as an update rather than a rebuild."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
import pytest

from assistant import wiring
from assistant.core.models import Chunk, SourceDocument
from assistant.core.ports import RebuildableIndex
from assistant.settings import Settings
from ingest.chunking import chunk_document
from ingest.cleaning import clean_text
from ingest.pipeline import ingest_paths, remove_document
from tests.conftest import CORPUS, ROOT
from tests.fakes import InMemoryChunkStore, make_chunk, registered_fakes
from tests.support import TINY_DOCS, write_docs
from vectorstore.lexical import BM25Index
from vectorstore.stemming import analyze

QUESTIONS = [
    (row["question"], row["lang"])
    for row in map(json.loads, (ROOT / "eval" / "datasets" / "dev.jsonl").read_text(encoding="utf-8").splitlines())
]
MIXED = [  # hand-made chunks in the other two languages, one without any word
    make_chunk("Министерство образования выделило 500 бюджетных мест для студентов.", doc="ru", lang="ru"),
    make_chunk("Студенты из Кыргызстана учатся в университетах России и Казахстана.", doc="ru", position=1, lang="ru"),
    make_chunk("The ministry grants 120 scholarships to graduates of rural schools.", doc="en", lang="en"),
    make_chunk("Schools, scholarships and schooling: the ministry's schools report.", doc="en", position=1, lang="en"),
    make_chunk("— 2023 —", doc="marks", lang="ky"),
]


def corpus_chunks() -> list[Chunk]:
    """The sample corpus chunked as ingest does, with the hand-made ru/en chunks."""
    chunks = list(MIXED)
    for path in sorted(CORPUS.glob("*.txt")):
        document = SourceDocument(id=path.name, text=path.read_text(encoding="utf-8"), title=path.stem)
        chunks.extend(chunk_document(document, clean_text(document.text)))
    return chunks


def all_scores(index: BM25Index, question: str, language: str) -> dict[str, float]:
    """Every positive score of the question, by chunk id."""
    return {chunk.id: score for chunk, score in index.search(question, language, k=1_000_000)}


def assert_same_scores(index: BM25Index, expected: BM25Index, tolerance: float = 1e-9) -> None:
    for question, language in QUESTIONS:
        got, want = all_scores(index, question, language), all_scores(expected, question, language)
        assert got.keys() == want.keys(), question
        assert np.allclose([got[cid] for cid in want], list(want.values()), rtol=0, atol=tolerance), question


def built(chunks: Sequence[Chunk], generation: int = 1) -> BM25Index:
    index = BM25Index()
    index.rebuild(chunks, generation)
    return index


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return corpus_chunks()


# -- the index ----------------------------------------------------------------------------------------


def test_a_full_build_scores_as_bm25s_does(chunks: list[Chunk]) -> None:
    index = built(chunks)
    reference = bm25s.BM25()  # k1 1.5, b 0.75, "lucene": what the index replaced
    reference.index([analyze(c.text, c.lang) or [""] for c in chunks], show_progress=False)
    compared = 0
    for question, language in QUESTIONS:
        known = [t for t in analyze(question, language) if t in reference.vocab_dict]
        expected = np.asarray(reference.get_scores(known)) if known else np.zeros(len(chunks))
        got = all_scores(index, question, language)
        assert got.keys() == {c.id for c, s in zip(chunks, expected, strict=True) if s > 0}, question
        assert np.allclose([got.get(c.id, 0.0) for c in chunks], expected, rtol=0, atol=1e-5), question
        # the ranking is bm25s's, equal scores in document order
        order = sorted(range(len(chunks)), key=lambda i: (-expected[i], chunks[i].document_id, chunks[i].position))
        top = [c.id for c, _ in index.search(question, language, k=8)]
        assert len(top) == min(8, len(got)) and set(top) <= {chunks[i].id for i in order[: len(top) + 2]}
        compared += bool(got)
    assert compared >= 100 and len(chunks) > 100


def test_the_index_is_the_port_the_service_needs() -> None:
    index: RebuildableIndex = BM25Index()
    assert index.generation == -1 and not index.chunk_ids() and index.search("мектеп", "ky", 5) == []


def test_adding_then_removing_a_document_gives_back_the_same_scores(chunks: list[Chunk]) -> None:
    by_document = [c for c in chunks if c.document_id == "protocol-kravtsov-march-15.txt"]
    rest = [c for c in chunks if c.document_id != "protocol-kravtsov-march-15.txt"]
    index, original = built(rest), built(rest)
    index.update(by_document, [], generation=2)
    assert_same_scores(index, built(chunks))  # as if built with it
    assert index.generation == 2 and set(index.chunk_ids()) == {c.id for c in chunks}
    assert index.chunk_ids(["protocol-kravtsov-march-15.txt", "ru"]) == {c.id for c in by_document + MIXED[:2]}
    index.update([], [c.id for c in by_document], generation=3)
    assert_same_scores(index, original)
    assert (
        not index.chunk_ids(["protocol-kravtsov-march-15.txt"])
        and len(index) == len(rest)
        and (index.rebuilds, index.updates) == (1, 2)
    )


def test_many_updates_leave_no_drift_and_reuse_rows(chunks: list[Chunk]) -> None:
    """idf and the average length are read at query time: after any updates the scores are a full build's."""
    rng = random.Random(5)
    live = {c.id: c for c in chunks[:40]}
    index = built(list(live.values()))
    most = len(live)
    for generation in range(2, 40):
        removed = rng.sample(sorted(live), rng.randint(0, 6))
        for cid in removed:
            del live[cid]
        added = [c for c in rng.sample(chunks, 8) if c.id not in live][:5]
        live.update({c.id: c for c in added})
        index.update(added, removed, generation)
        most = max(most, len(live))
    assert set(index.chunk_ids()) == set(live) and index.rebuilds == 1
    assert_same_scores(index, built(list(live.values())))
    assert len(index._snapshot.chunks) == most  # freed rows are filled again before new ones are made


def test_an_update_replaces_a_chunk_of_the_same_id() -> None:
    first = make_chunk("Мектепте 640 окуучу окуйт.", doc="talas", title="Old")
    index = built([first, make_chunk("Нарында мугалим жетишпейт.", doc="naryn")])
    relabelled = replace(first, title="New", lang="ru", text="В школе учатся 640 учеников.")
    index.update([relabelled], [], generation=2)
    assert [chunk for chunk, _ in index.search("640 учеников", "ru", 5)] == [relabelled]
    assert index.search("окуучу окуйт", "ky", 5) == [] and len(index) == 2
    index.update([], ["unknown"], generation=3)  # an id it never held is no change
    assert len(index) == 2 and index.generation == 3


def test_equal_scores_come_in_document_order() -> None:
    twins = [make_chunk("Мектеп окуучу.", doc=doc) for doc in ("c", "a", "b")]
    index = built(twins)
    assert [c.document_id for c, _ in index.search("мектеп", "ky", 3)] == ["a", "b", "c"]
    assert [c.document_id for c, _ in index.search("мектеп", "ky", 2)] == ["a", "b"]
    assert index.search("мектеп", "ky", 0) == [] and index.search("...", "ky", 3) == []


class BlockingAnalyzer:
    """`analyze`, except that a text holding `hold` waits until released (an analysis in progress)."""

    def __init__(self, hold: str) -> None:
        self.hold = hold
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, text: str, language: str) -> list[str]:
        if self.hold in text:
            self.entered.set()
            assert self.release.wait(10)
        return analyze(text, language)


def test_searches_go_on_while_an_update_analyses_its_chunks() -> None:
    analyzer = BlockingAnalyzer("бассейн")
    index = BM25Index(analyzer)
    old = make_chunk("Талас облусунда жаңы мектеп ачылды.", doc="talas")
    index.rebuild([old], generation=1)
    new = make_chunk("Мектепте бассейн бар.", doc="pool")
    updating = threading.Thread(target=index.update, args=([new], [], 2))
    updating.start()
    assert analyzer.entered.wait(10)
    started = time.perf_counter()
    assert [c.id for c, _ in index.search("жаңы мектеп", "ky", 5)] == [old.id]  # the current index, at once
    assert time.perf_counter() - started < 1.0 and index.generation == 1
    analyzer.release.set()
    updating.join(10)
    assert [c.id for c, _ in index.search("мектеп", "ky", 5)] == [new.id, old.id] and index.generation == 2


def test_concurrent_searches_see_one_whole_snapshot_each(chunks: list[Chunk]) -> None:
    """While one thread adds and removes a document over and over, every search is one build's or the other's."""
    document = [c for c in chunks if c.document_id == "russia-kazakhstan-cooperation.txt"]
    rest = [c for c in chunks if c.document_id != "russia-kazakhstan-cooperation.txt"]
    index = built(rest)
    question = "Казакстандын ЖОЖдорунда канча бюджеттик орун бар?"
    without, with_it = built(rest).search(question, "ky", 10), built(chunks).search(question, "ky", 10)
    allowed = [[(c.id, round(s, 9)) for c, s in hits] for hits in (without, with_it)]
    stop, seen, errors = threading.Event(), set(), []

    def search() -> None:
        while not stop.is_set():
            try:
                seen.add(allowed.index([(c.id, round(s, 9)) for c, s in index.search(question, "ky", 10)]))
            except Exception as exc:  # collected: an assertion in a thread would go unseen
                errors.append(exc)

    searchers = [threading.Thread(target=search) for _ in range(3)]
    for thread in searchers:
        thread.start()
    for generation in range(2, 60, 2):
        index.update(document, [], generation)
        index.update([], [c.id for c in document], generation + 1)
    stop.set()
    for thread in searchers:
        thread.join(10)
    assert not errors and seen == {0, 1}


# -- the service: another worker's changes reach this one's index as updates -------------------------------


@pytest.fixture
def stores() -> Iterator[dict[Path, InMemoryChunkStore]]:
    """The fake embedder and the in-memory store registered through the root (one store per data dir)."""
    with registered_fakes() as registered:
        yield registered


def worker(data_dir: Path) -> wiring.Service:
    """One API worker's service over the shared store of this data dir (the fake embedder's cosines run far below
    e5's, and so does the fitted answerability: it never refuses here)."""
    return wiring.build_service(Settings(data_dir=data_dir, embedder="fake", store="memory", min_answer_confidence=0.0))


def lexical(service: wiring.Service) -> BM25Index:
    assert isinstance(service.lexical, BM25Index)
    return service.lexical


def test_an_upload_by_another_worker_reaches_this_one_as_an_update(
    tmp_path: Path, stores: dict[Path, InMemoryChunkStore]
) -> None:
    first, second = worker(tmp_path / "data"), worker(tmp_path / "data")
    store = stores[tmp_path / "data"]
    ingest_paths([CORPUS], store=store, embedder=first.embedder)  # the seed, before either answered
    first.refresh_lexical()
    second.refresh_lexical()
    assert lexical(second).rebuilds == 2  # the start-up build, then the seed: the whole index changed
    reads = store.reads.copy()

    uploads = write_docs(tmp_path / "uploads", TINY_DOCS)
    library = wiring.StoreLibrary(first, tmp_path / "uploads")
    added = library.add(uploads / "talas-school.txt")
    first.refresh_lexical()  # as the upload route does
    answer = second.ask("Талас облусундагы мектепте канча окуучу окуйт?", "ky")  # the other worker refreshes
    assert (lexical(second).rebuilds, lexical(second).updates) == (2, 1)
    assert store.reads["all_chunks"] == reads["all_chunks"]  # no worker read the whole store again
    assert store.reads["chunks"] - reads["chunks"] == 2 * added.chunks  # each read only the new chunks
    assert store.reads["chunk_ids"] == reads["chunk_ids"]  # nor listed its ids: the count shows nothing went
    hits = lexical(second).search("640 окуучу", "ky", 3)
    assert hits[0][0].document_id == "talas-school.txt"
    assert not answer.refused and answer.citations[0].document == "talas-school.txt"

    before = lexical(second).chunk_ids(["talas-school.txt"])
    (uploads / "talas-school.txt").write_text(TINY_DOCS["talas-school.txt"] + " Мектепте бассейн бар.")
    assert library.add(uploads / "talas-school.txt").status == "replaced"  # an edit: its old chunk is deleted
    second.refresh_lexical()
    assert (lexical(second).rebuilds, lexical(second).updates) == (2, 2)
    assert store.reads["chunk_ids"] == reads["chunk_ids"]  # the edited document's ids were enough
    assert not before & lexical(second).chunk_ids() and set(lexical(second).chunk_ids()) == store.chunk_ids()
    assert lexical(second).search("бассейн", "ky", 1)[0][0].document_id == "talas-school.txt"

    listings = store.reads["chunk_ids"]
    remove_document(store, "talas-school.txt")
    second.refresh_lexical()
    assert (lexical(second).rebuilds, lexical(second).updates) == (2, 3)
    assert store.reads["chunk_ids"] == listings + 1  # a document deleted whole: every id is listed to find it
    assert all(c.document_id != "talas-school.txt" for c in store.chunks(lexical(second).chunk_ids()))
    assert set(lexical(second).chunk_ids()) == store.chunk_ids()


def test_a_document_rewritten_in_place_is_read_again(tmp_path: Path, stores: dict[Path, InMemoryChunkStore]) -> None:
    """Ingesting a document from another folder keeps its chunk ids but rewrites their source: ids alone would
    not show it, the store's record of what was written after the index's generation does."""
    service = worker(tmp_path / "data")
    store = stores[tmp_path / "data"]
    ingest_paths([CORPUS, write_docs(tmp_path / "a", TINY_DOCS)], store=store, embedder=service.embedder)
    service.refresh_lexical()
    ingest_paths([write_docs(tmp_path / "b", {"osh-olympiad.txt": TINY_DOCS["osh-olympiad.txt"]})], store=store,
                 embedder=service.embedder)  # fmt: skip
    service.refresh_lexical()
    osh = [c for c, _ in lexical(service).search("олимпиадасы", "ky", 10) if c.document_id == "osh-olympiad.txt"]
    assert osh and all(c.source == str((tmp_path / "b").resolve()) for c in osh)
    assert lexical(service).updates == 1


def test_a_chunk_written_without_a_stamp_is_found_by_the_count(
    tmp_path: Path, stores: dict[Path, InMemoryChunkStore]
) -> None:
    """A writer that does not stamp its chunks (an older version during a rolling upgrade) changes the count."""
    service = worker(tmp_path / "data")
    store = stores[tmp_path / "data"]
    ingest_paths([CORPUS], store=store, embedder=service.embedder)
    service.refresh_lexical()
    ingest_paths([write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=service.embedder)
    for row in store._rows.values():
        row.written = 0
    service.refresh_lexical()
    assert set(lexical(service).chunk_ids()) == store.chunk_ids() and lexical(service).updates == 1


def test_a_large_change_waits_for_no_answer(tmp_path: Path, stores: dict[Path, InMemoryChunkStore]) -> None:
    """Over `lexical_sync_chunks` chunks to analyse, the refresh drops the removed chunks at once and hands the
    rest to a background thread; a refresh meanwhile returns at once with the current index."""
    service = worker(tmp_path / "data")
    store = stores[tmp_path / "data"]
    ingest_paths([CORPUS, write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=service.embedder)
    service.refresh_lexical()
    analyzer = BlockingAnalyzer("бассейн")
    lexical(service)._analyzer = analyzer
    service.lexical_sync_chunks = 1
    remove_document(store, "naryn-teachers.txt")
    write_docs(tmp_path / "more", {"pool.txt": "Мектепте бассейн бар. " * 40})
    ingest_paths([tmp_path / "more"], store=store, embedder=service.embedder)
    before = lexical(service).generation

    started = time.perf_counter()
    service.refresh_lexical()
    assert analyzer.entered.wait(10)
    service.refresh_lexical()  # while the catch-up runs
    assert time.perf_counter() - started < 5 and lexical(service).generation == before
    hits = lexical(service).search("Нарын облусунда мугалим жетишпейт", "ky", 50)
    assert hits and all(c.document_id != "naryn-teachers.txt" for c, _ in hits)  # removed at once
    assert not service.lexical_settled(timeout=0)

    analyzer.release.set()
    assert service.lexical_settled(timeout=10)
    assert lexical(service).generation == store.generation()
    assert set(lexical(service).chunk_ids()) == store.chunk_ids()
    assert lexical(service).search("бассейн", "ky", 1)[0][0].document_id == "pool.txt"
    assert (lexical(service).rebuilds, lexical(service).updates) == (2, 2)  # no rebuild for it


def test_a_change_to_most_of_the_index_rebuilds_it(tmp_path: Path, stores: dict[Path, InMemoryChunkStore]) -> None:
    service = worker(tmp_path / "data")
    store = stores[tmp_path / "data"]
    ingest_paths([write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=service.embedder)
    service.refresh_lexical()
    ingest_paths([CORPUS], store=store, embedder=service.embedder)  # far more than a quarter of the index
    service.refresh_lexical()
    assert (lexical(service).rebuilds, lexical(service).updates) == (3, 0)
    assert set(lexical(service).chunk_ids()) == store.chunk_ids()
    service.refresh_lexical(force=True)
    assert lexical(service).rebuilds == 4
