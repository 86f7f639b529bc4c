"""Optional stage and training reports found next to a build's counters (OUT/stats/*.json|parquet).

Why a separate, forgiving reader: these files are written by other parts (langid audit, quality
thresholds, dedup clusters, vocabulary fertility, evaluation) whose exact layout may grow; `glot
stats` and `glot report` must show what is there and never fail because one is absent or has an
extra field. Known kinds get a normalised view (`lid_audit_frame`, `summarise`), the rest is shown raw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

COUNTER_FILES = {"labels", "sources"}
_SHARE_KEYS = ("share_elsewhere", "elsewhere_share", "share_assigned_elsewhere", "assigned_elsewhere",
               "share_other", "other_share", "mismatch_share", "share_mismatch", "elsewhere")
_TOP_KEYS = ("top_predicted", "top_labels", "top_predictions", "top", "predicted")


def kind_of(name: str) -> str:
    """Map a stats file stem to the kind of report it is (lid_audit, quality, dedup, fertility, eval, other)."""
    low = name.lower()
    for kind, needles in (("lid_audit", ("lid_audit", "langid_audit", "audit")), ("fertility", ("fertility", "vocab")),
                          ("eval", ("eval",)), ("quality", ("quality",)), ("dedup", ("dedup",)), ("build", ("build",))):
        if any(n in low for n in needles):
            return kind
    return name


def load_extras(out: str | Path, extra_files: list[str | Path] = ()) -> dict[str, Any]:
    """Every optional report in OUT/stats (plus `extra_files`), keyed by kind; parquet beats json for one stem."""
    stats_dir = Path(out) / "stats"
    found: dict[str, Any] = {}
    files = sorted(stats_dir.glob("*.json")) + sorted(stats_dir.glob("*.parquet")) if stats_dir.is_dir() else []
    for path in [*files, *(Path(p) for p in extra_files)]:
        if path.stem in COUNTER_FILES or not path.is_file():
            continue
        try:
            obj = pl.read_parquet(path).to_dicts() if path.suffix == ".parquet" else json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, pl.exceptions.PolarsError) as exc:  # show, don't crash, on a broken report
            obj = {"error": f"could not read {path.name}: {exc}"}
        kind = kind_of(path.stem)
        key = kind if kind not in found or path.suffix == ".parquet" else path.stem
        found[key] = obj
    return found


def _as_records(obj: Any) -> list[dict[str, Any]]:
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict)]
    if isinstance(obj, dict):
        for wrap in ("sources", "audit", "rows", "items"):
            if isinstance(obj.get(wrap), list | dict):
                return _as_records(obj[wrap])
        return [{"source": k, **v} for k, v in obj.items() if isinstance(v, dict)]
    return []


def _top_text(value: Any, limit: int = 3) -> str:
    """Render top predicted labels ([[label, share], ...], [{label, share}], {label: share} or str) as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, list | tuple) and v:
                items.append((str(v[0]), v[1] if len(v) > 1 else None))
            elif isinstance(v, dict):
                lab = v.get("label") or v.get("lid_label") or next(iter(v.values()), "")
                share = next((v[k] for k in ("share", "fraction", "count", "n") if k in v), None)
                items.append((str(lab), share))
            else:
                items.append((str(v), None))
    parts = []
    for lab, share in items[:limit]:
        parts.append(f"{lab} {share:.2f}" if isinstance(share, float) else (f"{lab} {share}" if share is not None else lab))
    return ", ".join(parts)


def lid_audit_frame(obj: Any) -> pl.DataFrame | None:
    """Normalise a language-ID audit to columns source, lid_elsewhere (share), lid_top (text), lid_flagged."""
    recs = _as_records(obj)
    if not recs:
        return None
    rows = []
    for r in recs:
        if "source" not in r:
            continue
        share = next((r[k] for k in _SHARE_KEYS if isinstance(r.get(k), int | float)), None)
        if share is None:
            share = next((v for k, v in r.items() if "share" in k and isinstance(v, int | float)), None)
        top = next((r[k] for k in _TOP_KEYS if k in r), None)
        flagged = r.get("flagged")
        rows.append({
            "source": str(r["source"]),
            "lid_elsewhere": float(share) if share is not None else None,
            "lid_top": _top_text(top),
            "lid_flagged": bool(flagged) if flagged is not None else None,
        })
    if not rows:
        return None
    schema = {"source": pl.Utf8, "lid_elsewhere": pl.Float64, "lid_top": pl.Utf8, "lid_flagged": pl.Boolean}
    return pl.DataFrame(rows, schema=schema).unique("source", keep="first", maintain_order=True)


