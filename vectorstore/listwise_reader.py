"""What both trained readers share: one softmax over a question's candidate logits and its "no answer" logit."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

QUERY, PASSAGE = "query: ", "passage: "  # e5's prefixes, as the embedder uses them
VOCABULARY = "embeddings.word_embeddings.weight"  # left as bundled: most rows never see a training token

# One question's input: its text, its candidates ("title. sentence"), their bundled-e5 cosines to the question and
# the fitted ranker's probabilities for them.
Pairs = tuple[str, Sequence[str], Sequence[float], Sequence[float]]


class ListwiseReader:
    """A reader whose `batch_logits` give each question's candidate logits with "no answer" last."""

    def batch_logits(self, questions: Sequence[Pairs], blind: bool = False) -> list[torch.Tensor]:
        """Each question's candidate logits with its "no answer" logit last."""
        raise NotImplementedError

    def reading(self) -> AbstractContextManager[Any]:
        """A context that makes repeated reads cheaper (none by default)."""
        return contextlib.nullcontext()

    def batch_scores(self, questions: Sequence[Pairs], blind: bool = False) -> list[tuple[list[float], float]]:
        """Each question's candidate probabilities and its probability of "no answer"."""
        with torch.inference_mode(), self.reading():
            rows = [torch.softmax(logits, dim=0).tolist() for logits in self.batch_logits(questions, blind)]
        return [(row[:-1], row[-1]) for row in rows]

    def read(
        self, question: str, passages: Sequence[str], cosines: Sequence[float], priors: Sequence[float]
    ) -> tuple[list[float], float]:
        """The `PairReader` port: the passages' probabilities and the probability that none answers."""
        return self.batch_scores([(question, passages, cosines, priors)])[0]
