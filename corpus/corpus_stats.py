"""Per-label, per-source and per-reason statistics computed from a build's *written* Parquet files.

Why recompute instead of trusting `OUT/stats/labels.*`: the counters are what the stages *said* they
did; the Parquet files are what a user will actually load. Computing the figures from the files and
comparing them with the counters (`check_counters`) catches lost parts, half-written resumes and
accounting bugs. A mismatch is an error (`StatsMismatchError`), never a footnote.

Everything is a polars lazy scan over `OUT/corpus/*/part-*.parquet` and `OUT/rejected/*/part-*.parquet`
reading only the columns it needs, so 10M lines over 2000 labels take seconds (bench/bench_stats.py).
Definitions (shared with the build counters): `chars` = code points of kept text, `words` = runs of
non-whitespace in kept text (Python's `len(text.split())`).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.headtail import head_labels
from glotforge.corpus.stats_extras import lid_audit_frame, load_extras

__all__ = [
    "CorpusStats",
    "StatsMismatchError",
    "check_counters",
    "compute_stats",
    "label_dirs",
    "load_counters",
    "word_count_expr",
]

COUNTED = ("kept", "rejected", "chars", "words")
_LABEL_SCHEMA = {"label": pl.Utf8, "source": pl.Utf8, "kept": pl.UInt32, "chars": pl.Int64, "words": pl.Int64}
_REASON_SCHEMA = {"label": pl.Utf8, "source": pl.Utf8, "reason": pl.Utf8, "count": pl.UInt32}


def word_count_expr(text: pl.Expr | None = None) -> pl.Expr:
    """Words of a text = runs of non-whitespace (Python's `len(text.split())`); one definition for all counters."""
    return (text if text is not None else pl.col("text")).str.count_matches(r"\S+")


class StatsMismatchError(RuntimeError):
    """The Parquet files disagree with the build's counters (OUT/stats/labels.*, sources.*)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:8]) + (f"; ... ({len(problems) - 8} more)" if len(problems) > 8 else "")
        super().__init__(f"{len(problems)} mismatch(es) between Parquet files and stats counters: {shown}")


@dataclass
class CorpusStats:
    """Computed figures. `labels`/`sources` have one row each; `reasons` is long (label, source, reason)."""

    out: Path
    labels: pl.DataFrame
    sources: pl.DataFrame
    reasons: pl.DataFrame
    extras: dict[str, Any] = field(default_factory=dict)
    checked: bool = False

    def reasons_by_stage(self) -> pl.DataFrame:
        """Rejections per stage and rule (the part before / after ':' of `stage:rule`)."""
        return (
            self.reasons.group_by("reason")
            .agg(pl.col("count").sum().cast(pl.Int64), pl.col("label").n_unique().alias("labels"))
            .with_columns(
                pl.col("reason").str.split_exact(":", 1).struct.field("field_0").alias("stage"),
                pl.col("reason").str.split_exact(":", 1).struct.field("field_1").fill_null("").alias("rule"),
            )
            .select("stage", "rule", "reason", "count", "labels")
            .sort(["stage", "count", "rule"], descending=[False, True, False])
        )


def label_dirs(out: Path, kind: str = "corpus", labels: Sequence[str] = (), scripts: Sequence[str] = ()) -> list[str]:
    """Label folders under OUT/<kind>/, filtered by label glob patterns and script codes (pushdown)."""
    base = Path(out) / kind
    if not base.is_dir():
        return []
    names = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if labels:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, pat) for pat in labels)]
    if scripts:
        wanted = {s.lower() for s in scripts}
        names = [n for n in names if n.rpartition("_")[2].lower() in wanted]
    return names


def _parts(out: Path, kind: str, names: Iterable[str]) -> list[str]:
    files: list[str] = []
    for name in names:
        files.extend(sorted(str(p) for p in (Path(out) / kind / name).glob("part-*.parquet")))
    return files


def _kept_by_source(files: list[str]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema=_LABEL_SCHEMA)
    text = pl.col("text")
    return (
        pl.scan_parquet(files)
        .select("label", "source", "text")
        .group_by("label", "source")
        .agg(
            pl.len().alias("kept"),
            text.str.len_chars().sum().cast(pl.Int64).alias("chars"),
            word_count_expr(text).sum().cast(pl.Int64).alias("words"),
        )
        .collect()
        .cast(_LABEL_SCHEMA)
    )


def _rejected_by_reason(files: list[str]) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema=_REASON_SCHEMA)
    return (
        pl.scan_parquet(files)
        .select("label", "source", "reason")
        .group_by("label", "source", "reason")
        .agg(pl.len().alias("count"))
        .collect()
        .cast(_REASON_SCHEMA)
        .sort("label", "source", "reason")
    )


def _figures(job: tuple[str, tuple[str, ...], tuple[str, ...]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows/chars/words per label and source, rejections per label, source and reason) of some labels.

    A pure function of its label folders, so an executor can spread the labels over workers: each
    worker scans its own files and only these aggregates (one row per label and source) come back.
    """
    out, kept_labels, rejected_labels = job
    return (_kept_by_source(_parts(Path(out), "corpus", kept_labels)),
            _rejected_by_reason(_parts(Path(out), "rejected", rejected_labels)))


def _jobs(out: Path, kept_dirs: list[str], rej_dirs: list[str], groups: int) -> list[tuple]:
    """Labels in runs of about equal bytes on disk, in label order."""
    size = {}
    for kind, names in (("corpus", kept_dirs), ("rejected", rej_dirs)):
        for name in names:
            size[name] = size.get(name, 0) + sum(p.stat().st_size for p in (out / kind / name).glob("part-*.parquet"))
    target = max(1, sum(size.values()) // max(groups, 1))
    kept, rejected = set(kept_dirs), set(rej_dirs)
    jobs, run, acc = [], [], 0
    for name in sorted(size):
        run.append(name)
        acc += size[name]
        if acc >= target:
            jobs.append(run)
            run, acc = [], 0
    if run:
        jobs.append(run)
    return [(str(out), tuple(n for n in names if n in kept), tuple(n for n in names if n in rejected))
            for names in jobs]


def _reason_json(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Collapse long (keys..., reason, count) rows into one JSON object string per key, sorted by reason."""
    if df.is_empty():
        return pl.DataFrame(schema={**{k: pl.Utf8 for k in keys}, "rejected": pl.Int64, "rejected_by_reason": pl.Utf8})
    grouped = df.sort("reason").group_by(keys, maintain_order=True).agg(
        pl.col("count").sum().cast(pl.Int64).alias("rejected"), "reason", "count"
    )
    js = [json.dumps(dict(zip(r, c, strict=True)), sort_keys=True) for r, c in zip(grouped["reason"], grouped["count"], strict=True)]
    return grouped.select(*keys, "rejected").with_columns(pl.Series("rejected_by_reason", js, dtype=pl.Utf8))


def _finish(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return df.with_columns(
        pl.col("kept", "chars", "words", "rejected").fill_null(0).cast(pl.Int64),
        pl.col("rejected_by_reason").fill_null("{}"),
    ).with_columns(
        (pl.col("kept") + pl.col("rejected")).alias("units"),
        pl.when(pl.col("kept") + pl.col("rejected") > 0)
        .then(pl.col("kept") / (pl.col("kept") + pl.col("rejected")))
        .otherwise(None)
        .alias("share_kept"),
    )


def compute_stats(
    out: str | Path,
    labels: Sequence[str] = (),
    scripts: Sequence[str] = (),
    check: bool | None = True,
    executor: Any = None,
) -> CorpusStats:
    """Compute per-label/per-source figures from OUT's Parquet files and (by default) check the counters.

    `labels` are glob patterns (`eng_*`) and `scripts` ISO 15924 codes; both restrict which label
    folders are read at all. With `check`, raises `StatsMismatchError` on any disagreement and
    `FileNotFoundError` when OUT has no counters to check against; `check=None` checks only when
    counters exist (for outputs that never had them, e.g. a hand-made folder). With an `executor`
    (`glot stats --engine ray`), label folders are scanned by its workers, a few label groups per worker.
    """
    out = Path(out)
    if not (out / "corpus").is_dir() and not (out / "rejected").is_dir():
        raise FileNotFoundError(f"{out} has no corpus/ or rejected/ folder: not a glot build output")
    kept_dirs = label_dirs(out, "corpus", labels, scripts)
    rej_dirs = label_dirs(out, "rejected", labels, scripts)
    if executor is None:
        kept, reasons = _figures((str(out), tuple(kept_dirs), tuple(rej_dirs)))
    else:
        parts = executor.map(_figures, _jobs(out, kept_dirs, rej_dirs, 4 * executor.workers), desc="stats")
        kept = pl.concat([pl.DataFrame(schema=_LABEL_SCHEMA), *(k for k, _ in parts)])
        reasons = pl.concat([pl.DataFrame(schema=_REASON_SCHEMA), *(r for _, r in parts)]).sort(
            "label", "source", "reason")

    per_source = kept.join(_reason_json(reasons, ["label", "source"]), on=["label", "source"], how="full", coalesce=True)
    per_source = _finish(per_source, ["label", "source"]).sort("source", "label")
    label_reasons = reasons.group_by("label", "reason").agg(pl.col("count").sum())
    per_label = (
        kept.group_by("label")
        .agg(pl.col("kept", "chars", "words").sum(), pl.col("source").n_unique().alias("sources"))
        .join(_reason_json(label_reasons, ["label"]), on="label", how="full", coalesce=True)
    )
    # sources of a label = every source that produced rows for it, kept or rejected
    src_count = per_source.group_by("label").agg(pl.col("source").n_unique().alias("sources"))
    per_label = _finish(per_label.drop("sources").join(src_count, on="label", how="left"), ["label"])
    head = sorted(head_labels())
    per_label = per_label.with_columns(
        pl.col("label").str.split("_").list.last().alias("script"),
        pl.when(pl.col("label").is_in(head)).then(pl.lit("head")).otherwise(pl.lit("tail")).alias("tier"),
    ).select(
        "label", "script", "tier", "sources", "kept", "rejected", "units", "share_kept", "chars", "words",
        "rejected_by_reason",
    ).sort("label")

    extras = load_extras(out)
    counters = load_counters(out)
    stats = CorpusStats(out, per_label, per_source, reasons, extras)
    if counters is not None:
        stats.labels, stats.sources = _merge_counters(stats, counters)
    audit = lid_audit_frame(extras.get("lid_audit"))
    if audit is not None:
        stats.sources = stats.sources.join(audit, on="source", how="left")
    if check is None:
        check = counters is not None
    if check:
        if counters is None:
            raise FileNotFoundError(f"{out}/stats has no labels.parquet or labels.json to check against (use --no-check)")
        check_counters(stats, counters, labels=per_label["label"].to_list(), restricted=bool(labels or scripts))
        stats.checked = True
    return stats


def _records(obj: Any, key: str) -> list[dict[str, Any]]:
    """Accept a list of records, {key: record}, or {"labels"/"sources": [...]} (JSON written by other tools)."""
    if isinstance(obj, dict):
        for wrap in ("labels", "sources", "items", "rows"):
            if isinstance(obj.get(wrap), list):
                return obj[wrap]
        return [{key: k, **v} for k, v in obj.items() if isinstance(v, dict)]
    return list(obj or [])


def _read_counter(stats_dir: Path, name: str, key: str) -> pl.DataFrame | None:
    pq, js = stats_dir / f"{name}.parquet", stats_dir / f"{name}.json"
    if pq.exists():
        df = pl.read_parquet(pq)
    elif js.exists():
        recs = _records(json.loads(js.read_text(encoding="utf-8")), key)
        for r in recs:
            if isinstance(r.get("rejected_by_reason"), dict):
                r["rejected_by_reason"] = json.dumps(r["rejected_by_reason"], sort_keys=True)
        df = pl.DataFrame(recs, infer_schema_length=None) if recs else pl.DataFrame(schema={key: pl.Utf8})
    else:
        return None
    if "rejected_by_reason" in df.columns:
        df = df.with_columns(
            pl.col("rejected_by_reason").map_elements(_norm_reason_json, return_dtype=pl.Utf8)
        )
    return df


def _norm_reason_json(value: str | None) -> str:
    return json.dumps({k: int(v) for k, v in json.loads(value or "{}").items() if int(v)}, sort_keys=True)


def load_counters(out: str | Path) -> dict[str, pl.DataFrame] | None:
    """The build's counters: {'labels': df, 'sources': df or absent}; None when OUT/stats has no labels file."""
    stats_dir = Path(out) / "stats"
    labels = _read_counter(stats_dir, "labels", "label")
    if labels is None:
        return None
    found = {"labels": labels}
    sources = _read_counter(stats_dir, "sources", "source")
    if sources is not None:
        found["sources"] = sources
    return found


def _merge_counters(stats: CorpusStats, counters: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add counter-only columns (lines; format, licence, damage ...) to the computed tables."""
    lab = counters["labels"]
    extra = [c for c in ("lines",) if c in lab.columns]
    labels = stats.labels.join(lab.select("label", *extra), on="label", how="left") if extra else stats.labels
    sources = stats.sources
    if "sources" in counters:
        src = counters["sources"]
        keep = [c for c in ("format", "priority", "licence", "url", "lines", "damaged", "damage") if c in src.columns]
        if keep:
            sources = sources.join(src.select("source", *keep).unique("source"), on="source", how="left")
    return labels, sources


def _diff(computed: pl.DataFrame, counted: pl.DataFrame, key: str, what: str, cols: Sequence[str]) -> list[str]:
    cols = [c for c in cols if c in counted.columns]
    both = computed.select(key, *cols).join(
        counted.select(key, *cols), on=key, how="full", suffix="_counter", coalesce=True
    )
    problems: list[str] = []
    for row in both.iter_rows(named=True):
        for c in cols:
            mine, theirs = row[c], row[f"{c}_counter"]
            if c != "rejected_by_reason":
                mine, theirs = int(mine or 0), int(theirs or 0)
            else:
                mine, theirs = mine or "{}", theirs or "{}"
            if mine != theirs:
                problems.append(f"{what} {row[key]}: {c} files={mine} counter={theirs}")
    return problems


def check_counters(
    stats: CorpusStats, counters: dict[str, pl.DataFrame], labels: Sequence[str] = (), restricted: bool = False
) -> None:
    """Compare computed figures with the counters; raise StatsMismatchError listing every difference.

    With `restricted` (label/script filters), only the selected labels are compared; otherwise a label
    present in the counters but without any Parquet file is itself a mismatch.
    """
    lab = counters["labels"]
    if restricted:
        lab = lab.filter(pl.col("label").is_in(list(labels)))
    lab = lab.filter((pl.col("kept").fill_null(0) > 0) | (pl.col("rejected").fill_null(0) > 0)) if "kept" in lab.columns else lab
    problems = _diff(stats.labels, lab, "label", "label", (*COUNTED, "rejected_by_reason"))
    if "sources" in counters:
        src = counters["sources"]
        if restricted and "label" in src.columns:
            src = src.filter(pl.col("label").is_in(list(labels)))
        if "kept" in src.columns:
            src = src.filter((pl.col("kept").fill_null(0) > 0) | (pl.col("rejected").fill_null(0) > 0))
        problems += _diff(stats.sources, src, "source", "source", ("kept", "rejected", "rejected_by_reason"))
    if problems:
        raise StatsMismatchError(problems)
