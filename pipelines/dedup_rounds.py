"""Large labels: `dedup` as rounds of tasks on the executor instead of one task per label.

A label with at least `dedup.shard_min_lines` kept lines is cut into slices of whole map shards
(about `dedup.slice_lines` rows each) and deduplicated by the rounds of `corpus/dedup/sharded.py`,
which write partitioned files under `OUT/_work/dedup/<label>/` and a marker per task, like every
other task: any engine runs them, an interrupted build resumes at the first unfinished task, and the
decisions are the single-task stage's, so the corpus is byte-identical whichever path a label takes.
The label's reduce task then only writes its parts from the decisions, slice by slice.

`dedup` must be the plan's last label stage. Label stages before it (`quality` with `thresholds =
"auto"`) run first in one task over the whole label (they are memory-bounded: they keep a sample);
their decisions are written beside the rounds' files, and the slices skip the rows they removed, as the
single task does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from glotforge.corpus.dedup import sharded
from glotforge.corpus.dedup.config import DedupConfig
from glotforge.corpus.dedup.minhash import lsh_params
from glotforge.corpus.schema import DECISION_SCHEMA
from glotforge.corpus.storage import location

from .plan import Plan
from .runner import Executor
from .tasks import LabelRows, ReduceTask, apply_label_stages, run_pending, write_marker


@dataclass(frozen=True)
class LabelJob:
    """One label deduplicated in rounds: its slices and where their files go."""

    plan: Plan  # the label's sources only
    label: str
    kept_counts: tuple[int, ...]
    shard_bounds: tuple[int, ...]  # first map shard of every slice, then the number of shards
    layout: sharded.Layout
    earlier: tuple[str, ...] = ()  # label stages that run before dedup, over the whole label

    @property
    def config(self) -> DedupConfig:
        return DedupConfig.for_label(self.plan.recipe.get("dedup", {}), self.label)

    def rows(self, lo: int = 0, hi: int | None = None) -> LabelRows:
        """The label's kept rows in map shards lo..hi (rows numbered from 0 at shard lo)."""
        batch_size = int(self.plan.recipe.get("build", {}).get("batch_size", 50_000))
        return LabelRows(self.plan.out_path, self.plan.sources_of(self.label)[lo:hi], self.kept_counts[lo:hi],
                         batch_size)


@dataclass(frozen=True)
class RoundTask:
    job: LabelJob
    step: str
    k: int  # slice or partition
    cc_step: int = 0

    @property
    def task_id(self) -> str:
        cc = f"{self.cc_step:03d}-" if self.step.startswith("star") or self.step == "roots" else ""
        return f"dedup-{self.job.label}-{self.step}-{cc}{self.k:05d}"

    def __str__(self) -> str:
        return f"{self.job.label} dedup {self.step} {self.k}"


def plan_jobs(plan: Plan, reduce_tasks: list[ReduceTask]) -> dict[str, LabelJob]:
    """Labels that are large enough for the rounds (and whose reduce is not done yet)."""
    if not plan.label_stages or plan.label_stages[-1] != "dedup":
        return {}
    jobs = {}
    for task in reduce_tasks:
        cfg = DedupConfig.for_label(plan.recipe.get("dedup", {}), task.label)
        total = int(sum(task.kept_counts))
        if not (cfg.exact or cfg.near) or cfg.shard_min_lines <= 0 or total < cfg.shard_min_lines:
            continue
        bounds, starts, acc = [0], [0], 0
        for i, count in enumerate(task.kept_counts):
            acc += count
            if acc >= cfg.slice_lines and i + 1 < len(task.kept_counts):
                bounds.append(i + 1)
                starts.append(starts[-1] + acc)
                acc = 0
        bounds.append(len(task.kept_counts))
        starts.append(total)
        work = location(plan.out_path / "_work" / "dedup" / task.label)
        jobs[task.label] = LabelJob(task.plan, task.label, task.kept_counts, tuple(bounds),
                                    sharded.Layout(work, tuple(starts)), plan.label_stages[:-1])
    return jobs


def _slice_batches(task: RoundTask) -> Callable[[list[str]], Iterator[pl.DataFrame]]:
    job, k = task.job, task.k
    rows = job.rows(job.shard_bounds[k], job.shard_bounds[k + 1])
    offset = job.layout.starts[k]
    if job.earlier:  # rows removed by the label stages before dedup are not seen by it
        earlier = sharded.read_earlier(job.layout, offset, job.layout.starts[k + 1])
        if earlier is not None and earlier.height:
            rows.rejected[earlier.get_column("row").to_numpy().astype(np.int64) - offset] = True

    def batches(columns: list[str]) -> Iterator[pl.DataFrame]:
        for df in rows(columns):
            yield df.with_columns(pl.col("row") + offset)

    return batches


