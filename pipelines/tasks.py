"""The two kinds of build task, each a pure function of (its item, the plan) that writes its own files.

* map: one source shard -> ingest + line stages -> `_work/map/<shard>/kept-*.parquet` and
  `rejected-*.parquet`, counters in its marker.
* reduce: one label -> label stages (dedup, auto thresholds) over the label's kept rows in canonical
  order -> `corpus/<label>/part-*.parquet` and `rejected/<label>/part-*.parquet`, counters in its marker.

A marker (`_work/done/<task>.json`) is written last, atomically; its presence means the task's files
are complete.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from glotforge.corpus.corpus_stats import word_count_expr
from glotforge.corpus.dedup.sharded import Layout, SlicedDecisions, read_earlier, with_earlier
from glotforge.corpus.hygiene import apply_hygiene
from glotforge.corpus.readers import ReadResult, read_source
from glotforge.corpus.schema import corpus_schema, rejected_schema
from glotforge.corpus.sources import SourceSpec
from glotforge.corpus.stages import build_stage
from glotforge.corpus.storage import as_path, makedirs, remove_tree, replace
from glotforge.corpus.writers import PartWriter, iter_parquet, write_json_atomic

from .plan import Plan, annotation_schema, shard_id
from .runner import Executor

STAGE_COLUMNS = ("reason", "score", "detail", "ref_source", "ref_line")
CORPUS_FORMAT = "corpus"  # a shard that is one label of an already built corpus


def marker_path(out: Path, task_id: str) -> Path:
    return out / "_work" / "done" / f"{task_id}.json"


def read_marker(out: Path, task_id: str, fingerprint: str) -> dict | None:
    path = marker_path(out, task_id)
    if not path.exists():
        return None
    data = json.loads(path.read_text("utf-8"))
    return data if data.get("fingerprint") == fingerprint else None


def write_marker(out: Path, task_id: str, fingerprint: str, result: dict) -> dict:
    result = {"fingerprint": fingerprint, **result}
    write_json_atomic(marker_path(out, task_id), result)
    return result


def run_pending(executor: Executor, fn: Callable[[Any], dict], tasks: list, plan: Plan,
                desc: str) -> tuple[dict[str, dict], int]:
    """Run the tasks that have no valid marker yet; returns every task's result and how many were done."""
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


@dataclass(frozen=True)
class MapTask:
    plan: Plan
    source: SourceSpec

    @property
    def task_id(self) -> str:
        return f"map-{shard_id(self.source.shard_key)}"

    def __str__(self) -> str:
        return self.source.rel


def _ingest(raw: pl.DataFrame, spec: SourceSpec, ingest_cfg: dict[str, Any]) -> pl.DataFrame:
    df = apply_hygiene(raw, ingest_cfg)
    tags = [pl.lit(spec.label).alias("label"), pl.lit(spec.rel).alias("source")]
    if spec.split:
        from glotforge.corpus.sentences import explode_sentences  # ICU: only for sources that are split

        return explode_sentences(df, spec.label.split("_")[0]).with_columns(tags)
    return df.with_columns(pl.lit(0, dtype=pl.Int32).alias("sentence"), *tags)


class SourceCounts:
    """Per-source counters of one task (a shard of a built corpus holds rows of many sources)."""

    def __init__(self, single_source: str | None = None) -> None:
        self.rows: dict[str, dict] = {}
        self.single = single_source  # every row is known to come from this source: no group-by needed

    def _row(self, source: str) -> dict:
        return self.rows.setdefault(source, {"lines": 0, "units": 0, "kept": 0, "rejected_by_reason": Counter()})

    def add(self, source: str, **counts: int) -> None:
        row = self._row(source)
        for key, n in counts.items():
            row[key] += n

    def add_frame(self, df: pl.DataFrame, key: str) -> None:
        if self.single is not None:
            self._row(self.single)[key] += df.height
        elif df.height:
            for source, n in df.group_by("source").len().iter_rows():
                self._row(source)[key] += n

    def add_rejected(self, df: pl.DataFrame) -> None:
        if df.height:
            for source, reason, n in df.group_by("source", "reason").len().iter_rows():
                self._row(source)["rejected_by_reason"][reason] += n

    def to_json(self) -> dict:
        return {src: {**row, "rejected_by_reason": dict(sorted(row["rejected_by_reason"].items()))}
                for src, row in sorted(self.rows.items())}


