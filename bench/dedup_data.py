"""Synthetic sentence-length lines with known duplicates, for dedup throughput and memory runs.

Lines are made from real UDHR text of one script group so that character and word statistics are
realistic: a *distinct* line is a random span of words (spacing scripts) or characters (Han, Thai)
made of random pieces (2-6 words or 4-12 characters) of that group's sentences, so that even a small
pool (Thai UDHR is ~20k characters) gives lines that differ. Then `dup_share` of the
lines are exact copies and `near_share` one-edit near copies of earlier lines (edits as in
`dedup_quality.py`). Generation is deterministic per (seed, batch index), so a streaming `batches`
callback can regenerate the same rows in every pass without holding the text in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
from dedup_quality import edit  # noqa: E402  (bench scripts run from bench/)

GROUPS = {"Latn": ["Latn"], "Cyrl": ["Cyrl"], "Thai": ["Thai"], "Hani": ["Hani", "Hans", "Hant"]}


def pool(data: Path, group: str) -> tuple[list[str], bool]:
    """(tokens of the group's text, whether tokens are words)."""
    df = pl.read_parquet(data, columns=["script", "text"]).filter(pl.col("script").is_in(GROUPS[group]))
    text = " ".join(df["text"].to_list())
    if group in ("Thai", "Hani"):
        return [c for c in text if not c.isspace()], False
    return text.split(), True


def make_batch(tokens: list[str], words: bool, start: int, size: int, seed: int, dup_share: float,
               near_share: float) -> list[str]:
    """Lines start..start+size of the synthetic stream; copies refer back inside the batch."""
    rng = random.Random(seed * 1_000_003 + start)
    out: list[str] = []
    n_tok = len(tokens)
    for _ in range(size):
        r = rng.random()
        if out and r < dup_share:
            out.append(out[rng.randrange(len(out))])
            continue
        if out and r < dup_share + near_share:
            src = out[rng.randrange(len(out))]
            new = edit(src, rng.choice(["punct", "char", "case", "number"]), rng)
            out.append(new if new else src + " 1")
            continue
        k = rng.randint(8, 30) if words else rng.randint(25, 90)
        span: list[str] = []
        while len(span) < k:  # random pieces, so that lines of a small pool still differ
            m = rng.randint(2, 6) if words else rng.randint(4, 12)
            i = rng.randrange(n_tok - m)
            span.extend(tokens[i:i + m])
        out.append((" " if words else "").join(span[:k]))
    return out


def stream(tokens: list[str], words: bool, n: int, seed: int = 0, batch: int = 50000, dup_share: float = 0.1,
           near_share: float = 0.1):
    """A `batches(columns)` callback that regenerates the n synthetic lines on every call."""

    def batches(columns: list[str]) -> Iterator[pl.DataFrame]:
        for start in range(0, n, batch):
            size = min(batch, n - start)
            lines = make_batch(tokens, words, start, size, seed, dup_share, near_share)
            df = pl.DataFrame({"row": np.arange(start, start + size, dtype=np.uint64), "text": lines})
            df = df.with_columns(source=pl.lit("synthetic.txt"),
                                 line=pl.int_range(start + 1, start + size + 1, dtype=pl.Int64))
            yield df.select(["row", *columns])

    return batches


def frame(tokens: list[str], words: bool, n: int, seed: int = 0, batch: int = 50000, **kw) -> pl.DataFrame:
    """The same n lines as one in-memory frame (text, source, line)."""
    return pl.concat(list(stream(tokens, words, n, seed, batch, **kw)(["text", "source", "line"]))).drop("row")
