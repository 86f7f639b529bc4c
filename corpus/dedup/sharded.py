"""Near-dedup of one label as rounds of small tasks that exchange partitioned Parquet files.

`DedupStage.decide` (stage.py) needs one process to hold a label's exact hashes, band hashes and
candidate edges: ~120-650 B per line, hours of one core for a 100M-line label. This module computes
**the same decisions** as rounds of independent tasks, each bounded by one slice or one partition, so
a cluster can share the work and no process ever holds all signatures:

=========  ===================  ===========================================  =========================
round      one task per         reads                                        writes (under `work/`)
=========  ===================  ===========================================  =========================
keys       row slice            the slice's text                             exact/ by key hash
groups     key-hash partition   exact/                                       xdup/ by row, xrep/ by rep
sigs       row slice            text, xdup/ (exact survivors only)           bands/ by (band, value)
                                                                             hash; sig/ (the slice's)
cands      band partition       bands/ (every bucket whole, rows ascending)  cand/ by slice of a
pair_a     slice of a           cand/, sig/ of the slice                     candb/ by slice of b
verify     slice of b           candb/, sig/ of the slice                    edges/; cc/000 both ways
star       node slice, rounds   cc/<i>                                       cc/<i+1>
roots      slice of b           final cc/, edges/                            comp/ by component root
resolve    root slice           comp/ (whole components)                     ndec/ by removed row
assign     slice of exact rep   xrep/, ndec/                                 final/ by kept twin
clusters   twin slice           final/, the slice's source/line/text         decided/ by removed row
=========  ===================  ===========================================  =========================

A *slice* is a run of consecutive rows (whole map shards, so it can be read without the others);
hash partitions are as many as slices. Rows are numbered in the label's canonical order, so every
tie-break of the single-task stage (first row of an exact group, first members of an LSH bucket,
greedy resolution in canonical order) is decided by the same numbers here:

* an LSH bucket is one (band, value); all of its members meet in one partition, sorted by row, and
  `lsh.bucket_edges` pairs them exactly as the single task does;
* connected components use the alternating large-star / small-star rounds of Kiveris et al. (2014,
  "Connected Components in MapReduce and Beyond"): each round is a group-by on one endpoint, so a
  task holds only the edges of its node slice; at the fixed point every component is a star around its
  smallest row, whatever the edge order;
* `unionfind.resolve_greedy` decides inside components, which never interact, so running it on a
  partition of whole components gives the single-task result row for row;
* a removed line's twin is always a kept line with a smaller row, so the clusters of the report are
  groups by twin (stars), sized and named without a global union-find.

Costs (N rows, b bands, E candidate pairs, S slices, R star rounds, k permutations): time
O(N·(k + b·log N) + E·log E + R·E·log E) spread over S tasks per round; intermediate files ~24 B per
row (exact) + 13 B × b per row (bands) + 2·k B per row (signatures, 256 B at k = 128) + ~300 B per candidate pair
(pair + one signature, pair_a -> verify) + 16 B per verified edge per star round. Memory per task:
one slice of signatures (2·k B per row) plus its partition's share of the above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from glotforge.corpus.dedup.config import DedupConfig
from glotforge.corpus.dedup.lsh import bucket_edges, unique_pairs
from glotforge.corpus.dedup.minhash import band_hashes, estimate_jaccard, permutations, signatures
from glotforge.corpus.dedup.normalize import hash_keys, normalize
from glotforge.corpus.dedup.shingles import fmix64, shingle
from glotforge.corpus.dedup.unionfind import resolve_greedy
from glotforge.corpus.schema import DECISION_SCHEMA
from glotforge.corpus.storage import as_path, makedirs, parquet_source, replace
from glotforge.corpus.writers import tmp_name

Batches = Callable[[list[str]], Iterator[pl.DataFrame]]
EXAMPLE_CHARS = 200
MAX_STAR_ROUNDS = 200  # large-star/small-star converges in O(log^2 n) rounds; this is only a guard
I64, U64, F64 = pl.Int64, pl.UInt64, pl.Float64


@dataclass(frozen=True)
class Layout:
    """Where one label's rounds write (`work`, a location string) and how its rows are sliced."""

    work: str
    starts: tuple[int, ...]  # first row of every slice, then the number of rows

    @property
    def root(self) -> Path:
        return as_path(self.work)

    @property
    def slices(self) -> int:
        return len(self.starts) - 1

    @property
    def rows(self) -> int:
        return self.starts[-1]

    def slice_of(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.starts[1:-1], dtype=np.int64), rows, side="right")

    def folder(self, kind: str, target: int) -> Path:
        return self.root / kind / f"s-{target:05d}"


