"""Checkpoints with full resume: model, optimizer, scheduler, grad scaler, RNG and data position.

Why this much: "a resumed run continues the same loss curve" needs every source of randomness and
order restored, not only the weights — the global torch/numpy/python RNGs (dropout), the data streams'
positions (`train/data.py` keeps them as small per-shard states) and the count of batches consumed
(which worker's batch is due next). Layout of `OUTPUT/checkpoints/step-NNNNNNNN/`:

    model/                 save_pretrained() of the unwrapped MLM + tokenizer (loadable on its own)
    optimizer.pt           optimizer state dict (identical on every rank under DDP)
    trainer.json           step, scheduler state, scaler state, config, tokens seen
    rank-RRRRR.pt          per rank: RNG states, data states per shard, batches consumed, token counts

A checkpoint is written into `step-…​.tmp` and renamed when complete, so a crash never leaves a
half-written checkpoint that resume would pick.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

PREFIX = "step-"


def checkpoint_dir(output: Path, step: int) -> Path:
    return Path(output) / "checkpoints" / f"{PREFIX}{step:08d}"


def list_checkpoints(output: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(output) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and p.suffix != ".tmp"]
    return sorted(p for p in found if (p / "trainer.json").exists())


def latest_checkpoint(output: Path) -> Path | None:
    found = list_checkpoints(output)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    output: Path,
    step: int,
    *,
    rank: int,
    is_main: bool,
    barrier,
    model,
    tokenizer,
    optimizer,
    trainer: dict[str, Any],
    rank_state: dict[str, Any],
    keep: int | None = None,
) -> Path:
    """Write checkpoint `step` (all ranks call it; `barrier()` syncs them) and prune to the last `keep`."""
    final = checkpoint_dir(output, step)
    tmp = final.with_name(final.name + ".tmp")
    if is_main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    barrier()
    torch.save({**rank_state, "rng": rng_state()}, tmp / f"rank-{rank:05d}.pt")
    if is_main:
        model.save_pretrained(tmp / "model")
        tokenizer.save_pretrained(tmp / "model")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "trainer.json").write_text(json.dumps(trainer, indent=1, default=_jsonable))
    barrier()
    if is_main:
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        if keep:
            for old in list_checkpoints(output)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def load_checkpoint(path: Path, rank: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(trainer.json, this rank's state, optimizer state) of a checkpoint folder."""
    path = Path(path)
    trainer = json.loads((path / "trainer.json").read_text())
    rank_file = path / f"rank-{rank:05d}.pt"
    if not rank_file.exists():
        raise FileNotFoundError(f"{rank_file} missing: resume with the same number of processes")
    rank_state = torch.load(rank_file, weights_only=False)
    optim = torch.load(path / "optimizer.pt", weights_only=False)
    return trainer, rank_state, optim


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-able: {type(x).__name__}")
