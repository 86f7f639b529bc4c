"""`glot build`: plan -> map (per source) -> reduce (per label) -> stats.

Everything a task needs travels in its arguments; the driver only holds the plan, the markers and
small counters, so the executor can be a process pool today and a cluster tomorrow.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from glotforge.corpus.stats import (
    check_accounting,
    label_table,
    source_table,
    write_stage_reports,
    write_tables,
)
from glotforge.corpus.storage import as_path, is_remote, remove_tree
from glotforge.corpus.writers import write_json_atomic

from .dedup_rounds import plan_jobs, run_jobs
from .plan import Plan, make_plan, make_run_plan, prepare_output
from .runner import Executor, LocalExecutor
from .tasks import MapTask, ReduceTask, read_marker, run_map, run_pending, run_reduce


@dataclass
class BuildSummary:
    out: Path
    sources: int
    labels: int
    lines: int
    kept: int
    rejected: int
    labels_with_text: int
    warnings: list[str] = field(default_factory=list)
    map_skipped: int = 0
    reduce_skipped: int = 0
    stages: tuple[str, ...] = ()
    skipped_stages: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # reports worth a look (e.g. the language-ID audit)


def _versions() -> dict[str, str]:
    names = ["glotforge", "polars", "pyarrow", "numpy", "regex", "pyicu-wheels", "fasttext-numpy2-wheel", "datasketch"]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class _Clock:
    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self.last
        self.last = now


def build(sources: Path, out: Path, recipe: dict[str, Any], executor: Executor | None = None,
          resume: bool = False, force: bool = False, stages: list[str] | None = None) -> BuildSummary:
    """Build OUT from raw sources (a directory or a TOML manifest)."""
    clock = _Clock()
    plan = make_plan(as_path(sources), as_path(out), recipe, stages)
    clock.lap("plan")
    whole = [s.to_dict() for s in plan.sources if s.chunk == 0]  # one stats row per source, not per chunk
    return execute(plan, executor, resume, force, whole, None, clock)


def run_stages(corpus: Path, out: Path, recipe: dict[str, Any], stages: list[str], executor: Executor | None = None,
               resume: bool = False, force: bool = False) -> BuildSummary:
    """Apply `stages` to an already built corpus; rejected rows of the input are carried over, so the
    accounting (lines in = kept + rejected, per source) holds through any chain of runs."""
    clock = _Clock()
    plan, source_specs, prior = make_run_plan(as_path(corpus), as_path(out), recipe, stages)
    clock.lap("plan")
    return execute(plan, executor, resume, force, source_specs, prior, clock)


def execute(plan: Plan, executor: Executor | None, resume: bool, force: bool, source_specs: list[dict],
            prior: dict[str, dict] | None, clock: _Clock) -> BuildSummary:
    out = plan.out_path
    prepare_output(out, plan, resume, force)
    executor = executor or LocalExecutor()

    # Each task carries the recipe and its own source(s) only, not the whole source list.
    map_tasks = [MapTask(replace(plan, sources=(s,)), s) for s in plan.sources]
    map_done, map_skipped = run_pending(executor, run_map, map_tasks, plan, "read + line stages")
    by_shard = {t.source.shard_key: map_done[t.task_id] for t in map_tasks}
    clock.lap("map")

    reduce_tasks = []
    for label in plan.labels:
        shards = [by_shard[s.shard_key] for s in plan.sources_of(label)]
        reduce_tasks.append(ReduceTask(replace(plan, sources=tuple(plan.sources_of(label))), label,
                                       tuple(m["kept"] for m in shards),
                                       (sum(m["chars"] for m in shards), sum(m["words"] for m in shards))))
    # Large labels: dedup as rounds of tasks over slices and hash partitions (pipelines/dedup_rounds.py)
    todo = [t for t in reduce_tasks if read_marker(out, t.task_id, plan.fingerprint) is None]
    jobs = plan_jobs(plan, todo)
    if jobs:
        reports = run_jobs(executor, plan, jobs)
        reduce_tasks = [replace(t, sharded=(jobs[t.label].layout, reports[t.label])) if t.label in jobs else t
                        for t in reduce_tasks]
        clock.lap("dedup rounds")
    # Without label stages a reduce task only renames files: not worth shipping to workers.
    reducer = executor if plan.label_stages else LocalExecutor(1, progress=False)
    reduce_done, reduce_skipped = run_pending(reducer, run_reduce, reduce_tasks, plan, "label stages + write")
    by_label = {t.label: reduce_done[t.task_id] for t in reduce_tasks}
    clock.lap("reduce")

    sources_rows = source_table(source_specs, list(by_shard.values()), by_label, prior)
    check_accounting(sources_rows)
    labels_rows = label_table(sources_rows, by_label)
    stats_dir = out / "stats"
    write_tables(stats_dir, sources_rows, labels_rows)
    write_stage_reports(stats_dir, by_label)
    write_json_atomic(stats_dir / "build.json", {
        "recipe": plan.recipe, "line_stages": list(plan.line_stages), "label_stages": list(plan.label_stages),
        "skipped_stages": list(plan.skipped_stages), "versions": _versions(), "sources": len(source_specs),
        "input": plan.input_stats,
    })
    notes = _after_build_hooks(out, plan)
    if not plan.recipe.get("build", {}).get("keep_work", False):
        remove_tree(out / "_work" / "map")
        remove_tree(out / "_work" / "dedup")
    clock.lap("stats")

    warnings = [f"{s['source']}: {s['damage']}; kept what was readable ({s['lines']} lines)"
                for s in sources_rows if s["damaged"] and prior is None]
    if plan.skipped_files:
        shown = ", ".join(plan.skipped_files[:5]) + (" ..." if len(plan.skipped_files) > 5 else "")
        warnings.append(f"{len(plan.skipped_files)} file(s) were not read (documentation, or no known format): "
                        f"{shown} (data files: name them .txt/.jsonl/.tsv/.csv/.parquet, or list them in a manifest)")
    return BuildSummary(
        out=out, sources=len(sources_rows), labels=len(labels_rows),
        lines=sum(s["lines"] for s in sources_rows), kept=sum(s["kept"] for s in sources_rows),
        rejected=sum(s["rejected"] for s in sources_rows),
        labels_with_text=sum(1 for r in labels_rows if r["kept"]), warnings=warnings,
        map_skipped=map_skipped, reduce_skipped=reduce_skipped,
        stages=plan.line_stages + plan.label_stages, skipped_stages=plan.skipped_stages, seconds=clock.seconds,
        notes=notes,
    )


def _after_build_hooks(out: Path, plan: Plan) -> list[str]:
    """Reports that read the finished corpus (the language-ID audit of sources); returns what to print."""
    notes = []
    if "langid" in plan.line_stages:
        if is_remote(out):
            return ["language-ID audit: not written for remote outputs; run `glot stats --by source` on a copy"]
        from glotforge.corpus.lid_audit import format_audit, write_lid_audit

        notes.append(format_audit(write_lid_audit(out, plan.recipe.get("langid", {})), limit=10))
    return notes


def print_summary(summary: BuildSummary, stream=None) -> None:
    stream = stream or sys.stdout  # looked up at call time (CliRunner swaps sys.stdout)
    for w in summary.warnings:
        print(f"warning: {w}", file=sys.stderr)
    resumed = ""
    if summary.map_skipped or summary.reduce_skipped:
        resumed = f" (resumed: {summary.map_skipped} shards and {summary.reduce_skipped} labels were already done)"
    print(f"built {summary.labels_with_text} labels from {summary.sources} sources{resumed}", file=stream)
    print(f"  lines read {summary.lines:,}; kept {summary.kept:,}; rejected {summary.rejected:,}", file=stream)
    stages = ", ".join(("ingest",) + summary.stages)
    skipped = f" (skipped: {', '.join(summary.skipped_stages)})" if summary.skipped_stages else ""
    print(f"  stages: {stages}{skipped}", file=stream)
    if summary.seconds:
        times = ", ".join(f"{k} {v:.1f}s" for k, v in summary.seconds.items())
        print(f"  time: {sum(summary.seconds.values()):.1f}s ({times})", file=stream)
    for note in summary.notes:
        print(note, file=stream)
    print(f"  corpus:   {summary.out / 'corpus'}", file=stream)
    print(f"  rejected: {summary.out / 'rejected'}", file=stream)
    print(f"  stats:    {summary.out / 'stats'} (labels.json, sources.json)", file=stream)
