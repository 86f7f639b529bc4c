"""Connected components (union-find) and chaining-free resolution of verified duplicate pairs.

Components are found with array "hook and shortcut" rounds (Shiloach-Vishkin style): every edge
hooks the larger root under the smaller one (`np.minimum.at`), then pointers are jumped until each
node points at its root. Each round is a few vectorised passes over the edges, the root of a
component is always its smallest row (deterministic, independent of edge order), and the same
rounds run as joins on a distributed engine (no single-task union-find: datatrove #106,
text-dedup #105).

Union-find alone would chain: if A~B and B~C but A and C are different lines, one component would
remove C as a duplicate of A. `resolve_greedy` therefore decides inside components in canonical
order: a line is removed only when it has a verified edge to a line that is *kept*, and it points at
the most similar such line. So every removed line has a kept twin it was actually compared with,
and a component may keep more than one line.
"""

from __future__ import annotations

import numpy as np


def components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Root (smallest node) of every node 0..n-1 given undirected edges (a, b)."""
    parent = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return parent
    a = a.astype(np.int64, copy=False)
    b = b.astype(np.int64, copy=False)
    while True:
        ra, rb = parent[a], parent[b]
        if np.array_equal(ra, rb):
            return parent
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at a root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def resolve_greedy(a: np.ndarray, b: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which lines verified pairs remove: (removed rows, their kept twin, similarity to it).

    `a < b` for every pair (a comes first in canonical order). Lines are decided in canonical order;
    `b` is removed if some `a` it is paired with is kept, and points at the most similar kept `a`
    (ties: the earliest).
    """
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    order = np.lexsort((a, -sim, b))
    a_l, b_l, s_l = a[order].tolist(), b[order].tolist(), sim[order].tolist()
    removed: dict[int, tuple[int, float]] = {}
    current = -1
    for x, y, s in zip(a_l, b_l, s_l, strict=True):
        if y == current:
            continue  # y already decided by a more similar kept partner
        if x in removed:
            continue
        removed[y] = (x, s)
        current = y
    rows = np.fromiter(removed.keys(), dtype=np.int64, count=len(removed))
    twins = np.fromiter((v[0] for v in removed.values()), dtype=np.int64, count=len(removed))
    sims = np.fromiter((v[1] for v in removed.values()), dtype=np.float64, count=len(removed))
    order = np.argsort(rows)
    return rows[order], twins[order], sims[order]
