"""BM25 keyword index over the stored chunks, kept in step with the store chunk by chunk; a Kyrgyz-aware stemmer
(Snowball for ru/en) analyses both sides.

Scores are Okapi BM25 as bm25s computes them by default (method "lucene": k1 = 1.5, b = 0.75,
idf = ln(1 + (N - df + 0.5) / (df + 0.5))), equal to bm25s's on the same corpus to float32 rounding.

**Incremental, never stale.** The index keeps, per term, its postings (chunk row, term frequency), and per row the
chunk's length. Document frequency (the postings' length), the number of chunks N and the average length are
read at query time, so after any `update` the scores are exactly those of a full build over the same chunks: the
idf and the average length do not drift, and no periodic rebuild is needed for correctness. An `update` costs
the analysis of the added chunks plus one pass over the postings of the terms they (and the removed chunks)
contain; a full `rebuild` re-analyses everything. Rows freed by removals are reused; a term whose last chunk is
gone keeps an empty postings entry until the next full build.

**Concurrency.** The index is an immutable snapshot swapped in one assignment: an update or a rebuild analyses its
chunks without any lock, then builds the next snapshot (copying the small per-term and per-row tables, sharing
every untouched postings array) under a write lock that searches never take. A search reads whichever snapshot
is current when it starts and scores that one to the end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.core.models import Analyzer, Chunk
from vectorstore.stemming import STEMMER_VERSION, analyze

K1 = 1.5  # bm25s's default
B = 0.75  # bm25s's default

Postings = npt.NDArray[np.int32]  # shape (2, n): chunk rows, then the term's frequency in each
_NO_TERMS: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
_NO_POSTINGS: Postings = np.zeros((2, 0), dtype=np.int32)


def plain_analyzer(text: str, language: str) -> list[str]:
    """Lowercased whitespace-and-punctuation tokens, no stemming (the ablation baseline)."""
    from vectorstore.stemming import tokenize

    return tokenize(text)


@dataclass(frozen=True)
class _Analysed:
    """One chunk's terms with their frequencies, and its length as bm25s counts it (an empty chunk counts 1)."""

    chunk: Chunk
    counts: Counter[str]
    length: int


@dataclass(frozen=True)
class _Snapshot:
    """Everything a search reads; never changed once published (updates build the next one)."""

    generation: int
    vocabulary: dict[str, int]  # term → term id
    postings: list[Postings]  # per term id
    chunks: list[Chunk | None]  # per row (None: a free row)
    terms: list[npt.NDArray[np.int32]]  # per row: the distinct term ids of its chunk
    lengths: npt.NDArray[np.float64]  # per row: the chunk's length in tokens (0 for a free row)
    rows: dict[str, int]  # chunk id → row
    documents: dict[str, frozenset[str]]  # document id → its chunks' ids
    free: tuple[int, ...]  # rows to reuse
    total_length: float  # of the live rows

    @classmethod
    def empty(cls, generation: int) -> _Snapshot:
        return cls(generation, {}, [], [], [], np.zeros(0), {}, {}, (), 0.0)


