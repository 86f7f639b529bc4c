"""`glot train mlm`: continued (or from-scratch) MLM pretraining on a per-language Parquet corpus.

A plain torch loop driven by `accelerate` rather than HF `Trainer`, because three things we need are
awkward there: the masked-positions-only LM head (4-5x faster at large vocabularies, packages.md §8),
a streaming dataset whose exact position is part of the checkpoint, and a resumed run that reproduces
the uninterrupted loss curve. `accelerate` still gives DDP under `torchrun`/`accelerate launch` and
bf16/fp16 without code changes; each rank reads its own shards of the stream (`train/data.py`).

Outputs in OUTPUT: `initial/` (the model after vocabulary extension, before any step — the "base" side
of `glot eval` for from-scratch or extended models), `checkpoints/step-N/`, `model/` (final),
`log.jsonl` (one line per logged step), `tokens_per_label.json`, `train_config.json` (the run's TrainConfig).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
import tomllib
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glotforge.train import checkpoint as ckpt
from glotforge.train.data import HeldOut, MLMBatches, StreamSpec
from glotforge.train.modeling import (
    MaskedOnlyLoss,
    extend_vocabulary,
    load_model,
    load_tokenizer,
    scratch_config,
)


@dataclass
class TrainConfig:
    """All knobs of a run. Defaults follow Glot500-m's continued pretraining (glot500.md §7) except where
    noted; `train/recipes/*.toml` hold complete settings (`demo`, `glot500m`)."""

    corpus: str = ""
    tokenizer: str = ""  # folder from `glot vocab extend` / `vocab train`, or a hub id
    output: str = ""
    model: str | None = None  # base model folder or hub id
    from_scratch: bool = False
    base_tokenizer: str | None = None  # tokenizer the base was trained with (default: `model`'s own)
    init: str = "mean"  # new-token rows: "mean" of base subwords, or "random" (Glot500)
    hidden_size: int = 64  # --from-scratch sizes
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 256
    max_len: int = 512
    batch_size: int = 12  # sequences per device per micro-batch
    grad_accum: int = 4
    max_steps: int = 1000
    lr: float = 5e-5
    schedule: str = "linear"  # linear | cosine | constant (all after linear warmup)
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    alpha: float = 0.3
    mlm_probability: float = 0.15
    heldout_stride: int = 20
    heldout_max: int = 200
    seed: int = 42
    precision: str = "auto"  # auto | bf16 | fp16 | no
    num_workers: int = 0  # DataLoader workers per rank (each is a data shard)
    log_every: int = 10
    save_every: int = 10_000
    keep_checkpoints: int | None = None
    resume: bool = False
    masked_only_head: bool = True  # False: full-vocabulary logits at every position (for comparison)

    @property
    def heldout(self) -> HeldOut:
        return HeldOut(self.heldout_stride, self.heldout_max)


def load_recipe(name_or_path: str) -> dict[str, Any]:
    """The `[train]` table of a bundled recipe (`demo`, `glot500m`) or of a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        text = p.read_text("utf-8")
    else:
        f = resources.files("glotforge.train").joinpath(f"recipes/{name_or_path}.toml")
        if not f.is_file():
            raise FileNotFoundError(f"no recipe {name_or_path!r} (bundled: demo, glot500m; or a .toml path)")
        text = f.read_text("utf-8")
    return tomllib.loads(text).get("train", {})


def make_config(recipe: dict[str, Any] | None = None, **overrides: Any) -> TrainConfig:
    """TrainConfig from a recipe table plus keyword overrides (None = keep); unknown keys are errors."""
    names = {f.name for f in fields(TrainConfig)}
    merged = {**(recipe or {}), **{k: v for k, v in overrides.items() if v is not None}}
    unknown = sorted(set(merged) - names)
    if unknown:
        raise ValueError(f"unknown training settings: {', '.join(unknown)}")
    return TrainConfig(**merged)


