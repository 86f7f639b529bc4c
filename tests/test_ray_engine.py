"""`--engine ray` on a real local Ray instance (2 CPUs): the same bytes as the local engine for 1 and 2
workers, markers shared across engines (resume either way), worker deaths retried, a shard that kills
its worker three times reported while the rest completes, Ctrl-C leaving nothing a resume would trust.

One Ray instance serves the module (started by a fixture in a private temp folder that is removed
afterwards); only the Ctrl-C test starts its own, in a `glot build --engine ray` subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'glotforge[ray]')")

from click.testing import CliRunner  # noqa: E402

from glotforge.pipelines.build import build, run_stages  # noqa: E402
from glotforge.pipelines.cli import main  # noqa: E402
from glotforge.pipelines.dedup_rounds import run_round  # noqa: E402
from glotforge.pipelines.ray_executor import RayExecutor  # noqa: E402
from glotforge.pipelines.recipe import load_recipe  # noqa: E402
from glotforge.pipelines.runner import LocalExecutor, TaskError  # noqa: E402
from glotforge.pipelines.tasks import run_map  # noqa: E402

import fault_injection  # noqa: E402
from build_helpers import copy_sample_sources, output_bytes  # noqa: E402
from dedup_fixtures import write_chain_sources  # noqa: E402
from fault_injection import FaultyExecutor, attempts  # noqa: E402

pytestmark = pytest.mark.ray
GLOT = [sys.executable, "-m", "glotforge.pipelines"]
RAY_ENV = {"RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Every 8th sample source (23 sources, several formats) built by the local engine, default recipe
    (in-process: spawning workers would cost more than the work here)."""
    root = tmp_path_factory.mktemp("ref")
    src = copy_sample_sources(root / "src", every=8)
    out = root / "out"
    build(src, out, load_recipe(), LocalExecutor(1, progress=False))
    return src, out, output_bytes(out)


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for the module: 2 CPUs, its own temp folder, always shut down and removed."""
    os.environ.update(RAY_ENV)
    temp = tempfile.mkdtemp(prefix="gf-ray-")  # short path: Ray's sockets live there
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
             _temp_dir=temp)
    # The fault wrapper lives in tests/, which Ray workers cannot import: ship it by value.
    ray.cloudpickle.register_pickle_by_value(fault_injection)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _differs(got: dict[str, bytes], want: dict[str, bytes]) -> str:
    """Which output files differ (a readable failure message instead of two byte dumps)."""
    names = sorted(set(got) ^ set(want)) + sorted(n for n in set(got) & set(want) if got[n] != want[n])
    return f"{len(names)} output file(s) differ: {names[:10]}"


def _victim(src: Path) -> str:
    return sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())[3]


def _n_sources(src: Path) -> int:
    return sum(1 for p in src.rglob("*") if p.is_file())


def test_interrupted_ray_build_resumes_under_local_engine(reference, tmp_path):
    """Ctrl-C on `glot build --engine ray` (its own Ray instance), then `--resume` with the local engine."""
    src, _, ref = reference
    out, temp = tmp_path / "out", tempfile.mkdtemp(prefix="gf-ray-")
    env = os.environ | RAY_ENV | {"RAY_TMPDIR": temp}
    proc = subprocess.Popen([*GLOT, "build", str(src), "-o", str(out), "--engine", "ray", "-j", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        done = out / "_work" / "done"
        deadline = time.time() + 90
        while time.time() < deadline and len(list(done.glob("map-*.json"))) < 4:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stderr = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode != 0 and ("Aborted" in stderr or "KeyboardInterrupt" in stderr), stderr[-2000:]
    markers = list((out / "_work" / "done").glob("map-*.json"))
    assert 4 <= len(markers) < _n_sources(src), "the interrupt must land mid-build"
    assert not (out / "stats" / "labels.json").exists()
    for marker in markers:  # whatever a marker vouches for is complete and readable
        data = json.loads(marker.read_text())
        kept = sorted((out / "_work" / "map" / marker.stem.removeprefix("map-")).glob("kept-*.parquet"))
        assert sum(pl.read_parquet(p).height for p in kept) == data["kept"]
    summary = build(src, out, load_recipe(), LocalExecutor(1, progress=False), resume=True)
    assert summary.map_skipped == len(markers)
    assert (got := output_bytes(out)) == ref, _differs(got, ref)


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_output_is_byte_identical_to_local(reference, ray_instance, tmp_path, workers):
    src, _, ref = reference
    out = tmp_path / "out"
    summary = build(src, out, load_recipe(), RayExecutor(workers, progress=False))
    assert summary.kept > 0 and len(ref) > 10
    assert (got := output_bytes(out)) == ref, _differs(got, ref)


def test_cli_engine_ray(reference, ray_instance, tmp_path):
    src, _, ref = reference
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--engine", "ray", "-j", "2"])
    assert result.exit_code == 0, result.output
    assert (got := output_bytes(out)) == ref, _differs(got, ref)


def test_run_failed_under_local_resumes_under_ray(reference, ray_instance, tmp_path):
    src, _, ref = reference
    victim, out = _victim(src), tmp_path / "out"
    failing = FaultyExecutor(LocalExecutor(1, progress=False), run_map, victim, tmp_path / "flags", how="raise")
    with pytest.raises(TaskError) as info:
        build(src, out, load_recipe(), failing)
    assert [str(f.item) for f in info.value.failures] == [victim]
    assert "RuntimeError: injected failure" in info.value.failures[0].error
    summary = build(src, out, load_recipe(), RayExecutor(2, progress=False), resume=True)
    assert summary.map_skipped == _n_sources(src) - 1
    assert (got := output_bytes(out)) == ref, _differs(got, ref)


def test_worker_killed_mid_shard_is_retried_and_output_is_identical(reference, ray_instance, tmp_path):
    src, _, ref = reference
    executor = FaultyExecutor(RayExecutor(2, progress=False), run_map, _victim(src), tmp_path / "flags",
                              how="torn")
    out = tmp_path / "out"
    summary = build(src, out, load_recipe(), executor)
    assert attempts(tmp_path / "flags") == 1
    assert summary.map_skipped == 0 and output_bytes(out) == ref


def test_shard_that_kills_its_worker_three_times_is_reported(reference, ray_instance, tmp_path):
    src, _, ref = reference
    victim, out = _victim(src), tmp_path / "out"
    executor = FaultyExecutor(RayExecutor(2, progress=False), run_map, victim, tmp_path / "flags", times=99)
    with pytest.raises(TaskError) as info:
        build(src, out, load_recipe(), executor)
    [failure] = info.value.failures
    assert str(failure.item) == victim and "after 3 attempt(s)" in failure.error
    assert "WorkerCrashedError" in failure.error
    assert attempts(tmp_path / "flags") == 3
    assert len(list((out / "_work" / "done").glob("map-*.json"))) == _n_sources(src) - 1
    result = CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--resume", "--engine", "ray"])
    assert result.exit_code == 0, result.output
    assert (got := output_bytes(out)) == ref, _differs(got, ref)


def test_task_exception_is_reported_like_the_local_engine(ray_instance):
    with pytest.raises(TaskError) as info:
        RayExecutor(2, progress=False).map(int, ["1", "x", "3"])
    [failure] = info.value.failures
    assert failure.item == "x" and failure.error.startswith("ValueError: invalid literal for int()")
    assert RayExecutor(2, progress=False).map(abs, [-3, 1, -2]) == [3, 1, 2]


def test_glot_run_on_a_built_corpus_is_identical_under_ray(reference, ray_instance, tmp_path):
    """`glot run STAGES IN -o OUT --engine ray` (stages on an already built corpus) matches the local engine."""
    src = reference[0]
    base = tmp_path / "base"
    build(src, base, load_recipe(), LocalExecutor(1, progress=False), stages=["script"])
    local = tmp_path / "local"
    run_stages(base, local, load_recipe(), ["quality", "dedup"], LocalExecutor(1, progress=False))
    result = CliRunner().invoke(main, ["run", "quality,dedup", str(base), "-o", str(tmp_path / "ray"),
                                       "--engine", "ray", "-j", "2"])
    assert result.exit_code == 0, result.output
    want = output_bytes(local)
    assert (got := output_bytes(tmp_path / "ray")) == want and len(want) > 10, _differs(got, want)


ROUNDS = ["dedup.shard_min_lines=1", "dedup.slice_lines=40"]


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """A label of near-duplicate chains in 6 files, deduplicated in rounds by the local engine."""
    root = tmp_path_factory.mktemp("chains")
    manifest = write_chain_sources(root / "src")
    single, rounds = root / "single", root / "rounds"
    build(manifest, single, load_recipe(), LocalExecutor(1, progress=False), stages=["dedup"])
    build(manifest, rounds, load_recipe(None, ROUNDS), LocalExecutor(2, progress=False), stages=["dedup"])
    return manifest, output_bytes(single), output_bytes(rounds)


@pytest.mark.parametrize("workers", [1, 2])
def test_dedup_rounds_under_ray_give_the_local_corpus(chains, ray_instance, tmp_path, workers):
    """Cluster-scale near-dedup: the rounds on Ray write what the local rounds and the single task write."""
    manifest, single, rounds = chains
    out = tmp_path / "out"
    build(manifest, out, load_recipe(None, ROUNDS), RayExecutor(workers, progress=False), stages=["dedup"])
    assert (got := output_bytes(out)) == rounds, _differs(got, rounds)
    # build.json records the recipe, which differs by the ROUNDS keys only
    got, want = ({k: v for k, v in d.items() if k != "stats/build.json"} for d in (got, single))
    assert got == want, _differs(got, want)


def test_worker_killed_in_a_dedup_round_under_ray_is_retried(chains, ray_instance, tmp_path):
    manifest, _, rounds = chains
    out, flags = tmp_path / "out", tmp_path / "flags"
    executor = FaultyExecutor(RayExecutor(2, progress=False), run_round, "ell_Latn dedup cands 3", flags)
    build(manifest, out, load_recipe(None, ROUNDS), executor, stages=["dedup"])
    assert attempts(flags) == 1
    assert (got := output_bytes(out)) == rounds, _differs(got, rounds)


def test_stats_report_and_select_under_ray(reference, ray_instance, tmp_path):
    """`glot stats/report/select --engine ray`: workers scan label groups; the figures are the local ones."""
    out = reference[1]
    runner = CliRunner()
    local = runner.invoke(main, ["stats", str(out), "--format", "json"])
    spread = runner.invoke(main, ["stats", str(out), "--format", "json", "--engine", "ray", "-j", "2"])
    assert local.exit_code == 0 and spread.exit_code == 0, spread.output
    assert spread.output == local.output and len(json.loads(local.output)["rows"]) > 5
    docs = []
    for engine in ("local", "ray"):
        sub = tmp_path / engine
        res = runner.invoke(main, ["select", str(out), "-o", str(sub), "--min-sentences", "20", "--engine", engine])
        assert res.exit_code == 0, res.output
        docs.append(json.loads((sub / "sampling.json").read_text()))
    assert docs[0] == docs[1] and docs[0]["selected"] > 0
    res = runner.invoke(main, ["report", str(out), "-o", str(tmp_path / "r.html"), "--engine", "ray"])
    assert res.exit_code == 0 and (tmp_path / "r.html").stat().st_size > 10_000, res.output
    cards = []
    for engine in ("local", "ray"):
        res = runner.invoke(main, ["card", str(tmp_path / "local"), "--engine", engine])
        assert res.exit_code == 0, res.output
        cards.append((tmp_path / "local" / "README.md").read_text())
    assert cards[0] == cards[1] and "configs:" in cards[0]
