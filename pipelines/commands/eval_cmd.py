"""`glot eval`: a thin face over glotforge.train.evaluate (pseudo-perplexity and retrieval, side by side)."""

from __future__ import annotations

from pathlib import Path

import click


def _model_arg(spec: str) -> tuple[str, str]:
    name, sep, path = spec.partition("=")
    if sep and name and path:
        return name, path
    return Path(spec.rstrip("/")).name or spec, spec


@click.command("eval")
@click.option("--model", "models", multiple=True, required=True, metavar="[NAME=]PATH",
              help="Model folder or hub id (repeat to compare, e.g. --model base=RUN/initial --model trained=RUN/model).")  # fmt: skip
@click.option("--corpus", type=click.Path(exists=True, file_okay=False), default=None,
              help="Built corpus (OUT or OUT/corpus): pseudo-perplexity on its held-out lines.")  # fmt: skip
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for eval.json (read by the HTML report) and eval.md.")  # fmt: skip
@click.option("--parallel", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Parquet with label, article, unit, text (default: the bundled UDHR sample).")  # fmt: skip
@click.option("--pivot", default="eng_Latn", show_default=True, help="Query language for retrieval.")
@click.option(
    "--layer", type=int, default=None, help="Hidden layer to mean-pool (default: 8/12 of the depth)."
)
@click.option("--max-lines", type=int, default=10, show_default=True, help="Held-out lines per language.")
@click.option("--max-len", type=int, default=128, show_default=True, help="Tokens per line / article.")
@click.option("--heldout-stride", type=int, default=20, show_default=True, help="Must match training.")
@click.option("--heldout-max", type=int, default=200, show_default=True, help="Must match training.")
def eval_cmd(
    models, corpus, out, parallel, pivot, layer, max_lines, max_len, heldout_stride, heldout_max
) -> None:
    """Pseudo-perplexity per language (held-out corpus lines) and sentence retrieval on the parallel set,
    for every --model side by side."""
    from glotforge.train.data import HeldOut
    from glotforge.train.evaluate import EVAL_JSON, evaluate_models, markdown

    named = dict(_model_arg(m) for m in models)
    if len(named) != len(models):
        raise click.ClickException("two --model values have the same name: use NAME=PATH")
    try:
        res = evaluate_models(named, corpus, out, parallel=parallel, pivot=pivot, layer=layer,
                              max_lines=max_lines, max_len=max_len, heldout=HeldOut(heldout_stride, heldout_max),
                              echo=click.echo)  # fmt: skip
    except (KeyError, ValueError, FileNotFoundError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__) from e
    click.echo("\n".join(markdown(res).splitlines()[: 4 + len(named)]))
    click.echo(f"→ {Path(out) / EVAL_JSON}")
