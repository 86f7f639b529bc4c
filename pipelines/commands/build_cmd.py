"""`glot build` and `glot stages`: the corpus build from the command line."""

from __future__ import annotations

import os
from pathlib import Path

import click

from glotforge.corpus.sources import SourceError
from glotforge.corpus.stages import REGISTRY

from ..recipe import RecipeError, load_recipe
from ..runner import TaskError, make_executor


def user_errors():
    """Exceptions that are the user's to fix: shown as one line, no traceback."""
    from glotforge.corpus.readers import SourceFormatError

    from ..plan import OutputDirError

    # ConnectionError: --engine ray --address pointing at no cluster.
    return (SourceError, RecipeError, OutputDirError, SourceFormatError, ConnectionError)


def engine_options(fn):
    """--engine/--address/-j shared by every command that processes a corpus."""
    fn = click.option("--address", default=None,
                      help="Ray cluster address (auto, ray://host:port); default: start a local Ray instance.")(fn)
    fn = click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                      help="Where tasks run: local processes or a Ray cluster (pip install 'glotforge[ray]').")(fn)
    fn = click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
                      help="Parallel workers (default: all cores).")(fn)
    return fn


def recipe_options(fn):
    fn = click.option("--set", "overrides", multiple=True, metavar="TABLE.KEY=VALUE",
                      help="Override one recipe value, e.g. --set dedup.threshold=0.75 (repeatable).")(fn)
    fn = click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="TOML recipe merged over the default recipe (pipelines/recipes/default.toml).")(fn)
    return fn


def make_engine(engine: str, workers: int | None, address: str | None):
    options = {"address": address} if engine == "ray" else {}
    try:
        return make_executor(engine, workers, **options)
    except ImportError as exc:
        raise click.ClickException(f"--engine {engine} needs an optional extra ({exc}); "
                                   "install it with: pip install 'glotforge[ray]'") from None


@click.command()
@click.argument("sources")
@click.option("-o", "--out", required=True, help="Output folder or fsspec URL (corpus/, rejected/, stats/).")
@recipe_options
@engine_options
@click.option("--stages", default=None, metavar="A,B,...",
              help="Stages to run after ingest (default: build.stages of the recipe), e.g. script,quality.")
@click.option("--thresholds", type=click.Choice(["recipe", "auto"]), default=None,
              help="Quality thresholds from the recipe, or derived per language from its own data.")
@click.option("--resume", is_flag=True, help="Continue an interrupted build in OUT, skipping finished work.")
@click.option("--force", is_flag=True, help="Delete a previous build in OUT and start again.")
def build(sources: str, out: str, config: Path | None, overrides: tuple[str, ...], workers: int | None,
          engine: str, address: str | None, stages: str | None, thresholds: str | None, resume: bool,
          force: bool) -> None:
    """Build a per-language-script Parquet corpus from SOURCES (a directory or a TOML manifest).

    SOURCES and OUT may be local paths or fsspec URLs (s3://, gs://, hf://, file://); credentials come
    from each filesystem's usual environment and configuration.

    Every line read ends either in OUT/corpus/<label>/ or in OUT/rejected/<label>/ with a reason;
    counts per source and label are written to OUT/stats/.
    """
    from ..build import build as run_build
    from ..build import print_summary

    if resume and force:
        raise click.UsageError("--resume and --force exclude each other")
    extra = list(overrides)
    if thresholds:
        extra.append(f"quality.thresholds={thresholds}")
    try:
        recipe = load_recipe(config, extra)
        stage_list = [s.strip() for s in stages.split(",") if s.strip()] if stages is not None else None
        summary = run_build(sources, out, recipe, make_engine(engine, workers, address), resume=resume,
                            force=force, stages=stage_list)
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from None
    except TaskError as exc:
        for f in exc.failures[:10]:
            click.echo(f"error: {f.item}: {f.error}", err=True)
        if len(exc.failures) > 10:
            click.echo(f"error: ... and {len(exc.failures) - 10} more", err=True)
        if os.environ.get("GLOTFORGE_DEBUG"):
            click.echo(exc.failures[0].trace, err=True)
        raise click.ClickException(f"{len(exc.failures)} task(s) failed; fix them and re-run with --resume") from None
    print_summary(summary)


@click.command()
def stages() -> None:
    """List the stages a recipe can name, with what each does."""
    click.echo("ingest      Read, decode, clean and (optionally) split every line; always runs first.")
    for name in sorted(REGISTRY):
        click.echo(f"{name:<11} {REGISTRY[name].summary}")


@click.command(name="run")
@click.argument("stage_list", metavar="STAGE[,STAGE...]")
@click.argument("corpus")
@click.option("-o", "--out", required=True, help="Output folder or URL for the new corpus (never the input).")
@recipe_options
@engine_options
@click.option("--resume", is_flag=True, help="Continue an interrupted run in OUT.")
@click.option("--force", is_flag=True, help="Delete a previous result in OUT and start again.")
def run_cmd(stage_list: str, corpus: str, out: str, config: Path | None, overrides: tuple[str, ...],
            workers: int | None, engine: str, address: str | None, resume: bool, force: bool) -> None:
    """Apply STAGE[,STAGE...] to CORPUS, a folder written by `glot build` (or `glot run`).

    Example: glot run dedup out/ -o out-dedup/ --set dedup.threshold=0.75. Rows CORPUS already rejected are
    carried over with their reasons, so every source's lines are still kept or rejected exactly once.
    """
    from ..build import print_summary, run_stages

    if resume and force:
        raise click.UsageError("--resume and --force exclude each other")
    names = [s.strip() for s in stage_list.split(",") if s.strip()]
    if not names:
        raise click.UsageError("name at least one stage (see `glot stages`)")
    try:
        recipe = load_recipe(config, list(overrides))
        summary = run_stages(corpus, out, recipe, names, make_engine(engine, workers, address), resume=resume,
                             force=force)
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from None
    except TaskError as exc:
        for f in exc.failures[:10]:
            click.echo(f"error: {f.item}: {f.error}", err=True)
        raise click.ClickException(f"{len(exc.failures)} task(s) failed; fix them and re-run with --resume") from None
    print_summary(summary)
