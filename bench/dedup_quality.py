"""Quality of the dedup stage on a labelled duplicate set built from UDHR.

For every label, the *originals* are the units of its first declaration, made distinct by the
stage's own exact key (so that "distinct" means "not an exact duplicate" for both sides). Copies
are appended after the originals (so the originals come first in canonical order and must be kept):

- exact copies of a random share of originals;
- near copies with one edit each: `punct` (delete or insert one punctuation mark), `char` (replace
  one letter by another letter of the same line), `case` (toggle the case of one word; only scripts
  with case), `number` (append a space and a number).

Printed per script: recall of exact copies, recall of near copies (removed by either step) per edit
and overall, and the share of originals wrongly removed. Near copies are made only from originals of
at least `--near-min-chars` code points (a one-letter change to a 10-character line is a different
line); the recall on shorter lines is printed separately.

    .venv/bin/python bench/dedup_quality.py [--data /work/shared/data/udhr/udhr.parquet] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import polars as pl
import regex

from glotforge.corpus.dedup.normalize import normalize
from glotforge.corpus.dedup.stage import DedupConfig, dedup_frame
from glotforge.pipelines.recipe import default_recipe

DEFAULT_DATA = Path("/work/shared/data/udhr/udhr.parquet")
REQUIRED = ["Latn", "Cyrl", "Arab", "Deva", "Thai", "Hani", "Hans", "Hant", "Ethi"]
CASED = {"Latn", "Cyrl", "Grek", "Armn", "Cher", "Adlm", "Geor", "Copt", "Glag", "Deva_no"}
EDITS = ["punct", "char", "case", "number"]
_PUNCT = regex.compile(r"\p{P}")
_LETTER = regex.compile(r"\p{L}")
_WORD = regex.compile(r"\S+")


def edit(text: str, kind: str, rng: random.Random) -> str | None:
    """One edit of `kind` applied to `text`, or None when it does not apply to this line."""
    if kind == "punct":
        marks = [m.start() for m in _PUNCT.finditer(text)]
        if marks and rng.random() < 0.5:
            i = rng.choice(marks)
            return text[:i] + text[i + 1:]
        spaces = [m.start() for m in regex.finditer(" ", text)] or [len(text)]
        i = rng.choice(spaces)
        return text[:i] + "," + text[i:]
    if kind == "char":
        letters = [m.start() for m in _LETTER.finditer(text)]
        pool = sorted({text[i] for i in letters})
        if len(pool) < 2:
            return None
        i = rng.choice(letters)
        return text[:i] + rng.choice([c for c in pool if c != text[i]]) + text[i + 1:]
    if kind == "case":
        words = [m.span() for m in _WORD.finditer(text) if m.group() != m.group().swapcase()]
        if not words:
            return None
        s, e = rng.choice(words)
        return text[:s] + text[s:e].swapcase() + text[e:]
    if kind == "number":
        return f"{text} {rng.randint(1, 999)}"
    raise ValueError(kind)


def build_label(texts: list[str], label: str, script: str, rng: random.Random, exact_share: float,
                near_share: float, near_min_chars: int) -> pl.DataFrame:
    """Originals then copies of one label, with `kind` (original/exact/edit name) and `of` (index)."""
    keys = normalize(pl.Series(texts), DedupConfig().exact_key()).to_list()
    seen, originals = set(), []
    for t, k in zip(texts, keys, strict=True):
        if k not in seen:
            seen.add(k)
            originals.append(t)
    rows = [(t, "original", i) for i, t in enumerate(originals)]
    for i, t in enumerate(originals):
        if rng.random() < exact_share:
            rows.append((t, "exact", i))
        if rng.random() < near_share:
            kinds = [k for k in EDITS if k != "case" or script in CASED]
            kind = rng.choice(kinds)
            new = edit(t, kind, rng)
            if new is not None and new != t:
                short = len(t) < near_min_chars
                rows.append((new, kind + ("_short" if short else ""), i))
    df = pl.DataFrame(rows, schema={"text": pl.Utf8, "kind": pl.Utf8, "of": pl.Int64}, orient="row")
    return df.with_columns(source=pl.lit(f"{label}.txt"), line=pl.int_range(1, df.height + 1, dtype=pl.Int64),
                           label=pl.lit(label), script=pl.lit(script))


def build_set(data: Path, scripts: list[str] | None, seed: int = 0, exact_share: float = 0.2,
              near_share: float = 1.0, near_min_chars: int = 30) -> pl.DataFrame:
    """The labelled duplicate set for all labels of `scripts` (all scripts when None)."""
    udhr = pl.read_parquet(data).filter(pl.col("stage") >= 3)
    first = udhr.group_by("label").agg(pl.col("code").min())
    udhr = udhr.join(first, on=["label", "code"])
    if scripts:
        udhr = udhr.filter(pl.col("script").is_in(scripts))
    rng = random.Random(seed)
    frames = []
    for (label, script), part in sorted(udhr.group_by(["label", "script"]), key=lambda kv: kv[0]):
        frames.append(build_label(part["text"].to_list(), label, script, rng, exact_share, near_share,
                                  near_min_chars))
    return pl.concat(frames)


def score(labelled: pl.DataFrame) -> pl.DataFrame:
    """Per script: recall per copy kind and the share of originals removed."""
    flagged = labelled.with_columns(removed=pl.col("reason").is_not_null())
    origin = flagged.filter(pl.col("kind") == "original").group_by("script").agg(
        originals=pl.len(), false_removed=pl.col("removed").sum())
    copies = flagged.filter(pl.col("kind") != "original")
    near = copies.filter(pl.col("kind").is_in(EDITS))
    per = (copies.group_by("script", "kind").agg(pl.col("removed").mean()).pivot(
        on="kind", index="script", values="removed"))
    nr = near.group_by("script").agg(near_n=pl.len(), near_recall=pl.col("removed").mean())
    out = origin.join(nr, on="script", how="left").join(per, on="script", how="left")
    out = out.with_columns(false_rate=pl.col("false_removed") / pl.col("originals"))
    cols = ["script", "originals", "exact", "near_n", "near_recall", *EDITS,
            "false_removed", "false_rate", *[k + "_short" for k in EDITS]]
    return out.select([c for c in cols if c in out.columns]).sort("originals", descending=True)


def run(labelled: pl.DataFrame, config: dict) -> tuple[pl.DataFrame, float]:
    t0 = time.perf_counter()
    parts = []
    for label, part in labelled.group_by("label", maintain_order=True):
        out, _ = dedup_frame(part, label[0], config)
        parts.append(out)
    return pl.concat(parts), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--all-scripts", action="store_true", help="every script, not only the required ones")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--near-min-chars", type=int, default=30)
    p.add_argument("--set", action="append", default=[], help="dedup config key=value (TOML value)")
    args = p.parse_args(argv)
    import tomllib

    config = default_recipe()["dedup"]  # the recipe defaults, incl. per-script tables
    config.update({k: tomllib.loads(f"v = {v}")["v"] for k, v in (s.split("=", 1) for s in args.set)})
    labelled = build_set(args.data, None if args.all_scripts else REQUIRED, args.seed,
                         near_min_chars=args.near_min_chars)
    out, secs = run(labelled, config)
    table = score(out)
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_cols(30)
    pl.Config.set_tbl_width_chars(250)
    pl.Config.set_float_precision(4)
    overrides = {k: v for k, v in config.items() if k != "by_script"}
    print(f"{labelled.height} lines, {labelled['label'].n_unique()} labels, {secs:.1f} s, config {overrides}")
    print(table)
    tot = out.with_columns(removed=pl.col("reason").is_not_null())
    near = tot.filter(pl.col("kind").is_in(EDITS))
    orig = tot.filter(pl.col("kind") == "original")
    ex = tot.filter(pl.col("kind") == "exact")
    copies = tot.filter(pl.col("removed") & (pl.col("kind") != "original"))
    right = (copies["ref_line"] == copies["of"] + 1).mean()
    print(f"removed copies that point at their own original: {right:.4f}")
    print(f"ALL: exact recall {ex['removed'].mean():.4f}  near recall {near['removed'].mean():.4f} "
          f"(n={near.height})  false removal {orig['removed'].mean():.4%} ({orig['removed'].sum()}/{orig.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
