"""Evidence for the `script` and `quality` stages on UDHR, plus agreement with GlotScript.

Prints the two figures of issue 3 (reject rate on clean text per label, catch rate on generated
junk; the same library code as `glot filters evidence`) and, with `--glotscript`, how often our
per-line script agrees with the GlotScript package (`pip install glotscript`, not a project
dependency); with `--spacing`, spaces per letter by script (the evidence behind
`corpus/data/scripts.toml [nonspacing]`).

    .venv/bin/python bench/filter_evidence.py [/work/shared/data/udhr/udhr.parquet] --glotscript --spacing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

from glotforge.corpus.filters.evidence import evidence
from glotforge.corpus.scripts import accepts, dominant_script, identify

DEFAULT_DATA = "/work/shared/data/udhr/udhr.parquet"


def glotscript_agreement(df: pl.DataFrame) -> dict:
    """Per line and per label: does our dominant script name the same writing system as GlotScript?

    GlotScript has no composites: it says `Kana` or `Hani` for Japanese and `Hang` for Korean with
    hanja, and never Hans/Hant. "Same system" therefore accepts our composite when GlotScript names
    one of its parts (data/scripts.toml [accepts]); `exact` is plain string equality.
    """
    from GlotScript import sp

    texts = df["text"].to_list()
    t = time.perf_counter()
    ours, _, _ = identify(texts)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    theirs = [sp(x)[0] for x in texts]
    theirs_s = time.perf_counter() - t
    both = [(a, b) for a, b in zip(ours, theirs, strict=True) if a is not None and b is not None]
    same = sum(accepts(a, b, han_variants=False) or accepts(b, a, han_variants=False) for a, b in both)
    exact = sum(a == b for a, b in both)
    disagree = pl.DataFrame(
        [(a, b) for a, b in both if not (accepts(a, b, False) or accepts(b, a, False))],
        schema={"ours": pl.Utf8, "glotscript": pl.Utf8},
        orient="row",
    )
    labels = {"n": 0, "same_as_label": 0, "glotscript_same_as_label": 0}
    for (label,), g in df.group_by(["label"], maintain_order=True):
        script = label.rsplit("_", 1)[1]
        mine = dominant_script(g["text"].to_list())
        gs = sp(" ".join(g["text"].to_list()))[0]
        labels["n"] += 1
        labels["same_as_label"] += bool(mine and accepts(script, mine))
        labels["glotscript_same_as_label"] += bool(gs and (accepts(script, gs) or accepts(gs, script)))
    return {
        "lines_compared": len(both),
        "same_system": same / max(len(both), 1),
        "exact": exact / max(len(both), 1),
        "none_ours": sum(a is None for a in ours),
        "none_glotscript": sum(b is None for b in theirs),
        "disagreements": disagree.group_by("ours", "glotscript")
        .len()
        .sort("len", descending=True)
        .head(10)
        .to_dicts(),
        "labels": labels,
        "ours_lines_per_s": len(texts) / ours_s,
        "glotscript_lines_per_s": len(texts) / theirs_s,
    }


def spacing(df: pl.DataFrame) -> pl.DataFrame:
    return (
        df.group_by("script")
        .agg(
            spaces=pl.col("text").str.count_matches(" ").sum(),
            letters=pl.col("text").str.count_matches(r"[\p{L}\p{M}]").sum(),
        )
        .with_columns(spaces_per_letter=pl.col("spaces") / pl.col("letters"))
        .sort("spaces_per_letter")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default=DEFAULT_DATA)
    ap.add_argument("--min-units", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worst", type=int, default=10)
    ap.add_argument("--glotscript", action="store_true", help="measure agreement with the GlotScript package")
    ap.add_argument("--spacing", action="store_true", help="print spaces per letter by script")
    ap.add_argument("--json", type=Path, help="write all figures as JSON")
    args = ap.parse_args()
    df = pl.read_parquet(args.data)
    out: dict = {"data": args.data}
    summary, text = evidence(df.select("label", "text"), args.min_units, args.seed, args.worst)
    print(text)
    out["evidence"] = summary
    if args.glotscript:
        agree = glotscript_agreement(df.select("label", "text"))
        out["glotscript"] = agree
        print(
            f"GlotScript agreement on {agree['lines_compared']} lines: same writing system {agree['same_system']:.2%}, "
            f"identical code {agree['exact']:.2%}; lines with no letters: ours {agree['none_ours']}, "
            f"GlotScript {agree['none_glotscript']}"
        )
        print(f"  most frequent disagreements (ours, GlotScript, lines): {agree['disagreements']}")
        lab = agree["labels"]
        print(
            f"  labels: our dominant script fits the label in {lab['same_as_label']}/{lab['n']}, "
            f"GlotScript's in {lab['glotscript_same_as_label']}/{lab['n']}"
        )
        print(
            f"  speed: ours {agree['ours_lines_per_s']:,.0f} lines/s, GlotScript {agree['glotscript_lines_per_s']:,.0f} lines/s"
        )
    if args.spacing and "script" in df.columns:
        table = spacing(df)
        out["spacing"] = table.to_dicts()
        print("spaces per letter by script (lowest first):")
        for row in table.head(20).iter_rows(named=True):
            print(f"    {row['script']}  {row['spaces_per_letter']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str), "utf-8")


if __name__ == "__main__":
    main()