def lr_lambda(cfg: TrainConfig):
    """Multiplier of the peak lr at a step: linear warmup, then linear/cosine decay to 0 or constant."""
    warm, total, kind = cfg.warmup_steps, max(1, cfg.max_steps), cfg.schedule

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if kind == "constant":
            return 1.0
        frac = min(1.0, (step - warm) / max(1, total - warm))
        return 0.5 * (1 + math.cos(math.pi * frac)) if kind == "cosine" else 1.0 - frac

    return f


def _precision(choice: str) -> str:
    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def build_model(cfg: TrainConfig, tok: Any) -> tuple[Any, dict[str, int]]:
    """The model to train, sized for `tok`: from a folder/hub id or from scratch, grown and initialised
    as in `modeling.extend_vocabulary` when its vocabulary differs from `tok`'s."""
    from transformers import XLMRobertaForMaskedLM

    if cfg.from_scratch == bool(cfg.model):
        raise ValueError("give exactly one of a base model (--model) or --from-scratch")
    base_tok_src = cfg.base_tokenizer or (None if cfg.from_scratch else cfg.model)
    base_tok = load_tokenizer(base_tok_src, cfg.max_len) if base_tok_src else tok
    if cfg.from_scratch:
        sizes = dict(hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                     num_attention_heads=cfg.num_heads, intermediate_size=cfg.intermediate_size)  # fmt: skip
        model = XLMRobertaForMaskedLM(scratch_config(base_tok, cfg.max_len, **sizes))
    else:
        model = load_model(cfg.model)
    limit = getattr(model.config, "max_position_embeddings", 10**9) - 2
    if cfg.max_len > limit:
        raise ValueError(f"max_len {cfg.max_len} > the model's {limit} positions")
    stats = {"copied": len(tok), "mean": 0, "random": 0}
    rows = model.get_input_embeddings().weight.shape[0]
    if base_tok.get_vocab() != tok.get_vocab() or rows < len(tok):  # extra (padding) rows are kept
        stats = extend_vocabulary(model, base_tok, tok, cfg.init)
    return model, stats


