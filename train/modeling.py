"""Model setup for continued MLM pretraining: load, grow the vocabulary, initialise new rows, tie.

Why our own init instead of `resize_token_embeddings` defaults: Glot500 appended ~151K pieces and gave
them random N(0, 0.02) rows, and because `<mask>` moved to the last id its trained row was inherited by
the first new piece (glot500.md §6, §9 #7). Here every row of the new vocabulary is matched to the base
by its *token string*: a string the base knows keeps its base row (so `<mask>`, `<s>` … keep theirs
whatever their new id); a new string gets the mean of the base rows of the pieces the *base* tokenizer
splits its surface into (FVT-style; `init="mean"`), or Glot500's random N(0, initializer_range)
(`init="random"`) for comparison. The output layer stays tied when the base ties it; an untied output
matrix and the LM-head bias get the same treatment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SPIECE_UNDERLINE = "▁"


def scratch_config(tokenizer: Any, max_len: int, **sizes: int):
    """A small XLM-R config sized for `tokenizer` (the demo). Sets the fields whose library defaults are
    *not* XLM-R's (vocab 30522, type_vocab 2, positions 512; packages.md §7)."""
    from transformers import XLMRobertaConfig

    d = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}
    d.update({k: v for k, v in sizes.items() if v is not None})
    return XLMRobertaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_len + 2,  # positions start at pad_id + 1 = 2
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **d,
    )


def load_tokenizer(path: str | Path, max_len: int = 512):
    """A tokenizer folder from `glot vocab extend`/`train` (tokenizer.json, or sentencepiece.bpe.model)
    or a hub id. `model_max_length` is set because saved XLM-R configs say 1e30 (packages.md §6)."""
    from transformers import AutoTokenizer, XLMRobertaTokenizer

    p = Path(path)
    bare_spm = (
        p.is_dir() and not (p / "tokenizer_config.json").exists() and (p / "sentencepiece.bpe.model").exists()
    )
    cls = XLMRobertaTokenizer if bare_spm else AutoTokenizer  # a lone .model file has no class recorded
    return cls.from_pretrained(str(path), model_max_length=max_len)


def load_model(source: str | Path):
    """A masked-LM from a local folder or a hub id (hub ids need network access at run time)."""
    from transformers import AutoModelForMaskedLM

    return AutoModelForMaskedLM.from_pretrained(str(source))


def _surface(piece: str) -> tuple[str, bool]:
    """Text whose base tokenization approximates `piece`; True when the piece starts a word."""
    if piece.startswith(SPIECE_UNDERLINE):
        return piece[len(SPIECE_UNDERLINE) :] or " ", True
    return piece, False


def subword_sources(new_tok: Any, base_tok: Any) -> tuple[dict[int, int], dict[int, list[int]]]:
    """For each id of `new_tok`: (copy: new id → base id with the same string, split: new id → base ids
    of its surface string). Word-internal pieces drop the lone `▁` the base adds in front."""
    base_vocab = base_tok.get_vocab()
    new_vocab = new_tok.get_vocab()
    copy, todo = {}, []
    for piece, i in new_vocab.items():
        if piece in base_vocab:
            copy[i] = base_vocab[piece]
        else:
            todo.append((i, piece))
    todo.sort()
    surfaces = [_surface(p) for _, p in todo]
    enc = base_tok([s for s, _ in surfaces], add_special_tokens=False)["input_ids"] if todo else []
    lone = base_vocab.get(SPIECE_UNDERLINE)
    unk = base_tok.unk_token_id
    split: dict[int, list[int]] = {}
    for (i, _), (_, word_start), ids in zip(todo, surfaces, enc, strict=True):
        if not word_start and ids and ids[0] == lone and len(ids) > 1:
            ids = ids[1:]
        ids = [t for t in ids if t != unk]
        split[i] = ids
    return copy, split


def _init_rows(
    old: torch.Tensor, n_new: int, copy: dict[int, int], split: dict[int, list[int]], init: str, std: float
) -> tuple[torch.Tensor, dict[str, int]]:
    """New matrix (n_new × d) from the base matrix `old`, following the rules of the module docstring."""
    d = old.shape[1] if old.dim() == 2 else None
    shape = (n_new, d) if d else (n_new,)
    out = torch.zeros(shape, dtype=old.dtype)
    if d:
        out.normal_(0.0, std)
    stats = {"copied": 0, "mean": 0, "random": 0}
    for i, j in copy.items():
        out[i] = old[j]
        stats["copied"] += 1
    for i, ids in split.items():
        if init == "mean" and ids:
            out[i] = old[torch.tensor(ids)].mean(0)
            stats["mean"] += 1
        else:
            stats["random"] += 1
    return out, stats


def extend_vocabulary(model: nn.Module, base_tok: Any, new_tok: Any, init: str = "mean") -> dict[str, int]:
    """Resize `model` (trained with `base_tok`) to `new_tok` and initialise its rows (module docstring).
    Returns counts of copied / mean-initialised / random rows."""
    if init not in ("mean", "random"):
        raise ValueError("init must be 'mean' or 'random'")
    std = float(getattr(model.config, "initializer_range", 0.02))
    copy, split = subword_sources(new_tok, base_tok)
    n_new = len(new_tok)
    old_in = model.get_input_embeddings().weight.detach().clone()
    out_layer = model.get_output_embeddings()
    tied = out_layer is not None and out_layer.weight is model.get_input_embeddings().weight
    old_out = None if (out_layer is None or tied) else out_layer.weight.detach().clone()
    old_bias = None if out_layer is None or out_layer.bias is None else out_layer.bias.detach().clone()

    model.resize_token_embeddings(n_new, mean_resizing=False)
    emb, stats = _init_rows(old_in, n_new, copy, split, init, std)
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(emb)
        out_layer = model.get_output_embeddings()
        if old_out is not None:
            out_layer.weight.copy_(_init_rows(old_out, n_new, copy, split, init, std)[0])
        if old_bias is not None:
            bias, _ = _init_rows(old_bias, n_new, copy, split, init, std)
            out_layer.bias.copy_(bias)
            head = getattr(model, "lm_head", None)
            if (
                head is not None
                and getattr(head, "bias", None) is not None
                and head.bias is not out_layer.bias
            ):
                head.bias.copy_(bias)
    if tied:
        model.tie_weights()
    model.config.vocab_size = n_new
    stats["tied"] = int(tied)
    return stats


def mlm_head(model: nn.Module) -> nn.Module | None:
    """The prediction head that maps hidden states to vocabulary logits (XLM-R/RoBERTa `lm_head`,
    BERT `cls`), or None when the architecture has neither."""
    for name in ("lm_head", "cls"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Module):
            return head
    return None


class MaskedOnlyLoss(nn.Module):
    """MLM loss that projects only the masked positions onto the vocabulary.

    Why: the vocabulary projection dominates an MLM step for large vocabularies (401K rows for Glot500,
    packages.md §8 measured 4-5x on CPU); 85 % of its work is for positions without a label. The loss
    is identical to `model(**batch).loss`. Being a module, it can be wrapped by DDP/accelerate as a whole.
    """

    def __init__(self, model: nn.Module, masked_only: bool = True):
        super().__init__()
        self.model = model
        self.head = mlm_head(model) if masked_only else None  # None: the model's own full-logits loss

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None
    ):
        if self.head is None:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        base = getattr(self.model, self.model.base_model_prefix)
        h = base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        sel = labels != -100
        logits = self.head(h[sel])
        return F.cross_entropy(logits.float(), labels[sel])
