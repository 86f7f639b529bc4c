"""Dedup of large labels in rounds of tasks (pipelines/dedup_rounds.py, corpus/dedup/sharded.py).

The rounds must decide exactly what the single-task stage decides (same corpus bytes, same report),
for any slicing, with no task holding more than its slice's signatures, and resume from markers.
"""

from __future__ import annotations

import json
import random

import numpy as np
import polars as pl
import pytest

from glotforge.corpus.dedup import sharded
from glotforge.corpus.dedup.unionfind import components
from glotforge.pipelines.build import build
from glotforge.pipelines.dedup_rounds import run_round
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor, TaskError

from build_helpers import output_bytes
from dedup_fixtures import write_chain_sources
from fault_injection import FaultyExecutor, attempts

ROUNDS = ["dedup.shard_min_lines=1", "dedup.slice_lines=40"]


def _star_components(tmp_path, n: int, a: np.ndarray, b: np.ndarray, starts: tuple[int, ...]):
    """Roots of every node by the large-star / small-star rounds; also how many round pairs it took."""
    layout = sharded.Layout(str(tmp_path), starts)
    sharded.write_edges(layout, 0, a, b, 0)
    step = 0
    while True:
        changed = sum(sharded.star_round(layout, step, s, True)["changed"] for s in range(layout.slices))
        changed += sum(sharded.star_round(layout, step + 1, s, False)["changed"] for s in range(layout.slices))
        step += 2
        if not changed:
            break
    root = np.arange(n)
    for s in range(layout.slices):
        leaf, r = sharded.star_roots(layout, step, s)
        root[leaf] = r
    return root, step // 2


@pytest.mark.parametrize("shape", ["random", "path", "star", "cliques"])
def test_star_rounds_find_the_components_union_find_finds(tmp_path, shape):
    rng = np.random.default_rng(7)
    n = 400
    if shape == "random":
        a, b = rng.integers(0, n, 300), rng.integers(0, n, 300)
    elif shape == "path":  # a long path through the nodes in random order: diameter n - 1
        order = rng.permutation(n)
        a, b = order[:-1], order[1:]
    elif shape == "star":
        a, b = np.full(n - 1, 250), np.delete(np.arange(n), 250)
    else:
        groups = rng.integers(0, 30, n)
        pairs = [(x, y) for x in range(n) for y in range(x + 1, min(n, x + 40)) if groups[x] == groups[y]]
        a, b = np.array(pairs).T
    keep = a != b
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    root, rounds = _star_components(tmp_path, n, a, b, (0, 90, 200, 333, n))
    assert np.array_equal(root, components(a, b, n))
    assert rounds <= 12, f"{rounds} round pairs for {shape}: the rounds should shrink paths geometrically"


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    root = tmp_path_factory.mktemp("chains")
    return write_chain_sources(root)


def _bytes(out) -> dict[str, bytes]:
    """Output files; build.json differs only by the recipe keys that chose the path."""
    return {k: v for k, v in output_bytes(out).items() if k != "stats/build.json"}


