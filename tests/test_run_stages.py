"""`glot run`: stages applied to a built corpus match a one-shot build and keep the accounting."""

from __future__ import annotations

import json

import polars as pl
from click.testing import CliRunner

from glotforge.pipelines.build import build, run_stages
from glotforge.pipelines.cli import main
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor

from build_helpers import copy_sample_sources, read_outputs

KEY = ["source", "line", "sentence"]


def _sorted(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return df.select(cols).sort(KEY)


def test_chain_matches_one_shot_build(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=6)
    recipe = load_recipe()
    one = tmp_path / "one"
    build(src, one, recipe, LocalExecutor(1, progress=False), stages=["script", "quality", "dedup"])
    first = tmp_path / "first"
    build(src, first, recipe, LocalExecutor(1, progress=False), stages=["script"])
    chained = tmp_path / "chained"
    run_stages(first, chained, recipe, ["quality", "dedup"], LocalExecutor(2, progress=False))

    kept_one, rej_one = read_outputs(one)
    kept_ch, rej_ch = read_outputs(chained)
    assert _sorted(kept_ch, [*KEY, "text", "label"]).equals(_sorted(kept_one, [*KEY, "text", "label"]))
    assert _sorted(rej_ch, [*KEY, "reason"]).equals(_sorted(rej_one, [*KEY, "reason"]))
    stats_one = {s["source"]: s for s in json.loads((one / "stats" / "sources.json").read_text())}
    stats_ch = {s["source"]: s for s in json.loads((chained / "stats" / "sources.json").read_text())}
    assert stats_one.keys() == stats_ch.keys()
    for rel, s in stats_ch.items():
        assert s["units"] == s["kept"] + s["rejected"]
        for key in ("lines", "units", "kept", "rejected", "rejected_by_reason"):
            assert s[key] == stats_one[rel][key], (rel, key)


def test_run_from_the_cli_with_an_override_and_errors(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=12)
    built = tmp_path / "built"
    assert CliRunner().invoke(main, ["build", str(src), "-o", str(built), "--stages", "script", "-j", "1"]).exit_code == 0
    res = CliRunner().invoke(main, ["run", "dedup", str(built), "-o", str(tmp_path / "d"), "-j", "1",
                                    "--set", "dedup.threshold=0.75"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "d" / "stats" / "build.json").read_text())["recipe"]["dedup"]["threshold"] == 0.75
    bad = CliRunner().invoke(main, ["run", "dedup", str(src), "-o", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "not a built corpus" in bad.output
    unknown = CliRunner().invoke(main, ["run", "nosuchstage", str(built), "-o", str(tmp_path / "y")])
    assert unknown.exit_code != 0 and "unknown stage" in unknown.output