class BM25Index:
    """An in-memory BM25 index of the store's chunks, never a second source of truth; see the module docstring."""

    def __init__(self, analyzer: Analyzer = analyze) -> None:
        self._analyzer = analyzer
        self._write_lock = threading.Lock()
        self._snapshot = _Snapshot.empty(-1)
        self.version = STEMMER_VERSION
        self.rebuilds = 0  # full builds so far
        self.updates = 0  # incremental updates so far

    def __len__(self) -> int:
        return len(self._snapshot.rows)

    @property
    def generation(self) -> int:
        """The store generation the current content was read at (-1 before the first build)."""
        return self._snapshot.generation

    def chunk_ids(self, documents: Iterable[str] | None = None) -> Set[str]:
        """The ids of the chunks indexed now (read-only), or of those of these documents."""
        snapshot = self._snapshot
        if documents is None:
            return snapshot.rows.keys()
        return frozenset().union(*(snapshot.documents.get(doc, ()) for doc in documents))

    def _analyse(self, chunk: Chunk) -> _Analysed:
        tokens = self._analyzer(chunk.text, chunk.lang)
        return _Analysed(chunk, Counter(tokens), max(1, len(tokens)))

    # -- writes ------------------------------------------------------------------------------------
    def rebuild(self, chunks: Sequence[Chunk], generation: int) -> None:
        """Replace the index content with these chunks (analysed in each chunk's own language)."""
        snapshot = _build((self._analyse(c) for c in _last_of_each_id(chunks)), generation)  # outside the lock
        with self._write_lock:
            self._snapshot = snapshot
            self.rebuilds += 1

    def update(self, added: Sequence[Chunk], removed_ids: Iterable[str], generation: int) -> None:
        """Index `added` (replacing any indexed chunk of the same id) and drop `removed_ids` (unknown ids are
        ignored), touching only the postings of their terms; the content is then that of `generation`."""
        analysed = [self._analyse(c) for c in _last_of_each_id(added)]  # before the lock: searches go on
        removed = set(removed_ids)
        with self._write_lock:
            self._snapshot = _apply(self._snapshot, analysed, removed, generation)
            self.updates += 1

    # -- reads -------------------------------------------------------------------------------------
    def search(self, text: str, language: str, k: int) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25 score for the question analysed in its language (zero scores dropped; equal
        scores in the order of document id, position and chunk id)."""
        snapshot = self._snapshot
        scores = _scores(snapshot, self._analyzer(text, language))
        if scores is None or k <= 0:
            return []
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[scores[candidates] >= kth]
        hits: list[tuple[Chunk, float]] = []
        for row in candidates:
            chunk = snapshot.chunks[row]
            if chunk is not None:
                hits.append((chunk, float(scores[row])))
        hits.sort(key=lambda hit: (-hit[1], hit[0].document_id, hit[0].position, hit[0].id))
        return hits[:k]


def _last_of_each_id(chunks: Iterable[Chunk]) -> list[Chunk]:
    """The chunks with one per id (the last given wins, as a store's upsert would)."""
    return list({c.id: c for c in chunks}.values())


def _by_document(chunks: Iterable[Chunk]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk.document_id, set()).add(chunk.id)
    return {doc: frozenset(ids) for doc, ids in grouped.items()}


def _scores(snapshot: _Snapshot, tokens: Sequence[str]) -> npt.NDArray[np.float64] | None:
    """BM25 score of every row for these query tokens (a repeated token counts again, as in bm25s)."""
    n_docs = len(snapshot.rows)
    if not n_docs:
        return None
    found = [snapshot.postings[t] for t in (snapshot.vocabulary.get(token) for token in tokens) if t is not None]
    found = [p for p in found if p.shape[1]]
    if not found:
        return None
    df = np.array([p.shape[1] for p in found], dtype=np.float64)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    rows = np.concatenate([p[0] for p in found])
    tf = np.concatenate([p[1] for p in found]).astype(np.float64)
    norm = K1 * (1.0 - B + B * snapshot.lengths[rows] / (snapshot.total_length / n_docs))
    weights = np.repeat(idf, df.astype(np.intp)) * tf / (tf + norm)
    return np.bincount(rows, weights=weights, minlength=len(snapshot.chunks)).astype(np.float64, copy=False)


def _build(analysed: Iterable[_Analysed], generation: int) -> _Snapshot:
    """A snapshot of these chunks from scratch: each chunk's terms become ids as it is analysed (so its term
    counts are dropped at once), then the postings are grouped by term with one stable sort."""
    vocabulary: dict[str, int] = {}
    row_terms: list[npt.NDArray[np.int32]] = []
    row_counts: list[npt.NDArray[np.int32]] = []
    chunks: list[Chunk] = []
    lengths_of: list[int] = []
    for item in analysed:
        row_terms.append(np.array([vocabulary.setdefault(t, len(vocabulary)) for t in item.counts], dtype=np.int32))
        row_counts.append(np.fromiter(item.counts.values(), dtype=np.int32, count=len(item.counts)))
        chunks.append(item.chunk)
        lengths_of.append(item.length)
    term_of = np.concatenate(row_terms) if row_terms else _NO_TERMS
    rows_of = np.repeat(np.arange(len(chunks), dtype=np.int32), [len(ids) for ids in row_terms])
    entries = np.stack([rows_of, np.concatenate(row_counts) if row_counts else _NO_TERMS])
    del rows_of, row_counts
    order = np.argsort(term_of, kind="stable")
    cuts = np.cumsum(np.bincount(term_of, minlength=len(vocabulary)))[:-1]
    postings = np.split(entries[:, order], cuts, axis=1) if vocabulary else []
    lengths = np.array(lengths_of, dtype=np.float64)
    rows: list[Chunk | None] = list(chunks)
    return _Snapshot(
        generation=generation,
        vocabulary=vocabulary,
        postings=postings,
        chunks=rows,
        terms=row_terms,
        lengths=lengths,
        rows={chunk.id: row for row, chunk in enumerate(chunks)},
        documents=_by_document(chunks),
        free=(),
        total_length=float(lengths.sum()),
    )


def _apply(old: _Snapshot, added: Sequence[_Analysed], removed: set[str], generation: int) -> _Snapshot:
    """The next snapshot: `old` without the removed chunks (and those `added` replaces), with `added`."""
    vocabulary = old.vocabulary
    postings = list(old.postings)
    chunks = list(old.chunks)
    terms = list(old.terms)
    lengths = old.lengths.copy()
    rows = dict(old.rows)
    free = list(old.free)
    total_length = old.total_length
    members: dict[str, set[str]] = {}  # the chunk ids of every document this update touches

    def of(document_id: str) -> set[str]:
        if document_id not in members:
            members[document_id] = set(old.documents.get(document_id, ()))
        return members[document_id]

    dropped = {cid: rows[cid] for cid in removed | {a.chunk.id for a in added} if cid in rows}
    if dropped:
        gone = np.array(sorted(dropped.values()), dtype=np.int32)
        kept = np.ones(len(chunks), dtype=bool)
        kept[gone] = False
        for term in np.unique(np.concatenate([terms[row] for row in gone])):
            entries = postings[term]
            postings[term] = entries[:, kept[entries[0]]]
        for cid, row in dropped.items():
            chunk = chunks[row]
            if chunk is not None:  # always: a held row has its chunk
                of(chunk.document_id).discard(cid)
            del rows[cid]
            total_length -= float(lengths[row])
            chunks[row], terms[row], lengths[row] = None, _NO_TERMS, 0.0
        free.extend(int(row) for row in gone[::-1])

    extra = max(0, len(added) - len(free))  # rows beyond the free ones, made once
    free.extend(range(len(chunks) + extra - 1, len(chunks) - 1, -1))
    chunks.extend([None] * extra)
    terms.extend([_NO_TERMS] * extra)
    lengths = np.concatenate([lengths, np.zeros(extra)]) if extra else lengths
    new_entries: dict[int, list[tuple[int, int]]] = {}
    for item in added:
        row = free.pop()
        if vocabulary is old.vocabulary and any(term not in vocabulary for term in item.counts):
            vocabulary = dict(vocabulary)  # a new term: copy the table before adding to it
        ids = [vocabulary.setdefault(term, len(vocabulary)) for term in item.counts]
        for term_id, count in zip(ids, item.counts.values(), strict=True):
            new_entries.setdefault(term_id, []).append((row, count))
        chunks[row], terms[row], rows[item.chunk.id] = item.chunk, np.array(ids, dtype=np.int32), row
        of(item.chunk.document_id).add(item.chunk.id)
        lengths[row] = item.length
        total_length += item.length

    postings.extend(_NO_POSTINGS for _ in range(len(vocabulary) - len(postings)))
    documents = dict(old.documents)
    for document_id, chunk_ids in members.items():
        if chunk_ids:
            documents[document_id] = frozenset(chunk_ids)
        else:
            documents.pop(document_id, None)
    for term_id, entries in new_entries.items():
        postings[term_id] = np.concatenate([postings[term_id], np.array(entries, dtype=np.int32).T], axis=1)
    return _Snapshot(
        generation=generation,
        vocabulary=vocabulary,
        postings=postings,
        chunks=chunks,
        terms=terms,
        lengths=lengths,
        rows=rows,
        documents=documents,
        free=tuple(free),
        total_length=total_length if rows else 0.0,
    )
