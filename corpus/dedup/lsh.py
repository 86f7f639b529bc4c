"""LSH banding: candidate pairs from grouping band hashes, by sorting, with bounded fan-out.

For each band, rows whose band hashes are equal fall into one bucket. Instead of a Python dict of
buckets (datasketch: ~430 MB for 200k lines), the band column is sorted once (`argsort`, stable so
rows stay in canonical order inside a bucket) and buckets are runs of equal values. A distributed
engine does the same thing as a shuffle keyed by (band, hash).

A bucket of k lines has k(k-1)/2 pairs, which explodes on boilerplate-like buckets. Every member
is therefore paired only with the first `max_partners` members of its bucket (the lines most likely
to be kept, since the first line in canonical order wins) and with its predecessor, so the edges of
one band are at most `(max_partners + 1) * lines`. Candidates are only proposals: the stage verifies
each pair's similarity before it can remove anything.
"""

from __future__ import annotations

import numpy as np


def bucket_edges(keys: np.ndarray, rows: np.ndarray, max_partners: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (a, b), a < b, of rows sharing a key; `rows` ascending, one per key."""
    if len(keys) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    r = rows[order].astype(np.int64, copy=False)
    new = np.empty(len(k), dtype=bool)
    new[0] = True
    np.not_equal(k[1:], k[:-1], out=new[1:])
    gid = np.cumsum(new) - 1
    gstart = np.flatnonzero(new)
    gsize = np.diff(np.append(gstart, len(k)))
    shared = gsize[gid] >= 2
    if not shared.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    idx = np.flatnonzero(shared)
    start = gstart[gid[idx]]
    rank = idx - start
    a_parts, b_parts = [], []
    for j in range(min(max_partners, int(rank.max()))):
        sel = rank > j
        a_parts.append(r[start[sel] + j])
        b_parts.append(r[idx[sel]])
    far = rank > max_partners  # predecessor not already among the first partners
    a_parts.append(r[idx[far] - 1])
    b_parts.append(r[idx[far]])
    return np.concatenate(a_parts), np.concatenate(b_parts)


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs sorted by (b, a)."""
    if len(a) == 0:
        return a, b
    width = np.int64(max(int(a.max()), 0) + 1)
    key = np.unique(b.astype(np.int64) * width + a)
    return key % width, key // width


def candidates(band_matrix: np.ndarray, rows: np.ndarray, max_partners: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Distinct candidate pairs over all bands of `band_matrix` (lines x bands), sorted by (b, a)."""
    a_all, b_all = [], []
    for band in range(band_matrix.shape[1]):
        a, b = bucket_edges(np.ascontiguousarray(band_matrix[:, band]), rows, max_partners)
        a_all.append(a)
        b_all.append(b)
    if not a_all:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return unique_pairs(np.concatenate(a_all), np.concatenate(b_all))