@pytest.mark.parametrize("overrides", [
    [],
    ["dedup.threshold=0.5", "dedup.max_partners=1", "dedup.shingle=char"],
    ["dedup.exact=false"],
    ["dedup.near=false", "dedup.hash_bits=64"],
])
def test_rounds_decide_exactly_like_the_single_task_stage(chains, tmp_path, overrides):
    single, rounds = tmp_path / "single", tmp_path / "rounds"
    build(chains, single, load_recipe(None, overrides), LocalExecutor(2, progress=False), stages=["dedup"])
    summary = build(chains, rounds, load_recipe(None, overrides + ROUNDS + ["build.keep_work=true"]),
                    LocalExecutor(2, progress=False), stages=["dedup"])
    assert "dedup rounds" in summary.seconds
    done = [p.name for p in (rounds / "_work" / "done").glob("dedup-ell_Latn-*.json")]
    assert sum(n.startswith("dedup-ell_Latn-clusters-") for n in done) == 6, "one slice per source file"
    got, want = _bytes(rounds), _bytes(single)
    assert got == want, [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
    report = json.loads((single / "stats" / "dedup.json").read_text())["ell_Latn"]
    if "near=false" not in " ".join(overrides):
        assert report["near"] > 50 and report["verified_pairs"] >= report["near"]
        star_pairs = sum(n.startswith("dedup-ell_Latn-star_large-") for n in done) // 6
        assert star_pairs >= 2, "the chains need more than one round pair"
    if "exact=false" not in " ".join(overrides):
        assert report["exact"] > 20


def test_no_task_holds_the_signatures_of_another_slice(chains, tmp_path):
    out = tmp_path / "out"
    build(chains, out, load_recipe(None, ROUNDS + ["build.keep_work=true"]), LocalExecutor(1, progress=False),
          stages=["dedup"])
    total = json.loads((out / "stats" / "dedup.json").read_text())["ell_Latn"]["lines"]
    sig_files = sorted((out / "_work" / "dedup" / "ell_Latn").glob("sig/s-*/sig.parquet"))
    assert len(sig_files) == 6
    ranges = []
    for f in sig_files:
        rows = pl.read_parquet(f)["row"].to_numpy()
        assert np.all(np.diff(rows) > 0) and len(rows) < total / 3
        ranges.append((rows.min(), rows.max(), len(rows)))
    for (_, hi, _), (lo, _, _) in zip(ranges, ranges[1:], strict=False):
        assert hi < lo, "slices hold disjoint, ordered row ranges"
    assert 0 < sum(n for *_, n in ranges) < total  # exact copies and short lines get no signature


@pytest.fixture(scope="module")
def rounds_bytes(chains, tmp_path_factory):
    """Output of an uninterrupted build in rounds (in-process)."""
    ref = tmp_path_factory.mktemp("rounds") / "out"
    build(chains, ref, load_recipe(None, ROUNDS), LocalExecutor(1, progress=False), stages=["dedup"])
    return _bytes(ref)


def test_a_failed_round_task_resumes_from_markers_with_the_same_bytes(chains, rounds_bytes, tmp_path):
    out, flags = tmp_path / "out", tmp_path / "flags"
    failing = FaultyExecutor(LocalExecutor(2, progress=False), run_round, "ell_Latn dedup verify 2", flags,
                             how="raise")
    with pytest.raises(TaskError, match="ell_Latn dedup verify 2: RuntimeError: injected failure"):
        build(chains, out, load_recipe(None, ROUNDS), failing, stages=["dedup"])
    assert attempts(flags) == 1
    done_before = {p.name for p in (out / "_work" / "done").glob("dedup-*.json")}
    assert any(n.startswith("dedup-ell_Latn-sigs-") for n in done_before)
    assert not any(n.startswith("dedup-ell_Latn-star_") for n in done_before)
    build(chains, out, load_recipe(None, ROUNDS), LocalExecutor(2, progress=False), resume=True, stages=["dedup"])
    assert _bytes(out) == rounds_bytes


def test_a_worker_dying_in_a_round_is_retried(chains, rounds_bytes, tmp_path):
    out, flags = tmp_path / "out", tmp_path / "flags"
    dying = FaultyExecutor(LocalExecutor(2, progress=False), run_round, "ell_Latn dedup star_small 1", flags,
                           how="die")
    build(chains, out, load_recipe(None, ROUNDS), dying, stages=["dedup"])
    assert attempts(flags) == 1
    assert _bytes(out) == rounds_bytes


def test_small_labels_keep_the_single_task(tmp_path):
    manifest = write_chain_sources(tmp_path / "src", seed=3, lines=100, files=2)
    out = tmp_path / "out"
    recipe = load_recipe(None, ["dedup.shard_min_lines=1000", "build.keep_work=true"])
    build(manifest, out, recipe, LocalExecutor(1, progress=False), stages=["dedup"])
    assert not list((out / "_work" / "done").glob("dedup-*.json"))
    assert json.loads((out / "stats" / "dedup.json").read_text())["ell_Latn"]["lines"] > 0


def test_an_earlier_label_stage_runs_first_and_the_rounds_skip_its_rows(chains, tmp_path):
    """quality with auto thresholds (a label stage) before dedup: same bytes as the single reduce task."""
    auto = ["quality.thresholds=auto", "quality.auto_min_lines=50"]
    single, rounds = tmp_path / "single", tmp_path / "rounds"
    build(chains, single, load_recipe(None, auto), LocalExecutor(1, progress=False), stages=["quality", "dedup"])
    build(chains, rounds, load_recipe(None, auto + ROUNDS + ["build.keep_work=true"]), LocalExecutor(2, progress=False),
          stages=["quality", "dedup"])
    assert (rounds / "_work" / "done" / "dedup-ell_Latn-earlier-00000.json").exists()
    got, want = _bytes(rounds), _bytes(single)
    assert got == want, [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
    rejected = pl.read_parquet(single / "rejected" / "ell_Latn" / "part-00000.parquet")
    assert rejected.filter(pl.col("reason").str.starts_with("quality:")).height > 0


def test_slices_are_whole_shards_of_about_slice_lines_rows():
    from glotforge.pipelines.dedup_rounds import plan_jobs
    from glotforge.pipelines.plan import Plan
    from glotforge.pipelines.tasks import ReduceTask

    recipe = load_recipe(None, ["dedup.shard_min_lines=10", "dedup.slice_lines=100"])
    plan = Plan("/tmp/x", "/tmp", recipe, (), ("dedup",), {}, (), "fp")
    counts = tuple(random.Random(1).choice([0, 30, 70, 150]) for _ in range(20))
    jobs = plan_jobs(plan, [ReduceTask(plan, "abc_Latn", counts), ReduceTask(plan, "small_Latn", (3, 4))])
    assert list(jobs) == ["abc_Latn"]
    layout, bounds = jobs["abc_Latn"].layout, jobs["abc_Latn"].shard_bounds
    assert layout.starts[-1] == sum(counts) and bounds[-1] == len(counts)
    for k in range(layout.slices):
        assert layout.starts[k + 1] - layout.starts[k] == sum(counts[bounds[k]:bounds[k + 1]])
        if k < layout.slices - 1:  # every slice but the last reaches slice_lines
            assert layout.starts[k + 1] - layout.starts[k] >= 100


def test_ctrl_c_during_the_rounds_then_resume(tmp_path):
    """SIGINT to `glot build` while dedup rounds run: markers vouch only for finished tasks; --resume
    finishes with the bytes of an uninterrupted build."""
    import os
    import signal
    import subprocess
    import sys
    import time

    manifest = write_chain_sources(tmp_path / "src", seed=5, lines=6000, files=6)
    sets = [arg for kv in ROUNDS + ["dedup.slice_lines=400"] for arg in ("--set", kv)]
    ref = tmp_path / "ref"
    build(manifest, ref, load_recipe(None, ROUNDS + ["dedup.slice_lines=400"]), LocalExecutor(1, progress=False),
          stages=["dedup"])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "glotforge.pipelines", "build", str(manifest), "-o", str(out), "--stages", "dedup",
           "-j", "2", *sets]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((out / "_work" / "done").glob("dedup-ell_Latn-groups-*.json")):
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        stderr = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, stderr[-2000:]
    done = list((out / "_work" / "done").glob("dedup-*.json"))
    assert done and not (out / "_work" / "done" / "reduce-ell_Latn.json").exists(), "interrupted mid-rounds"
    summary = build(manifest, out, load_recipe(None, ROUNDS + ["dedup.slice_lines=400"]),
                    LocalExecutor(2, progress=False), resume=True, stages=["dedup"])
    assert summary.map_skipped == 7
    assert _bytes(out) == _bytes(ref)


def test_glot_run_dedup_reads_a_large_label_part_by_part_and_dedups_it_in_slices(chains, tmp_path):
    """`glot run dedup` on a built corpus: one map task per part file, slices of those parts, and the
    same result as the single task on the same corpus written as one part per label."""
    from glotforge.pipelines.build import run_stages

    many, one = tmp_path / "many", tmp_path / "one"
    build(chains, many, load_recipe(None, ["build.rows_per_part=60", "build.row_group_size=30"]),
          LocalExecutor(1, progress=False), stages=["script"])
    build(chains, one, load_recipe(), LocalExecutor(1, progress=False), stages=["script"])
    parts = len(list((many / "corpus" / "ell_Latn").glob("part-*.parquet")))
    assert parts >= 8 and len(list((many / "corpus" / "fra_Latn").glob("part-*.parquet"))) == 2
    rounds, single = tmp_path / "rounds", tmp_path / "single"
    run_stages(many, rounds, load_recipe(None, ROUNDS + ["build.keep_work=true"]), ["dedup"],
               LocalExecutor(2, progress=False))
    run_stages(one, single, load_recipe(), ["dedup"], LocalExecutor(1, progress=False))
    done = [p.name for p in (rounds / "_work" / "done").glob("*.json")]
    assert sum(n.startswith("map-") for n in done) == parts + 2  # + the two parts of fra_Latn
    assert sum(n.startswith("dedup-ell_Latn-clusters-") for n in done) >= 4
    got, want = _bytes(rounds), _bytes(single)
    assert got == want, [k for k in set(got) | set(want) if got.get(k) != want.get(k)]
    sources = json.loads((rounds / "stats" / "sources.json").read_text())
    assert all(s["units"] == s["kept"] + s["rejected"] for s in sources)