def _shard_frames(plan: Plan, spec: SourceSpec, counts: SourceCounts, result: ReadResult,
                  batch_size: int) -> Iterator[pl.DataFrame]:
    """Units of a shard with a `reason` column (ingest rejections already marked)."""
    if spec.format == CORPUS_FORMAT:  # a label (or one part of it) of an already built corpus (`glot run`)
        where = as_path(spec.path)
        files = [where] if spec.path.endswith(".parquet") else sorted(where.glob("*.parquet"))
        for df in _iter_files(files, None, batch_size):
            yield df.with_columns(pl.lit(None, dtype=pl.Utf8).alias("reason"), pl.lit(None, dtype=pl.Utf8).alias("detail"))
        return
    counts.add(spec.rel)  # a source with no lines still gets a row
    for raw in read_source(as_path(spec.path), spec.read_options(), batch_size, result):
        df = _ingest(raw, spec, plan.recipe.get("ingest", {}))
        counts.add(spec.rel, lines=raw.height, units=df.height)
        yield df


def _prior_rejected(spec: SourceSpec, batch_size: int) -> Iterator[pl.DataFrame]:
    """Rows an earlier build already rejected: carried over so the accounting holds through a chain."""
    if spec.prior_rejected:
        yield from _iter_files(sorted(as_path(spec.prior_rejected).glob("*.parquet")), None, batch_size)


def run_map(task: MapTask) -> dict:
    plan, spec = task.plan, task.source
    out = plan.out_path
    build_cfg = plan.recipe.get("build", {})
    batch_size = int(build_cfg.get("batch_size", 50_000))
    ann = annotation_schema(plan)
    folder = out / "_work" / "map" / shard_id(spec.shard_key)
    remove_tree(folder)
    stages = [build_stage(name, plan.recipe.get(name, {})) for name in plan.line_stages]
    # Intermediates are written exactly like final parts, so a label without label stages is finished
    # by renaming them (no second pass over the data).
    part_args = _part_args(build_cfg)
    kept_w = PartWriter(folder, corpus_schema(ann), *part_args, prefix="kept")
    rej_w = PartWriter(folder, rejected_schema(ann), *part_args, prefix="rejected")
    counts = SourceCounts(None if spec.format == CORPUS_FORMAT else spec.rel)
    chars = words = 0
    result = ReadResult()
    try:
        for prior in _prior_rejected(spec, batch_size):
            counts.add_rejected(prior)
            rej_w.write(prior)
        for df in _shard_frames(plan, spec, counts, result, batch_size):
            rejected = [df.filter(pl.col("reason").is_not_null())]
            alive = df.filter(pl.col("reason").is_null()).drop("reason", "detail")
            for stage in stages:
                if alive.height == 0:
                    break
                judged = stage.apply(alive)
                rejected.append(judged.filter(pl.col("reason").is_not_null()))
                alive = judged.filter(pl.col("reason").is_null()).drop([c for c in STAGE_COLUMNS if c in judged.columns])
            rejected = [r for r in rejected if r.height]
            if rejected:
                rej = pl.concat(rejected, how="diagonal_relaxed").sort("source", "line", "sentence", maintain_order=True)
                counts.add_rejected(rej)
                rej_w.write(rej)
            counts.add_frame(alive, "kept")
            kept_w.write(alive)
            chars, words = _add_text_size((chars, words), alive, _collapsed(plan))
        kept_w.close()
        rej_w.close()
    except BaseException:
        kept_w.abort()
        rej_w.abort()
        raise
    return write_marker(out, task.task_id, plan.fingerprint, {
        "shard": spec.rel, "label": spec.label, "kept": kept_w.rows, "rejected": rej_w.rows,
        "per_source": counts.to_json(), "damage": result.damage, "chars": chars, "words": words,
    })


def _part_args(build_cfg: dict) -> tuple[int, int, str]:
    return (int(build_cfg.get("rows_per_part", 1_000_000)), int(build_cfg.get("row_group_size", 100_000)),
            build_cfg.get("compression", "zstd"))