def train(cfg: TrainConfig, echo=print) -> dict[str, Any]:
    """Run (or resume) training; returns a summary (steps, final loss, losses per step, paths)."""
    from accelerate import Accelerator
    from torch.utils.data import DataLoader
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out = Path(cfg.output)
    acc = Accelerator(mixed_precision=_precision(cfg.precision), cpu=not torch.cuda.is_available())
    rank, world, main = acc.process_index, acc.num_processes, acc.is_main_process
    resume_from = ckpt.latest_checkpoint(out) if cfg.resume else None
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    if resume_from is not None:
        tok = load_tokenizer(resume_from / "model", cfg.max_len)
        model, init_stats = load_model(resume_from / "model"), None
        trainer_state, rank_state, optim_state = ckpt.load_checkpoint(resume_from, rank)
    else:
        tok = load_tokenizer(cfg.tokenizer, cfg.max_len)
        model, init_stats = build_model(cfg, tok)
        trainer_state, rank_state, optim_state = None, None, None
        if main:
            out.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(out / "initial")
            tok.save_pretrained(out / "initial")
            (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))
            (out / "log.jsonl").write_text("")
    acc.wait_for_everyone()

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps,
    )  # fmt: skip
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    wrapper = MaskedOnlyLoss(model, cfg.masked_only_head)
    wrapper, opt = acc.prepare(wrapper, opt)  # the scheduler is stepped by us once per optimizer step

    spec = StreamSpec(cfg.corpus, tok, cfg.max_len, cfg.batch_size, cfg.alpha, cfg.seed,
                      cfg.mlm_probability, cfg.heldout)  # fmt: skip
    workers = max(0, cfg.num_workers)
    step, consumed, states = 0, 0, {}
    label_tokens = np.zeros(len(spec.labels), dtype=np.int64)
    if resume_from is not None:
        opt.load_state_dict(optim_state)
        sched.load_state_dict(trainer_state["scheduler"])
        if acc.scaler is not None and trainer_state.get("scaler"):
            acc.scaler.load_state_dict(trainer_state["scaler"])
        step = int(trainer_state["step"])
        consumed = int(rank_state["consumed"])
        states = {int(k): v for k, v in rank_state["data_states"].items()}
        label_tokens = np.asarray(rank_state["label_tokens"], dtype=np.int64)
        echo(f"resuming from {resume_from} at step {step}")
    ds = MLMBatches(spec, rank, world, workers, states, rotation=consumed % max(1, workers))
    loader = DataLoader(ds, batch_size=None, num_workers=workers, pin_memory=torch.cuda.is_available(),
                        multiprocessing_context="spawn" if workers else None)  # fmt: skip
    batches = iter(loader)  # draws a base seed from the global RNG: restore the RNG only after it
    if resume_from is not None:
        ckpt.set_rng_state(rank_state["rng"])

    losses: dict[int, float] = {}
    t_last, tok_last = time.perf_counter(), 0
    seq_tokens = cfg.batch_size * cfg.max_len
    while step < cfg.max_steps:
        wrapper.train()
        total = torch.zeros((), device=acc.device)
        for micro in range(cfg.grad_accum):
            b = next(batches)
            consumed += 1
            states[int(b["shard"])] = b["state"]
            np.add.at(label_tokens, b["label_ids"].numpy(), cfg.max_len)
            ids, labels = b["input_ids"].to(acc.device), b["labels"].to(acc.device)
            sync = micro == cfg.grad_accum - 1
            with contextlib.nullcontext() if sync else acc.no_sync(wrapper), acc.autocast():
                loss = wrapper(ids, labels)
                acc.backward(loss / cfg.grad_accum)
            total += loss.detach() / cfg.grad_accum
        grad_norm = acc.clip_grad_norm_(wrapper.parameters(), cfg.max_grad_norm)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tok_last += seq_tokens * cfg.grad_accum * world
        loss_val = float(acc.reduce(total, reduction="mean")) if world > 1 else float(total)
        losses[step] = loss_val
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            now = time.perf_counter()
            counts = _global_counts(acc, label_tokens)
            rec = {"step": step, "loss": round(loss_val, 6), "lr": lr, "grad_norm": float(grad_norm),
                   "tokens_per_s": round(tok_last / (now - t_last), 1), "tokens_seen": int(counts.sum()),
                   "labels_seen": int((counts > 0).sum())}  # fmt: skip
            t_last, tok_last = now, 0
            if main:
                with (out / "log.jsonl").open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                echo(" ".join(f"{k}={v}" for k, v in rec.items()))
        if step % cfg.save_every == 0 or step == cfg.max_steps:
            counts = _global_counts(acc, label_tokens)
            trainer = {"step": step, "scheduler": sched.state_dict(), "config": asdict(cfg),
                       "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
                       "tokens_seen": int(counts.sum())}  # fmt: skip
            rank_state = {"consumed": consumed, "data_states": states, "label_tokens": label_tokens}
            unwrapped = acc.unwrap_model(wrapper).model
            ckpt.save_checkpoint(out, step, rank=rank, is_main=main, barrier=acc.wait_for_everyone,
                                 model=unwrapped, tokenizer=tok, optimizer=opt, trainer=trainer,
                                 rank_state=rank_state, keep=cfg.keep_checkpoints)  # fmt: skip
            if main:
                by_label = {lab: int(n) for lab, n in zip(spec.labels, counts, strict=True)}
                (out / "tokens_per_label.json").write_text(json.dumps(by_label, indent=1))
    del batches  # stop DataLoader workers before returning

    if main:
        final = acc.unwrap_model(wrapper).model
        final.save_pretrained(out / "model")
        tok.save_pretrained(out / "model")
    acc.wait_for_everyone()
    return {"steps": step, "losses": losses, "init": init_stats, "output": str(out),
            "final_loss": losses.get(step)}  # fmt: skip


def _global_counts(acc: Any, counts: np.ndarray) -> np.ndarray:
    """Token counts per label summed over ranks (DDP) — each rank only sees its own shards."""
    if acc.num_processes == 1:
        return counts
    t = torch.as_tensor(counts, device=acc.device)
    return acc.reduce(t, reduction="sum").cpu().numpy()


def read_log(output: str | Path) -> list[dict[str, Any]]:
    """The run's `log.jsonl` records (what the report and tests read)."""
    p = Path(output) / "log.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []
