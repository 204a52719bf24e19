"""Follow-up detection: a message is glued to the previous question only when it leans on it (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.core.followup import is_followup
from assistant.core.pipeline import make_question
from assistant.core.pleasantries import strip_pleasantries
from tests.conftest import ROOT

# 60 short conversations written for this test by a helper who never saw the detector: 20 per language,
# half follow-ups, half self-contained messages (short ones, and ones with "it", "that", "there", "бул", "там").
CONVERSATIONS = [
    json.loads(line) for line in (ROOT / "tests" / "data" / "followups.jsonl").read_text(encoding="utf-8").splitlines()
]
SELF_CONTAINED = [c for c in CONVERSATIONS if not c["followup"]]
FOLLOW_UPS = [c for c in CONVERSATIONS if c["followup"]]


def gold_questions() -> list[dict[str, Any]]:
    """The dev set and the gold set's fit part (the test part is only scored for notes): with `context`, a follow-up."""
    files = [ROOT / "eval/datasets/dev.jsonl", ROOT / "eval/datasets/gold/fit.jsonl"]
    return [json.loads(line) for path in files for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_the_set_is_large_enough_and_balanced() -> None:
    assert len(CONVERSATIONS) >= 30
    for lang in ("ky", "ru", "en"):
        assert sum(1 for c in SELF_CONTAINED if c["lang"] == lang) >= 5
        assert sum(1 for c in FOLLOW_UPS if c["lang"] == lang) >= 5


@pytest.mark.parametrize("conversation", SELF_CONTAINED, ids=[c["id"] for c in SELF_CONTAINED])
def test_a_self_contained_message_is_never_glued_to_the_previous_question(conversation: dict[str, Any]) -> None:
    question = make_question(conversation["question"], history=conversation["previous"])
    # Read alone, as it was written (less a greeting around it).
    assert question.previous is None
    assert question.search_text == strip_pleasantries(" ".join(conversation["question"].split()))


def test_follow_ups_are_recognised() -> None:
    missed = [c["question"] for c in FOLLOW_UPS if not is_followup(c["question"])]
    # Bare ellipsis with no pronoun, opener or question particle ("Орун басары ким?") is still missed.
    assert len(missed) <= 0.15 * len(FOLLOW_UPS), missed
    glued = make_question(FOLLOW_UPS[0]["question"], history=FOLLOW_UPS[0]["previous"])
    assert glued.previous == FOLLOW_UPS[0]["previous"][-1]


def test_gold_questions_are_follow_ups_exactly_when_they_carry_context() -> None:
    wrong = [(q["id"], q["question"]) for q in gold_questions() if is_followup(q["question"]) != bool(q.get("context"))]
    assert not wrong


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Is it true that the ministry moved?", False),  # "it" stands for the clause after it
        ("Это правда, что ОРТ перенесли?", False),
        ("Are there quotas for orphans?", False),  # existential "there"
        ("How many pupils study there?", True),
        ("I heard that OshSU opened a campus", False),  # "that" as a conjunction
        ("How long is that road?", True),
        ("В этом году ОРТ будет онлайн?", False),  # "this" + a unit of time points at the present
        ("Кто финансирует этот проект?", True),
        ("Нурбек Алимбеков его декларациясы боюнча канча тапкан?", False),  # the name before the pronoun
        ("Жалал-Абаддачы?", True),
        ("Deadline?", True),
        ("ЖРТ качан?", False),
        ("Рахмат!", False),
    ],
)
def test_pointing_back_by_rule(text: str, expected: bool) -> None:
    assert is_followup(text) is expected