def _write(df: pl.DataFrame, path: Path, statistics: bool = False) -> None:
    makedirs(path.parent)
    tmp = tmp_name(path)
    with tmp.open("wb") as fh:
        df.write_parquet(fh, compression="lz4", statistics=statistics, row_group_size=100_000)
    replace(tmp, path)


def _route(df: pl.DataFrame, target: np.ndarray, layout: Layout, kind: str, producer: int) -> None:
    """Write the rows of `df` to `kind/s-<target>/from-<producer>.parquet` (the shuffle, as files)."""
    if df.height == 0:
        return
    small = np.uint16 if layout.slices <= np.iinfo(np.uint16).max else np.uint32
    order = np.argsort(target.astype(small), kind="stable")  # radix sort for 16-bit keys
    t = target[order]
    cuts = np.flatnonzero(t[1:] != t[:-1]) + 1
    df = df[order]
    for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(t)].tolist(), strict=True):
        _write(df.slice(lo, hi - lo), layout.folder(kind, int(t[lo])) / f"from-{producer:05d}.parquet")


def _read(layout: Layout, kind: str, target: int, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Everything routed to one target, in producer order."""
    folder = layout.folder(kind, target)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    frames = [pl.read_parquet(parquet_source(f)) for f in files]
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).cast(schema)  # type: ignore[arg-type]


def _col(df: pl.DataFrame, name: str) -> np.ndarray:
    return df.get_column(name).to_numpy()


def _hash_target(keys: np.ndarray, salt: np.ndarray | int, parts: int) -> np.ndarray:
    mixed = fmix64(keys.astype(np.uint64) ^ (np.asarray(salt, dtype=np.uint64) << np.uint64(32)))
    return (mixed % np.uint64(parts)).astype(np.int64)


def _sig_column(name: str, sig: np.ndarray) -> pl.Series:
    """Signatures (n x k uint16) as one binary value per row: 2k bytes each on disk (a Parquet list
    column would store levels per element and take ~2x that)."""
    n, k = sig.shape
    data = pa.py_buffer(np.ascontiguousarray(sig, dtype=np.uint16).tobytes())
    return pl.from_arrow(pa.FixedSizeBinaryArray.from_buffers(pa.binary(2 * k), n, [None, data])).alias(name)


def _sig_matrix(column: pl.Series, k: int) -> np.ndarray:
    arr = column.to_arrow().cast(pa.large_binary())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) == 0:
        return np.zeros((0, k), dtype=np.uint16)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data.view(np.uint16).reshape(len(arr), k)


def _rows(df: pl.DataFrame) -> np.ndarray:
    return df.get_column("row").to_numpy().astype(np.int64)


# --- exact -----------------------------------------------------------------------------------------

def exact_keys(layout: Layout, s: int, batches: Batches, cfg: DedupConfig) -> dict[str, Any]:
    """Hash every row's exact key and send it to the partition of its hash."""
    rows, hashes = [], []
    for df in batches(["text"]):
        rows.append(_rows(df))
        hashes.append(hash_keys(normalize(df["text"], cfg.exact_key()), cfg.hash_bits))
    if not rows:
        return {"rows": 0}
    row, h = np.concatenate(rows), np.concatenate(hashes)
    frame = pl.DataFrame({"h0": h[:, 0], "h1": h[:, 1], "row": row})
    _route(frame, _hash_target(h[:, 0], 0, layout.slices), layout, "exact", s)
    return {"rows": len(row)}


def exact_groups(layout: Layout, p: int) -> dict[str, Any]:
    """Inside a group of equal keys the first row is kept; the others point at it (`xdup`, `xrep`)."""
    df = _read(layout, "exact", p, {"h0": U64, "h1": U64, "row": I64})
    if df.height == 0:
        return {"removed": 0}
    h0, h1, row = _col(df, "h0"), _col(df, "h1"), _col(df, "row")
    order = np.lexsort((row, h1, h0))
    h0, h1, row = h0[order], h1[order], row[order]
    new = np.ones(len(row), dtype=bool)
    new[1:] = (h0[1:] != h0[:-1]) | (h1[1:] != h1[:-1])
    rep = row[np.flatnonzero(new)][np.cumsum(new) - 1]
    gone = ~new
    out = pl.DataFrame({"row": row[gone], "rep": rep[gone]})
    _route(out, layout.slice_of(row[gone]), layout, "xdup", p)
    _route(out, layout.slice_of(rep[gone]), layout, "xrep", p)
    return {"removed": int(gone.sum())}


# --- near: signatures, candidates, verification -----------------------------------------------------

def slice_signatures(layout: Layout, s: int, batches: Batches, cfg: DedupConfig, word_mode: bool,
                     bands: int, rows_per_band: int) -> dict[str, Any]:
    """MinHash of the slice's exact survivors with long enough near keys; bands go to their partition."""
    removed = np.sort(_col(_read(layout, "xdup", s, {"row": I64, "rep": I64}), "row"))
    perm = permutations(cfg.num_perm, cfg.seed)
    kept_rows, band_parts, sig_parts = [], [], []
    for df in batches(["text"]):
        row = _rows(df)
        survivor = ~np.isin(row, removed)
        row = row[survivor]
        near = normalize(df["text"].filter(pl.Series(survivor)), cfg.near_key())
        ok = near.str.len_chars().to_numpy() >= max(cfg.min_chars, 1)
        if not ok.any():
            continue
        h, per_line = shingle(near.filter(pl.Series(ok)).to_list(), word_mode, cfg.word_ngram, cfg.char_ngram)
        sig = signatures(h, per_line, perm)
        kept_rows.append(row[ok])
        band_parts.append(band_hashes(sig, bands, rows_per_band))
        sig_parts.append((sig >> 16).astype(np.uint16))  # b-bit MinHash, as in stage.py
    if not kept_rows:
        return {"eligible": 0}
    row = np.concatenate(kept_rows)
    bm = np.concatenate(band_parts)
    n = len(row)
    band = np.repeat(np.arange(bands, dtype=np.uint8), n)
    value = bm.T.ravel()
    frame = pl.DataFrame({"band": band, "value": value, "row": np.tile(row, bands)})
    _route(frame, _hash_target(value, band, layout.slices), layout, "bands", s)
    _write(pl.DataFrame([pl.Series("row", row), _sig_column("sig", np.concatenate(sig_parts))]),
           layout.folder("sig", s) / "sig.parquet")
    return {"eligible": n}


def candidate_pairs(layout: Layout, p: int, cfg: DedupConfig) -> dict[str, Any]:
    """LSH buckets of this partition -> candidate pairs (a < b), sent to the slice of a."""
    df = _read(layout, "bands", p, {"band": pl.UInt8, "value": pl.UInt32, "row": I64})
    if df.height == 0:
        return {"pairs": 0}
    band, value, row = _col(df, "band"), _col(df, "value"), _col(df, "row")
    # producers are read in slice order and each wrote its rows ascending, so a stable sort by band
    # (radix, uint8) leaves every band's rows ascending, as bucket_edges needs
    order = np.argsort(band, kind="stable")
    band, value, row = band[order], value[order], row[order]
    cuts = np.flatnonzero(band[1:] != band[:-1]) + 1
    a_all, b_all = [], []
    for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(band)].tolist(), strict=True):
        a, b = bucket_edges(value[lo:hi], row[lo:hi], cfg.max_partners)
        a_all.append(a)
        b_all.append(b)
    a, b = unique_pairs(np.concatenate(a_all), np.concatenate(b_all))
    _route(pl.DataFrame({"a": a, "b": b}), layout.slice_of(a), layout, "cand", p)
    return {"pairs": len(a)}


