"""Extractive answerer: quotes the sentence(s) that answer the question, or refuses.

No language model is involved, so the answer can only contain text that stands in a cited quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from assistant.core.lexicon import PLACES, concepts_in, skeleton, university_hosts
from assistant.core.models import Analyzer, Answer, Chunk, Citation, Lead, Question, ScoredChunk
from assistant.core.numbers import GROUP_SPACE, is_year, join_digit_groups
from assistant.core.ports import SentenceSimilarity
from assistant.core.sentences import split_sentences

QuestionType = Literal["count", "date", "who", "where", "other"]

_TYPE_PATTERNS: list[tuple[QuestionType, re.Pattern[str]]] = [
    (
        "date",
        re.compile(
            r"\bкачан|кайсы\s+(жыл|күн|ай)|канчанчы\s+жыл|\bкогда\b|в\s+как(ом|ой)\s+(году|месяце|день)"
            r"|какого\s+числа|с\s+какого\s+года|\bwhen\b|what\s+(year|date|month)|which\s+(year|month)|since\s+when"
            r"|\bkachan\b|\bkogda\b",
            re.I,
        ),
    ),
    (
        "count",
        re.compile(
            r"\bканча|\bсколько|how\s+(many|much)|what\s+(number|percentage|share|amount)|какое\s+(число|количество)"
            r"|какой\s+процент|\bпроцент|\bskolko|\bkancha|\bнече",
            re.I,
        ),
    ),
    (
        "who",
        re.compile(
            r"\bким\b|\bкимдер|\bкимге|\bкимдин|\bкто\b|\bкого\b|\bкому\b|\bwho\b|\bwhom\b|\bwhose\b|\bkim\b|\bkto\b",
            re.I,
        ),
    ),
    (
        "where",
        re.compile(
            r"\bкайда|\bкайсы\s+(өлкө|шаар)|\bгде\b|\bкуда\b|в\s+как(их|ой)\s+(стран|город)|\bwhere\b"
            r"|which\s+(countr|cit)",
            re.I,
        ),
    ),
]
_NUMBER = re.compile(rf"(?<![\w.])\d{{1,3}}(?:{GROUP_SPACE}\d{{3}})+(?:[.,]\d+)?|(?<![\w.])\d+(?:[.,]\d+)?")
_NUMBER_WORDS = re.compile(
    r"\b(?:эки|үч|төрт|беш|алты|жети|сегиз|тогуз|он|жыйырма|отуз|кырк|элүү|жүз|миң"
    r"|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|сто|тысяч\w*"
    r"|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred|thousand)\b",
    re.I,
)
# The words right after "канча / сколько / how many" name what is counted ("канча окуучу" → pupils).
_COUNT_WORD = re.compile(r"\b(?:канча\w*|сколько|how\s+(?:many|much)|skolko|kancha)\s+((?:[^\W\d_]+[\s-]*){1,3})", re.I)
_NUMBER_UNIT = re.compile(r"\s*(?:%|пайыз|миң|млн|млрд|тыс\.?|thousand|million|billion|сом|som)", re.I)
_PERCENT_QUESTION = re.compile(r"процент|percent|пайыз|%|\bдол[яию]\b|\bshare\b", re.I)
_PERCENT_UNIT = re.compile(r"\s*(?:%|пайыз|процент|percent)", re.I)
# "…канча жана канча…", "how many … and how many …", "сколько … и сколько": one question, several facts.
MULTI_PART = re.compile(
    r"(?:\b(?:жана|и|and|а\s+также)\b|,)\s+(?:\w+\s+){0,3}?(?:канча\w*|сколько|how\s+(?:many|much)|кайсы|какие|каких|which|what|who|кто|ким\w*)"
    r"|\bканча\w*\s+(?:\w+\s+){0,3}?канча\w*"
    r"|(?:\bканча\w*|\bсколько|how\s+(?:many|much))\s+\w+\s+(?:жана|и|and)\s+\w+"
    r"|\b(?:кто|who|ким|когда|when|качан|где|where|кайда)\s+(?:жана|и|and)\s+\w+",
    re.I,
)
_MONTHS = (
    "январ|феврал|март|апрел|май|июн|июл|август|сентябр|октябр|ноябр|декабр|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_DATE = re.compile(
    rf"\b\d{{1,2}}[-\s]?(?:{_MONTHS})\w*(?:\s+(?:19|20)\d\d(?:-\w+)?)?"  # 15-мартта, 3 марта 2023
    rf"|\b(?:19|20)\d\d(?:\s?[-–]\s?(?:19|20)?\d\d)?\s?[-–]?\s?(?:окуу\s)?(?:жыл\w*|ж\.|год\w*|гг?\.)"  # 1996-жылы
    rf"(?:\s+\d{{1,2}}-(?:{_MONTHS})\w*)?"
    rf"|\b(?:{_MONTHS})\w*\s+(?:19|20)\d\d"  # October 1996
    rf"|\b(?:in|since|from|by)\s+(?:19|20)\d\d"
    rf"|\b(?:в\s+)?(?:{_MONTHS})\w*",  # "октябрь айында", "в октябре"
    re.I,
)
_NAME = re.compile(r"\b(?:[A-ZА-ЯЁӨҮҢ]\.\s?)?[A-ZА-ЯЁӨҮҢ][a-zа-яёөүң]+(?:\s+[A-ZА-ЯЁӨҮҢ][a-zа-яёөүң]+)+")
_WORD = re.compile(r"[^\W_]+", re.U)
_CAPITALISED = re.compile(r"\b([A-ZА-ЯЁӨҮҢ][a-zа-яёөүң]{3,}|[A-ZА-ЯЁӨҮҢ]{2,}[a-zа-яёөүң]*)")

# Words that name the subject area of every document; they say nothing about which passage answers.
_GENERIC_CONCEPTS = {"kyrgyzstan", "education", "year", "number", "ministry", "science"}


def question_type(text: str) -> QuestionType:
    """What kind of span answers the question: a number, a date, a name, a place, or a passage."""
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(text):
            return kind
    return "other"


@dataclass(frozen=True)
class _Candidate:
    chunk_rank: int
    scored: ScoredChunk
    start: int  # offsets in the cleaned document
    end: int
    text: str
    context: str  # the sentence before, which often names the subject
    score: float = 0.0
    span: tuple[int, int] | None = None  # answer span inside `text`
    features: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # overlap, rank, type, similarity


@dataclass(frozen=True)
class AnswererConfig:
    """Weights of the sentence scorer and the refusal bar (tuned on the dev set's tuning half)."""

    max_chunks: int = 8
    weight_overlap: float = 0.6
    weight_rank: float = 0.25
    weight_type: float = 0.4
    weight_similarity: float = 0.1
    similarity_pool: int = 8
    spanless_ratio: float = 0.6
    context_discount: float = 0.5
    min_score: float = 0.3
    second_sentence_ratio: float = 0.85
    multi_part_ratio: float = 0.6
    max_answer_chars: int = 400


class ExtractiveAnswerer:
    """Picks, quotes and cites the best sentence(s) from retrieved chunks; refuses when none fits."""

    def __init__(
        self, analyzer: Analyzer, config: AnswererConfig | None = None, similarity: SentenceSimilarity | None = None
    ) -> None:
        self._analyze = analyzer
        self._similarity = similarity
        self.config = config or AnswererConfig()

    def generate(self, question: Question, chunks: Sequence[ScoredChunk]) -> Answer:
        """Answer from the given chunks (best first)."""
        kind = question_type(question.text)
        scored = self.rank_sentences(question, chunks)
        if not scored or scored[0].score < self.config.min_score:
            return self.refusal(question, chunks)
        best = scored[0]
        if kind in ("count", "date") and best.span is None:
            # "How many" answered without any number (or "when" without a date) is not an answer: take the
            # best sentence that has one if it is nearly as good, else refuse.
            spanned = [c for c in scored if c.span is not None and c.score >= self.config.min_score]
            if not spanned or spanned[0].score < self.config.spanless_ratio * best.score:
                return self.refusal(question, chunks)
            best = spanned[0]
        chosen = [best]
        second = self._second(best, scored, multi_part=bool(MULTI_PART.search(question.text)))
        if second is not None:
            chosen.append(second)
        return self._render(question, kind, chosen, chunks)

    def rank_sentences(self, question: Question, chunks: Sequence[ScoredChunk]) -> list[_Candidate]:
        """Candidate sentences of the top chunks, best first, without those lacking the question's specifics."""
        kind = question_type(question.text)
        q_terms = set(self._analyze(question.search_text, question.language))
        q_concepts = concepts_in(question.search_text) - _GENERIC_CONCEPTS
        top = chunks[: self.config.max_chunks]
        # Passages that lack a name, place or number the question insists on cannot answer it.
        # A section's heading often sits in the chunk before ("ITEC (…программасы)." then the figures).
        by_place = {(sc.chunk.document_id, sc.chunk.position): sc.chunk.text for sc in chunks}
        covering = [
            sc
            for sc in top
            if self._covers_specifics(
                question.text, sc.chunk, by_place.get((sc.chunk.document_id, sc.chunk.position - 1), "")
            )
        ]
        hosts = university_hosts(question.text, question.language)
        kept = [
            c
            for c in self._candidates(covering, ranks={id(sc): r for r, sc in enumerate(top)})
            if self._same_host(hosts, c)
        ]
        counted = self._counted(question)
        order = lambda c: (-c.score, c.chunk_rank, c.start)  # noqa: E731
        first = sorted((self._score(c, kind, q_terms, q_concepts, counted, question.text) for c in kept), key=order)
        # A sentence the store has no vector for is embedded now (~20 ms on 2 cores): only the front-runners get one.
        pool = first[: self.config.similarity_pool]
        sims = self._sentence_similarities(question, pool)
        rescored = [self._with_similarity(c, kind, sim) for c, sim in zip(pool, sims, strict=True)]
        return sorted(rescored, key=order) + first[len(pool) :]

    def refusal(self, question: Question, chunks: Sequence[ScoredChunk] = ()) -> Answer:
        """The "not in the documents" answer, in the question's language."""
        return Answer(language=question.language, refused=True, retrieved=tuple(chunks))

    # -- candidates and scoring ------------------------------------------------------------------------
    def _candidates(self, chunks: Sequence[ScoredChunk], ranks: dict[int, int]) -> list[_Candidate]:
        seen: set[tuple[str, int]] = set()
        out: list[_Candidate] = []
        for scored in chunks:
            rank = ranks[id(scored)]
            chunk = scored.chunk
            sentences = split_sentences(chunk.text)
            for i, sentence in enumerate(sentences):
                key = (chunk.document_id, chunk.start + sentence.start)
                if key in seen or not re.search(r"\w{2}", sentence.text):
                    continue
                seen.add(key)
                out.append(
                    _Candidate(
                        chunk_rank=rank,
                        scored=scored,
                        start=chunk.start + sentence.start,
                        end=chunk.start + sentence.end,
                        text=sentence.text,
                        context=sentences[i - 1].text if i > 0 else chunk.title,
                    )
                )
        return out

    def _counted(self, question: Question) -> tuple[set[str], frozenset[str]]:
        """Stems and concepts of what a "how many" question counts."""
        match = _COUNT_WORD.search(question.text)
        if not match:
            return set(), frozenset()
        words = match.group(1)
        return set(self._analyze(words, question.language)), concepts_in(words) - _GENERIC_CONCEPTS

    def _sentence_similarities(self, question: Question, candidates: list[_Candidate]) -> list[float]:
        """Question–sentence similarity rescaled to 0..1 across the candidates (0 without an encoder)."""
        if self._similarity is None or not candidates:
            return [0.0] * len(candidates)
        raw = self._similarity.similarities(question.search_text, [(c.scored.chunk, c.text) for c in candidates])
        low, high = min(raw), max(raw)
        return [(r - low) / (high - low) if high > low else 1.0 for r in raw]

    def _score(
        self,
        cand: _Candidate,
        kind: QuestionType,
        q_terms: set[str],
        q_concepts: frozenset[str],
        counted: tuple[set[str], frozenset[str]] = (set(), frozenset()),
        q_text: str = "",
    ) -> _Candidate:
        cfg = self.config
        lang = cand.scored.chunk.lang
        s_terms = set(self._analyze(cand.text, lang))
        c_terms = set(self._analyze(cand.context, lang))
        s_concepts = concepts_in(cand.text)
        c_concepts = concepts_in(cand.context)
        total = len(q_terms) + len(q_concepts)
        hits = len(q_terms & s_terms) + len(q_concepts & s_concepts)
        context_hits = len((q_terms & c_terms) - s_terms) + len((q_concepts & c_concepts) - s_concepts)
        overlap = (hits + cfg.context_discount * context_hits) / total if total else 0.0

        def relevant(words: list[str]) -> float:
            text = " ".join(words)
            terms, concepts = set(self._analyze(text, lang)), concepts_in(text)
            shared = len(terms & q_terms) + len(concepts & q_concepts)
            if terms & counted[0] or concepts & counted[1]:
                return 1.0 + SPECIFICITY_BONUS * shared
            return 0.7 + SPECIFICITY_BONUS * shared if shared else 0.0

        span, type_match = find_span(cand.text, kind, relevant, percent=bool(_PERCENT_QUESTION.search(q_text)))
        if kind == "other":
            type_match = 1.0
        rank_prior = 1.0 / (1.0 + 0.5 * cand.chunk_rank)
        return self._with_similarity(replace(cand, span=span), kind, 0.0, (min(1.0, overlap), rank_prior, type_match))

    def _with_similarity(
        self, cand: _Candidate, kind: QuestionType, sim: float, base: tuple[float, float, float] | None = None
    ) -> _Candidate:
        """The weighted score of a candidate's features (overlap, rank, type) plus a sentence similarity."""
        cfg = self.config
        overlap, rank_prior, type_match = base if base is not None else cand.features[:3]
        score = (
            cfg.weight_overlap * overlap
            + cfg.weight_rank * rank_prior
            + cfg.weight_type * type_match
            + cfg.weight_similarity * sim
        )
        if kind != "other" and cand.span is None:
            score *= 0.7
        return replace(cand, score=score, features=(overlap, rank_prior, type_match, sim))

    def _second(self, best: _Candidate, scored: list[_Candidate], multi_part: bool = False) -> _Candidate | None:
        """A neighbouring sentence that also answers (lists, numbers split over two sentences, a second part)."""
        cfg = self.config
        ratio = cfg.multi_part_ratio if multi_part else cfg.second_sentence_ratio
        if best.text.rstrip().endswith(":"):
            # "The protocol covers the following:" says nothing without the item after it.
            following = [
                c
                for c in scored
                if c.scored.chunk.document_id == best.scored.chunk.document_id and 0 < c.start - best.end <= 3
            ]
            if following:
                return following[0]
        for cand in scored[1:4]:
            if cand.scored.chunk.document_id != best.scored.chunk.document_id:
                continue
            adjacent = 0 < cand.start - best.end <= 3 or 0 < best.start - cand.end <= 3
            if not adjacent or cand.score < ratio * best.score:
                continue
            if len(best.text) + len(cand.text) > cfg.max_answer_chars:
                continue
            return cand
        return None

    @staticmethod
    def _same_host(hosts: set[str], cand: _Candidate) -> bool:
        """A question about Kazakhstan's universities is not answered by a sentence about Kyrgyz ones."""
        if not hosts:
            return True
        lang = cand.scored.chunk.lang
        found = university_hosts(cand.text, lang) | university_hosts(cand.context, lang)
        return not found or bool(found & hosts)

    def _covers_specifics(self, question: str, chunk: Chunk, before: str = "") -> bool:
        """Names, places and numbers the question insists on must appear where the answer comes from."""
        evidence = f"{chunk.title} {before} {chunk.text}"
        evidence_places = concepts_in(evidence) & PLACES.keys()
        for place in (concepts_in(question) & PLACES.keys()) - {"kyrgyzstan"}:
            if place not in evidence_places:
                return False
        digits = join_digit_groups(evidence)
        for number in re.findall(r"\d{2,}", join_digit_groups(question)):
            if number not in digits:
                return False
        evidence_skeletons = {skeleton(w)[:5] for w in _WORD.findall(evidence) if len(w) >= 3}
        return all(skeleton(name)[:5] in evidence_skeletons for name in specific_names(question))

    # -- rendering ------------------------------------------------------------------------------------
    def _render(
        self, question: Question, kind: QuestionType, chosen: list[_Candidate], chunks: Sequence[ScoredChunk]
    ) -> Answer:
        chosen = sorted(chosen, key=lambda c: c.start)
        citations: list[Citation] = []
        for cand in chosen:
            chunk = cand.scored.chunk
            if citations and citations[-1].chunk_id == chunk.id and cand.start - citations[-1].end <= 3:
                prev = citations[-1]
                gap_text = chunk.text[prev.end - chunk.start : cand.start - chunk.start]
                merged_quote = prev.quote + gap_text + cand.text
                highlight = prev.highlight
                if highlight is None and cand.span is not None:
                    base = len(prev.quote) + len(gap_text)
                    highlight = (base + cand.span[0], base + cand.span[1])
                citations[-1] = replace(prev, quote=merged_quote, end=cand.end, highlight=highlight)
                continue
            index = len(citations) + 1
            citations.append(
                Citation.quoting(chunk, index, (cand.start, cand.end, cand.text), round(cand.score, 4), cand.span)
            )
        return Answer(
            language=question.language,
            refused=False,
            lead=self._lead(kind, citations),
            citations=tuple(citations),
            retrieved=tuple(chunks),
        )

    @staticmethod
    def _lead(kind: QuestionType, citations: list[Citation]) -> Lead | None:
        """The first highlighted span, unless the question asks for a passage rather than a span."""
        if kind == "other":
            return None
        for citation in citations:
            if citation.highlight is not None:
                start, end = citation.highlight
                return Lead(text=citation.quote[start:end], citation=citation.index)
        return None


# Added per question word beside a number: of two numbers next to the counted word, the one that also
# stands next to "жетим" (orphans) answers "… жетимдерге канча орун?".
SPECIFICITY_BONUS = 0.01
_CLAUSE_BREAK = re.compile(r"[,;:()]")


def find_span(
    sentence: str,
    kind: QuestionType,
    relevant: Callable[[list[str]], float] = lambda words: 0.0,
    percent: bool = False,
) -> tuple[tuple[int, int] | None, float]:
    """Where in the sentence the asked-for number, date, name or place stands, and how sure (0, 0.5 or 1).

    A number counts fully when a word next to it names what is counted ("1 447 717 окуучуну" for
    "канча окуучу"), partly when it is next to another question word; years, list markers and
    reference numbers like "[5]" are not counts. `relevant` rates the words next to a number; for a
    `percent` question only a number written with "%" or "пайыз" counts fully.
    """
    if kind == "count":
        best: tuple[tuple[int, int] | None, float] = (None, 0.0)
        best_raw = 0.0  # `relevant` may add a little per question word beside a number, to break ties
        found = [(m, False) for m in _NUMBER.finditer(sentence)] + [(m, True) for m in _NUMBER_WORDS.finditer(sentence)]
        for match, is_word in sorted(found, key=lambda f: f[0].start()):
            if is_year(match.group(0)) or _is_marker(sentence, match):
                continue
            end = match.end()
            unit = _NUMBER_UNIT.match(sentence, end)
            if unit:
                end = unit.end()
            tail = re.sub(r"^\w*", "", sentence[end : end + 80])  # skip a suffix glued to the number
            # The words that describe a number stand in its clause: "(мамлекеттик -2164, менчик-186 мектеп)".
            after = _WORD.findall(_CLAUSE_BREAK.split(tail, maxsplit=1)[0])[:3]
            before = _WORD.findall(_CLAUSE_BREAK.split(sentence[max(0, match.start() - 40) : match.start()])[-1])[-2:]
            near = relevant(after + before)
            strength = near if near > 0 else (0.0 if is_word else 0.3)
            if percent:
                strength = 1.0 if _PERCENT_UNIT.match(sentence, match.end()) else min(strength, 0.3)
            if strength > best_raw:
                best, best_raw = ((match.start(), end), _tier(strength)), strength
        return best
    if kind == "date":
        date = _DATE.search(sentence)
        return ((date.start(), date.end()), 1.0) if date else (None, 0.0)
    if kind == "who":
        for name in _NAME.finditer(sentence):
            words = name.group(0).split()
            if not any(_is_domain_word(w) for w in words if not w.endswith(".")):
                return (name.start(), name.end()), 1.0
        return None, 0.0
    if kind == "where":
        lowered = sentence.lower()
        for prefixes in PLACES.values():
            for prefix in prefixes:
                at = lowered.find(prefix)
                if at >= 0 and (at == 0 or not lowered[at - 1].isalpha()):
                    end = at
                    while end < len(sentence) and (sentence[end].isalnum() or sentence[end] == "-"):
                        end += 1
                    return (at, end), 1.0
        return None, 0.0
    return None, 0.0


def _tier(strength: float) -> float:
    """The strength without the tie-breaking bonus: 1.0, 0.7, 0.3 or 0."""
    return max((t for t in (1.0, 0.7, 0.3, 0.0) if strength >= t), default=0.0)


def _is_marker(sentence: str, match: re.Match[str]) -> bool:
    """Reference numbers "[5]", "№79" and list numbering "1)" are not quantities."""
    before = sentence[max(0, match.start() - 1) : match.start()]
    after = sentence[match.end() : match.end() + 1]
    return before in ("[", "№") or (after == ")" and match.start() == 0)


def _is_domain_word(word: str) -> bool:
    return bool(concepts_in(word)) or word.lower().startswith(("республика", "федерация", "министр", "университет"))


def specific_names(question: str) -> list[str]:
    """Capitalised words in a question that are not generic domain words: names, programmes, institutions."""
    names = []
    for match in _CAPITALISED.finditer(question):
        word = match.group(1)
        first = not question[: match.start()].strip(" «\"'")
        # Any question starts with a capital: there, only acronyms (DAAD, ОшМУ) or "Эразмус+" count as names.
        if first and not (re.match(r"\w[A-ZА-ЯЁӨҮҢ]", word) or question[match.end() : match.end() + 1] == "+"):
            continue
        if not _is_domain_word(word):
            names.append(word)
    return names