def dedup_frames(obj: Any, top: int = 20) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """A dedup report {label: {exact, near, clusters: [{size, exact, near, source, line, example}]}} as
    (per-label scalars, the `top` largest clusters over all labels); None when it has another shape."""
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, dict) for v in obj.values()):
        return None
    per, clusters = [], []
    for label, rep in sorted(obj.items()):
        per.append({"label": label, **{k: v for k, v in rep.items() if isinstance(v, int | float | str | bool)}})
        for c in rep.get("clusters") or []:
            if isinstance(c, dict) and isinstance(c.get("size"), int):
                clusters.append({"label": label, "size": c["size"], "exact": c.get("exact"), "near": c.get("near"),
                                 "kept_line": f"{c.get('source', '')}:{c.get('line', '')}",
                                 "example": str(c.get("example", ""))[:160]})
    top_df = pl.DataFrame(clusters, infer_schema_length=None) if clusters else pl.DataFrame()
    if clusters:
        top_df = top_df.sort(["size", "label"], descending=[True, False]).head(top)
    return pl.DataFrame(per, infer_schema_length=None), top_df


def summarise(kind: str, obj: Any) -> str:
    """One line saying what a report holds, for the terminal footer of `glot stats`."""
    if isinstance(obj, dict) and "error" in obj and len(obj) == 1:
        return obj["error"]
    if kind == "lid_audit":
        df = lid_audit_frame(obj)
        if df is None:
            return "no per-source rows"
        flagged = int(df["lid_flagged"].fill_null(False).sum())
        worst = df.sort("lid_elsewhere", descending=True, nulls_last=True).row(0, named=True)
        share = worst["lid_elsewhere"]
        tail = f"; worst {worst['source']} ({share:.1%} elsewhere)" if share is not None else ""
        return f"{df.height} sources audited, {flagged} flagged{tail}"
    if kind == "dedup" and (frames := dedup_frames(obj, top=1)) is not None:
        per, top = frames
        exact = int(per["exact"].sum()) if "exact" in per.columns else 0
        near = int(per["near"].sum()) if "near" in per.columns else 0
        big = f"; largest cluster {top['size'][0]:,} lines ({top['label'][0]})" if top.height else ""
        return f"{per.height} labels, {exact:,} exact + {near:,} near duplicates removed{big}"
    if isinstance(obj, dict) and isinstance(obj.get("summary"), dict):
        scalars = [(k, v) for k, v in obj["summary"].items() if isinstance(v, int | float)]
        return ", ".join(f"{k} {_cell(v)}" for k, v in scalars[:5]) or "summary present"
    if isinstance(obj, dict):
        return f"{len(obj)} entries ({', '.join(list(map(str, obj))[:5])}{', ...' if len(obj) > 5 else ''})"
    if isinstance(obj, list):
        return f"{len(obj)} rows"
    return str(obj)[:80]


def _flatten(rec: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting as dotted columns: {"before": {"unk_rate": 0.1}} -> {"before.unk_rate": 0.1}."""
    flat: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict | list) for x in v.values()):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    return flat


def flat_table(obj: Any, max_rows: int = 2500) -> tuple[list[str], list[list[str]]] | None:
    """A report as (columns, rows) for display; None if not tabular.

    Accepts {key: {field: value}}, a list of records, or a document with a list of records under
    `labels`/`rows`/`sources`/`items` (e.g. the vocabulary fertility report); nested dicts become
    dotted columns.
    """
    recs: list[dict[str, Any]]
    if isinstance(obj, dict):
        inner = next((obj[k] for k in ("labels", "rows", "sources", "items") if isinstance(obj.get(k), list)), None)
        if inner is not None:
            obj = inner
    if isinstance(obj, dict) and obj and all(isinstance(v, dict) for v in obj.values()):
        recs = [{"key": k, **v} for k, v in obj.items()]
    elif isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        recs = obj
    else:
        return None
    recs = [_flatten(r) for r in recs[:max_rows]]
    cols: list[str] = []
    for r in recs:
        cols.extend(c for c in r if c not in cols)
    rows = [[_cell(r.get(c)) for c in cols] for r in recs]
    return cols, rows


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict | list):
        text = json.dumps(v, ensure_ascii=False)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(v)
