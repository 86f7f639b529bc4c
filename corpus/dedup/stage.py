"""The `dedup` label stage: exact, then MinHash-LSH near-duplicate removal within one label.

The stage reads the label's rows in canonical order (priority, source, line, sentence) through the
runner's `batches(columns)` callback, several times, and keeps only compact arrays between passes,
so memory grows by tens of bytes per line, never with the text:

1. **exact**: xxh3-128 of every line's normalised key (16 B/line). Inside a group of equal keys the
   first row is kept; the others are `dedup:exact`, score 1.0, pointing at it.
2. **signatures**: for exact survivors whose near key has at least `min_chars` code points, script-
   aware shingles -> MinHash signature -> one uint32 per LSH band (4 B x bands per line). For
   verification only the top 16 bits of each MinHash value are kept (b-bit MinHash: two different
   values agree by chance with probability 2^-16, a bias far below the estimate's own noise), 256 B per
   line at 128 permutations, and only while they fit `signature_memory_mb`.
3. **candidates**: band columns are sorted and bucketed (`lsh.py`) into candidate pairs.
4. **verify**: signatures of candidate rows (kept, or recomputed in an extra pass) give the
   estimated Jaccard of every pair; pairs under the threshold are dropped, so LSH false positives
   never remove anything.
5. **resolve**: union-find components of all duplicate edges name the clusters; inside them lines
   are decided greedily in canonical order (`unionfind.resolve_greedy`), so no line is removed
   through a chain of other lines. `dedup:near` carries the estimated similarity.
6. **references**: one last pass fetches `source`/`line` of the kept twins (every removed line
   points at a kept line) and example text of the largest clusters for `stats/dedup.json`.

Everything is a pure function of the rows and the recipe, so results do not depend on worker counts
or batch sizes. Labels are independent, so the runner reduces them in parallel.

Labels too large for one task (`shard_min_lines`) are deduplicated by `sharded.py` instead: the same
steps as rounds of tasks that exchange partitioned files (exact = group by key hash; candidates =
shuffle by (band, value); verification = a join of pairs with signatures by row slice; components =
large-star / small-star rounds; greedy resolution per component), with the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl

from glotforge.corpus.dedup.config import DedupConfig
from glotforge.corpus.dedup.lsh import candidates
from glotforge.corpus.dedup.minhash import band_hashes, estimate_jaccard, lsh_params, permutations, signatures
from glotforge.corpus.dedup.normalize import hash_keys, normalize
from glotforge.corpus.dedup.shingles import shingle
from glotforge.corpus.dedup.unionfind import components, resolve_greedy
from glotforge.corpus.schema import DECISION_SCHEMA

Batches = Callable[[list[str]], Iterator[pl.DataFrame]]
EXAMPLE_CHARS = 200


def _exact_pass(batches: Batches, cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row ids ascending, exact-group representative, near-key length), the last two by dense index.

    Row ids may have gaps (rows an earlier label stage removed); everything after this pass works on
    dense indices 0..n-1 into the sorted row ids.
    """
    rows, hashes, near_len = [], [], []
    for df in batches(["text"]):
        rows.append(df["row"].to_numpy().astype(np.int64))
        text = df["text"]
        exact_key = normalize(text, cfg.exact_key())
        hashes.append(hash_keys(exact_key, cfg.hash_bits) if cfg.exact
                      else np.zeros((df.height, 2), dtype=np.uint64))
        near_key = exact_key if cfg.exact_key() == cfg.near_key() else normalize(text, cfg.near_key())
        near_len.append(near_key.str.len_chars().to_numpy().astype(np.int64))
    if not rows:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    row = np.concatenate(rows)
    h = np.concatenate(hashes)
    nl = np.concatenate(near_len)
    if len(row) > 1 and not (np.diff(row) > 0).all():
        order = np.argsort(row, kind="stable")
        row, h, nl = row[order], h[order], nl[order]
        if not (np.diff(row) > 0).all():
            raise ValueError("dedup: batches() yielded a row twice")
    n = len(row)
    rep = np.arange(n, dtype=np.int64)
    if cfg.exact and n:
        order = np.lexsort((np.arange(n), h[:, 1], h[:, 0]))
        hs = h[order]
        new = np.ones(n, dtype=bool)
        new[1:] = (hs[1:] != hs[:-1]).any(axis=1)
        first = order[np.flatnonzero(new)]
        rep[order] = first[np.cumsum(new) - 1]
    return row, rep, nl


