"""Turn computed corpus statistics into what `glot stats` prints: a table, JSON or CSV.

Why separate from `glotforge.corpus.corpus_stats`: computing figures is a data job; choosing rows,
columns and a terminal layout is presentation, and the CLI stays a thin face over both.
"""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from glotforge.corpus.corpus_stats import CorpusStats
from glotforge.corpus.stats_extras import kind_of, summarise

VIEWS = ("label", "source", "reason")
LABEL_COLUMNS = ["label", "script", "tier", "sources", "kept", "rejected", "share_kept", "chars", "words",
                 "rejected_by_reason"]
SOURCE_COLUMNS = ["source", "label", "format", "licence", "kept", "rejected", "share_kept", "chars", "words",
                  "rejected_by_reason", "lid_elsewhere", "lid_top", "lid_flagged", "damaged"]
HEADERS = {"share_kept": "kept %", "rejected_by_reason": "rejections", "lid_elsewhere": "LID elsewhere",
           "lid_top": "LID top", "lid_flagged": "flagged"}
REASON_COLUMNS = ["stage", "rule", "reason", "count", "labels"]


def view_frame(stats: CorpusStats, by: str = "label", sort: str | None = None, min_sentences: int = 0,
               limit: int | None = None) -> pl.DataFrame:
    """Rows of one view (`label`, `source` or `reason`), filtered by kept sentences and sorted.

    `sort` is a column name; numbers sort descending and text ascending unless prefixed with `+`
    (ascending) or `-` (descending). Ties break on the view's key so the order is deterministic.
    """
    if by == "label":
        df, cols, key = stats.labels, LABEL_COLUMNS, "label"
    elif by == "source":
        df, cols, key = stats.sources, SOURCE_COLUMNS, "source"
    elif by == "reason":
        df, cols, key = stats.reasons_by_stage(), REASON_COLUMNS, "reason"
    else:
        raise ValueError(f"unknown view {by!r} (choose from {', '.join(VIEWS)})")
    df = df.select([c for c in cols if c in df.columns])
    if min_sentences and "kept" in df.columns:
        df = df.filter(pl.col("kept") >= min_sentences)
    sort = sort or ("kept" if "kept" in df.columns else "count")
    desc = None
    if sort[:1] in "+-":
        desc, sort = sort[0] == "-", sort[1:]
    if sort not in df.columns:
        raise ValueError(f"cannot sort by {sort!r}: columns are {', '.join(df.columns)}")
    if desc is None:
        desc = df.schema[sort].is_numeric()
    df = df.sort([sort, key], descending=[desc, False], nulls_last=True)
    return df.head(limit) if limit else df


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    recs = df.to_dicts()
    for r in recs:
        if isinstance(r.get("rejected_by_reason"), str):
            r["rejected_by_reason"] = json.loads(r["rejected_by_reason"])
    return recs


def to_json(stats: CorpusStats, df: pl.DataFrame, by: str) -> str:
    """JSON document: the rows plus totals, whether counters were checked, and the optional reports."""
    doc = {
        "out": str(stats.out),
        "view": by,
        "checked_against_counters": stats.checked,
        "totals": totals(stats),
        "rows": _records(df),
        "reports": {k: summarise(kind_of(k), v) for k, v in sorted(stats.extras.items()) if k != "build"},
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def to_csv(df: pl.DataFrame) -> str:
    buf = io.StringIO()
    df.write_csv(buf)
    return buf.getvalue()


def totals(stats: CorpusStats) -> dict[str, Any]:
    lab = stats.labels
    kept, rej = int(lab["kept"].sum()), int(lab["rejected"].sum())
    return {
        "labels": lab.height,
        "labels_with_text": int((lab["kept"] > 0).sum()),
        "scripts": lab["script"].n_unique(),
        "sources": stats.sources.height,
        "kept": kept,
        "rejected": rej,
        "share_kept": kept / (kept + rej) if kept + rej else None,
        "chars": int(lab["chars"].sum()),
        "words": int(lab["words"].sum()),
        "head_labels": int((lab["tier"] == "head").sum()),
    }


def _cell(name: str, v: Any) -> str:
    if v is None:
        return ""
    if name in ("share_kept", "lid_elsewhere") and isinstance(v, float):
        return f"{v:.1%}"
    if name == "rejected_by_reason":
        d = json.loads(v) if isinstance(v, str) else v
        return ", ".join(f"{k} {n:,}" for k, n in sorted(d.items(), key=lambda kv: -kv[1]))
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_table(stats: CorpusStats, df: pl.DataFrame, by: str, console: Console, total_rows: int) -> None:
    """A rich table of the rows, a totals line, and one line per optional stage report found."""
    t = totals(stats)
    check = "checked against OUT/stats counters" if stats.checked else "NOT checked against counters"
    console.print(f"{stats.out}: {t['labels']:,} labels, {t['scripts']} scripts, {t['sources']:,} sources, "
                  f"{t['kept']:,} kept / {t['rejected']:,} rejected ({check})", soft_wrap=True, highlight=False)
    table = Table(box=box.SIMPLE_HEAD)
    for c in df.columns:
        numeric = df.schema[c].is_numeric()
        wrap = c in ("rejected_by_reason", "lid_top", "source", "licence")
        table.add_column(HEADERS.get(c, c), justify="right" if numeric else "left", overflow="fold",
                         no_wrap=not wrap, max_width=44 if wrap else None)
    for row in df.iter_rows():
        table.add_row(*(_cell(c, v) for c, v in zip(df.columns, row, strict=True)))
    console.print(table)
    if df.height < total_rows:
        console.print(f"showing {df.height:,} of {total_rows:,} rows")
    for key, obj in sorted(stats.extras.items()):
        if key != "build":
            console.print(f"[bold]{key}[/bold]: {summarise(kind_of(key), obj)}", soft_wrap=True, highlight=False)
    if by == "source" and "lid_audit" not in stats.extras:
        console.print("language-ID audit: not present (the langid stage did not run)")
