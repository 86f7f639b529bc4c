"""Batched n-gram repetition measures (numpy), the one part of the filters with no polars expression.

Both measures follow BigScience ROOTS `filtering.py` exactly, but run on a whole batch at once: the
batch's tokens (code points, or word hashes) are one flat array with a row id per token; every
n-gram gets a 64-bit polynomial hash mixed with its row id, and the repeated n-grams of every row
are found with one sort of (row, hash) keys.

- `top_ngram_ratio` (ROOTS character repetition): sort a row's n-gram frequencies descending,
  k = min(floor(sqrt(#distinct)), #distinct - #seen-once); ratio = sum of the top k / #n-grams.
- `dup_ngram_ratio` (ROOTS word repetition): occurrences of n-grams seen more than once / #n-grams.
Rows with fewer than n tokens score 0, as in ROOTS.
"""

from __future__ import annotations

import numpy as np

_P = np.uint64(0x100000001B3)  # FNV prime: odd, so the polynomial hash is a bijection per step
_MIX = np.uint64(0x9E3779B97F4A7C15)


def window_hashes(tokens: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every n-token window that stays inside one row, that window's row)."""
    m = len(tokens) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    vals = tokens.astype(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        h = vals[:m].copy()
        for j in range(1, n):
            h *= _P
            h += vals[j : j + m]
    inside = rows[:m] == rows[n - 1 :]
    return h[inside], rows[:m][inside]


def _repeated(h: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, frequency) of every distinct n-gram that occurs more than once within its row.

    One sort of `row << 40 | hash40`: equal n-grams of a row become neighbours. A false match needs
    two different n-grams of one row to agree on 40 bits (about 1e-6 for a 1,000-character line).
    """
    if len(h) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    with np.errstate(over="ignore"):
        mixed = (h * _MIX) >> np.uint64(24)
    key = np.sort((rows.astype(np.uint64) << np.uint64(40)) | mixed)
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(key)))
    multi = counts > 1
    return (key[starts[multi]] >> np.uint64(40)).astype(np.int64), counts[multi]


def _totals(rows: np.ndarray, n_rows: int) -> np.ndarray:
    return np.bincount(rows, minlength=n_rows).astype(np.float64)


def top_ngram_ratio(tokens: np.ndarray, rows: np.ndarray, n_rows: int, n: int) -> np.ndarray:
    """ROOTS character-repetition ratio of every row (see module docstring)."""
    h, hr = window_hashes(tokens, rows, n)
    total = _totals(hr, n_rows)
    rep_rows, rep_counts = _repeated(h, hr)
    out = np.zeros(n_rows, dtype=np.float64)
    if len(rep_rows) == 0:
        return out
    n_rep = np.bincount(rep_rows, minlength=n_rows)
    extra = np.bincount(rep_rows, weights=rep_counts - 1, minlength=n_rows)
    distinct = total - extra
    k = np.minimum(np.floor(np.sqrt(distinct)), n_rep).astype(np.int64)
    order = np.lexsort((-rep_counts, rep_rows))
    r, c = rep_rows[order], rep_counts[order]
    starts = np.searchsorted(r, r, side="left")
    rank = np.arange(len(r)) - starts
    take = rank < k[r]
    top = np.bincount(r[take], weights=c[take], minlength=n_rows)
    np.divide(top, total, out=out, where=total > 0)
    return out


def dup_ngram_ratio(tokens: np.ndarray, rows: np.ndarray, n_rows: int, n: int) -> np.ndarray:
    """ROOTS word-repetition ratio of every row (see module docstring)."""
    h, hr = window_hashes(tokens, rows, n)
    total = _totals(hr, n_rows)
    rep_rows, rep_counts = _repeated(h, hr)
    out = np.zeros(n_rows, dtype=np.float64)
    dup = np.bincount(rep_rows, weights=rep_counts, minlength=n_rows)
    np.divide(dup, total, out=out, where=total > 0)
    return out


def row_max(values: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Maximum of `values` per row, 0 for rows without values; `rows` must be non-decreasing."""
    out = np.zeros(n_rows, dtype=np.int64)
    if len(values) == 0:
        return out
    seg = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    out[rows[seg]] = np.maximum.reduceat(values, seg)
    return out


def longest_run(tokens: np.ndarray, rows: np.ndarray, n_rows: int, countable: np.ndarray) -> np.ndarray:
    """Longest run of one repeated token per row, counting only tokens where `countable` is true."""
    if len(tokens) == 0:
        return np.zeros(n_rows, dtype=np.int64)
    new = np.empty(len(tokens), dtype=bool)
    new[0] = True
    np.not_equal(tokens[1:], tokens[:-1], out=new[1:])
    new[1:] |= rows[1:] != rows[:-1]
    starts = np.flatnonzero(new & countable)
    ends = np.flatnonzero(new)
    # each countable run ends where the next run (of any kind) starts
    nxt = np.searchsorted(ends, starts, side="right")
    stop = np.where(nxt < len(ends), ends[np.minimum(nxt, len(ends) - 1)], len(tokens))
    return row_max(stop - starts, rows[starts], n_rows)
