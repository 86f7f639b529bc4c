"""`glot filters ...`: look at what the script and quality stages do, without a build."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def filters() -> None:
    """Script identification and quality filters: evidence and thresholds."""


@filters.command("evidence")
@click.argument("data", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--min-units", default=50, show_default=True, help="Judge labels with at least this many text units."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the generated junk.")
@click.option("--worst", default=10, show_default=True, help="How many of the worst labels to list.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures as JSON.",
)
def evidence_cmd(data: Path | None, min_units: int, seed: int, worst: int, json_out: Path | None) -> None:
    """Reject rate of the default filters on clean text, and catch rate on generated junk.

    DATA is a Parquet file with `label` (xxx_Scrp) and `text` columns, one unit per row (default: the
    bundled UDHR sample; the full UDHR gives the figures in docs/benchmarks.md).
    """
    import polars as pl

    from glotforge.corpus.filters.evidence import evidence

    if data is None:
        from importlib import resources

        data = Path(
            str(resources.files("glotforge.corpus").joinpath("data", "sample", "udhr_sample.parquet"))
        )
    df = pl.read_parquet(data)
    missing = {"label", "text"} - set(df.columns)
    if missing:
        raise click.ClickException(f"{data}: missing column(s) {', '.join(sorted(missing))}")
    summary, text = evidence(df.select("label", "text"), min_units=min_units, seed=seed, worst=worst)
    click.echo(text)
    if json_out:
        json_out.write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=str), "utf-8")