def _signature_pass(batches: Batches, wanted: np.ndarray, cfg: DedupConfig, word_mode: bool,
                    bands: int, rows_per_band: int, keep_sigs: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Band hashes (and, if `keep_sigs`, signatures) of the rows flagged in `wanted`, in row order.

    Output arrays are allocated once and filled batch by batch, so the peak is the arrays themselves.
    """
    perm = permutations(cfg.num_perm, cfg.seed)
    total = int(wanted.sum())
    band_matrix = np.empty((total, bands), dtype=np.uint32)
    sigs = np.empty((total, cfg.num_perm), dtype=np.uint16) if keep_sigs else None
    at, last = 0, -1
    for df in batches(["text"]):
        row = df["row"].to_numpy().astype(np.int64)
        sel = wanted[row]
        if not sel.any():
            continue
        if row[sel][0] <= last:
            raise ValueError("dedup: batches() must yield rows in ascending order")
        last = row[sel][-1]
        keys = normalize(df["text"].filter(pl.Series(sel)), cfg.near_key()).to_list()
        h, per_line = shingle(keys, word_mode, cfg.word_ngram, cfg.char_ngram)
        sig = signatures(h, per_line, perm)
        if bands:
            band_matrix[at:at + len(sig)] = band_hashes(sig, bands, rows_per_band)
        if sigs is not None:  # top 16 bits of each value are enough to count agreements
            sigs[at:at + len(sig)] = sig >> 16
        at += len(sig)
    if at != total:
        raise ValueError(f"dedup: a pass over batches() saw {at} of {total} wanted rows")
    return band_matrix, sigs


def _row_mask(row_ids: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """Boolean mask over row ids (0..max row id) flagging the rows at dense indices `dense`."""
    mask = np.zeros(int(row_ids[-1]) + 1 if len(row_ids) else 0, dtype=bool)
    mask[row_ids[dense]] = True
    return mask


def _near(batches: Batches, row_ids: np.ndarray, rep: np.ndarray, near_len: np.ndarray, cfg: DedupConfig,
          word_mode: bool, stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near-duplicate decisions among exact survivors (dense indices): (removed, kept twin, similarity)."""
    n = len(row_ids)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
    eligible = (rep == np.arange(n)) & (near_len >= max(cfg.min_chars, 1))
    elig_rows = np.flatnonzero(eligible)
    stats["near_eligible"] = int(len(elig_rows))
    if len(elig_rows) < 2:
        return empty
    bands, rows_per_band = lsh_params(cfg.threshold, cfg.num_perm, cfg.recall_weight)
    keep = len(elig_rows) * cfg.num_perm * 2 <= cfg.signature_memory_mb * 2**20
    band_matrix, sigs = _signature_pass(batches, _row_mask(row_ids, elig_rows), cfg, word_mode, bands,
                                        rows_per_band, keep)
    a, b = candidates(band_matrix, elig_rows, cfg.max_partners)
    del band_matrix
    stats["candidate_pairs"] = int(len(a))
    if len(a) == 0:
        return empty
    if sigs is not None:
        index_of = elig_rows
    else:  # recompute signatures for the rows that appear in candidate pairs only
        index_of = np.unique(np.concatenate([a, b]))
        _, sigs = _signature_pass(batches, _row_mask(row_ids, index_of), cfg, word_mode, 0, 0, True)
    sim = np.empty(len(a), dtype=np.float64)
    step = 1 << 16
    for lo in range(0, len(a), step):
        ia = np.searchsorted(index_of, a[lo:lo + step])
        ib = np.searchsorted(index_of, b[lo:lo + step])
        sim[lo:lo + step] = estimate_jaccard(sigs[ia], sigs[ib])
    ok = sim >= cfg.threshold
    stats["verified_pairs"] = int(ok.sum())
    return resolve_greedy(a[ok], b[ok], sim[ok])


def _fetch(batches: Batches, wanted: np.ndarray, with_text: np.ndarray) -> pl.DataFrame:
    """`source`/`line` of the rows flagged in `wanted`, and `text` only where `with_text` (row-id masks).

    Twins can be a large share of a label; their text is not needed, only the report's examples.
    """
    parts = []
    for df in batches(["source", "line", "text"]):
        row = df["row"].to_numpy().astype(np.int64)
        sel = wanted[row]
        if sel.any():
            part = df.filter(pl.Series(sel))
            keep_text = pl.Series(with_text[row[sel]])
            parts.append(part.with_columns(text=pl.when(keep_text).then(pl.col("text"))))
    if not parts:
        return pl.DataFrame(schema={"row": pl.UInt64, "source": pl.Utf8, "line": pl.Int64, "text": pl.Utf8})
    return pl.concat(parts).sort("row")


class DedupStage:
    """Exact and near-duplicate removal within a label (see the module docstring)."""

    name = "dedup"
    scope = "label"
    annotations: dict[str, pl.DataType] = {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        DedupConfig.for_label(self.config, None)  # fail early on a bad recipe

    def decide(self, label: str, batches: Batches) -> tuple[pl.DataFrame, dict[str, Any]]:
        cfg = DedupConfig.for_label(self.config, label)
        word_mode = cfg.word_mode(label)
        row_ids, rep, near_len = _exact_pass(batches, cfg)
        n = len(row_ids)
        stats: dict[str, Any] = {"lines": n, "shingles": cfg.shingle_name(label), "threshold": cfg.threshold}
        if cfg.near:
            bands, rows_per_band = lsh_params(cfg.threshold, cfg.num_perm, cfg.recall_weight)
            stats.update(num_perm=cfg.num_perm, bands=bands, rows=rows_per_band)
            near_rows, near_twin, near_sim = _near(batches, row_ids, rep, near_len, cfg, word_mode, stats)
        else:
            near_rows, near_twin, near_sim = (np.zeros(0, np.int64),) * 2 + (np.zeros(0),)
        # final kept twin of every row: exact group first, then its near twin if it was removed
        twin = rep.copy()
        score = np.ones(n, dtype=np.float64)
        is_near = np.zeros(n, dtype=bool)
        near_twin_of = np.arange(n, dtype=np.int64)
        near_twin_of[near_rows] = near_twin
        near_sim_of = np.ones(n, dtype=np.float64)
        near_sim_of[near_rows] = near_sim
        moved = near_twin_of[rep] != rep
        twin[moved] = near_twin_of[rep[moved]]
        score[moved] = near_sim_of[rep[moved]]
        is_near[moved] = True
        removed = np.flatnonzero(twin != np.arange(n))
        stats["exact"] = int((~is_near[removed]).sum())
        stats["near"] = int(is_near[removed].sum())
        stats["kept"] = n - len(removed)
        if len(removed) == 0:
            stats["clusters"] = []
            return pl.DataFrame(schema=DECISION_SCHEMA), stats
        # clusters: components of all duplicate edges (exact and verified near)
        root = components(np.concatenate([removed, near_rows]), np.concatenate([twin[removed], near_twin]), n)
        sizes = np.bincount(root, minlength=n)
        top = _largest(root, removed, sizes, cfg.report_clusters)
        meta = _fetch(batches, _row_mask(row_ids, np.concatenate([twin[removed], top])), _row_mask(row_ids, top))
        meta = meta.with_columns(dense=pl.Series(np.searchsorted(row_ids, meta["row"].to_numpy().astype(np.int64))))
        src = dict(zip(meta["dense"].to_list(), zip(meta["source"].to_list(), meta["line"].to_list(), strict=True),
                       strict=True))
        twins = twin[removed].tolist()
        out = pl.DataFrame({
            "row": pl.Series(row_ids[removed], dtype=pl.UInt64),
            "reason": np.where(is_near[removed], "dedup:near", "dedup:exact"),
            "score": np.round(score[removed], 4),
            "ref_source": [src[t][0] for t in twins],
            "ref_line": pl.Series([src[t][1] for t in twins], dtype=pl.Int64),
            "detail": [f"cluster {r} size {s}" for r, s in zip(row_ids[root[removed]].tolist(),
                                                              sizes[root[removed]].tolist(), strict=True)],
        }, schema=DECISION_SCHEMA)
        stats["clusters"] = _cluster_report(top, root, removed, is_near, sizes, meta, row_ids)
        return out, stats


def _largest(root: np.ndarray, removed: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Roots of the k largest clusters (ties: earliest root)."""
    roots = np.unique(root[removed])
    order = np.lexsort((roots, -sizes[roots]))
    return roots[order[:k]]


def _cluster_report(top: np.ndarray, root: np.ndarray, removed: np.ndarray, is_near: np.ndarray,
                    sizes: np.ndarray, meta: pl.DataFrame, row_ids: np.ndarray) -> list[dict[str, Any]]:
    """The largest clusters: size, how many lines each step removed, the kept line and its text."""
    info = {r: (s, ln, t) for r, s, ln, t in meta.select("dense", "source", "line", "text").iter_rows()}
    out = []
    for r in top.tolist():
        members = removed[root[removed] == r]
        source, line, text = info[r]
        out.append({
            "cluster": int(row_ids[r]), "size": int(sizes[r]),
            "exact": int((~is_near[members]).sum()), "near": int(is_near[members].sum()),
            "kept": int(sizes[r]) - len(members),
            "source": source, "line": line, "example": text[:EXAMPLE_CHARS],
        })
    return out


def frame_batches(df: pl.DataFrame, batch_size: int = 50000) -> Batches:
    """A `batches` callback over an in-memory frame already in canonical order (rows numbered 0..n-1)."""
    numbered = df.with_row_index("row").with_columns(pl.col("row").cast(pl.UInt64))

    def batches(columns: list[str]) -> Iterator[pl.DataFrame]:
        for start in range(0, numbered.height, batch_size):
            yield numbered.slice(start, batch_size).select(["row", *columns])

    return batches


def dedup_frame(df: pl.DataFrame, label: str, config: dict[str, Any] | None = None,
                batch_size: int = 50000) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Deduplicate one label held in memory (`text`, `source`, `line`, canonical order).

    Returns the frame with the stage's decision columns joined on (`reason` null = kept) and the
    report. Used by the benchmarks and handy in notebooks; builds go through `glot build`.
    """
    rejections, report = DedupStage(config).decide(label, frame_batches(df, batch_size))
    out = df.with_row_index("row").with_columns(pl.col("row").cast(pl.UInt64))
    return out.join(rejections, on="row", how="left").sort("row").drop("row"), report
