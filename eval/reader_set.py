"""Checks of the reader's training set (eval/datasets/reader/): standard library only, so writers can run it alone."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

LANGS = ("ky", "ru", "en")
KINDS = ("count", "money", "date", "percent", "who", "where", "what", "other")
STYLES = ("typo", "greeting", "translit", "colloquial", "short", "polite")
RESERVED_LABELS = frozenset({"education", "society", "science and technology", "citizens abroad"})
COPY_RUN = 5  # a question may not copy this many words in a row from its source
MIN_TOTAL = 4000
MIN_PER_LANG = 1200
MIN_UNANSWERABLE = 0.25
MIN_UNANSWERABLE_PER_LANG = 0.20  # "balanced across languages": no language may fall far below the overall share

_WORD = re.compile(r"\w+")
_KYRGYZ_LETTERS = re.compile(r"[өүңӨҮҢ]")
# Kyrgyz function and question words (language-general, not from any source): a Kyrgyz question without ө/ү/ң
# still uses one of them.
# fmt: off
_KYRGYZ_WORDS = frozenset((
    "канча", "канчага", "канчадан", "канчанчы", "качан", "ким", "кимдер", "кимге", "кимди", "кайда", "кайдан",
    "кайсы", "кайсыл", "эмне", "эмнеге", "эмнени", "эмнелер", "кандай", "кантип", "жана", "менен", "үчүн", "учун",
    "боюнча", "деген", "болот", "болду", "барбы", "бар", "жок", "жылы", "жылдын", "эле", "беле", "элек", "экен",
    "салам", "саламатсызбы", "рахмат", "сураныч", "айтып", "айтчы", "билесизби",
))
# fmt: on


def plain(text: str) -> str:
    """Whitespace collapsed, so a passage copied across a line break still counts as verbatim."""
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.casefold())


def copied_run(question: str, source_words: AbstractSet[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first run of COPY_RUN words the question shares with its source, if any."""
    qw = words(question)
    for i in range(len(qw) - COPY_RUN + 1):
        run = tuple(qw[i : i + COPY_RUN])
        if run in source_words:
            return run
    return None


def source_runs(text: str) -> set[tuple[str, ...]]:
    """Every run of COPY_RUN words of a source."""
    sw = words(text)
    return {tuple(sw[i : i + COPY_RUN]) for i in range(len(sw) - COPY_RUN + 1)}


