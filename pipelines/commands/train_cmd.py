"""`glot train mlm`: a thin face over glotforge.train.mlm (continued / from-scratch MLM pretraining)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


@click.group()
def train() -> None:
    """Train models on a built corpus."""


@train.command("mlm")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "output", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option(
    "--tokenizer", default=None, help="Tokenizer folder (from `glot vocab extend`/`train`) or hub id."
)
@click.option(
    "--model", default=None, help="Base model: a local folder or a hub id (e.g. FacebookAI/xlm-roberta-base)."
)
@click.option(
    "--from-scratch", is_flag=True, help="Start from a small random XLM-R config instead of a base model."
)
@click.option(
    "--base-tokenizer", default=None, help="Tokenizer the base was trained with (default: the base's own)."
)
@click.option(
    "--init",
    type=click.Choice(["mean", "random"]),
    default=None,
    help="New-token embeddings: mean of base subwords (default) or random (Glot500).",
)
@click.option(
    "--recipe", default=None, help="Bundled recipe (demo, glot500m) or a TOML file with a [train] table."
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one setting, e.g. --set lr=1e-4."
)
@click.option("--max-steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None, help="Sequences per device per micro-batch.")
@click.option("--grad-accum", type=int, default=None)
@click.option("--max-len", type=int, default=None, help="Packed sequence length in tokens.")
@click.option("--lr", type=float, default=None)
@click.option("--save-every", type=int, default=None)
@click.option("--num-workers", type=int, default=None, help="DataLoader workers per process (data shards).")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "no"]), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in the run folder.")
def mlm(corpus, output, tokenizer, model, from_scratch, base_tokenizer, init, recipe, sets, max_steps,
        batch_size, grad_accum, max_len, lr, save_every, num_workers, precision, seed, resume) -> None:  # fmt: skip
    """Continue MLM pretraining of a base model (or train a small one from scratch) on CORPUS
    (a build's OUT or OUT/corpus folder), with α-sampling across languages and full resume.

    Multi-GPU without changes: `torchrun --nproc_per_node N -m glotforge.pipelines train mlm ...`
    or `accelerate launch -m glotforge.pipelines train mlm ...`."""
    from glotforge.pipelines.recipe import RecipeError, apply_overrides
    from glotforge.train.checkpoint import latest_checkpoint
    from glotforge.train.mlm import load_recipe, make_config
    from glotforge.train.mlm import train as run_training

    try:
        table = load_recipe(recipe) if recipe else {}
        saved = Path(output) / "train_config.json"
        if resume and saved.exists():  # the run's own settings first: a bare --resume continues as started
            table = {**{k: v for k, v in json.loads(saved.read_text()).items() if k != "resume"}, **table}
        table = apply_overrides(
            {"train": table}, [s if s.startswith("train.") else f"train.{s}" for s in sets]
        )["train"]
        cfg = make_config(table, corpus=corpus, output=output, tokenizer=tokenizer, model=model,
                          from_scratch=from_scratch or None, base_tokenizer=base_tokenizer, init=init,
                          max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, max_len=max_len,
                          lr=lr, save_every=save_every, num_workers=num_workers, precision=precision,
                          seed=seed, resume=resume or None)  # fmt: skip
        if resume and latest_checkpoint(cfg.output) is None:
            raise ValueError(f"--resume: no checkpoint in {cfg.output}/checkpoints")
        if not resume and not cfg.tokenizer:
            raise ValueError("--tokenizer is required (a folder from `glot vocab extend` or `vocab train`)")
        summary = run_training(cfg, echo=click.echo)
    except (RecipeError, ValueError, FileNotFoundError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__) from e
    if int(os.environ.get("RANK", "0")) == 0:  # once under torchrun/accelerate launch
        click.echo(
            f"trained {summary['steps']} steps, final loss {summary['final_loss']:.4f} → {output}/model"
        )
