"""End-to-end `glot build`: output contract, accounting, determinism across workers, resume, CLI errors."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from glotforge.corpus.labels import LABEL_RE
from glotforge.pipelines.build import build
from glotforge.pipelines.cli import main
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor

from build_helpers import SAMPLE_SOURCES, copy_sample_sources, output_bytes, read_outputs

GLOT = [sys.executable, "-m", "glotforge.pipelines"]


def physical_lines(path: Path) -> int:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory):
    """The bundled sample (every 2nd source: all nine formats) built with the default recipe, 2 workers."""
    root = tmp_path_factory.mktemp("sample")
    src = copy_sample_sources(root / "src", every=2)
    out = root / "out"
    summary = build(src, out, load_recipe(), LocalExecutor(2, progress=False))
    return src, out, summary


def test_contract_on_the_sample(sample_build):
    src, out, summary = sample_build
    kept, rej = read_outputs(out)
    assert summary.kept == kept.height > 0 and summary.rejected == rej.height
    assert {"text", "label", "source", "line", "sentence"} <= set(kept.columns)
    assert set(rej.columns) >= set(kept.columns) | {"reason"}
    for folder in (out / "corpus").iterdir():
        assert LABEL_RE.match(folder.name)
        labels = pl.read_parquet(folder / "part-00000.parquet").get_column("label").unique().to_list()
        assert labels == [folder.name]
    assert rej.filter(~pl.col("reason").str.contains(r"^[a-z_]+:[A-Za-z0-9_.\-]+$")).height == 0
    both = pl.concat([kept.select("source", "line", "sentence"), rej.select("source", "line", "sentence")])
    assert both.height == both.unique().height  # nothing kept or rejected twice


def test_every_physical_line_is_accounted(sample_build):
    src, out, _ = sample_build
    kept, rej = read_outputs(out)
    seen = pl.concat([kept.select("source", "line"), rej.select("source", "line")]).unique()
    for path in sorted(p for p in src.rglob("*") if p.suffix in (".txt", ".jsonl") or p.name.endswith(".txt.gz")):
        rel = path.relative_to(src).as_posix()
        lines = seen.filter(pl.col("source") == rel).get_column("line").sort().to_list()
        assert lines == list(range(1, physical_lines(path) + 1)), rel


def test_stats_match_outputs_and_invariant(sample_build):
    _, out, _ = sample_build
    kept, rej = read_outputs(out)
    sources = json.loads((out / "stats" / "sources.json").read_text())
    for s in sources:
        assert s["units"] == s["kept"] + s["rejected"]
        assert s["kept"] == kept.filter(pl.col("source") == s["source"]).height
        assert s["rejected"] == rej.filter(pl.col("source") == s["source"]).height
        assert sum(s["rejected_by_reason"].values()) == s["rejected"]
    labels = pl.read_parquet(out / "stats" / "labels.parquet")
    assert labels.get_column("kept").sum() == kept.height
    assert set(labels.columns) >= {"label", "script", "sources", "lines", "kept", "rejected", "chars", "words"}


def test_directory_names_become_labels(sample_build):
    _, out, _ = sample_build
    sources = {s["source"]: s for s in json.loads((out / "stats" / "sources.json").read_text())}
    dashed = [s for s in sources.values() if s["source"].endswith(".jsonl")]
    assert dashed, "the sample has xxx-Scrp.jsonl sources"
    for s in dashed:
        assert s["label"] == s["source"].removesuffix(".jsonl").replace("-", "_")
    folder_sources = [s for s in sources.values() if "/" in s["source"]]
    assert folder_sources, "the sample has <iso>/udhr.txt.bz2 sources"
    for s in folder_sources:  # script decided from the text
        assert s["label"].startswith(s["source"].split("/")[0] + "_") and not s["label"].endswith("Zzzz")


def test_identical_output_for_one_and_two_workers(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=5)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        build(src, out, load_recipe(), LocalExecutor(workers, progress=False))
        outs.append(output_bytes(out))
    assert outs[0].keys() == outs[1].keys() and len(outs[0]) > 10
    assert outs[0] == outs[1]


def test_resume_after_a_killed_run_is_byte_identical(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=1)
    ref = tmp_path / "ref"
    build(src, ref, load_recipe(), LocalExecutor(2, progress=False))
    out = tmp_path / "out"
    proc = subprocess.Popen([*GLOT, "build", str(src), "-o", str(out), "-j", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    done = out / "_work" / "done"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(done.glob("map-*.json"))) < 20:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(done.glob("map-*.json")))
    assert 20 <= finished < 178, "the kill must land mid-build"
    assert not (out / "stats" / "labels.json").exists()
    result = CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--resume", "-j", "2"])
    assert result.exit_code == 0, result.output
    assert f"{finished} shards" in result.output or "resumed" in result.output
    assert output_bytes(out) == output_bytes(ref)


def test_manifest_with_globs_priorities_and_sentence_splitting(tmp_path):
    data = tmp_path / "data"
    (data / "web").mkdir(parents=True)
    (data / "web" / "a.jsonl").write_text(
        '{"content": "Первое предложение. Второе предложение."}\n{"content": "Ещё одно."}\n', "utf-8")
    (data / "web" / "b.jsonl").write_text('{"content": "Ещё одно."}\n', "utf-8")
    (data / "bible.tsv").write_text("verse\tline\n1\tΕν αρχή ην ο λόγος.\n", "utf-8")
    manifest = tmp_path / "sources.toml"
    manifest.write_text('''
[[source]]
path = "data/web/*.jsonl"
language = "ru"
text_field = "content"
split = true
licence = "CC-BY-4.0"
priority = 5

[[source]]
path = "data/bible.tsv"
language = "el"
text_field = "line"
name = "Bible"
''', "utf-8")
    out = tmp_path / "out"
    build(manifest, out, load_recipe(), LocalExecutor(1, progress=False), stages=["script"])
    kept, _ = read_outputs(out)
    ru = kept.filter(pl.col("label") == "rus_Cyrl").sort("source", "line", "sentence")
    assert ru.select("source", "line", "sentence").rows() == [
        ("data/web/a.jsonl", 1, 1), ("data/web/a.jsonl", 1, 2), ("data/web/a.jsonl", 2, 1), ("data/web/b.jsonl", 1, 1)]
    assert kept.filter(pl.col("label") == "ell_Grek").get_column("source").to_list() == ["data/bible.tsv"]
    sources = {s["source"]: s for s in json.loads((out / "stats" / "sources.json").read_text())}
    assert sources["data/web/a.jsonl"]["licence"] == "CC-BY-4.0" and sources["data/web/a.jsonl"]["priority"] == 5


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: None, "no such file or directory"),
    (lambda d: (d / "x.toml").write_text("[[source]]\npath = 3\n[", "utf-8"), "not a valid TOML manifest"),
    (lambda d: (d / "x.toml").write_text('[[source]]\npath = "nothing*.txt"\n', "utf-8"), "no file matches"),
    (lambda d: [(d / "a.txt").write_text("hi\n"),
                (d / "x.toml").write_text('[[source]]\npath = "a.txt"\nlanguage = "xx-Latn"\n', "utf-8")],
     "unknown language code 'xx'"),
])
def test_user_errors_are_one_line_without_traceback(tmp_path, setup, message):
    setup(tmp_path)
    target = tmp_path / "x.toml" if (tmp_path / "x.toml").exists() else tmp_path / "missing"
    proc = subprocess.run([*GLOT, "build", str(target), "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_unnamed_file_in_directory_mode_names_the_file(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("hello\n")
    result = CliRunner().invoke(main, ["build", str(tmp_path / "src"), "-o", str(tmp_path / "out")])
    assert result.exit_code != 0 and "notes.txt" in result.output and "language code" in result.output


def test_existing_output_needs_resume_or_force(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=40)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--stages", ""]).exit_code == 0
    again = CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--stages", ""])
    assert again.exit_code != 0 and "--resume" in again.output
    assert CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--stages", "", "--force"]).exit_code == 0


def _all_commands(group, prefix=()):
    import click

    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


def test_every_command_has_help():
    names = list(_all_commands(main))
    assert {("build",), ("run",), ("stages",), ("stats",), ("report",), ("select",), ("card",)} <= set(names)
    for path in names:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_damaged_compressed_source_is_kept_warned_and_recorded(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    lines = [f"Kila mtu ana haki ya kuishi, uhuru na usalama wa nafsi yake {i}." for i in range(3000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    (src / "swh_Latn.txt.gz").write_bytes(data[: len(data) // 2])
    (src / "eng_Latn.txt").write_text("Everyone has the right to life.\n", "utf-8")
    proc = subprocess.run([*GLOT, "build", str(src), "-o", str(tmp_path / "out"), "-j", "1", "--stages", "script"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning: swh_Latn.txt.gz: truncated gzip stream" in proc.stderr
    stats = {s["source"]: s for s in json.loads((tmp_path / "out" / "stats" / "sources.json").read_text())}
    damaged = stats["swh_Latn.txt.gz"]
    assert damaged["damaged"] and 0 < damaged["lines"] < 3000
    assert damaged["units"] == damaged["kept"] + damaged["rejected"] and damaged["kept"] >= damaged["lines"] - 1
    assert not stats["eng_Latn.txt"]["damaged"]


def test_large_sources_read_in_chunks_give_the_same_corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("eng_Latn.parquet", "rus_Cyrl.txt.gz", "fra-Latn.jsonl"):
        (src / name).write_bytes((SAMPLE_SOURCES / name).read_bytes())
    big = sum(([line] * 3 for line in (SAMPLE_SOURCES / "aar_Latn.txt").read_text("utf-8").splitlines()), [])
    (src / "aar_Latn.txt").write_text("\n".join(big) + "\n\nlast line without newline", "utf-8")
    whole, chunked = tmp_path / "whole", tmp_path / "chunked"
    build(src, whole, load_recipe(overrides=["build.chunk_bytes=0"]), LocalExecutor(1, progress=False))
    plan_recipe = load_recipe(overrides=["build.chunk_bytes=2000"])
    from glotforge.pipelines.plan import make_plan

    plan = make_plan(src, chunked, plan_recipe)
    assert sum(s.rel == "aar_Latn.txt" for s in plan.sources) > 5
    assert sum(s.rel == "fra-Latn.jsonl" for s in plan.sources) > 2
    build(src, chunked, plan_recipe, LocalExecutor(2, progress=False))
    a, b = output_bytes(whole), output_bytes(chunked)
    data = [k for k in a if k.startswith(("corpus/", "rejected/")) or k in ("stats/sources.json", "stats/labels.json")]
    assert data and all(a[k] == b[k] for k in data)
    assert a.keys() == b.keys()