def _slice_sigs(layout: Layout, s: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    path = layout.folder("sig", s) / "sig.parquet"
    if not path.exists():
        return np.zeros(0, np.int64), np.zeros((0, num_perm), np.uint16)
    df = pl.read_parquet(parquet_source(path))
    return _rows(df), _sig_matrix(df.get_column("sig"), num_perm)


def _lookup(sorted_rows: np.ndarray, wanted: np.ndarray, what: str) -> np.ndarray:
    at = np.searchsorted(sorted_rows, wanted)
    if len(wanted) and (at.max() >= len(sorted_rows) or not np.array_equal(sorted_rows[at], wanted)):
        raise ValueError(f"dedup: a {what} row is missing from its slice's files")
    return at


def pair_first(layout: Layout, s: int, cfg: DedupConfig) -> dict[str, Any]:
    """Distinct candidate pairs whose first row is in this slice, with that row's signature, to b's slice."""
    df = _read(layout, "cand", s, {"a": I64, "b": I64})
    a, b = unique_pairs(_col(df, "a"), _col(df, "b"))
    if len(a) == 0:
        return {"candidates": 0}
    rows, sigs = _slice_sigs(layout, s, cfg.num_perm)
    sig_a = sigs[_lookup(rows, a, "candidate")]
    out = pl.DataFrame([pl.Series("a", a), pl.Series("b", b), _sig_column("sig_a", sig_a)])
    _route(out, layout.slice_of(b), layout, "candb", s)
    return {"candidates": len(a)}


def verify(layout: Layout, s: int, cfg: DedupConfig) -> dict[str, Any]:
    """Estimated Jaccard of every pair whose second row is in this slice; LSH false positives stop here."""
    df = _read(layout, "candb", s, {"a": I64, "b": I64, "sig_a": pl.Binary})
    if df.height == 0:
        return {"verified": 0}
    a, b = _col(df, "a"), _col(df, "b")
    rows, sigs = _slice_sigs(layout, s, cfg.num_perm)
    sim = estimate_jaccard(_sig_matrix(df.get_column("sig_a"), cfg.num_perm), sigs[_lookup(rows, b, "candidate")])
    ok = sim >= cfg.threshold
    a, b, sim = a[ok], b[ok], sim[ok]
    _write(pl.DataFrame({"a": a, "b": b, "sim": sim}), layout.folder("edges", s) / "edges.parquet")
    write_edges(layout, 0, a, b, s)
    return {"verified": int(ok.sum())}


# --- connected components: large-star / small-star rounds -------------------------------------------

def write_edges(layout: Layout, step: int, x: np.ndarray, y: np.ndarray, producer: int) -> None:
    """Undirected edges {x, y} as directed copies both ways, each sent to the slice of its first node."""
    both = pl.DataFrame({"u": np.concatenate([x, y]), "v": np.concatenate([y, x])})
    _route(both, layout.slice_of(_col(both, "u")), layout, f"cc/{step:03d}", producer)


def _groups(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct directed edges sorted by (u, v), and per edge the index of its u-group and group starts."""
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    distinct = np.ones(len(u), dtype=bool)
    distinct[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v = u[distinct], v[distinct]
    new = np.ones(len(u), dtype=bool)
    new[1:] = u[1:] != u[:-1]
    return u, v, np.cumsum(new) - 1, np.flatnonzero(new)


def star_round(layout: Layout, step: int, s: int, large: bool) -> dict[str, Any]:
    """One large-star (`large`) or small-star round over the edges whose first node is in slice s.

    Edges are directed copies of undirected edges, routed by their first node. Large-star: every node
    links its larger neighbours to the smallest node of its neighbourhood. Small-star (input: edges to
    smaller nodes only): a node and its smaller neighbours all link to the smallest of them.
    `changed` counts edges a round replaced; a large and a small round that change nothing mean every
    component is a star around its smallest node.
    """
    df = _read(layout, f"cc/{step:03d}", s, {"u": I64, "v": I64})
    if df.height == 0:
        return {"changed": 0, "edges": 0}
    u, v, gid, start = _groups(_col(df, "u"), _col(df, "v"))
    gmin = np.minimum.reduceat(v, start)
    if large:
        m = np.minimum(gmin, u[start])[gid]
        up = v > u
        out = pl.DataFrame({"u": v[up], "v": m[up]})
        _route(out, layout.slice_of(v[up]), layout, f"cc/{step + 1:03d}", s)
        return {"changed": int((m[up] != u[up]).sum()), "edges": int(up.sum())}
    if (v >= u).any():
        raise ValueError("dedup: small-star round got an edge to a larger node")
    m = gmin[gid]
    nodes = np.concatenate([v, u[start]])
    roots = np.concatenate([m, gmin])
    keep = nodes != roots
    write_edges(layout, step + 1, nodes[keep], roots[keep], s)
    sizes = np.diff(np.append(start, len(u)))
    return {"changed": int((sizes >= 2).sum()), "edges": int(keep.sum())}


def star_roots(layout: Layout, final_step: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(nodes of slice s that are not a root, ascending; their root) once the rounds converged."""
    star = _read(layout, f"cc/{final_step:03d}", s, {"u": I64, "v": I64}).filter(pl.col("v") < pl.col("u"))
    star = star.sort("u")
    leaf, root = _col(star, "u"), _col(star, "v")
    if len(leaf) > 1 and (leaf[1:] == leaf[:-1]).any():
        raise ValueError("dedup: components did not converge to stars")
    return leaf, root


def attach_roots(layout: Layout, final_step: int, s: int) -> dict[str, Any]:
    """Verified edges (by slice of b) -> partition of their component's root (its smallest row)."""
    edges = layout.folder("edges", s) / "edges.parquet"
    if not edges.exists():
        return {"edges": 0}
    e = pl.read_parquet(parquet_source(edges))
    leaf, root = star_roots(layout, final_step, s)
    b = _rows(e.rename({"b": "row"}))
    root_b = root[_lookup(leaf, b, "component")]
    _route(e, layout.slice_of(root_b), layout, "comp", s)
    return {"edges": e.height}


def resolve(layout: Layout, s: int) -> dict[str, Any]:
    """Greedy, chaining-free decisions inside the whole components of this root slice."""
    df = _read(layout, "comp", s, {"a": I64, "b": I64, "sim": F64})
    rows, twins, sims = resolve_greedy(_col(df, "a"), _col(df, "b"), _col(df, "sim"))
    _route(pl.DataFrame({"row": rows, "twin": twins, "sim": sims}), layout.slice_of(rows), layout, "ndec", s)
    return {"near": len(rows)}


# --- final twins, clusters and decision rows --------------------------------------------------------

def assign(layout: Layout, s: int) -> dict[str, Any]:
    """Final kept twin of every removed row: an exact copy follows its representative's near twin."""
    x = _read(layout, "xrep", s, {"row": I64, "rep": I64})
    nd = _read(layout, "ndec", s, {"row": I64, "twin": I64, "sim": F64}).sort("row")
    nd_row, nd_twin, nd_sim = _col(nd, "row"), _col(nd, "twin"), _col(nd, "sim")
    rep = _col(x, "rep")
    twin, score, moved = rep.copy(), np.ones(len(rep)), np.zeros(len(rep), dtype=bool)
    if len(nd_row) and len(rep):
        at = np.minimum(np.searchsorted(nd_row, rep), len(nd_row) - 1)
        moved = nd_row[at] == rep
        twin[moved], score[moved] = nd_twin[at[moved]], nd_sim[at[moved]]
    out = pl.DataFrame({
        "row": np.concatenate([_col(x, "row"), nd_row]),
        "twin": np.concatenate([twin, nd_twin]),
        "score": np.concatenate([score, nd_sim]).astype(np.float64),
        "near": np.concatenate([moved, np.ones(len(nd_row), dtype=bool)]),
    })
    _route(out, layout.slice_of(_col(out, "twin")), layout, "final", s)
    return {"removed": out.height}


def clusters(layout: Layout, s: int, batches: Batches, report_clusters: int) -> dict[str, Any]:
    """Decision rows (reason, score, kept twin's source/line, cluster) for the twins in this slice.

    Returns the exact/near counts and this slice's largest clusters; the largest clusters of the label
    are among the union of every slice's.
    """
    df = _read(layout, "final", s, {"row": I64, "twin": I64, "score": F64, "near": pl.Boolean})
    if df.height == 0:
        return {"exact": 0, "near": 0, "top": []}
    per = (df.group_by("twin").agg(pl.len().alias("members"), pl.col("near").sum().alias("n_near"))
           .sort("twin").with_columns(size=pl.col("members").cast(I64) + 1))
    twins, sizes = _col(per, "twin"), _col(per, "size")
    top = np.lexsort((twins, -sizes))[:report_clusters]
    top_rows = set(twins[top].tolist())
    meta = []
    for batch in batches(["source", "line", "text"]):
        hit = batch.filter(pl.col("row").cast(I64).is_in(twins))
        if hit.height:
            meta.append(hit.with_columns(
                text=pl.when(pl.col("row").cast(I64).is_in(list(top_rows))).then(pl.col("text"))))
    found = (pl.concat(meta) if meta else pl.DataFrame(schema={"row": U64, "source": pl.Utf8, "line": I64,
                                                                "text": pl.Utf8}))
    info = per.join(found.with_columns(pl.col("row").cast(I64).alias("twin")), on="twin", how="left")
    if info["source"].null_count():
        raise ValueError("dedup: a kept twin is missing from its slice's rows")
    rows = df.join(info.select("twin", "size", "source", "line"), on="twin", how="left").sort("row")
    decided = rows.select(
        pl.col("row").cast(U64),
        pl.when(pl.col("near")).then(pl.lit("dedup:near")).otherwise(pl.lit("dedup:exact")).alias("reason"),
        pl.Series("score", np.round(_col(rows, "score"), 4)),
        pl.col("source").alias("ref_source"),
        pl.col("line").cast(I64).alias("ref_line"),
        pl.format("cluster {} size {}", pl.col("twin"), pl.col("size")).alias("detail"),
    ).cast(DECISION_SCHEMA)  # type: ignore[arg-type]
    _route(decided, layout.slice_of(_rows(decided)), layout, "decided", s)
    report = []
    for r in info.sort("twin")[top.tolist()].iter_rows(named=True):
        report.append({"cluster": r["twin"], "size": r["size"], "exact": r["members"] - r["n_near"],
                       "near": r["n_near"], "kept": r["size"] - r["members"], "source": r["source"],
                       "line": r["line"], "example": r["text"][:EXAMPLE_CHARS]})
    near = int(per["n_near"].sum())
    return {"exact": df.height - near, "near": near, "top": report}


def largest_clusters(tops: list[list[dict]], k: int) -> list[dict]:
    """The label's k largest clusters from every slice's own top k (ties: earliest kept row)."""
    every = [c for top in tops for c in top]
    return sorted(every, key=lambda c: (-c["size"], c["cluster"]))[:k]


class SlicedDecisions:
    """The decision rows of a label read slice by slice, as the label's writer walks its rows in order."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.current = -1
        self.rows = np.zeros(0, dtype=np.int64)
        self.frame = pl.DataFrame(schema=DECISION_SCHEMA)

    def between(self, start: int, stop: int) -> tuple[np.ndarray, pl.DataFrame]:
        """(mask of removed rows in [start, stop), their decision rows in row order)."""
        s = int(self.layout.slice_of(np.array([start]))[0])
        if stop > self.layout.starts[s + 1]:
            raise ValueError("dedup: a batch crosses a slice boundary")
        if s != self.current:
            self.frame = _read(self.layout, "decided", s, DECISION_SCHEMA).sort("row")
            self.rows = _rows(self.frame)
            self.current = s
        lo, hi = np.searchsorted(self.rows, [start, stop])
        mask = np.zeros(stop - start, dtype=bool)
        mask[self.rows[lo:hi] - start] = True
        return mask, self.frame.slice(int(lo), int(hi - lo))


def write_earlier(layout: Layout, decisions: pl.DataFrame) -> None:
    """Decision rows of the label stages that ran before dedup (e.g. quality with auto thresholds),
    sorted by row with row-group statistics, so that a slice reads only its own row groups."""
    _write(decisions.sort("row"), layout.root / "earlier" / "decisions.parquet", statistics=True)


def read_earlier(layout: Layout, start: int = 0, stop: int | None = None) -> pl.DataFrame | None:
    """The earlier stages' decision rows with start <= row < stop (all of them without bounds)."""
    path = layout.root / "earlier" / "decisions.parquet"
    if not path.exists():
        return None
    scan = pl.scan_parquet(parquet_source(path))
    if start or stop is not None:
        row = pl.col("row")
        scan = scan.filter((row >= start) & (row < (layout.rows if stop is None else stop)))
    return scan.collect().cast(DECISION_SCHEMA)  # type: ignore[arg-type]


def with_earlier(earlier: pl.DataFrame | None, between: Callable[[int, int], tuple[np.ndarray, pl.DataFrame]]
                 ) -> Callable[[int, int], tuple[np.ndarray, pl.DataFrame]]:
    """`between` of the dedup decisions, plus the rows that earlier label stages removed."""
    if earlier is None or earlier.height == 0:
        return between
    rows = _rows(earlier)

    def merged(start: int, stop: int) -> tuple[np.ndarray, pl.DataFrame]:
        mask, dec = between(start, stop)
        lo, hi = np.searchsorted(rows, [start, stop])
        if hi == lo:
            return mask, dec
        mask = mask.copy()
        mask[rows[lo:hi] - start] = True
        return mask, pl.concat([dec, earlier.slice(int(lo), int(hi - lo))]).sort("row")

    return merged
