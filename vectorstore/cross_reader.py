"""The trained reader: the bundled e5's first layers over (question, "title. sentence") pairs, as a cross-encoder.

score = cosine x scale + prior weight x log(the fitted ranker's probability) + a head over the pair's pooled tokens.
The head starts at zero, so an untrained reader is where it starts: the cosine floor, or the fitted ranker. A "no
answer" logit is read from the question alone; one softmax over a question's candidates and "no
answer" ranks the sentences and estimates answerability at once. `python -m eval train-reader` trains it; the
service loads only the trained part (fp16, without the bundled vocabulary) over the bundled base.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vectorstore.e5_torch import load_e5_torch
from vectorstore.listwise_reader import PASSAGE, QUERY, VOCABULARY, ListwiseReader, Pairs

SCALARS = ("cos_scale", "prior_weight", "null_bias")  # kept in fp32: scale x cosine needs more than fp16's 3 digits

STARTS = {"cosine": (20.0, 0.0, 15.0), "fitted": (0.0, 1.0, -1.0)}  # cos_scale, prior_weight, null_bias


class CrossReader(ListwiseReader):
    """e5's first `layers` layers over (question, sentence) pairs, with the answer and "no answer" heads."""

    def __init__(
        self, base: Any, tokenizer: Any, layers: int, max_length: int, start: str = "cosine", pooling: str = "mean"
    ) -> None:
        base.encoder.layer = base.encoder.layer[:layers]
        base.config.num_hidden_layers = layers
        base.embeddings.word_embeddings.weight.requires_grad_(False)
        self.base = base
        self.tokenizer = tokenizer
        self.layers = layers
        self.max_length = max_length
        self.start = start
        self.pooling = pooling  # "mean" over the tokens, as e5 was trained to pool, or the first token ("cls")
        self._tokenizing = threading.Lock()
        hidden = int(base.config.hidden_size)
        self.head = torch.nn.Linear(hidden, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.null_head = torch.nn.Linear(hidden, 1)  # "no answer", read from the question alone
        torch.nn.init.zeros_(self.null_head.weight)
        torch.nn.init.zeros_(self.null_head.bias)
        # Cosines differ by hundredths, so a softmax needs them scaled; "no answer" starts near a typical logit.
        cos_scale, prior_weight, null_bias = STARTS[start]
        self.cos_scale = torch.nn.Parameter(torch.tensor(cos_scale))
        self.prior_weight = torch.nn.Parameter(torch.tensor(prior_weight))
        self.null_bias = torch.nn.Parameter(torch.tensor(null_bias))

    def encoder_parameters(self) -> list[Any]:
        """The layers' weights that train (all but the bundled vocabulary)."""
        return [p for p in self.base.parameters() if p.requires_grad]

    def head_parameters(self) -> list[Any]:
        """The two heads."""
        return [*self.head.parameters(), *self.null_head.parameters()]

    def scalar_parameters(self) -> list[Any]:
        """The cosine's scale, the fitted prior's weight and the "no answer" bias."""
        return [self.cos_scale, self.prior_weight, self.null_bias]

    def parameters(self) -> list[Any]:
        """Everything that trains."""
        return self.encoder_parameters() + self.head_parameters() + self.scalar_parameters()

    def train(self, mode: bool = True) -> None:
        """Dropout on (training) or off."""
        self.base.train(mode)

    def _pooled(self, first: Sequence[str], second: Sequence[str] | None) -> torch.Tensor:
        # A fast tokenizer sets its padding and truncation on the shared Rust object per call: one call at a time.
        with self._tokenizing:
            batch = self.tokenizer(
                list(first),
                list(second) if second is not None else None,
                padding=True,
                truncation="only_second" if second is not None else True,
                max_length=self.max_length,
                return_tensors="pt",
            )
        hidden: torch.Tensor = self.base(**batch).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled: torch.Tensor = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        return pooled

    def batch_logits(self, questions: Sequence[Pairs], blind: bool = False) -> list[torch.Tensor]:
        """Each question's candidate logits with its "no answer" logit last, from one forward pass for all pairs and
        one for all questions; `blind` leaves the question (and so the cosine) out, for the shortcut check."""
        asked = [QUERY + ("" if blind else text) for text, _, _, _ in questions]
        firsts = [a for a, (_, texts, _, _) in zip(asked, questions, strict=True) for _ in texts]
        seconds = [PASSAGE + t for _, texts, _, _ in questions for t in texts]
        pairs = self.head(self._pooled(firsts, seconds)).squeeze(-1)
        nulls = self.null_bias + self.null_head(self._pooled(asked, None)).squeeze(-1)
        out, at = [], 0
        for n, (_, texts, cosines, priors) in enumerate(questions):
            # blind: no question, so neither its cosine nor the fitted ranker's view of it
            cos = torch.tensor([0.0] * len(texts) if blind else list(cosines), dtype=torch.float32)
            prior = torch.tensor([1.0] * len(texts) if blind else [max(p, 1e-6) for p in priors]).log()
            scores = cos * self.cos_scale + prior * self.prior_weight + pairs[at : at + len(texts)]
            out.append(torch.cat([scores, nulls[n : n + 1]]))
            at += len(texts)
        return out

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The trained part in fp16: the kept layers, position and type embeddings, LayerNorms and heads (without
        the bundled vocabulary, which does not train)."""
        state = {f"base.{k}": v for k, v in self.base.state_dict().items() if k != VOCABULARY}
        state |= {f"head.{k}": v for k, v in self.head.state_dict().items()}
        state |= {f"null_head.{k}": v for k, v in self.null_head.state_dict().items()}
        state |= {name: getattr(self, name).detach() for name in SCALARS}
        return {k: v.detach().to(torch.float32 if k in SCALARS else torch.float16).clone() for k, v in state.items()}

    def load_trained_state(self, state: dict[str, torch.Tensor]) -> None:
        """Put a saved trained part over the bundled base (fp16 back to fp32)."""
        base = {k.removeprefix("base."): v.float() for k, v in state.items() if k.startswith("base.")}
        missing, unexpected = self.base.load_state_dict(base, strict=False)
        if unexpected or set(missing) != {VOCABULARY}:
            raise ValueError(f"the reader's layers do not fit the base: missing {missing}, unexpected {unexpected}")
        self.head.load_state_dict(
            {k.removeprefix("head."): v.float() for k, v in state.items() if k.startswith("head.")}
        )
        self.null_head.load_state_dict(
            {k.removeprefix("null_head."): v.float() for k, v in state.items() if k.startswith("null_head.")}
        )
        with torch.no_grad():
            for name in SCALARS:
                getattr(self, name).copy_(state[name].float())


def new_cross_reader(
    layers: int,
    max_length: int,
    start: str = "cosine",
    pooling: str = "mean",
    load_base: Callable[[], tuple[Any, Any]] | None = None,
) -> CrossReader:
    """An untrained reader over the bundled e5's first `layers` layers (what training starts from)."""
    base, tokenizer = load_base() if load_base is not None else load_e5_torch(layers=layers)
    return CrossReader(base, tokenizer, layers, max_length, start, pooling)


def save_cross_reader(reader: CrossReader, path: Path, record: dict[str, Any]) -> None:
    """Write the trained part, the shape it needs and `record` (config, card, data hash), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".part")
    shape = {"layers": reader.layers, "max_length": reader.max_length, "start": reader.start, "pooling": reader.pooling}
    torch.save({"shape": shape, "state": reader.trained_state(), **record}, staged)
    staged.replace(path)


def load_cross_reader(path: Path) -> tuple[CrossReader, dict[str, Any]]:
    """A saved reader over the bundled base, ready to read (dropout off), and what was saved with it."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    shape = saved["shape"]
    reader = new_cross_reader(
        int(shape["layers"]), int(shape["max_length"]), str(shape["start"]), str(shape["pooling"])
    )
    reader.load_trained_state(saved["state"])
    reader.train(False)
    return reader, {k: v for k, v in saved.items() if k != "state"}
