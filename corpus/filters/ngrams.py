"""Batched n-gram repetition measures (numpy), the one part of the filters with no polars expression.

Both measures follow BigScience ROOTS `filtering.py` exactly, but run on a whole batch at once: the
batch's tokens (code points, or word hashes) are one flat array, rows are given by their lengths;
every n-gram gets a 64-bit polynomial hash (built by doubling: 4 passes for n = 10, not 10), and the
repeated n-grams of every row are found by sorting each row's hashes (see `_repeated`).

- `top_ngram_ratio` (ROOTS character repetition): sort a row's n-gram frequencies descending,
  k = min(floor(sqrt(#distinct)), #distinct - #seen-once); ratio = sum of the top k / #n-grams.
- `dup_ngram_ratio` (ROOTS word repetition): occurrences of n-grams seen more than once / #n-grams.
Rows with fewer than n tokens score 0, as in ROOTS. A false repeat needs two different n-grams of
one row to agree on all 64 hash bits.
"""

from __future__ import annotations

import numpy as np

_P = np.uint64(0x100000001B3)  # FNV prime: odd, so multiplying by it is a bijection mod 2^64
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hashes(vals: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hash of every window of `n` consecutive values (len(vals) - n + 1 of them).

    H_a+b[i] = H_a[i] * P^b + H_b[i + a]: lengths 1, 2, 4, 8 by doubling, then the rest from the
    binary parts, each step one multiply and one in-place add.
    """
    have: dict[int, np.ndarray] = {1: vals}
    size = 1
    with np.errstate(over="ignore"):
        while size * 2 <= n:
            h = have[size]
            nxt = h[:-size] * (_P**size)
            nxt += h[size:]
            have[size * 2] = nxt
            size *= 2
        result, length = have[size], size
        for part in sorted(have, reverse=True):
            if length + part <= n:
                m = len(vals) - (length + part) + 1
                step = result[:m] * (_P**part)
                step += have[part][length : length + m]
                result, length = step, length + part
    return result


def _repeated(tokens: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, frequency) of every distinct n-gram repeated within its row, and #n-grams per row.

    Rows are sorted separately, not the whole batch: rows of similar length are stacked into a
    matrix (padded with distinct values above the hashes) and sorted along axis 1, which costs
    N log(row length) instead of N log(N), about 3x less on sentence-length rows.
    """
    per_row = np.maximum(lengths - n + 1, 0)
    empty = np.zeros(0, np.int64)
    if per_row.sum() == 0 or len(tokens) < n:
        return empty, empty, per_row
    with np.errstate(over="ignore"):
        h = _hashes(tokens.astype(np.uint64) + np.uint64(1), n)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    live = per_row > 1
    # bucket widths: multiples of 32 up to 512, then powers of two (little padding, few buckets)
    pow2 = 1 << np.ceil(np.log2(np.maximum(per_row, 1))).astype(np.int64)
    width = np.where(per_row <= 512, -(-per_row // 32) * 32, pow2) * live
    rows_out, counts_out = [], []
    top = np.uint64(np.iinfo(np.uint64).max)
    for w in np.unique(width[live]):
        idx = np.flatnonzero(width == w)
        size = per_row[idx]
        cols = np.arange(w)
        inside = cols[None, :] < size[:, None]
        block = h[np.minimum(starts[idx][:, None] + cols[None, :], len(h) - 1)]
        # padding: distinct values above any real hash in practice, so they never look repeated
        np.copyto(block, (top - cols.astype(np.uint64))[None, :], where=~inside)
        block.sort(axis=1)
        r, c = np.nonzero(block[:, 1:] == block[:, :-1])
        if len(r) == 0:
            continue
        first = np.concatenate(([True], (r[1:] != r[:-1]) | (c[1:] != c[:-1] + 1)))
        run = np.flatnonzero(first)
        rows_out.append(idx[r[run]])
        counts_out.append(np.diff(np.append(run, len(r))) + 1)
    if not rows_out:
        return empty, empty, per_row
    return np.concatenate(rows_out), np.concatenate(counts_out), per_row


def top_ngram_ratio(tokens: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """ROOTS character-repetition ratio of every row (see module docstring)."""
    n_rows = len(lengths)
    rep_rows, rep_counts, per_row = _repeated(tokens, lengths, n)
    out = np.zeros(n_rows, dtype=np.float64)
    if len(rep_rows) == 0:
        return out
    total = per_row.astype(np.float64)
    n_rep = np.bincount(rep_rows, minlength=n_rows)
    extra = np.bincount(rep_rows, weights=rep_counts - 1, minlength=n_rows)
    distinct = total - extra
    k = np.minimum(np.floor(np.sqrt(distinct)), n_rep).astype(np.int64)
    order = np.lexsort((-rep_counts, rep_rows))
    r, c = rep_rows[order], rep_counts[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
    take = rank < k[r]
    top = np.bincount(r[take], weights=c[take], minlength=n_rows)
    np.divide(top, total, out=out, where=total > 0)
    return out


def dup_ngram_ratio(tokens: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """ROOTS word-repetition ratio of every row (see module docstring)."""
    n_rows = len(lengths)
    rep_rows, rep_counts, per_row = _repeated(tokens, lengths, n)
    out = np.zeros(n_rows, dtype=np.float64)
    total = per_row.astype(np.float64)
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


def longest_run(tokens: np.ndarray, lengths: np.ndarray, countable: np.ndarray) -> np.ndarray:
    """Longest run of one repeated token per row, counting only tokens where `countable` is true.

    Repeats are rare in text, so only the sparse positions that repeat their predecessor are grouped.
    """
    n_rows = len(lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    seen = np.concatenate(([0], np.cumsum(countable)))
    out = ((seen[offsets[1:]] - seen[offsets[:-1]]) > 0).astype(np.int64)
    if len(tokens) < 2:
        return out
    same = (tokens[1:] == tokens[:-1]) & countable[1:]
    cut = offsets[1:-1] - 1
    same[cut[(cut >= 0) & (cut < len(same))]] = False  # never continue a run across rows
    pos = np.flatnonzero(same)
    if len(pos) == 0:
        return out
    first = np.concatenate(([True], pos[1:] != pos[:-1] + 1))
    starts = np.flatnonzero(first)
    runs = np.diff(np.append(starts, len(pos))) + 1
    rows = np.searchsorted(offsets, pos[starts], side="right") - 1
    return np.maximum(out, row_max(runs, rows, n_rows))
