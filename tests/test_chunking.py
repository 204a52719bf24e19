"""Chunking on the sample corpus and on synthetic Kyrgyz text: exact spans, whole sentences, overlap, ids, language."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.core.models import Chunk, SourceDocument
from assistant.core.sentences import Sentence, split_sentences, text_hash
from ingest.chunking import (
    HARD_MAX_CHARS,
    MAX_CHARS,
    MIN_LANGUAGE_RUN_CHARS,
    OVERLAP_MAX_CHARS,
    chunk_document,
    chunk_id,
)
from ingest.cleaning import clean_text
from ingest.loaders import LoadFailure, iter_documents

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"

# Kyrgyz sentences of 60-90 characters, all different, so packing needs several chunks.
KY_SENTENCES = [
    f"Министрлик {n}-мектепте жаңы окуу программасын {n + 2}-сентябрдан баштап сынай баштады." for n in range(1, 25)
]


def corpus_documents() -> dict[str, tuple[SourceDocument, str]]:
    """Each sample document with its cleaned text."""
    docs = {}
    for item in iter_documents(CORPUS):
        assert not isinstance(item, LoadFailure), item
        docs[item.id] = (item, clean_text(item.text))
    return docs


DOCS = corpus_documents()


def doc(text: str, doc_id: str = "doc.txt", lang: str | None = None) -> SourceDocument:
    return SourceDocument(id=doc_id, text=text, title="t", source="/src", path=doc_id, lang=lang)


def sentences_in(chunk: Chunk, sentences: list[Sentence]) -> list[Sentence]:
    return [s for s in sentences if chunk.start <= s.start and s.end <= chunk.end]


def test_sample_corpus_has_the_five_documents() -> None:
    assert sorted(DOCS) == [
        "minister-visit-russia-quotas.txt",
        "ministry-2023-policy-summary.txt",
        "oshsu-academic-mobility.txt",
        "protocol-kravtsov-march-15.txt",
        "russia-kazakhstan-cooperation.txt",
    ]


@pytest.mark.parametrize("doc_id", sorted(DOCS))
def test_chunks_are_exact_spans_of_whole_sentences(doc_id: str) -> None:
    document, cleaned = DOCS[doc_id]
    chunks = chunk_document(document, cleaned)
    sentences = split_sentences(cleaned)
    assert chunks and all(len(s.text) <= HARD_MAX_CHARS for s in sentences)
    starts, ends = {s.start for s in sentences}, {s.end for s in sentences}
    for chunk in chunks:
        assert chunk.text == cleaned[chunk.start : chunk.end]
        assert chunk.start in starts, f"chunk {chunk.position} starts mid-sentence"
        assert chunk.end in ends, f"chunk {chunk.position} ends mid-sentence"
        inside = sentences_in(chunk, sentences)
        assert inside and inside[0].start == chunk.start and inside[-1].end == chunk.end
        if len(chunk.text) > MAX_CHARS:
            assert len(inside) == 1, f"chunk {chunk.position} has {len(chunk.text)} chars and several sentences"
    assert [c.position for c in chunks] == sorted({c.position for c in chunks})
    # Nothing is lost: every sentence with a word in it is inside some chunk.
    covered = [s for s in sentences if re.search(r"\w", s.text)]
    assert all(any(c.start <= s.start and s.end <= c.end for c in chunks) for s in covered)


@pytest.mark.parametrize("doc_id", sorted(DOCS))
def test_consecutive_chunks_share_one_sentence(doc_id: str) -> None:
    document, cleaned = DOCS[doc_id]
    chunks = chunk_document(document, cleaned)
    sentences = split_sentences(cleaned)
    overlapping = 0
    for a, b in itertools.pairwise(chunks):
        in_a = sentences_in(a, sentences)
        last = in_a[-1]
        if b.start < a.end:
            # Exactly one sentence (a's last) is repeated.
            assert b.start == last.start
            assert len(in_a) >= 2 and len(last.text) <= OVERLAP_MAX_CHARS
            assert a.lang == b.lang
            overlapping += 1
        else:
            # The documented exceptions: a one-sentence chunk, a long last sentence, or a change of language.
            assert len(in_a) == 1 or len(last.text) > OVERLAP_MAX_CHARS or a.lang != b.lang, (a.position, b.position)
            following = next(s for s in sentences if s.start >= a.end and re.search(r"\w", s.text))
            assert b.start == following.start, "a sentence between two chunks was skipped"
    if len(chunks) > 3:
        assert overlapping >= len(chunks) // 3


def test_synthetic_kyrgyz_text_overlaps_by_exactly_one_sentence() -> None:
    text = " ".join(KY_SENTENCES)
    chunks = chunk_document(doc(text), text)
    sentences = split_sentences(text)
    assert len(sentences) == len(KY_SENTENCES)
    assert len(chunks) >= 4
    for a, b in itertools.pairwise(chunks):
        shared = text[b.start : a.end]
        assert shared == sentences_in(a, sentences)[-1].text
        assert shared in KY_SENTENCES
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(c.lang == "ky" for c in chunks)
    # Chunks are as full as the limit allows: adding the next sentence would break it.
    for a, b in itertools.pairwise(chunks):
        nxt = next(s for s in sentences if s.start >= a.end)
        assert nxt.end - a.start > MAX_CHARS
        assert b.end >= nxt.end


def test_a_sentence_longer_than_the_limit_is_one_chunk() -> None:
    long_sentence = "Мектептердин " + ", ".join(f"{n}-мектеп жаңы жабдуулар менен камсыздалды" for n in range(14)) + "."
    assert MAX_CHARS < len(long_sentence) <= HARD_MAX_CHARS
    text = f"{KY_SENTENCES[0]} {long_sentence} {KY_SENTENCES[1]}"
    chunks = chunk_document(doc(text), text)
    assert long_sentence in [c.text for c in chunks]
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert len(chunk.text) <= MAX_CHARS or chunk.text == long_sentence


def test_a_table_flattened_into_one_huge_sentence_is_cut_at_spaces() -> None:
    row = "Баткен | 212 мектеп | 84 000 окуучу | 5 600 мугалим"
    huge = " ".join(f"{row} {n}" for n in range(80))  # one "sentence" of ~4,500 characters, no full stop
    assert len(split_sentences(huge)) == 1 and len(huge) > 3 * HARD_MAX_CHARS
    chunks = chunk_document(doc(huge), huge)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert chunk.text == huge[chunk.start : chunk.end]
        assert len(chunk.text) <= HARD_MAX_CHARS
        assert chunk.text == chunk.text.strip()
        assert chunk.start == 0 or huge[chunk.start - 1] == " "  # never cuts inside a word
        assert chunk.end == len(huge) or huge[chunk.end] == " "
    # Together the pieces cover every word exactly once.
    assert " ".join(c.text for c in chunks) == huge


def test_chunk_ids_are_deterministic_and_depend_on_document_and_position() -> None:
    document, cleaned = DOCS["protocol-kravtsov-march-15.txt"]
    first = chunk_document(document, cleaned)
    again = chunk_document(document, cleaned)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert all(re.fullmatch(r"[0-9a-f]{32}", c.id) for c in first)

    # The same text in another document: same text hash, different chunk ids.
    twin = SourceDocument(id="copy-of-protocol.txt", text=document.text, title=document.title, source=document.source)
    copied = chunk_document(twin, clean_text(twin.text))
    assert [c.text for c in copied] == [c.text for c in first]
    assert not {c.id for c in copied} & {c.id for c in first}
    assert [text_hash(c.text) for c in copied] == [text_hash(c.text) for c in first]

    # The same text twice in one document: two positions, two ids.
    sentence = "Министрлик " + ", ".join(f"{n}-мектепке жаңы китептерди жеткирди" for n in range(8)) + "."
    assert MAX_CHARS / 2 < len(sentence) <= MAX_CHARS
    repeated = f"{sentence}\n{sentence}"
    chunks = chunk_document(doc(repeated), repeated)
    same_text = [c for c in chunks if c.text == sentence]
    assert len(same_text) == 2
    assert same_text[0].id != same_text[1].id and same_text[0].position != same_text[1].position
    assert chunk_id("a.txt", 0, 0, "x") == chunk_id("a.txt", 0, 0, "x") != chunk_id("a.txt", 1, 0, "x")
    # Same text and position, but moved by an edit before it: a new id, so the stored span gets rewritten.
    assert chunk_id("a.txt", 3, 120, "x") != chunk_id("a.txt", 3, 121, "x")


def test_chunk_languages_in_the_sample_corpus() -> None:
    langs = {doc_id: [c.lang for c in chunk_document(*DOCS[doc_id])] for doc_id in DOCS}
    assert set(langs["russia-kazakhstan-cooperation.txt"]) == {"en"}
    for doc_id in ("minister-visit-russia-quotas.txt", "ministry-2023-policy-summary.txt"):
        assert set(langs[doc_id]) == {"ky"}, doc_id
    assert set(langs["protocol-kravtsov-march-15.txt"]) == {"ky"}
    # The OshSU article opens with Kyrgyz, Russian and English abstracts: each is a chunk of its own language.
    oshsu = chunk_document(*DOCS["oshsu-academic-mobility.txt"])
    assert set(langs["oshsu-academic-mobility.txt"]) == {"ky", "ru", "en"}
    assert Counter(c.lang for c in oshsu)["ky"] > 25
    ru = next(c for c in oshsu if "В статье рассматривается" in c.text)
    en = next(c for c in oshsu if "The article deals with" in c.text)
    assert ru.lang == "ru" and "Бул макалада" not in ru.text and "Abstract" not in ru.text
    assert en.lang == "en" and "ОшМУ" not in en.text
    assert oshsu[0].text.startswith("Аннотация: Бул макалада") and oshsu[0].lang == "ky"
    assert [c.lang for c in oshsu[:4]] == ["ky", "ru", "en", "ky"]
    # Every Kyrgyz sentence of the article is in a chunk labelled Kyrgyz.
    kyrgyz_sentence = "ОшМУ билим берүү жаатындагы бир нече эл аралык, ата мекендик программалар"
    assert all(c.lang == "ky" for c in oshsu if kyrgyz_sentence in c.text)


def test_a_short_stretch_in_another_language_stays_in_the_kyrgyz_chunk() -> None:
    quote = "Москва мамлекеттик университети."  # reads as Russian, far shorter than a language run
    assert len(quote) < MIN_LANGUAGE_RUN_CHARS
    text = f"{KY_SENTENCES[0]} {quote} {KY_SENTENCES[1]}"
    chunks = chunk_document(doc(text), text)
    assert [(c.text, c.lang) for c in chunks] == [(text, "ky")]


def test_jsonl_language_is_forced_on_every_chunk() -> None:
    mixed = "Бул макалада билим берүү жана илим каралган. " * 4 + "The article deals with education and mobility. " * 4
    chunks = chunk_document(doc(mixed, lang="ru"), mixed)
    assert chunks and {c.lang for c in chunks} == {"ru"}
    free = chunk_document(doc(mixed), mixed)
    assert {c.lang for c in free} == {"ky", "en"}


@pytest.mark.parametrize("cleaned", ["", "   \n  ", "… — • ;"])
def test_text_without_words_gives_no_chunks(cleaned: str) -> None:
    assert chunk_document(doc(cleaned), cleaned) == []


def test_chunk_metadata_comes_from_the_document() -> None:
    source = SourceDocument(
        id="n1", text=KY_SENTENCES[0], title="Жаңылык", url="https://edu.gov.kg/n1", date="2024-03-15", source="/s"
    )
    (chunk,) = chunk_document(source, KY_SENTENCES[0])
    assert (chunk.document_id, chunk.position, chunk.start, chunk.end) == ("n1", 0, 0, len(KY_SENTENCES[0]))
    assert (chunk.title, chunk.url, chunk.date) == ("Жаңылык", "https://edu.gov.kg/n1", "2024-03-15")
    assert chunk.source == "/s"