def _add_text_size(sizes: tuple[int, int], df: pl.DataFrame, collapsed: bool) -> tuple[int, int]:
    """(chars, words) so far plus this frame's; words are runs of non-whitespace, the one definition
    `glot stats` checks the counters against. Text that ingest whitespace-collapsed and trimmed has
    exactly one space between words, so counting spaces gives the same number 4x faster."""
    if not df.height:
        return sizes
    text = pl.col("text")
    words = (text.str.count_matches(" ", literal=True) + 1) if collapsed else word_count_expr()
    chars, n = df.select(text.str.len_chars().sum().alias("c"), words.sum().alias("w")).row(0)
    return sizes[0] + int(chars), sizes[1] + int(n)


def _collapsed(plan: Plan) -> bool:
    """Whether this plan's own ingest collapsed whitespace (not known for rows of an earlier build)."""
    return plan.input_stats is None and bool(plan.recipe.get("ingest", {}).get("collapse_whitespace", True))


@dataclass(frozen=True)
class ReduceTask:
    plan: Plan
    label: str
    kept_counts: tuple[int, ...]  # kept rows per source, in canonical order
    kept_text: tuple[int, int] = (0, 0)  # (chars, words) of the kept rows, from the map markers
    sharded: tuple[Layout, dict] | None = None  # dedup already decided in rounds: (its files, its report)

    @property
    def task_id(self) -> str:
        return f"reduce-{self.label}"

    def __str__(self) -> str:
        return self.label


def _map_files(out: Path, spec: SourceSpec, kind: str) -> list[Path]:
    return sorted((out / "_work" / "map" / shard_id(spec.shard_key)).glob(f"{kind}-*.parquet"))


