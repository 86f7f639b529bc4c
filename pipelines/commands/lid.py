"""`glot lid train` and `glot lid eval`: a LID model of our own, from a built corpus, and its scores.

Thin faces over `glotforge.corpus.lid_train.train_lid_from_corpus` and
`glotforge.corpus.lid_eval.evaluate_model`. Typical use (what `make demo` does):

    glot build SOURCES -o boot --stages script,quality
    glot lid train boot -o lid.bin
    glot build SOURCES -o out --set langid.model=lid.bin
    glot lid eval lid.bin lid.bin.heldout.parquet --json eval.json
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def lid() -> None:
    """Language identification: train a fastText LID model from a corpus, evaluate any LID model."""


@lid.command("train")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", "model_out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.bin; .ftz with --quantize). Also writes MODEL.json and MODEL.heldout.parquet.")
@click.option("--max-per-label", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Cap on distinct training lines per label.")
@click.option("--min-per-label", type=click.IntRange(min=1), default=1, show_default=True,
              help="Leave out labels with fewer usable lines.")
@click.option("--min-chars", type=click.IntRange(min=0), default=1, show_default=True,
              help="Ignore lines shorter than this (characters).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Label sampling exponent: p_i ∝ n_i^alpha (1 = natural sizes, 0 = uniform).")
@click.option("--max-repeat", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Repeat a small label's lines at most this many times (0 = no cap).")
@click.option("--heldout", type=click.FloatRange(0, 0.9), default=0.1, show_default=True,
              help="Share of each label's lines held out for evaluation.")
@click.option("--max-heldout", type=click.IntRange(min=0), default=1000, show_default=True,
              help="At most this many held-out lines per label.")
@click.option("--dim", type=click.IntRange(min=1), default=None, help="fastText vector size (default 32).")
@click.option("--epoch", type=click.IntRange(min=1), default=None, help="Training epochs (default 25).")
@click.option("--lr", type=float, default=None, help="Learning rate (default 0.5).")
@click.option("--minn", type=click.IntRange(min=0), default=None, help="Shortest character n-gram (default 3).")
@click.option("--maxn", type=click.IntRange(min=0), default=None, help="Longest character n-gram (default 3).")
@click.option("--loss", type=click.Choice(["softmax", "hs", "ova"]), default=None, help="Loss (default softmax).")
@click.option("--bucket", type=click.IntRange(min=1), default=None, help="Hash buckets for n-grams (default 200000).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Training threads (default 1: more threads are faster but not reproducible).")
@click.option("--quantize", is_flag=True, help="Quantise the model (much smaller, about 2x slower to predict).")
@click.option("--seed", type=int, default=1, show_default=True)
def train_cmd(corpus: Path, model_out: Path, max_per_label: int, min_per_label: int, min_chars: int, alpha: float,
              max_repeat: float, heldout: float, max_heldout: int, dim, epoch, lr, minn, maxn, loss, bucket, threads,
              quantize: bool, seed: int) -> None:
    """Train a fastText LID model from CORPUS (a `glot build` output folder); labels are its xxx_Scrp labels."""
    from glotforge.corpus.lid_train import train_lid_from_corpus

    ft = {k: v for k, v in {"dim": dim, "epoch": epoch, "lr": lr, "minn": minn, "maxn": maxn, "loss": loss,
                            "bucket": bucket, "thread": threads}.items() if v is not None}
    try:
        result = train_lid_from_corpus(
            corpus, model_out, max_per_label=max_per_label, min_per_label=min_per_label, min_chars=min_chars,
            alpha=alpha, max_repeat=max_repeat, heldout=heldout, max_heldout=max_heldout, quantize=quantize,
            seed=seed, fasttext=ft)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    rep = result.report
    click.echo(f"trained {result.model_path} on {rep['train_lines']:,} lines of {rep['labels']} labels "
               f"in {rep['train_seconds']:.1f} s")
    if rep["skipped_labels"]:
        click.echo(f"left out {len(rep['skipped_labels'])} labels with too few lines: "
                   + ", ".join(sorted(rep["skipped_labels"])[:10]))
    if rep["heldout"]:
        h = rep["heldout"]
        click.echo(f"held-out: {h['lines']:,} lines, accuracy {h['accuracy']:.4f}, macro-F1 {h['macro_f1']:.4f} "
                   f"({result.heldout_path})")
    click.echo(f"details: {result.sidecar_path}")


@lid.command("eval")
@click.argument("model")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the full report (per-label scores, confused pairs) as JSON here.")
@click.option("--match", type=click.Choice(["exact", "group"]), default="exact", show_default=True,
              help="exact: labels must be equal; group: macrolanguage / close-variety / script-less "
                   "predictions count as the langid stage counts them (for lid.176, GlotLID).")
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
@click.option("--top", type=click.IntRange(min=0), default=25, show_default=True,
              help="Show the N worst labels (0 = all).")
def eval_cmd(model: str, data: Path, json_out: Path | None, match: str, text_col: str, label_col: str,
             top: int) -> None:
    """Evaluate a fastText LID MODEL (path or hf://owner/repo/file) on labelled Parquet DATA
    (a file, a folder of Parquet files, or a `glot build` output folder)."""
    from glotforge.corpus.langid import LangIdError
    from glotforge.corpus.lid_eval import evaluate_model, format_report, write_report

    try:
        report = evaluate_model(model, data, match=match, text_col=text_col, label_col=label_col)
    except (LangIdError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_report(report, top))
    if json_out:
        click.echo(f"\nwrote {write_report(report, json_out)}")
