"""Normalised keys and their hashes: what "the same line" means for exact and near dedup.

Two lines are exact duplicates when their *exact keys* are equal, and near duplicates are judged on
their *near keys*. Both keys are built with polars string expressions (multi-threaded, no Python loop
per line) and differ only in what they throw away:

- NFKC folds compatibility forms (full-width Latin, ligatures, Arabic presentation forms) that are
  the same text for a reader;
- case folding (`str.to_lowercase`, Unicode full lowercase mapping) ignores casing edits;
- punctuation (`\\p{P}`) and, optionally, digits (`\\p{Nd}`) become spaces, then whitespace runs
  collapse to one space. Replacing by a space instead of deleting keeps "word,word" two words.

Combining marks (`\\p{M}`) and format characters (ZWJ/ZWNJ, `\\p{Cf}`) are **never** stripped: in
Indic, Thai, Myanmar or Vietnamese text they are letters of the word (datatrove's NFD + drop-`Mn`
turns "भारत एक विशाल देश है" into "भारत एक विशाल दश ह").

A key that normalises to nothing (a line of only punctuation, e.g. "* * *" or "—") falls back to the
raw text, so that different separator lines are not merged into one.

Keys are hashed with xxh3 (64 or 128 bits) into a `(n, 2)` uint64 array; 128 bits make an accidental
collision between two different lines of a 10M-line label about 1e-25 likely, 64 bits about 3e-6.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl
import xxhash

# Unicode White_Space, spelled out: polars' (Rust regex) `\s` is 5x slower than an explicit class
_WHITESPACE = r"\t\n\x0b\x0c\r\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


@dataclass(frozen=True)
class KeyOptions:
    """How a line is normalised before hashing or shingling (see the module docstring for why)."""

    nfkc: bool = True
    casefold: bool = True
    strip_punct: bool = True
    strip_digits: bool = False


def normalize(texts: pl.Series, opts: KeyOptions) -> pl.Series:
    """Normalised keys of a text series (same length and order).

    NFKC goes through Python's `unicodedata` (about 5x faster than polars' `str.normalize` here);
    the rest are polars expressions.
    """
    raw = texts.fill_null("")
    if opts.nfkc:
        norm = unicodedata.normalize
        series = pl.Series([norm("NFKC", t) for t in raw.to_list()], dtype=pl.Utf8)
    else:
        series = raw
    expr = pl.col("k")
    if opts.casefold:
        expr = expr.str.to_lowercase()
    spaces = _WHITESPACE + (r"\p{P}" if opts.strip_punct else "") + (r"\p{Nd}" if opts.strip_digits else "")
    expr = expr.str.replace_all(f"[{spaces}]", " ").str.replace_all(" {2,}", " ").str.strip_chars(" ")
    out = pl.DataFrame({"k": series, "raw": raw}).select(
        pl.when(expr.str.len_bytes() > 0).then(expr).otherwise(pl.col("raw")).alias("key"))
    return out.to_series()


def hash_keys(keys: pl.Series, bits: int = 128) -> np.ndarray:
    """xxh3 hashes of the keys as an `(n, 2)` uint64 array (second column 0 for 64-bit hashes)."""
    if bits not in (64, 128):
        raise ValueError(f"dedup hash_bits must be 64 or 128, not {bits}")
    values = keys.to_list()
    out = np.zeros((len(values), 2), dtype=np.uint64)
    if not values:
        return out
    if bits == 128:
        digest = xxhash.xxh3_128_digest
        raw = b"".join(digest(v.encode("utf-8")) for v in values)
        out[:] = np.frombuffer(raw, dtype=">u8").reshape(-1, 2)
    else:
        fn = xxhash.xxh3_64_intdigest
        out[:, 0] = np.fromiter((fn(v.encode("utf-8")) for v in values), dtype=np.uint64, count=len(values))
    return out
