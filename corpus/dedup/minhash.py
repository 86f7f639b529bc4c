"""MinHash signatures in vectorised batches, and LSH parameters from a Jaccard threshold.

Signatures are computed for many lines at once, never one Python object per line (datasketch spends
most of its time there: 2-11k lines/s). For a batch, all shingle hashes sit in one uint64 array with
the shingles of each line contiguous. Each of the `num_perm` hash functions is a *multiply-add-shift*
hash `h_k(x) = ((a_k * x + b_k) mod 2^64) >> 32` of the shingle's top 32 bits, with random 64-bit
`a_k` (odd) and `b_k` from a fixed seed. That family is strongly universal for 32-bit keys
(Dietzfelbinger 1996), i.e. as good for min-wise hashing as `(a*x+b) mod p`, and needs no modulo:
numpy's wrapping uint64 multiply is the mod 2^64. The hash matrix of a chunk of shingles is then
min-reduced per line with `np.minimum.reduceat` over the shingle offsets.

Bands and rows come from datasketch's own optimiser (`datasketch.lsh._optimal_param`), which
minimises the weighted false-positive and false-negative areas of the S-curve 1-(1-J^r)^b around the
threshold, so a recipe only states the threshold and the number of permutations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from glotforge.corpus.dedup.shingles import _POS, fmix64

#: shingles hashed per chunk: the temporary (num_perm x chunk) uint64 matrix is 8 MB at 128 (fits L2/L3)
CHUNK_SHINGLES = 8192
_S32 = np.uint64(32)


@dataclass(frozen=True)
class Permutations:
    """The `num_perm` hash functions (a_k, b_k) of one build, from a fixed seed."""

    a: np.ndarray  # (1, num_perm) uint64, odd
    b: np.ndarray  # (1, num_perm) uint64

    @property
    def num_perm(self) -> int:
        return self.a.shape[1]


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int = 1) -> Permutations:
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return Permutations(a.reshape(1, -1), b.reshape(1, -1))


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, recall_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) for a Jaccard threshold, from datasketch's optimiser.

    `recall_weight` is the optimiser's false-negative weight (the false-positive weight is 1 minus
    it). Every candidate pair is verified before anything is removed, so an LSH false positive costs
    only a comparison while a false negative is a missed duplicate: weights above 0.5 move the S-curve's
    knee below the threshold.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"dedup threshold must be in (0, 1), not {threshold}")
    if not 0.0 < recall_weight < 1.0:
        raise ValueError(f"dedup recall_weight must be in (0, 1), not {recall_weight}")
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    return int(bands), int(rows)


def signatures(hashes: np.ndarray, per_line: np.ndarray, perm: Permutations) -> np.ndarray:
    """MinHash signatures `(lines, num_perm)` uint32 of lines whose shingle hashes are concatenated.

    Every line must have at least one shingle.
    """
    n = len(per_line)
    out = np.empty((n, perm.num_perm), dtype=np.uint32)
    if n == 0:
        return out
    if (per_line <= 0).any():
        raise ValueError("every line needs at least one shingle")
    x = (hashes >> _S32).reshape(1, -1)
    a, b = perm.a.reshape(-1, 1), perm.b.reshape(-1, 1)
    offsets = np.concatenate([[0], np.cumsum(per_line)])
    line = 0
    while line < n:
        # take lines until about CHUNK_SHINGLES shingles (at least one line)
        stop = int(np.searchsorted(offsets, offsets[line] + CHUNK_SHINGLES, side="right")) - 1
        stop = min(max(stop, line + 1), n)
        lo, hi = offsets[line], offsets[stop]
        # (num_perm x shingles): every reduction runs along a contiguous row (5x faster than axis 0)
        m = a * x[:, lo:hi]
        m += b
        m >>= _S32
        out[line:stop] = np.minimum.reduceat(m, offsets[line:stop] - lo, axis=1).T
        line = stop
    return out


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint32 hash per band of `rows` signature values: `(lines, bands)`.

    Band hashes are what LSH groups on; two lines whose signatures agree on all rows of a band share
    that band's hash. A distributed engine shuffles (band, hash) -> row by this key. 32 bits halve the
    largest array of the stage (bands x 4 bytes per line); the price is chance collisions (about
    n^2 / 2^33 pairs per band, 12k at 10M lines), which become candidates and fail verification.
    """
    n = sig.shape[0]
    if bands * rows > sig.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need more than {sig.shape[1]} permutations")
    block = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    acc = np.zeros((n, bands), dtype=np.uint64)
    for j in range(rows):
        acc += (block[:, :, j] + np.uint64(1)) * _POS[j]
    return (fmix64(acc) >> _S32).astype(np.uint32)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of paired signatures (share of equal MinHash values)."""
    return (sig_a == sig_b).mean(axis=1)
