"""Source audit of a built corpus: which sources does the LID model think are mislabelled?

A wrongly declared source (Kazakh filed as Kyrgyz, an English file under a small language's code)
shows up as many lines that the model assigns to one *other* label. Line-level rejection removes
those lines, but the useful signal is per source: fix the manifest, not the lines. This reads the
`lid_label` / `lid_score` annotations the langid stage left in `OUT/corpus` (kept rows) and
`OUT/rejected` (rejected rows carry the same columns), so it needs no second prediction pass.

Per source: lines judged (with a prediction and at least `min_chars` characters), the share assigned
elsewhere (top-1 not the declared label nor one of its groups, whatever the score), the share
assigned elsewhere with score ≥ the threshold, lines rejected by langid, the top-3 predicted labels
and whether the model can name the declared label at all (`verified`). A source is `flagged` when the
model can name its label, it has at least `audit_min_lines` judged lines and the share elsewhere is
≥ `audit_share`. Sources of labels the model cannot name are never flagged (their lines were kept
unverified), but their top predictions are listed so a human can look.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from .langid import LangIdConfig, LangIdStage
from .lid_labels import LabelGroups, ModelLabel, split_label

COLUMNS = ["source", "label", "text", "lid_label", "lid_score"]
AUDIT_SCHEMA = {
    "source": pl.Utf8, "label": pl.Utf8, "verified": pl.Boolean, "lines": pl.Int64, "elsewhere": pl.Int64,
    "share_elsewhere": pl.Float64, "share_confident_elsewhere": pl.Float64, "rejected_langid": pl.Int64,
    "top_predicted": pl.List(pl.Struct({"label": pl.Utf8, "share": pl.Float64})), "flagged": pl.Boolean,
    "note": pl.Utf8,
}


def _recipe_config(out: Path) -> dict:
    """The `[langid]` table the build ran with (OUT/stats/build.json), or {} when unavailable."""
    try:
        build = json.loads((out / "stats" / "build.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return dict((build.get("recipe") or {}).get("langid") or {})


def _scan(out: Path) -> pl.LazyFrame | None:
    """Rows with a prediction from corpus and rejected files, lazily; text is reduced to its length so
    the audit of a big build never holds the text in memory."""
    frames = []
    for kind in ("corpus", "rejected"):
        for f in sorted((out / kind).glob("*/part-*.parquet")):
            names = pl.read_parquet_schema(f)
            if "lid_label" not in names:
                continue
            reason = pl.col("reason") if "reason" in names else pl.lit(None, dtype=pl.Utf8)
            frames.append(pl.scan_parquet(f).select(
                pl.col("source").cast(pl.Utf8), pl.col("label").cast(pl.Utf8),
                pl.col("text").str.len_chars().cast(pl.Int64).alias("nchars"), pl.col("lid_label").cast(pl.Utf8),
                pl.col("lid_score").cast(pl.Float64), reason.cast(pl.Utf8).alias("reason"),
            ).filter(pl.col("lid_label").is_not_null()))
    return pl.concat(frames) if frames else None


def _as_model_label(shown: str) -> ModelLabel:
    lang, script = split_label(shown)
    return ModelLabel(shown, lang, script, shown)


def lid_audit(out_dir: str | os.PathLike, config: dict | None = None) -> pl.DataFrame:
    """Per-source audit table (schema AUDIT_SCHEMA), sorted by flagged, share elsewhere, source.

    `config` is the `[langid]` table; by default the one recorded in OUT/stats/build.json. The model
    is loaded (cached) only to know which labels it can name; if it cannot be loaded, `verified` is
    null and sources are flagged on their share alone.
    """
    out = Path(out_dir)
    raw = dict(config) if config is not None else _recipe_config(out)
    cfg = LangIdConfig.from_dict({k: v for k, v in raw.items() if k in LangIdConfig.__dataclass_fields__})
    groups = LabelGroups(cfg.groups_file or None, cfg.groups, cfg.iso_macrolanguages)
    stage = LangIdStage({k: v for k, v in raw.items() if k in LangIdConfig.__dataclass_fields__})
    lf = _scan(out)
    if lf is None:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    pairs = lf.select("lid_label", "label").unique().collect()
    if pairs.height == 0:
        return pl.DataFrame(schema=AUDIT_SCHEMA)
    labels = sorted(set(pairs["label"].to_list()))
    known: dict[str, bool | None] = {}
    for label in labels:
        try:
            known[label] = stage.knows(label) if cfg.model else None
        except Exception:  # model moved or unreadable: audit on shares only
            known[label] = None
    # per (prediction, declared) pair and per declared label: small tables joined onto the rows
    same = pairs.with_columns(pl.Series("elsewhere", [not groups.same(_as_model_label(p), d)
                                                      for p, d in pairs.iter_rows()], dtype=pl.Boolean))
    per_label = pl.DataFrame({"label": labels,
                              "thr": [float(cfg.setting(x, "threshold")) for x in labels],
                              "minc": [int(cfg.setting(x, "min_chars")) for x in labels]})
    df = (lf.join(same.lazy(), on=["lid_label", "label"], how="left")
          .join(per_label.lazy(), on="label", how="left")
          .filter(pl.col("nchars") >= pl.col("minc")))

    top = (df.group_by("source", "label", "lid_label").agg(pl.len().alias("n"))
           .with_columns((pl.col("n") / pl.col("n").sum().over("source", "label")).alias("share"))
           .sort("source", "label", "n", "lid_label", descending=[False, False, True, False])
           .group_by("source", "label", maintain_order=True)
           .agg(pl.struct(pl.col("lid_label").alias("label"), pl.col("share").round(4)).head(3).alias("top_predicted")))
    agg = (df.group_by("source", "label").agg(
        pl.len().alias("lines"),
        pl.col("elsewhere").sum().cast(pl.Int64).alias("elsewhere"),
        (pl.col("elsewhere") & (pl.col("lid_score") >= pl.col("thr"))).sum().alias("confident"),
        (pl.col("reason") == "langid:mismatch").sum().cast(pl.Int64).alias("rejected_langid"),
    ).join(top, on=["source", "label"], how="left").collect())
    agg = agg.with_columns(
        pl.col("label").replace_strict(known, return_dtype=pl.Boolean, default=None).alias("verified"),
        (pl.col("elsewhere") / pl.col("lines")).round(4).alias("share_elsewhere"),
        (pl.col("confident") / pl.col("lines")).round(4).alias("share_confident_elsewhere"),
    ).with_columns(
        ((pl.col("verified").fill_null(True)) & (pl.col("lines") >= cfg.audit_min_lines)
         & (pl.col("share_elsewhere") >= cfg.audit_share)).alias("flagged"),
        pl.when(pl.col("verified") == False)  # noqa: E712 - polars expression, not a Python comparison
        .then(pl.lit("model cannot name this label: lines kept unverified"))
        .when(pl.col("lines") < cfg.audit_min_lines).then(pl.lit("too few lines to judge"))
        .otherwise(pl.lit(None, dtype=pl.Utf8)).alias("note"),
    )
    return (agg.select(list(AUDIT_SCHEMA)).cast(AUDIT_SCHEMA)
            .sort(["flagged", "share_elsewhere", "source"], descending=[True, True, False]))


def write_lid_audit(out_dir: str | os.PathLike, config: dict | None = None) -> pl.DataFrame:
    """Write OUT/stats/lid_audit.parquet and lid_audit.json ({settings, sources: [rows]})."""
    out = Path(out_dir)
    audit = lid_audit(out, config)
    stats = out / "stats"
    stats.mkdir(parents=True, exist_ok=True)
    audit.write_parquet(stats / "lid_audit.parquet", compression="zstd")
    raw = dict(config) if config is not None else _recipe_config(out)
    cfg = LangIdConfig.from_dict({k: v for k, v in raw.items() if k in LangIdConfig.__dataclass_fields__})
    doc = {"model": cfg.model, "threshold": cfg.threshold, "audit_share": cfg.audit_share,
           "audit_min_lines": cfg.audit_min_lines, "flagged": int(audit["flagged"].sum()),
           "sources": audit.to_dicts()}
    tmp = stats / "lid_audit.json.tmp"
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8")
    tmp.replace(stats / "lid_audit.json")
    return audit


def format_audit(audit: pl.DataFrame, limit: int = 20) -> str:
    """A few lines for terminals: flagged sources first."""
    if audit.height == 0:
        return "language-ID audit: no lines with a prediction"
    flagged = int(audit["flagged"].sum())
    lines = [f"language-ID audit: {audit.height} sources, {flagged} flagged as likely mislabelled"]
    for r in audit.head(limit).iter_rows(named=True):
        top = ", ".join(f"{t['label']} {t['share']:.2f}" for t in (r["top_predicted"] or []))
        mark = "FLAG " if r["flagged"] else "     "
        lines.append(f"  {mark}{r['source']} [{r['label']}] {r['share_elsewhere']:.0%} elsewhere of "
                     f"{r['lines']} lines; top: {top}" + (f" ({r['note']})" if r["note"] else ""))
    return "\n".join(lines)
