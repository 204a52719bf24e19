"""`python -m eval bench --scale N`: a store of N chunks, built without embedding N texts, then timed.

Chunk texts are recombined from real sentences of the corpora and the allowed distractor articles: 2–3 sentences
of one source document (of any, once a document's combinations run out), one a line, no text twice. Only a pool of
those sentences is embedded (each under its document's title, as ingest embeds sentences); a chunk's vector is the
L2-normalised mean of its sentences' vectors plus small noise, and each of its sentences is stored with its own
vector plus small noise, so the store is complete for every answerer. Chunks are written as ingest writes them
(through the composition root), so a server opens the store as any other.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.models import Chunk, ChunkSentence, Language, Question
from assistant.core.ports import Embedder, Vector
from assistant.core.sentences import chunk_sentences, sentence_passage
from assistant.settings import Settings
from assistant.wiring import (
    build_service,
    document_chunks,
    finish_writing,
    new_chunk,
    open_for_writing,
    write_embedded,
)
from eval.bench import summary, time_stages
from eval.bench_http import BenchError, Client, floor_samples, running_server, server_settings, with_ratios
from eval.bench_ingest import allowed_articles, embedded_texts, timed_embedding, write_articles

CHUNKS_PER_DOCUMENT = 5
NOISE = 0.05  # the expected norm of the noise added to a unit vector
WRITE_BATCH = 1000


@dataclass(frozen=True)
class PoolSentence:
    """A real sentence of a source document, with what its vector embeds."""

    text: str
    title: str
    lang: Language
    document: str


def source_sentences(chunks: Sequence[Chunk]) -> dict[str, list[PoolSentence]]:
    """Every document's distinct sentences (as ingest cuts them), by document id, in order."""
    by_document: dict[str, list[PoolSentence]] = {}
    seen: set[str] = set()
    for chunk in chunks:
        for sentence in chunk_sentences(chunk):
            if sentence.text not in seen and "\n" not in sentence.text:
                seen.add(sentence.text)
                pool = by_document.setdefault(chunk.document_id, [])
                pool.append(PoolSentence(sentence.text, chunk.title, chunk.lang, chunk.document_id))
    return by_document


def pick_pool(by_document: dict[str, list[PoolSentence]], size: int, rng: random.Random) -> list[list[PoolSentence]]:
    """Whole documents' sentences, documents in a shuffled order, until `size` sentences are reached."""
    documents = sorted(by_document)
    rng.shuffle(documents)
    pool: list[list[PoolSentence]] = []
    total = 0
    for doc in documents:
        if total >= size:
            break
        pool.append(by_document[doc])
        total += len(by_document[doc])
    return pool


def noisy_unit(vector: Vector, rng: np.random.Generator) -> Vector:
    """`vector` plus Gaussian noise of expected norm NOISE, L2-normalised."""
    out = vector + rng.normal(0.0, NOISE / np.sqrt(vector.shape[-1]), vector.shape).astype(np.float32)
    normalised: Vector = (out / np.linalg.norm(out)).astype(np.float32)
    return normalised


def recombine(pool: list[list[PoolSentence]], n: int, rng: random.Random) -> list[list[list[PoolSentence]]]:
    """n distinct chunks of 2–3 sentences, CHUNKS_PER_DOCUMENT to a synthetic document that takes the next pool
    document's sentences (in their order) while it has new combinations, else any of the pool."""
    everything = [s for doc in pool for s in doc]
    if len(everything) < 3:
        raise BenchError("the scale pool needs at least 3 sentences")
    texts: set[str] = set()
    documents: list[list[list[PoolSentence]]] = []
    made, misses = 0, 0
    while made < n:
        source = pool[len(documents) % len(pool)]
        chunks: list[list[PoolSentence]] = []
        while len(chunks) < CHUNKS_PER_DOCUMENT and made < n:
            size = rng.choice((2, 3))
            if len(source) >= size and misses < 20 * len(pool):
                picked = [source[i] for i in sorted(rng.sample(range(len(source)), size))]
            else:
                picked = rng.sample(everything, size)
            text = "\n".join(s.text for s in picked)
            if text in texts:
                misses += 1
                if misses > 100 * n + 10_000:
                    raise BenchError(
                        f"{len(everything)} pool sentences give too few distinct chunks: raise --scale-pool"
                    )
                continue
            texts.add(text)
            chunks.append(picked)
            made += 1
        documents.append(chunks)
    return documents


def synthetic_chunks(documents: list[list[list[PoolSentence]]]) -> list[Chunk]:
    """The synthetic documents' chunks, with ingest's ids, consecutive spans and their source document's title."""
    chunks = []
    for number, combos in enumerate(documents):
        first = combos[0][0]
        document = f"scale-{number:06d}"
        start = 0
        for position, picked in enumerate(combos):
            text = "\n".join(s.text for s in picked)
            chunks.append(
                new_chunk(document, position, start, text, lang=first.lang, title=first.title, source="scale")
            )
            start += len(text) + 1
    return chunks


