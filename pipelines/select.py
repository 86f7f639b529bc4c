"""Glot500-c-style selection: keep the labels with enough sentences, tier them, give sampling weights.

Why: Glot500-c is the subset of Glot2000-c whose language-scripts have ≥ 30,000 sentences (head
languages, i.e. XLM-R's, are kept whatever their size, as Glot500's `merge_files.py` does), and
training draws from it with p_i ∝ n_i^α (α = 0.3). `select_subset` reproduces that from a build's
*files*: sizes are the kept rows counted in the Parquet files (checked against the counters), the
subset folder has the same contract layout (so `glot stats`, `report`, `card` and the trainers work on
it unchanged), and its parts are hard links to the originals, copies only where links cannot be made.
Probabilities come from `glotforge.train.sampling` — the one sampler every trainer uses.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.corpus_stats import compute_stats, load_counters
from glotforge.pipelines.card import write_card
from glotforge.train.sampling import DEFAULT_ALPHA, sampling_probabilities

MODES = ("auto", "hardlink", "symlink", "copy")


def _place(src: Path, dst: Path, mode: str) -> str:
    """Materialise one file; returns how ('hardlink', 'symlink' or 'copy')."""
    if mode in ("auto", "hardlink"):
        try:
            os.link(src, dst)
            return "hardlink"
        except OSError:
            if mode == "hardlink":
                raise
    if mode == "symlink":
        dst.symlink_to(os.path.relpath(src.resolve(), dst.parent.resolve()))
        return "symlink"
    shutil.copy2(src, dst)
    return "copy"


def _write_counters(out: Path, subset: Path, labels: list[str], computed: pl.DataFrame, sources: pl.DataFrame) -> None:
    """SUBSET/stats/labels.* and sources.* restricted to the selected labels (kept-only: no rejected/)."""
    counters = load_counters(out) or {}
    st = subset / "stats"
    st.mkdir(parents=True, exist_ok=True)
    lab = counters.get("labels", computed).filter(pl.col("label").is_in(labels))
    src = counters.get("sources", sources).filter(pl.col("label").is_in(labels))
    # the subset carries kept rows only: its rejected figures are zero so that `glot stats SUBSET` checks
    for name, df in (("labels", lab), ("sources", src)):
        if "rejected" in df.columns:
            df = df.with_columns(pl.lit(0, dtype=pl.Int64).alias("rejected"), pl.lit("{}").alias("rejected_by_reason"))
        if "units" in df.columns and "kept" in df.columns:
            df = df.with_columns(pl.col("kept").alias("units"))
        df.write_parquet(st / f"{name}.parquet")
        recs = df.to_dicts()
        for r in recs:
            if isinstance(r.get("rejected_by_reason"), str):
                r["rejected_by_reason"] = json.loads(r["rejected_by_reason"])
        (st / f"{name}.json").write_text(json.dumps(recs, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def select_subset(
    out: str | Path,
    subset: str | Path,
    min_sentences: int = 30_000,
    alpha: float = DEFAULT_ALPHA,
    head_always: bool = True,
    mode: str = "auto",
    overwrite: bool = False,
    check: bool | None = True,
    card: bool = True,
    executor: Any = None,
) -> dict[str, Any]:
    """Cut SUBSET from OUT; return the document written to SUBSET/sampling.json.

    A label is selected when it has ≥ `min_sentences` kept rows, or (with `head_always`) when it is a
    head label with any text. `mode`: auto (hard link, else copy), hardlink, symlink or copy. The
    figures are scanned by `executor`'s workers when one is given; parts are linked by this process.
    """
    out, subset = Path(out), Path(subset)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if subset.resolve() == out.resolve():
        raise ValueError("SUBSET must be a different folder from OUT")
    if subset.exists() and any(subset.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{subset} exists and is not empty (use --overwrite to replace it)")
        shutil.rmtree(subset)
    stats = compute_stats(out, check=check, executor=executor)
    lab = stats.labels.filter(pl.col("kept") > 0)
    passes = pl.col("kept") >= min_sentences
    if head_always:
        passes = passes | (pl.col("tier") == "head")
    chosen = lab.filter(passes).sort("label")
    if chosen.is_empty():
        raise ValueError(f"no label has ≥ {min_sentences:,} kept sentences (largest: {int(lab['kept'].max() or 0):,})")
    sizes = dict(zip(chosen["label"], chosen["kept"].cast(pl.Int64), strict=True))
    heads = set(chosen.filter(pl.col("tier") == "head")["label"])
    p = sampling_probabilities(sizes, alpha)
    p_head = sampling_probabilities(sizes, alpha, head=heads) if heads and len(heads) < len(sizes) else p

    how: dict[str, int] = {}
    for label in chosen["label"]:
        dst = subset / "corpus" / label
        dst.mkdir(parents=True, exist_ok=True)
        for part in sorted((out / "corpus" / label).glob("part-*.parquet")):
            kind = _place(part, dst / part.name, mode)
            how[kind] = how.get(kind, 0) + 1
    _write_counters(out, subset, list(sizes), stats.labels, stats.sources)

    doc = {
        "source": str(out.resolve()),
        "min_sentences": min_sentences,
        "alpha": alpha,
        "rule": "p_i = n_i^alpha / sum_j n_j^alpha over the selected labels (n = kept sentences)",
        "head_rule": "p_head_rule: head labels weighted like the smallest tail label (Glot500 merge_files.py)",
        "head_always": head_always,
        "selected": len(sizes),
        "excluded": lab.height - len(sizes),
        "tiers": {"head": len(heads), "tail": len(sizes) - len(heads)},
        "sentences": int(sum(sizes.values())),
        "materialised": dict(sorted(how.items())),
        "labels": [
            {"label": r["label"], "tier": r["tier"], "script": r["script"], "sentences": r["kept"],
             "chars": r["chars"], "p": p[r["label"]], "p_head_rule": p_head[r["label"]],
             "passes_threshold": r["kept"] >= min_sentences}
            for r in chosen.iter_rows(named=True)
        ],
    }
    (subset / "sampling.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    if card:
        write_card(subset, title=f"Glot500-c-style subset (≥ {min_sentences:,} sentences) of {out.resolve().name}")
    return doc