def script_share(text: str, latin: bool) -> float:
    """Share of the letters that are Latin (or Cyrillic)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    if latin:
        return sum("a" <= c.lower() <= "z" for c in letters) / len(letters)
    return sum("\u0400" <= c <= "\u04ff" for c in letters) / len(letters)


def language_error(lang: str, question: str, styles: Iterable[str]) -> str | None:
    """Why the question does not look like it is in its language, or None."""
    if "translit" in styles:
        return None
    if lang == "en":
        return None if script_share(question, latin=True) >= 0.7 else "an English question in another script"
    if script_share(question, latin=False) < 0.7:
        return f"a {lang} question that is not mostly Cyrillic (tag it translit if it is meant so)"
    kyrgyz = bool(_KYRGYZ_LETTERS.search(question)) or bool(set(words(question)) & _KYRGYZ_WORDS)
    if lang == "ky" and not kyrgyz:
        return "a Kyrgyz question with no Kyrgyz letter (ө ү ң) or Kyrgyz function word"
    if lang == "ru" and _KYRGYZ_LETTERS.search(question):
        return "a Russian question with Kyrgyz letters"
    return None


def absent_error(absent: str, text: str) -> str | None:
    """Why the swapped term of a near-miss question is not absent from its source, or None."""
    folded = plain(text).casefold()
    term = plain(absent).casefold()
    if len(term) < 2:
        return "absent is empty"
    if term in folded:
        return f"absent term {absent!r} occurs in the source"
    single = words(term)
    if len(single) == 1 and len(single[0]) >= 6 and single[0][:-2] in folded:
        return f"absent term {absent!r} occurs in the source inflected ({single[0][:-2]}…)"
    return None


@dataclass(frozen=True)
class Source:
    """One source a question may come from."""

    text: str
    runs: frozenset[tuple[str, ...]]
    plain: str


def sources_from(articles: Iterable[Mapping[str, object]]) -> dict[str, Source]:
    """Sources keyed by id, from article rows ({id, labels, text})."""
    out: dict[str, Source] = {}
    for row in articles:
        text = str(row["text"])
        out[str(row["id"])] = Source(text, frozenset(source_runs(text)), plain(text))
    return out


def row_errors(row: Mapping[str, object], sources: Mapping[str, Source]) -> list[str]:
    """Everything wrong with one question row."""
    errors: list[str] = []
    for key, kind in (("id", str), ("lang", str), ("question", str), ("source", str), ("answerable", bool)):
        if not isinstance(row.get(key), kind):
            errors.append(f"{key} missing or not {kind.__name__}")
    if errors:
        return errors
    lang, question = str(row["lang"]), str(row["question"])
    if lang not in LANGS:
        errors.append(f"lang {lang!r} not one of {LANGS}")
    if row.get("kind") not in KINDS:
        errors.append(f"kind {row.get('kind')!r} not one of {KINDS}")
    styles = row.get("style", [])
    if not isinstance(styles, list) or any(s not in STYLES for s in styles):
        errors.append(f"style must be a list of {STYLES}")
        styles = []
    if not 8 <= len(question) <= 300:
        errors.append("question length outside 8-300 characters")
    source = sources.get(str(row["source"]))
    if source is None:
        return [*errors, f"source {row['source']!r} is not an allowed source"]
    evidence = row.get("evidence")
    if not isinstance(evidence, list) or not evidence or not all(isinstance(e, str) and e.strip() for e in evidence):
        errors.append("evidence must be a non-empty list of strings")
        evidence = []
    for passage in evidence:
        if plain(passage) not in source.plain:
            errors.append(f"evidence not verbatim in the source: {passage[:60]!r}")
    run = copied_run(question, source.runs)
    if run is not None:
        errors.append(f"question copies {COPY_RUN} words in a row from the source: {' '.join(run)!r}")
    why = language_error(lang, question, styles)
    if why:
        errors.append(why)
    if row["answerable"]:
        answer = row.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            errors.append("an answerable question needs answer")
        elif not any(plain(answer) in plain(p) for p in evidence):
            errors.append(f"answer {answer!r} is not inside the evidence")
        if "absent" in row:
            errors.append("an answerable question has no absent term")
    else:
        absent = row.get("absent")
        if not isinstance(absent, str):
            errors.append("an unanswerable question needs absent (the swapped term)")
        else:
            why = absent_error(absent, source.text)
            if why:
                errors.append(why)
        if row.get("answer") is not None:
            errors.append("an unanswerable question has no answer")
    return errors


def set_errors(rows: Sequence[Mapping[str, object]], *, complete: bool) -> list[str]:
    """What is wrong with the set as a whole (sizes and balance only when complete)."""
    errors: list[str] = []
    ids = Counter(str(r.get("id")) for r in rows)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    # The same words may ask about two articles (a daily figure, a suspect's age); twice about one is a duplicate.
    questions = Counter((str(r.get("source")), plain(str(r.get("question"))).casefold()) for r in rows)
    errors += [f"duplicate question {q[:60]!r} about {s}" for (s, q), n in questions.items() if n > 1]
    if complete:
        by_lang = Counter(str(r.get("lang")) for r in rows)
        if len(rows) < MIN_TOTAL:
            errors.append(f"{len(rows)} questions, fewer than {MIN_TOTAL}")
        for lang in LANGS:
            if by_lang[lang] < MIN_PER_LANG:
                errors.append(f"{by_lang[lang]} {lang} questions, fewer than {MIN_PER_LANG}")
            share = unanswerable_share([r for r in rows if r.get("lang") == lang])
            if share < MIN_UNANSWERABLE_PER_LANG:
                errors.append(f"{lang}: {share:.0%} unanswerable, under {MIN_UNANSWERABLE_PER_LANG:.0%}")
        if unanswerable_share(rows) < MIN_UNANSWERABLE:
            errors.append(f"{unanswerable_share(rows):.0%} unanswerable, under {MIN_UNANSWERABLE:.0%}")
    return errors


def unanswerable_share(rows: Sequence[Mapping[str, object]]) -> float:
    """Share of rows that are near-miss unanswerable."""
    return sum(not r.get("answerable") for r in rows) / len(rows) if rows else 0.0


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Rows of a JSON-lines file."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Check question files against their sources and print what is wrong and the counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--articles", type=Path, required=True, help="JSON lines of the allowed sources")
    parser.add_argument("--complete", action="store_true", help="also check the whole set's size and balance")
    args = parser.parse_args(argv)
    sources = sources_from(read_jsonl(args.articles))
    rows = [row for path in args.questions for row in read_jsonl(path)]
    bad = 0
    for row in rows:
        for error in row_errors(row, sources):
            bad += 1
            print(f"{row.get('id')}: {error}")
    for error in set_errors(rows, complete=args.complete):
        bad += 1
        print(f"set: {error}")
    by_lang = Counter(str(r.get("lang")) for r in rows)
    print(
        f"{len(rows)} questions ({', '.join(f'{k} {by_lang[k]}' for k in LANGS)}), "
        f"{unanswerable_share(rows):.0%} unanswerable, {len({r.get('source') for r in rows})} sources, {bad} problems"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