class LabelRows:
    """The kept rows of one label in canonical order, streamable any number of times, minus the rows
    that earlier label stages already rejected."""

    def __init__(self, out: Path, specs: list[SourceSpec], counts: tuple[int, ...], batch_size: int):
        self.files = [_map_files(out, s, "kept") for s in specs]
        self.counts = counts
        self.batch_size = batch_size
        self.total = int(sum(counts))
        self.rejected = np.zeros(self.total, dtype=bool)

    def __call__(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        start = 0
        for paths, n in zip(self.files, self.counts, strict=True):
            if n == 0:
                continue
            for df in _iter_files(paths, [c for c in columns if c != "row"], self.batch_size):
                rows = np.arange(start, start + df.height, dtype=np.uint64)
                keep = ~self.rejected[start:start + df.height]
                start += df.height
                df = df.with_columns(pl.Series("row", rows))
                yield df.filter(pl.Series(keep)) if not keep.all() else df


def _iter_files(paths: list[Path], columns: list[str] | None, batch_size: int) -> Iterator[pl.DataFrame]:
    for path in paths:
        yield from iter_parquet(path, columns, batch_size)


def run_reduce(task: ReduceTask) -> dict:
    plan, label = task.plan, task.label
    out = plan.out_path
    build_cfg = plan.recipe.get("build", {})
    ann = annotation_schema(plan)
    specs = plan.sources_of(label)
    rows = LabelRows(out, specs, task.kept_counts, int(build_cfg.get("batch_size", 50_000)))
    if task.sharded is not None:  # every label stage was decided by pipelines/dedup_rounds.py
        layout, reports = task.sharded
        reports = dict(reports)
        _describe_line_stages(plan, label, reports)
        between = with_earlier(read_earlier(layout), SlicedDecisions(layout).between)
        return _write_label(task, specs, rows, between, reports, ann, build_cfg)
    decisions, reports = apply_label_stages(plan, label, plan.label_stages, rows)
    _describe_line_stages(plan, label, reports)
    if not plan.label_stages:
        return _move_label(task, specs, reports)
    decided = pl.concat(decisions).sort("row") if decisions else None
    dec_rows = decided.get_column("row").to_numpy() if decided is not None else np.zeros(0, np.uint64)

    def between(start: int, stop: int) -> tuple[np.ndarray, pl.DataFrame | None]:
        mask = rows.rejected[start:stop]
        if decided is None or not mask.any():
            return mask, None
        lo, hi = np.searchsorted(dec_rows, [start, stop])
        return mask, decided.slice(int(lo), int(hi - lo))

    return _write_label(task, specs, rows, between, reports, ann, build_cfg)


def apply_label_stages(plan: Plan, label: str, names: tuple[str, ...],
                       rows: LabelRows) -> tuple[list[pl.DataFrame], dict[str, Any]]:
    """Run label stages in order over the label's rows; each sees only what the previous ones kept."""
    decisions, reports = [], {}
    for name in names:
        stage = build_stage(name, plan.recipe.get(name, {}))
        dec, report = stage.decide(label, rows)
        if dec.height:
            rows.rejected[dec.get_column("row").to_numpy().astype(np.int64)] = True
            decisions.append(dec)
        reports[name] = report
    return decisions, reports


def _describe_line_stages(plan: Plan, label: str, reports: dict) -> None:
    for name in plan.line_stages:
        describe = getattr(build_stage(name, plan.recipe.get(name, {})), "describe", None)
        if describe is not None:
            reports.setdefault(name, describe(label))


def _move_label(task: ReduceTask, specs: list[SourceSpec], reports: dict) -> dict:
    """No label stages: the map outputs already are final parts; rename them in canonical order."""
    out, label = task.plan.out_path, task.label
    for kind, folder in (("kept", out / "corpus" / label), ("rejected", out / "rejected" / label)):
        remove_tree(folder)
        files = [f for spec in specs for f in _map_files(out, spec, kind)]
        if files:
            makedirs(folder)
        for k, path in enumerate(files):
            replace(path, folder / f"part-{k:05d}.parquet")
    return write_marker(out, task.task_id, task.plan.fingerprint, {
        "label": label, "kept": int(sum(task.kept_counts)), "chars": task.kept_text[0], "words": task.kept_text[1],
        "reduce_rejected": {}, "reports": reports,
    })


Decisions = Callable[[int, int], "tuple[np.ndarray, pl.DataFrame | None]"]


def _write_label(task: ReduceTask, specs: list[SourceSpec], rows: LabelRows, between: Decisions,
                 reports: dict, ann: dict, build_cfg: dict) -> dict:
    """Write the label's parts; `between(start, stop)` gives the removed-row mask of rows [start, stop)
    and their decision rows (in memory for the single-task stages, slice files for dedup rounds)."""
    out, label = task.plan.out_path, task.label
    for kind in ("corpus", "rejected"):
        remove_tree(out / kind / label)
    part_args = _part_args(build_cfg)
    corpus_w = PartWriter(out / "corpus" / label, corpus_schema(ann), *part_args)
    rej_w = PartWriter(out / "rejected" / label, rejected_schema(ann), *part_args)
    per_source: dict[str, Counter] = {}
    chars = words = 0
    start = 0
    try:
        shards = list(zip(specs, task.kept_counts, rows.files, strict=True))
        for k, (spec, n, kept_files) in enumerate(shards):
            if spec.chunk == 0:  # a source's earlier rejections come first, whatever its chunking
                for chunk in shards[k:]:
                    if chunk[0].rel != spec.rel:
                        break
                    for df in _iter_files(_map_files(out, chunk[0], "rejected"), None, rows.batch_size):
                        rej_w.write(df)
            if n == 0:
                continue
            for df in _iter_files(kept_files, None, rows.batch_size):
                mask, dec = between(start, start + df.height)
                if mask.any():
                    gone = pl.concat([df.filter(pl.Series(mask)), dec.drop("row")], how="horizontal")
                    rej_w.write(gone)
                    for source, reason, count in gone.group_by("source", "reason").len().iter_rows():
                        per_source.setdefault(source, Counter())[reason] += count
                    df = df.filter(pl.Series(~mask))
                start += mask.size
                corpus_w.write(df)
                chars, words = _add_text_size((chars, words), df, _collapsed(task.plan))
        corpus_w.close()
        rej_w.close()
    except BaseException:
        corpus_w.abort()
        rej_w.abort()
        raise
    return write_marker(out, task.task_id, task.plan.fingerprint, {
        "label": label, "kept": corpus_w.rows, "rejected_rows_written": rej_w.rows, "chars": chars,
        "words": words, "reduce_rejected": {k: dict(sorted(v.items())) for k, v in sorted(per_source.items())},
        "reports": reports,
    })
