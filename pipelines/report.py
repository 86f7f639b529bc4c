"""`glot report OUT`: one self-contained HTML file describing a build, readable offline.

Why one file with inline SVG, CSS and a few lines of JS: a corpus of 2000 language-scripts must be
inspectable by someone who opens an attachment on a plane. No CDN, no fonts, no fetches; every figure
comes from `compute_stats` (the Parquet files, checked against the counters), so the report cannot
silently disagree with the data it describes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.corpus_stats import CorpusStats, compute_stats
from glotforge.corpus.stats_extras import (
    dedup_frames,
    flat_table,
    kind_of,
    lid_audit_frame,
    load_extras,
    summarise,
)
from glotforge.pipelines.report_svg import (
    HEAD_COLOUR,
    TAIL_COLOUR,
    fmt_n,
    hbar_chart,
    log_size_chart,
    stacked_chart,
)
from glotforge.pipelines.stats_view import totals

SECTION_TITLES = {"quality": "Quality thresholds per label", "dedup": "Duplicates per label",
                  "fertility": "Vocabulary fertility", "eval": "Evaluation", "lid_audit": "Language-ID audit (raw)"}


def _asset(name: str) -> str:
    return resources.files("glotforge.pipelines").joinpath("report_assets", name).read_text(encoding="utf-8")


def _num(v: Any, pct: bool = False) -> str:
    if v is None:
        return '<td class="num" data-v=""></td>'
    shown = f"{v:.1%}" if pct else (f"{v:,}" if isinstance(v, int) else f"{v:.4g}")
    return f'<td class="num" data-v="{v}">{shown}</td>'


def _reasons_cell(js: str) -> str:
    d = json.loads(js or "{}")
    text = ", ".join(f"{k} {n:,}" for k, n in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"<td>{escape(text)}</td>"


def label_table(labels: pl.DataFrame, threshold: int) -> str:
    """The sortable per-language table (one row per label; head rows marked)."""
    head = ['<th>label</th>', '<th>script</th>', '<th>tier</th>', '<th class="num">sources</th>',
            '<th class="num">kept</th>', '<th class="num">rejected</th>', '<th class="num">share kept</th>',
            '<th class="num">characters</th>', '<th class="num">words</th>', f'<th>≥ {threshold:,}</th>',
            '<th>rejections by reason</th>']
    rows = []
    for r in labels.sort("kept", "label", descending=[True, False]).iter_rows(named=True):
        rows.append(
            f'<tr class="{r["tier"]}" data-label="{escape(r["label"])}"><td>{escape(r["label"])}</td>'
            f'<td>{escape(r["script"])}</td><td>{r["tier"]}</td>{_num(r["sources"])}{_num(r["kept"])}'
            f'{_num(r["rejected"])}{_num(r["share_kept"], pct=True)}{_num(r["chars"])}{_num(r["words"])}'
            f'<td>{"yes" if r["kept"] >= threshold else ""}</td>{_reasons_cell(r["rejected_by_reason"])}</tr>')
    return _table("label-table", head, rows, "filter labels, scripts, reasons ...")


def _table(table_id: str, head: list[str], rows: list[str], placeholder: str) -> str:
    return (f'<div class="controls"><input type="search" data-filter="{table_id}" placeholder="{placeholder}"> '
            f'<span id="{table_id}-count" class="note">{len(rows):,} rows</span></div>'
            f'<div class="tablewrap"><table id="{table_id}" class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def source_table(sources: pl.DataFrame, limit: int = 5000) -> str:
    """Sortable per-source table (with the language-ID audit columns when that stage ran)."""
    audit = "lid_elsewhere" in sources.columns
    head = ['<th>source</th>', '<th>label</th>', '<th>licence</th>', '<th class="num">kept</th>',
            '<th class="num">rejected</th>', '<th class="num">share kept</th>']
    if audit:
        head += ['<th class="num">LID elsewhere</th>', '<th>top predicted</th>', '<th>flagged</th>']
    rows = []
    for r in sources.sort("source").head(limit).iter_rows(named=True):
        cells = (f'<td>{escape(r["source"])}</td><td>{escape(r["label"] or "")}</td>'
                 f'<td>{escape(str(r.get("licence") or ""))}</td>{_num(r["kept"])}{_num(r["rejected"])}'
                 f'{_num(r["share_kept"], pct=True)}')
        if audit:
            cells += (f'{_num(r["lid_elsewhere"], pct=True)}<td>{escape(r["lid_top"] or "")}</td>'
                      f'<td>{"yes" if r["lid_flagged"] else ""}</td>')
        rows.append(f"<tr>{cells}</tr>")
    return _table("source-table", head, rows, "filter sources ...")


def script_chart(labels: pl.DataFrame, top: int = 30) -> str:
    by = (labels.filter(pl.col("kept") > 0).group_by("script")
          .agg(pl.len().alias("labels"), pl.col("kept").sum()).sort(["labels", "kept", "script"], descending=[True, True, False]))
    rows = [(r["script"], r["labels"], f"· {fmt_n(r['kept'])} sentences") for r in by.head(top).iter_rows(named=True)]
    if by.height > top:
        rest = by.slice(top)
        rows.append((f"{rest.height} other scripts", int(rest["labels"].sum()), f"· {fmt_n(rest['kept'].sum())} sentences"))
    return hbar_chart(rows, "chart-scripts", "coverage by script",
                      value_fmt=lambda v: f"{v:,.0f} label" + ("" if v == 1 else "s"))


def reasons_chart(stats: CorpusStats) -> str:
    by = stats.reasons_by_stage()
    groups = []
    for stage in sorted(set(by["stage"].to_list())):
        part = by.filter(pl.col("stage") == stage)
        groups.append((stage, [(r["reason"], r["count"]) for r in part.iter_rows(named=True)]))
    return stacked_chart(groups, "chart-reasons", "rejection reasons per stage")


def tier_chart(labels: pl.DataFrame, threshold: int) -> str:
    lab = labels.filter(pl.col("kept") > 0)

    def split(df: pl.DataFrame, value: str | None) -> list[tuple[str, float]]:
        agg = df.group_by("tier").agg(pl.len().alias("n") if value is None else pl.col(value).sum().alias("n"))
        got = dict(zip(agg["tier"], agg["n"], strict=True))
        return [(t, float(got.get(t, 0))) for t in ("head", "tail")]

    groups = [("labels", split(lab, None)), ("sentences", split(lab, "kept")), ("characters", split(lab, "chars")),
              (f"labels ≥ {fmt_n(threshold)}", split(lab.filter(pl.col("kept") >= threshold), None))]
    return stacked_chart(groups, "chart-tiers", "head vs tail", normalise=True,
                         colours={"head": HEAD_COLOUR, "tail": TAIL_COLOUR})


def audit_chart(stats: CorpusStats, top: int = 20) -> str:
    if "lid_elsewhere" not in stats.sources.columns:
        return ('<p class="note" id="no-audit">The language-ID stage did not run for this build '
                '(no OUT/stats/lid_audit.json|parquet), so there is no audit to show.</p>')
    worst = stats.sources.filter(pl.col("lid_elsewhere").is_not_null()).sort(
        ["lid_elsewhere", "source"], descending=[True, False]).head(top)
    rows = [(r["source"], r["lid_elsewhere"], f"{r['label']} → {r['lid_top'] or '?'}{' FLAGGED' if r['lid_flagged'] else ''}")
            for r in worst.iter_rows(named=True)]
    return hbar_chart(rows, "chart-audit", "sources with the worst language-ID audit", value_fmt=lambda v: f"{v:.1%}",
                      scale_max=1.0)


def extra_section(key: str, obj: Any) -> str:
    """A stage or training report: table when tabular, else pretty JSON (truncated)."""
    title = SECTION_TITLES.get(kind_of(key), f"Report: {key}")
    parts = [f'<details class="extra" id="extra-{escape(key)}"><summary><b>{escape(title)}</b> — '
             f'{escape(summarise(kind_of(key), obj))}</summary>']
    frames = dedup_frames(obj) if kind_of(key) == "dedup" else None
    if frames is not None and frames[1].height:
        top = frames[1]
        parts.append("<p>Largest duplicate clusters (lines in the cluster; the kept line is shown):</p>")
        parts.append(_table(f"extra-{escape(key)}-clusters", [f"<th>{escape(c)}</th>" for c in top.columns],
                            ["<tr>" + "".join(f"<td>{escape(str(v if v is not None else ''))}</td>" for v in row) + "</tr>"
                             for row in top.iter_rows()], "filter clusters ..."))
        obj = frames[0].to_dicts()
    tab = flat_table(obj)
    if tab:
        cols, rows = tab
        head = [f"<th>{escape(c)}</th>" for c in cols]
        body = ["<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows]
        parts.append(_table(f"extra-{escape(key)}-table", head, body, "filter ..."))
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=1)
        parts.append(f"<pre>{escape(text[:20000])}{'…' if len(text) > 20000 else ''}</pre>")
    parts.append("</details>")
    return "".join(parts)


def render_html(stats: CorpusStats, threshold: int = 30_000, title: str | None = None) -> str:
    """The whole report as one HTML string (CSS, JS and SVG inline)."""
    t = totals(stats)
    name = title or f"Glotforge corpus report: {Path(stats.out).resolve().name}"
    kpi = [("labels", f"{t['labels']:,}"), ("scripts", f"{t['scripts']:,}"), ("sources", f"{t['sources']:,}"),
           ("kept sentences", f"{t['kept']:,}"), ("rejected", f"{t['rejected']:,}"),
           ("share kept", f"{t['share_kept']:.1%}" if t["share_kept"] is not None else "–"),
           ("characters", fmt_n(t["chars"])), ("head labels", f"{t['head_labels']:,}")]
    check = ("All figures were computed from the Parquet files and match the build's counters."
             if stats.checked else '<span class="error">Figures were NOT checked against build counters.</span>')
    items = [(r["label"], r["kept"], r["tier"] == "head") for r in stats.labels.iter_rows(named=True)]
    extras = "".join(extra_section(k, v) for k, v in sorted(stats.extras.items()) if k != "build")
    build = stats.extras.get("build")
    html = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(name)}</title><style>{_asset('report.css')}</style></head><body>",
        f"<h1>{escape(name)}</h1>",
        f'<p class="meta">{escape(str(Path(stats.out).resolve()))} · generated '
        f'{datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} · {check}</p>',
        '<div class="kpis">' + "".join(f'<div class="kpi"><b>{v}</b>{k}</div>' for k, v in kpi) + "</div>",
        '<h2 id="sizes">Languages by size</h2>', log_size_chart(items, threshold),
        '<h2 id="scripts">Coverage by script</h2>', script_chart(stats.labels),
        '<h2 id="reasons">Rejection reasons per stage</h2>', reasons_chart(stats),
        '<h2 id="tiers">Head vs tail</h2>',
        '<p class="note">Head = the languages XLM-R was trained on, as Glot500 labelled them; tail = all others.</p>',
        tier_chart(stats.labels, threshold),
        '<h2 id="audit">Sources with the worst language-ID audit</h2>',
        '<p class="note">Share of a source\'s lines that language ID assigned to another label.</p>', audit_chart(stats),
        '<h2 id="languages">Languages</h2>', label_table(stats.labels, threshold),
        '<h2 id="sources">Sources</h2>', f"<details><summary>{stats.sources.height:,} sources</summary>",
        source_table(stats.sources), "</details>",
        '<h2 id="reports">Stage and training reports</h2>',
        extras or '<p class="note">No stage reports in OUT/stats.</p>',
    ]
    if isinstance(build, dict):
        html.append(f"<details><summary>build.json</summary><pre>{escape(json.dumps(build, indent=1))}</pre></details>")
    html += [f"<script>{_asset('report.js')}</script>", "</body></html>"]
    return "\n".join(html)


def write_report(out: str | Path, path: str | Path | None = None, threshold: int = 30_000,
                 check: bool | None = True, extra_files: Sequence[str | Path] = (), title: str | None = None,
                 executor: Any = None) -> Path:
    """Compute stats for OUT and write the HTML report (default OUT/report.html); returns its path."""
    stats = compute_stats(out, check=check, executor=executor)
    if extra_files:
        stats.extras.update(load_extras(Path(out) / "__none__", list(extra_files)))
        audit = lid_audit_frame(stats.extras.get("lid_audit"))
        if audit is not None and "lid_elsewhere" not in stats.sources.columns:
            stats.sources = stats.sources.join(audit, on="source", how="left")
    target = Path(path) if path else Path(out) / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(stats, threshold, title), encoding="utf-8")
    return target