def build_scale_store(
    n: int, data_dir: Path, sources: Sequence[Path], pool_size: int, embedder: Embedder, progress: Any, seed: int = 0
) -> dict[str, Any]:
    """Write N recombined chunks and their sentences into a fresh store at data_dir; what it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    pool = pick_pool(source_sentences(document_chunks(sources)), pool_size, rng)
    flat = [s for doc in pool for s in doc]
    passages = [sentence_passage(s.title, s.text) for s in flat]
    embed_started = time.perf_counter()
    vectors = np.concatenate([embedder.embed_passages(passages[i : i + 64]) for i in range(0, len(passages), 64)])
    embed_s = time.perf_counter() - embed_started
    by_text = {s.text: vectors[i] for i, s in enumerate(flat)}
    chunks = synthetic_chunks(recombine(pool, n, rng))
    noise = np.random.default_rng(seed)
    fallbacks = [0]

    def sentence_vector(chunk: Chunk, sentence: ChunkSentence) -> Vector:
        vector = by_text.get(sentence.text)
        if vector is None:  # the splitter cut a pool sentence differently: the chunk's own sentence mean
            fallbacks[0] += 1
            vector = chunk_vector(chunk)
        return noisy_unit(vector, noise)

    def chunk_vector(chunk: Chunk) -> Vector:
        mean = np.mean([by_text[line] for line in chunk.text.split("\n")], axis=0).astype(np.float32)
        return noisy_unit(mean / np.linalg.norm(mean), noise)

    _, store = open_for_writing(Settings(data_dir=data_dir), embedder)
    write_started = time.perf_counter()
    sentences = 0
    with progress(len(chunks), f"writing {n} chunks") as advance:
        for i in range(0, len(chunks), WRITE_BATCH):
            part = chunks[i : i + WRITE_BATCH]
            matrix = np.stack([chunk_vector(c) for c in part])
            sentences += write_embedded(store, part, matrix, sentence_vector)
            advance(len(part))
    finish_writing(store)
    return {
        "chunks": store.count(),
        "documents": len({c.document_id for c in chunks}),
        "sentences": sentences,
        "pool_sentences": len(flat),
        "pool_documents": len(pool),
        "pool_embed_s": round(embed_s, 2),
        "write_s": round(time.perf_counter() - write_started, 2),
        "build_s": round(time.perf_counter() - started, 2),
        "sentence_fallbacks": fallbacks[0],
    }


def median_article(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The article of median length (the store is built without it, so its upload adds new text)."""
    ordered = sorted(records, key=lambda r: (len(r["text"]), str(r["id"])))
    if not ordered:
        raise BenchError("no distractor article to upload")
    return ordered[len(ordered) // 2]


def upload_until_answerable(client: Client, path: Path, probes: Sequence[str]) -> dict[str, Any]:
    """Upload a file, then ask its own sentences until an answer cites it; the times from the upload's start."""
    started = time.perf_counter()
    response = client.upload(path)
    upload_s = time.perf_counter() - started
    ingested = response.get("ingested") or []
    if not ingested:
        raise BenchError(f"the upload failed: {response}")
    document = ingested[0]["id"]
    answerable_s = None
    asked = 0
    for probe in probes:
        _, answer = client.ask(probe)
        asked += 1
        if any(c["document"] == document for c in answer.get("citations", [])):
            answerable_s = round(time.perf_counter() - started, 2)
            break
    return {
        "document": document,
        "chunks": ingested[0].get("chunks"),
        "upload_s": round(upload_s, 2),
        "answerable_s": answerable_s,
        "probes_asked": asked,
    }


def run_scale(
    n: int,
    embedder: Embedder,
    questions: Sequence[Question],
    *,
    corpora: Sequence[Path],
    distractors: Path,
    pool_size: int,
    repeat: int,
    scale_dir: Path | None,
    progress: Any,
) -> dict[str, Any]:
    """Build the N-chunk store, time dense/hybrid/whole answers in-process, start a server over it, ask over HTTP,
    and upload one median-sized article until it is answerable (its bare embedding timed apart)."""
    articles = allowed_articles(distractors)
    tmp = Path(tempfile.mkdtemp(prefix="bilim-bench-scale-"))
    data_dir = scale_dir or tmp / "store"
    if scale_dir is not None and scale_dir.exists() and any(scale_dir.iterdir()):
        raise BenchError(f"--scale-dir {scale_dir} is not empty: the scale store is always built afresh")
    try:
        article = median_article(articles)
        others = [a for a in articles if a["id"] != article["id"]]
        sources = [*corpora, write_articles(others, tmp / "articles.jsonl")]
        built = build_scale_store(n, data_dir, sources, pool_size, embedder, progress)
        started = time.perf_counter()
        service = build_service(Settings(data_dir=data_dir), embedder=embedder)
        service_s = time.perf_counter() - started
        stages = time_stages(service, questions, repeat)
        floor_ms = summary(floor_samples(service, questions, repeat))
        upload = tmp / "upload" / f"{article['id']}.txt"
        upload.parent.mkdir()
        upload.write_text(article["text"], encoding="utf-8")
        chunks = document_chunks([upload])
        texts, passages = embedded_texts(chunks)
        embed_s = timed_embedding(embedder, texts) + timed_embedding(embedder, passages)
        probes = sorted((s.text for c in chunks for s in chunk_sentences(c)), key=len, reverse=True)[:3]
        with running_server(data_dir, tmp / "server.log", server_settings(service)) as server:
            rss = {"ready": server.rss_mb()}
            client = Client(server.port)
            first = [client.ask(q.text)[0] for q in questions]
            rss["after_first"] = server.rss_mb()
            uploaded = upload_until_answerable(client, upload, probes)
            rss["after_upload"] = server.rss_mb()
            client.close()
            startup_s = server.startup_s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    uploaded.update(
        article=str(article["id"]),
        characters=len(article["text"]),
        chunk_texts=len(texts),
        sentence_passages=len(passages),
        bare_embed_s=round(embed_s, 2),
    )
    return {
        **built,
        "service_build_s": round(service_s, 2),
        "stages": stages,
        "server_startup_s": startup_s,
        "floor": floor_ms,
        "http_first": with_ratios(first, floor_ms),
        "rss_mb": rss,
        "upload": uploaded,
    }
