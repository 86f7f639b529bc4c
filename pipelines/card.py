"""Dataset card: a hub-style `README.md` whose YAML header makes the corpus loadable as it is.

Why: a corpus of 2000 language-scripts is only usable if a stranger can load one language without
reading our code. The YAML `configs` (one per label, plus `all`) point `data_files` at the contract's
`corpus/<label>/*.parquet`, which `datasets.load_dataset(<folder>, "<label>")`, the hub viewer,
`load_dataset("parquet", data_files=...)`, duckdb and polars all read directly. The body states sizes,
tiers and the licences of the sources, because the licence of a merged corpus is the union of theirs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.corpus_stats import CorpusStats, compute_stats

SIZE_BINS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
             (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def size_category(n: int) -> str:
    """The hub's `size_categories` bucket for n rows."""
    return next((name for limit, name in SIZE_BINS if n < limit), "n>1B")


def _q(value: Any) -> str:
    """YAML scalar: JSON strings are valid YAML and need no escaping rules of our own."""
    return json.dumps(value, ensure_ascii=False)


def _licences(stats: CorpusStats) -> pl.DataFrame:
    """Per licence: how many sources and labels use it (missing = 'unknown')."""
    src = stats.sources
    if "licence" not in src.columns:
        src = src.with_columns(pl.lit(None, dtype=pl.Utf8).alias("licence"))
    return (
        src.with_columns(pl.col("licence").fill_null("unknown").str.strip_chars())
        .group_by("licence")
        .agg(pl.col("source").n_unique().alias("sources"), pl.col("label").n_unique().alias("labels"))
        .sort("licence")
    )


def card_text(stats: CorpusStats, title: str | None = None, sampling: dict | None = None) -> str:
    """The README.md text for the output folder `stats.out` (paths in it are relative to that folder)."""
    labels = stats.labels.filter(pl.col("kept") > 0).sort("label")
    lic = _licences(stats)
    total = int(labels["kept"].sum())
    isos = sorted({lab.split("_")[0] for lab in labels["label"]})
    lic_ids = [x.lower() for x in lic["licence"].to_list()]
    y = ["---", f"pretty_name: {_q(title or 'Glotforge corpus: ' + Path(stats.out).resolve().name)}"]
    y += ["language:", *(f"- {_q(c)}" for c in isos)]
    y += ["license:", *(f"- {_q(x)}" for x in lic_ids)]
    y += ["multilinguality: multilingual", "task_categories:", "- fill-mask", "- text-generation",
          f"size_categories:\n- {_q(size_category(total))}", "tags:", "- glotforge", "- glot500", "configs:"]
    y += ["- config_name: all", "  default: true", "  data_files:", "  - split: train",
          f"    path: {_q('corpus/*/*.parquet')}"]
    for lab in labels["label"]:
        y += [f"- config_name: {_q(lab)}", "  data_files:", "  - split: train",
              f"    path: {_q(f'corpus/{lab}/*.parquet')}"]
    y.append("---")

    t = labels.group_by("tier").agg(pl.len().alias("labels"), pl.col("kept").sum()).sort("tier")
    body = [
        f"# {title or 'Glotforge corpus'}", "",
        f"{labels.height:,} language-scripts ({len(isos):,} ISO 639-3 codes, {labels['script'].n_unique()} "
        f"scripts), {total:,} sentences, {int(labels['chars'].sum()):,} characters. One config per "
        "label (`xxx_Scrp` = ISO 639-3 + ISO 15924); config `all` reads every label.", "",
        "Tiers follow Glot500: *head* = languages XLM-R was trained on, *tail* = the others.", "",
        "| tier | labels | sentences |", "| --- | ---: | ---: |",
        *(f"| {r['tier']} | {r['labels']:,} | {r['kept']:,} |" for r in t.iter_rows(named=True)), "",
        "## Loading", "", "```python", "import datasets",
        f'ds = datasets.load_dataset("path/to/this/folder", {_q(labels["label"][0] if labels.height else "all")})',
        'ds = datasets.load_dataset("parquet", data_files={"train": "corpus/eng_Latn/*.parquet"})',
        "", "import polars as pl", 'df = pl.scan_parquet("corpus/*/*.parquet").group_by("label").len().collect()',
        "", "import duckdb", "duckdb.sql(\"SELECT label, count(*) FROM 'corpus/*/*.parquet' GROUP BY label\")",
        "```", "",
        "Columns: `text`, `label`, `source` (file the row came from), `line`, `sentence`, then the "
        "annotations of the build's stages.", "",
    ]
    if sampling:
        body += [f"## Sampling\n\nMultinomial sampling probabilities p_i ∝ n_i^α with α = {sampling['alpha']} "
                 "are in `sampling.json` (also `p_head_rule`: Glot500's rule, head labels weighted like "
                 "the smallest tail label).", ""]
    body += ["## Licences of the sources", "",
             "The corpus merges sources under these licences; each row's `source` names its origin.", "",
             "| licence | sources | labels |", "| --- | ---: | ---: |",
             *(f"| {r['licence']} | {r['sources']:,} | {r['labels']:,} |" for r in lic.iter_rows(named=True)), "",
             "## Languages", "", "| label | tier | script | sentences | characters | sources |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    body += [f"| {r['label']} | {r['tier']} | {r['script']} | {r['kept']:,} | {r['chars']:,} | {r['sources']} |"
             for r in labels.iter_rows(named=True)]
    return "\n".join(y) + "\n\n" + "\n".join(body) + "\n"


def write_card(out: str | Path, title: str | None = None, check: bool | None = None, executor: Any = None) -> Path:
    """Write OUT/README.md from the Parquet files (checked against counters when they exist); the files
    are scanned by `executor`'s workers when one is given."""
    out = Path(out)
    stats = compute_stats(out, check=check, executor=executor)
    sampling = None
    if (out / "sampling.json").exists():
        sampling = json.loads((out / "sampling.json").read_text(encoding="utf-8"))
    path = out / "README.md"
    path.write_text(card_text(stats, title, sampling), encoding="utf-8")
    return path
