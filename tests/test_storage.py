"""Sources and outputs at fsspec URLs: in-memory filesystem, file:// URLs and a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import fsspec
import polars as pl
import pytest
from click.testing import CliRunner

from glotforge.pipelines.build import build, run_stages
from glotforge.pipelines.cli import main
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor

from build_helpers import SAMPLE_SOURCES, copy_sample_sources, output_bytes

STAGES = ["script", "quality", "dedup"]


def _sample_files(every: int) -> list[Path]:
    return sorted(p for p in SAMPLE_SOURCES.rglob("*") if p.is_file())[::every]


@pytest.fixture
def memfs():
    fs = fsspec.filesystem("memory")
    root = "/glotforge-test"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_memory_filesystem_in_and_out_matches_local(tmp_path, memfs):
    fs, root = memfs
    local_src = copy_sample_sources(tmp_path / "src", every=20)
    for f in sorted(p for p in local_src.rglob("*") if p.is_file()):
        fs.pipe(f"{root}/in/{f.relative_to(local_src).as_posix()}", f.read_bytes())
    recipe = load_recipe()
    build(f"memory://{root}/in", f"memory://{root}/out", recipe, LocalExecutor(1, progress=False), stages=STAGES)
    build(local_src, tmp_path / "local", recipe, LocalExecutor(1, progress=False), stages=STAGES)
    local = output_bytes(tmp_path / "local")
    remote = {p[len(f"{root}/out/"):]: fs.cat(p) for p in fs.find(f"{root}/out") if "/_work/" not in p}
    assert set(remote) == set(local)
    for name in remote:
        if name.endswith(".parquet"):
            assert pl.read_parquet(remote[name]).equals(pl.read_parquet(local[name])), name
        else:
            assert json.loads(remote[name]) == json.loads(local[name]), name
    # a chained run reads its input from the object store too
    run_stages(f"memory://{root}/out", f"memory://{root}/again", recipe, ["quality"], LocalExecutor(1, progress=False))
    stats = json.loads(fs.cat(f"{root}/again/stats/sources.json"))
    assert all(s["units"] == s["kept"] + s["rejected"] for s in stats)


def test_file_urls_with_two_workers(tmp_path):
    src = copy_sample_sources(tmp_path / "src", every=30)
    res = CliRunner().invoke(main, ["build", f"file://{src}", "-o", f"file://{tmp_path / 'out'}", "-j", "2",
                                    "--stages", "script"])
    assert res.exit_code == 0, res.output
    ref = tmp_path / "ref"
    build(src, ref, load_recipe(), LocalExecutor(1, progress=False), stages=["script"])
    assert output_bytes(tmp_path / "out") == output_bytes(ref)


@pytest.fixture
def http_server(tmp_path):
    pytest.importorskip("aiohttp", reason="fsspec's HTTP filesystem needs aiohttp")
    src = tmp_path / "served"
    for f in _sample_files(25):
        target = src / f.relative_to(SAMPLE_SOURCES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(src))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", src
    server.shutdown()
    server.server_close()


def test_manifest_sources_over_http_from_a_local_server(tmp_path, http_server):
    url, src = http_server
    names = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and "/" not in
                   p.relative_to(src).as_posix())
    manifest = tmp_path / "m.toml"
    manifest.write_text("".join(f'[[source]]\npath = "{url}/{n}"\n' for n in names), "utf-8")
    out = tmp_path / "out"
    build(manifest, out, load_recipe(), LocalExecutor(1, progress=False), stages=["script"])
    stats = json.loads((out / "stats" / "sources.json").read_text())
    assert sorted(s["source"] for s in stats) == [f"{url}/{n}" for n in names]
    assert sum(s["kept"] for s in stats) > 0
    assert all(s["units"] == s["kept"] + s["rejected"] for s in stats)


def test_dedup_rounds_through_an_object_store(tmp_path, memfs):
    """The dedup rounds' partitioned files live under OUT/_work on the same filesystem as OUT."""
    from dedup_fixtures import write_chain_sources

    fs, root = memfs
    manifest = write_chain_sources(tmp_path / "chains")
    local_src = tmp_path / "src"
    for label, folder in (("ell_Latn", "el"), ("fra_Latn", "fr")):
        for f in sorted((manifest.parent / "data" / folder).glob("*.txt")):
            (local_src / label).mkdir(parents=True, exist_ok=True)
            (local_src / label / f.name).write_bytes(f.read_bytes())
            fs.pipe(f"{root}/in/{label}/{f.name}", f.read_bytes())
    rounds = load_recipe(None, ["dedup.shard_min_lines=1", "dedup.slice_lines=40"])
    build(f"memory://{root}/in", f"memory://{root}/out", rounds, LocalExecutor(1, progress=False), stages=["dedup"])
    build(local_src, tmp_path / "single", load_recipe(), LocalExecutor(1, progress=False), stages=["dedup"])
    local = output_bytes(tmp_path / "single")
    remote = {p[len(f"{root}/out/"):]: fs.cat(p) for p in fs.find(f"{root}/out") if "/_work/" not in p}
    assert set(remote) == set(local)
    assert len(fs.glob(f"{root}/out/_work/done/dedup-ell_Latn-clusters-*.json")) == 6, "6 slices in rounds"
    assert not fs.exists(f"{root}/out/_work/dedup"), "intermediate files are removed after the build"
    for name in remote:
        if name.endswith(".parquet"):
            assert pl.read_parquet(remote[name]).equals(pl.read_parquet(local[name])), name
        elif name != "stats/build.json":
            assert json.loads(remote[name]) == json.loads(local[name]), name
    assert json.loads(remote["stats/dedup.json"])["ell_Latn"]["near"] > 50
