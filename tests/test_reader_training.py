"""Fitting on the reader training set: rows load as questions; a sentence is the answer only inside the evidence;
the gold fit part weighs as much as the generated questions together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.core.errors import InvalidInput
from eval.runner import QAItem, load_reader_set
from eval.train import Example, _fit_pairwise, balance, within_evidence


def test_reader_rows_load_with_the_answer_as_the_one_fact(tmp_path: Path) -> None:
    rows = [
        {"id": "w1-1", "lang": "ru", "question": "Сколько?", "kind": "count", "source": "a1", "answerable": True,
         "evidence": ["Анда 1200 окуучу окуйт."], "answer": "1200", "style": []},
        {"id": "w1-2", "lang": "en", "question": "How much?", "kind": "money", "source": "a1", "answerable": False,
         "evidence": ["Анда 1200 окуучу окуйт."], "absent": "cost", "style": []},
    ]  # fmt: skip
    path = tmp_path / "part.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    answerable, near_miss = load_reader_set(path)
    assert answerable.must == [["1200"]] and answerable.evidence == ("Анда 1200 окуучу окуйт.",)
    assert near_miss.must == [] and not near_miss.answerable and near_miss.source == "a1"


def test_a_broken_reader_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "part.jsonl"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 1"):
        load_reader_set(path)


def test_a_sentence_is_within_the_evidence_however_the_splitter_cut_it() -> None:
    evidence = ["Бишкекте жаңы мектеп ачылды, анда 1200 окуучу окуйт."]
    assert within_evidence("Анда 1200 окуучу окуйт.", evidence)  # the splitter cut the passage in two
    assert within_evidence("Бишкекте жаңы мектеп ачылды, анда 1200 окуучу окуйт. Мектеп заманбап.", evidence)
    assert not within_evidence("Ошто 1200 адам митингге чыкты.", evidence)  # the same number in another sentence
    assert within_evidence("anything", [])  # the gold set gives no evidence: facts alone decide


def _example(answerable: bool = True) -> Example:
    item = QAItem(id="q", lang="ky", question="?", must=[], source="a", answerable=answerable, context=[])
    return Example(item=item, asked=None, candidates=[], sentence_labels=[], retrieved_all_facts=answerable)  # type: ignore[arg-type]


def test_the_gold_fit_part_weighs_as_much_as_the_extra_questions_together() -> None:
    examples = [_example() for _ in range(10)]
    balance(examples, gold=2)
    assert [e.weight for e in examples] == [4.0, 4.0] + [1.0] * 8
    alone = [_example() for _ in range(3)]
    balance(alone, gold=3)  # no extra questions: nothing to balance
    assert [e.weight for e in alone] == [1.0] * 3


def test_a_heavier_question_pulls_the_pairwise_ranker_its_way() -> None:
    # Two questions that disagree: in one the first feature marks the right sentence, in the other the second.
    first = (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 0]))
    second = (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1]))
    matrices, labels = [first[0], second[0]], [first[1], second[1]]
    _, even = _fit_pairwise(matrices, labels)
    _, leaning = _fit_pairwise(matrices, labels, [5.0, 1.0])
    assert abs(even[0] - even[1]) < 1e-6  # equal weights: no preference
    assert leaning[0] > leaning[1]  # the heavier question's feature wins
