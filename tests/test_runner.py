"""LocalExecutor under real faults: a worker process that dies is retried (the build stays byte-identical),
a shard that kills its worker every time is reported with its path while the other shards finish."""

from __future__ import annotations

import pytest

from glotforge.pipelines.build import build
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import ATTEMPTS, LocalExecutor, TaskError
from glotforge.pipelines.tasks import marker_path, run_map

from build_helpers import copy_sample_sources, output_bytes
from fault_injection import FaultyExecutor, attempts


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("ref")
    src = copy_sample_sources(root / "src", every=20)
    out = root / "out"
    build(src, out, load_recipe(), LocalExecutor(2, progress=False))
    return src, output_bytes(out)


def _victim(src) -> str:
    return sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())[3]


def test_worker_killed_mid_shard_is_retried_and_output_is_identical(reference, tmp_path):
    src, ref = reference
    victim = _victim(src)
    executor = FaultyExecutor(LocalExecutor(2, progress=False), run_map, victim, tmp_path / "flags", how="torn")
    out = tmp_path / "out"
    summary = build(src, out, load_recipe(), executor)
    assert attempts(tmp_path / "flags") == 1  # it did die once
    assert summary.map_skipped == 0 and output_bytes(out) == ref


def test_shard_that_always_kills_its_worker_is_reported_and_the_rest_completes(reference, tmp_path):
    src, ref = reference
    victim = _victim(src)
    executor = FaultyExecutor(LocalExecutor(2, progress=False), run_map, victim, tmp_path / "flags",
                              times=99, how="die")
    out = tmp_path / "out"
    with pytest.raises(TaskError) as info:
        build(src, out, load_recipe(), executor)
    [failure] = info.value.failures
    assert str(failure.item) == victim
    assert "BrokenProcessPool" in failure.error and f"{ATTEMPTS} attempts" in failure.error
    assert attempts(tmp_path / "flags") == ATTEMPTS
    done = sorted((out / "_work" / "done").glob("map-*.json"))
    n_sources = sum(1 for p in src.rglob("*") if p.is_file())
    assert len(done) == n_sources - 1
    assert not marker_path(out, info.value.failures[0].item.task_id).exists()
    summary = build(src, out, load_recipe(), LocalExecutor(2, progress=False), resume=True)
    assert summary.map_skipped == n_sources - 1 and output_bytes(out) == ref