def run_round(task: RoundTask) -> dict:
    job, k, step = task.job, task.k, task.step
    cfg, layout = job.config, job.layout
    if step == "earlier":
        result = _earlier_stages(job)
    elif step == "keys":
        result = sharded.exact_keys(layout, k, _slice_batches(task), cfg)
    elif step == "groups":
        result = sharded.exact_groups(layout, k)
    elif step == "sigs":
        bands, rows_per_band = lsh_params(cfg.threshold, cfg.num_perm, cfg.recall_weight)
        result = sharded.slice_signatures(layout, k, _slice_batches(task), cfg, cfg.word_mode(job.label),
                                          bands, rows_per_band)
    elif step == "cands":
        result = sharded.candidate_pairs(layout, k, cfg)
    elif step == "pair_a":
        result = sharded.pair_first(layout, k, cfg)
    elif step == "verify":
        result = sharded.verify(layout, k, cfg)
    elif step in ("star_large", "star_small"):
        result = sharded.star_round(layout, task.cc_step, k, step == "star_large")
    elif step == "roots":
        result = sharded.attach_roots(layout, task.cc_step, k)
    elif step == "resolve":
        result = sharded.resolve(layout, k)
    elif step == "assign":
        result = sharded.assign(layout, k)
    elif step == "clusters":
        result = sharded.clusters(layout, k, _slice_batches(task), cfg.report_clusters)
    else:
        raise ValueError(f"unknown dedup round {step!r}")
    return write_marker(job.plan.out_path, task.task_id, job.plan.fingerprint, result)


def _earlier_stages(job: LabelJob) -> dict:
    """The label stages before dedup, over the whole label, exactly as the label's reduce task runs them."""
    decisions, reports = apply_label_stages(job.plan, job.label, job.earlier, job.rows())
    frame = pl.concat(decisions) if decisions else pl.DataFrame(schema=DECISION_SCHEMA)
    sharded.write_earlier(job.layout, frame)
    return {"reports": reports, "removed": frame.height}


class _Rounds:
    """Runs one round for several labels at once (every slice of every label is one task)."""

    def __init__(self, executor: Executor, plan: Plan) -> None:
        self.executor = executor
        self.plan = plan

    def __call__(self, step: str, jobs: list[LabelJob], cc_step: int = 0, per_slice: bool = True
                 ) -> dict[str, list[dict]]:
        tasks = [RoundTask(job, step, k, cc_step) for job in jobs for k in range(job.layout.slices if per_slice else 1)]
        if not tasks:
            return {}
        done, _ = run_pending(self.executor, run_round, tasks, self.plan, f"dedup {step}")
        out: dict[str, list[dict]] = {job.label: [] for job in jobs}
        for task in tasks:
            out[task.job.label].append(done[task.task_id])
        return out


def _total(results: dict[str, list[dict]], label: str, key: str) -> int:
    return sum(int(r[key]) for r in results.get(label, []))


def run_jobs(executor: Executor, plan: Plan, jobs: dict[str, LabelJob]) -> dict[str, dict]:
    """Run every round of every job; returns each label's stage reports ({stage: report}, the `dedup` one
    as `DedupStage.decide` gives it)."""
    rounds = _Rounds(executor, plan)
    every = [jobs[label] for label in sorted(jobs)]
    earlier = rounds("earlier", [j for j in every if j.earlier], per_slice=False)
    stage_reports, reports = {}, {}
    for job in every:
        cfg = job.config
        first = earlier.get(job.label, [{"reports": {}, "removed": 0}])[0]
        stage_reports[job.label] = {**first["reports"], "dedup": {}}
        reports[job.label] = {"lines": job.layout.rows - int(first["removed"]),
                              "shingles": cfg.shingle_name(job.label), "threshold": cfg.threshold}
    exact = [j for j in every if j.config.exact]
    rounds("keys", exact)
    rounds("groups", exact)

    near = [j for j in every if j.config.near]
    sigs = rounds("sigs", near)
    for job in near:
        cfg = job.config
        bands, rows_per_band = lsh_params(cfg.threshold, cfg.num_perm, cfg.recall_weight)
        reports[job.label].update(num_perm=cfg.num_perm, bands=bands, rows=rows_per_band,
                                  near_eligible=_total(sigs, job.label, "eligible"))
    near = [j for j in near if reports[j.label]["near_eligible"] >= 2]
    rounds("cands", near)
    pairs = rounds("pair_a", near)
    for job in near:
        reports[job.label]["candidate_pairs"] = _total(pairs, job.label, "candidates")
    near = [j for j in near if reports[j.label]["candidate_pairs"] > 0]
    verified = rounds("verify", near)
    for job in near:
        reports[job.label]["verified_pairs"] = _total(verified, job.label, "verified")
    near = [j for j in near if reports[j.label]["verified_pairs"] > 0]
    _components(rounds, near)
    rounds("resolve", near)

    rounds("assign", every)
    found = rounds("clusters", every)
    for job in every:
        report = reports[job.label]
        report["exact"] = _total(found, job.label, "exact")
        report["near"] = _total(found, job.label, "near")
        report["kept"] = report["lines"] - report["exact"] - report["near"]
        report["clusters"] = sharded.largest_clusters([r["top"] for r in found[job.label]],
                                                      job.config.report_clusters)
        stage_reports[job.label]["dedup"] = report
    return stage_reports


def _components(rounds: _Rounds, jobs: list[LabelJob]) -> None:
    """Large-star / small-star rounds until no round changes an edge, then edges -> component roots."""
    step, pending, final = 0, list(jobs), {}
    while pending:
        if step > 2 * sharded.MAX_STAR_ROUNDS:
            raise RuntimeError(f"dedup: components of {pending[0].label} did not converge")
        large = rounds("star_large", pending, step)
        small = rounds("star_small", pending, step + 1)
        still = []
        for job in pending:
            if _total(large, job.label, "changed") or _total(small, job.label, "changed"):
                still.append(job)
            else:
                final[job.label] = step + 2
        pending, step = still, step + 2
    for step_of in sorted(set(final.values())):
        rounds("roots", [j for j in jobs if final[j.label] == step_of], step_of)
