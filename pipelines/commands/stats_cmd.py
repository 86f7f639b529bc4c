"""`glot stats`, `glot report`, `glot select`, `glot card`: look at a build, cut a subset, describe it.

Thin click faces over `glotforge.corpus.corpus_stats`, `glotforge.pipelines.{stats_view, report,
select, card}`; every error a user can cause is one line (`click.ClickException`).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from glotforge.corpus.corpus_stats import StatsMismatchError, compute_stats

from ..runner import TaskError
from .build_cmd import engine_options, make_engine

OUT_ARG = click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
CHECK_OPT = click.option("--check/--no-check", default=True, show_default=True,
                         help="Compare the figures with OUT/stats counters; a mismatch is an error.")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _fail(exc: Exception) -> click.ClickException:
    if isinstance(exc, TaskError):  # a worker could not read a part file: say which labels and why
        first = exc.failures[0]
        labels = ", ".join(sorted(set(first.item[1]) | set(first.item[2])))
        return click.ClickException(f"{len(exc.failures)} stats task(s) failed; first ({labels}): {first.error}")
    return click.ClickException(str(exc))


USER_ERRORS = (StatsMismatchError, FileNotFoundError, ValueError, ConnectionError, TaskError)


def _executor(engine: str, workers: int | None, address: str | None):
    """None (the default): one process scans every file with polars' own threads, the fastest on one
    machine. `--engine ray` or an explicit `-j` spreads label groups over workers."""
    if engine == "local" and workers is None:
        return None
    return make_engine(engine, workers, address)


@click.command()
@OUT_ARG
@click.option("--by", type=click.Choice(["label", "source", "reason"]), default="label", show_default=True,
              help="One row per label, per source (with the language-ID audit) or per rejection reason.")
@click.option("--sort", "sort", default=None, metavar="COLUMN",
              help="Sort column (default kept); numbers descending, text ascending; prefix + or - to force.")
@click.option("--label", "labels", multiple=True, metavar="PATTERN", help="Only these labels (glob, comma list).")
@click.option("--script", "scripts", multiple=True, metavar="SCRIPT", help="Only labels of these scripts (Latn, Cyrl ...).")
@click.option("--min-sentences", type=int, default=0, show_default=True, help="Only labels/sources with at least this many kept rows.")
@click.option("--limit", type=int, default=None, help="Show at most this many rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@CHECK_OPT
@engine_options
def stats(out: Path, by: str, sort: str | None, labels: tuple[str, ...], scripts: tuple[str, ...],
          min_sentences: int, limit: int | None, fmt: str, check: bool, workers: int | None, engine: str,
          address: str | None) -> None:
    """Per-language statistics of a build OUT, computed from its Parquet files.

    Kept sentences, characters, words, sources, share kept, rejections by reason and script per label;
    `--by source` adds the language-ID audit where that stage ran.
    """
    from glotforge.pipelines.stats_view import render_table, to_csv, to_json, view_frame

    try:
        st = compute_stats(out, labels=_split(labels), scripts=_split(scripts), check=check,
                           executor=_executor(engine, workers, address))
        full = view_frame(st, by, sort, min_sentences)
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    rows = full.head(limit) if limit else full
    if fmt == "json":
        click.echo(to_json(st, rows, by))
    elif fmt == "csv":
        click.echo(to_csv(rows), nl=False)
    else:
        console = Console()
        if not console.is_terminal:  # pipes and files: do not squeeze a wide table into 80 columns
            console = Console(width=200)
        render_table(st, rows, by, console, full.height)


@click.command()
@OUT_ARG
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default OUT/report.html).")
@click.option("--threshold", type=int, default=30_000, show_default=True, help="Sentence threshold marked in the charts.")
@click.option("--extra", "extra_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="More report JSON files to include (vocabulary fertility, evaluation ...).")
@click.option("--title", default=None, help="Title of the report.")
@CHECK_OPT
@engine_options
def report(out: Path, output: Path | None, threshold: int, extra_files: tuple[str, ...], title: str | None,
           check: bool, workers: int | None, engine: str, address: str | None) -> None:
    """Write one self-contained HTML report of OUT (charts and a sortable table; opens offline)."""
    from glotforge.pipelines.report import write_report

    try:
        path = write_report(out, output, threshold, check, extra_files, title, _executor(engine, workers, address))
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")


@click.command()
@OUT_ARG
@click.option("-o", "--output", "subset", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the subset (contract layout, linked parts, sampling.json, README.md).")
@click.option("--min-sentences", type=int, default=30_000, show_default=True,
              help="Keep labels with at least this many kept sentences (Glot500-c: 30,000).")
@click.option("--alpha", type=float, default=0.3, show_default=True, help="Sampling exponent: p_i ∝ n_i^alpha.")
@click.option("--head-always/--no-head-always", default=True, show_default=True,
              help="Keep head (XLM-R) labels below the threshold, as Glot500 did.")
@click.option("--mode", type=click.Choice(["auto", "hardlink", "symlink", "copy"]), default="auto", show_default=True,
              help="How parts are materialised; auto = hard links, copies where links are impossible.")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty SUBSET folder.")
@click.option("--card/--no-card", default=True, show_default=True, help="Also write SUBSET/README.md.")
@CHECK_OPT
@engine_options
def select(out: Path, subset: Path, min_sentences: int, alpha: float, head_always: bool, mode: str,
           overwrite: bool, card: bool, check: bool, workers: int | None, engine: str, address: str | None) -> None:
    """Cut a Glot500-c-style subset of OUT with head/tail tiers and sampling probabilities."""
    from glotforge.pipelines.select import select_subset

    try:
        doc = select_subset(out, subset, min_sentences, alpha, head_always, mode, overwrite, check, card,
                            _executor(engine, workers, address))
    except (*USER_ERRORS, FileExistsError) as exc:
        raise _fail(exc) from None
    how = ", ".join(f"{n} {k}" for k, n in doc["materialised"].items())
    click.echo(f"selected {doc['selected']} labels ({doc['tiers']['head']} head, {doc['tiers']['tail']} tail; "
               f"{doc['excluded']} excluded), {doc['sentences']:,} sentences; parts: {how}")
    click.echo(f"wrote {subset / 'sampling.json'}" + (f" and {subset / 'README.md'}" if card else ""))


@click.command()
@OUT_ARG
@click.option("--title", default=None, help="Title of the dataset card.")
@click.option("--check/--no-check", default=None, help="Compare with counters (default: when OUT/stats has them).")
@engine_options
def card(out: Path, title: str | None, check: bool | None, workers: int | None, engine: str,
         address: str | None) -> None:
    """Write OUT/README.md: a dataset card with hub YAML (one config per label) and licences."""
    from glotforge.pipelines.card import write_card

    try:
        path = write_card(out, title, check, _executor(engine, workers, address))
    except USER_ERRORS as exc:
        raise _fail(exc) from None
    click.echo(f"wrote {path}")
