"""`glot build`: plan -> map (per source) -> reduce (per label) -> stats.

Everything a task needs travels in its arguments; the driver only holds the plan, the markers and
small counters, so the executor can be a process pool today and a cluster tomorrow.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from glotforge.corpus.stats import check_accounting, label_table, source_table, write_stage_reports, write_tables
from glotforge.corpus.writers import write_json_atomic

from .plan import Plan, make_plan, prepare_output
from .runner import Executor, LocalExecutor
from .tasks import MapTask, ReduceTask, read_marker, run_map, run_reduce


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


def _versions() -> dict[str, str]:
    names = ["glotforge", "polars", "pyarrow", "numpy", "regex", "pyicu-wheels", "fasttext-numpy2-wheel", "datasketch"]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _run_pending(executor: Executor, fn, tasks: list, plan: Plan, desc: str) -> tuple[dict[str, dict], int]:
    done: dict[str, dict] = {}
    pending = []
    for task in tasks:
        marker = read_marker(plan.out_path, task.task_id, plan.fingerprint)
        if marker is None:
            pending.append(task)
        else:
            done[task.task_id] = marker
    results = executor.map(fn, pending, desc=desc) if pending else []
    for task, res in zip(pending, results, strict=True):
        done[task.task_id] = res
    return done, len(tasks) - len(pending)


def build(sources: Path, out: Path, recipe: dict[str, Any], executor: Executor | None = None,
          resume: bool = False, force: bool = False, stages: list[str] | None = None) -> BuildSummary:
    out = Path(out)
    plan = make_plan(Path(sources), out, recipe, stages)
    prepare_output(out, plan, resume, force)
    executor = executor or LocalExecutor()

    map_tasks = [MapTask(plan, s) for s in plan.sources]
    map_done, map_skipped = _run_pending(executor, run_map, map_tasks, plan, "read + line stages")
    by_source = {t.source.rel: map_done[t.task_id] for t in map_tasks}

    reduce_tasks = [
        ReduceTask(plan, label, tuple(by_source[s.rel]["kept"] for s in plan.sources_of(label)))
        for label in plan.labels
    ]
    reduce_done, reduce_skipped = _run_pending(executor, run_reduce, reduce_tasks, plan, "label stages + write")
    by_label = {t.label: reduce_done[t.task_id] for t in reduce_tasks}

    specs = [s.to_dict() for s in plan.sources]
    sources_rows = source_table(specs, by_source, by_label)
    check_accounting(sources_rows)
    labels_rows = label_table(sources_rows, by_label)
    stats_dir = out / "stats"
    write_tables(stats_dir, sources_rows, labels_rows)
    write_stage_reports(stats_dir, by_label)
    write_json_atomic(stats_dir / "build.json", {
        "recipe": plan.recipe, "line_stages": list(plan.line_stages), "label_stages": list(plan.label_stages),
        "skipped_stages": list(plan.skipped_stages), "versions": _versions(), "sources": len(plan.sources),
    })
    _after_build_hooks(out, plan)
    if not plan.recipe.get("build", {}).get("keep_work", False):
        shutil.rmtree(out / "_work" / "map", ignore_errors=True)

    warnings = [f"{s['source']}: {s['damage']}; kept what was readable ({s['lines']} lines)"
                for s in sources_rows if s["damaged"]]
    return BuildSummary(
        out=out, sources=len(sources_rows), labels=len(labels_rows),
        lines=sum(s["lines"] for s in sources_rows), kept=sum(s["kept"] for s in sources_rows),
        rejected=sum(s["rejected"] for s in sources_rows),
        labels_with_text=sum(1 for r in labels_rows if r["kept"]), warnings=warnings,
        map_skipped=map_skipped, reduce_skipped=reduce_skipped,
        stages=plan.line_stages + plan.label_stages, skipped_stages=plan.skipped_stages,
    )


def _after_build_hooks(out: Path, plan: Plan) -> None:
    """Reports that read the finished corpus (e.g. the language-ID audit of sources)."""
    if "langid" in plan.line_stages:
        from glotforge.corpus.langid import write_lid_audit

        write_lid_audit(out)


def print_summary(summary: BuildSummary, stream=sys.stdout) -> None:
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
    print(f"  corpus:   {summary.out / 'corpus'}", file=stream)
    print(f"  rejected: {summary.out / 'rejected'}", file=stream)
    print(f"  stats:    {summary.out / 'stats'} (labels.json, sources.json)", file=stream)
