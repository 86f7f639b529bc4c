"""Multinomial α-sampling over a per-label corpus: the one sampler for tokenizer, MLM and LID training.

Why one module: Glot500 draws tokenizer text and MLM text with the same rule (p_i ∝ n_i^α, α = 0.3;
glot500.md §5), so every trainer here must agree on what "the sampled corpus" is. This module reads the
corpus *files* of the output contract (`OUT/corpus/<label>/part-*.parquet`, column `text`) and never
`glotforge.corpus` internals.

Public API (stable; other trainers import it):

- `corpus_files(corpus_dir)` -> {label: [part files]}; accepts `OUT` or `OUT/corpus`.
- `label_sizes(corpus_dir)` -> {label: rows}, read from Parquet footers (no text is read).
- `sampling_probabilities(sizes, alpha=0.3, head=None)` -> {label: p}. p_i ∝ n_i^α; with `head`
  (the Glot500 head/tail rule) every head label is weighted like the *smallest tail* label.
- `sample_counts(sizes, n, alpha=0.3, head=None, max_epochs=None)` -> {label: draws}: the integer plan,
  largest-remainder rounding of n·p_i, optionally capping repetition at `max_epochs` passes per label
  (the excess goes to the other labels in proportion to p).
- `sampling_plan(...)` -> polars DataFrame (label, rows, p, draws, epochs) for reports.
- `iter_sampled_texts(corpus_dir, n, alpha=0.3, seed=0, labels=None, head=None, max_epochs=None)`
  -> Iterator[(label, text)]: streams exactly `sum(sample_counts(...))` pairs, interleaved across labels.

How a draw is made (differs from Glot500 on purpose, glot500.md §10.5): the per-label counts are fixed
by the plan (as Glot500's `merge_files.py` does), then rows are chosen *without* replacement inside an
epoch: a label asked for c_i ≤ n_i rows gets a uniform random subset; a label asked for more gets every
row ⌊c_i/n_i⌋ times plus a random subset for the remainder. This has the same expectation as Glot500's
`random.choices` with less variance (no line repeated while another is never seen). Seeded: the row
subset of a label depends only on (seed, label), not on which other labels are present.

Memory: the stream is made block by block. The number of draws of each label inside a block of
`block_size` positions is a multivariate hypergeometric draw from the labels' remaining counts, so the
label order is a uniformly random permutation of the plan without materialising it. Text is read one
Parquet row group at a time, keeping only the selected rows. Resident memory is one block of texts
plus, per label, the not-yet-emitted selected rows of its current row group: never more than the
input cap, typically far less.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

DEFAULT_ALPHA = 0.3
DEFAULT_BLOCK = 65_536


def corpus_files(corpus_dir: str | Path) -> dict[str, list[Path]]:
    """Part files per label, sorted; `corpus_dir` may be a build's OUT folder or its `corpus/` folder."""
    root = Path(corpus_dir)
    if (root / "corpus").is_dir():
        root = root / "corpus"
    if not root.is_dir():
        raise FileNotFoundError(f"no corpus folder at {corpus_dir}")
    out: dict[str, list[Path]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        parts = sorted(d.glob("part-*.parquet"))
        if parts:
            out[d.name] = parts
    if not out:
        raise FileNotFoundError(f"no <label>/part-*.parquet files under {root}")
    return out


def label_sizes(corpus_dir: str | Path) -> dict[str, int]:
    """Rows per label from the Parquet footers: cheap even for thousands of labels and large files."""
    return {
        label: sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        for label, files in corpus_files(corpus_dir).items()
    }


def _weights(sizes: Mapping[str, int], alpha: float, head: Collection[str] | None) -> dict[str, float]:
    """Unnormalised weights n_i^α; head labels weigh like the smallest tail label (Glot500 rule)."""
    if alpha < 0:
        raise ValueError("alpha must be >= 0")
    live = {k: int(v) for k, v in sizes.items() if v > 0}
    head_set = set(head or ()) & set(live)
    tail = [v for k, v in live.items() if k not in head_set]
    if head_set and not tail:
        raise ValueError("the head/tail rule needs at least one tail label")
    n_ref = min(tail) if head_set else 0
    return {k: float(n_ref if k in head_set else v) ** alpha for k, v in sorted(live.items())}


def sampling_probabilities(
    sizes: Mapping[str, int], alpha: float = DEFAULT_ALPHA, head: Collection[str] | None = None
) -> dict[str, float]:
    """p_i = n_i^α / Σ_j n_j^α over labels with rows (α = 1: proportional, α = 0: uniform).

    `head`: labels the base model already knows well (XLM-R's 100 languages in Glot500). They get the
    weight of the smallest tail label, i.e. Glot500's "head sampled like the smallest tail language".
    """
    w = _weights(sizes, alpha, head)
    total = sum(w.values())
    return {k: v / total for k, v in w.items()}


def _largest_remainder(n: int, p: Mapping[str, float]) -> dict[str, int]:
    """Integer counts summing to n, closest to n·p (ties broken by label name for determinism)."""
    exact = {k: n * v for k, v in p.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    rest = n - sum(counts.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[:rest]:
        counts[k] += 1
    return counts


def sample_counts(
    sizes: Mapping[str, int],
    n: int,
    alpha: float = DEFAULT_ALPHA,
    head: Collection[str] | None = None,
    max_epochs: float | None = None,
) -> dict[str, int]:
    """Draws per label for a sample of n rows. `max_epochs` caps c_i ≤ ⌊max_epochs·n_i⌋ and hands the
    excess to uncapped labels in proportion to p (so small labels are not repeated 30x as in Glot500's
    MLM data); if every label is capped the total is less than n."""
    if n < 0:
        raise ValueError("n must be >= 0")
    p = sampling_probabilities(sizes, alpha, head)
    if max_epochs is None:
        return _largest_remainder(n, p)
    if max_epochs <= 0:
        raise ValueError("max_epochs must be > 0")
    caps = {k: math.floor(max_epochs * sizes[k]) for k in p}
    fixed: dict[str, int] = {}
    while True:
        free = {k: v for k, v in p.items() if k not in fixed}
        left = n - sum(fixed.values())
        if not free or left <= 0:
            return {k: fixed.get(k, 0) for k in p}
        s = sum(free.values())
        trial = _largest_remainder(left, {k: v / s for k, v in free.items()})
        over = {k for k, c in trial.items() if c > caps[k]}
        if not over:
            return {k: fixed.get(k, trial.get(k, 0)) for k in p}
        fixed.update({k: caps[k] for k in over})


def sampling_plan(
    sizes: Mapping[str, int],
    n: int,
    alpha: float = DEFAULT_ALPHA,
    head: Collection[str] | None = None,
    max_epochs: float | None = None,
) -> pl.DataFrame:
    """The plan as a table (label, rows, p, draws, epochs = draws/rows) for reports and logs."""
    p = sampling_probabilities(sizes, alpha, head)
    c = sample_counts(sizes, n, alpha, head, max_epochs)
    labels = sorted(p)
    return pl.DataFrame(
        {
            "label": labels,
            "rows": [int(sizes[k]) for k in labels],
            "p": [p[k] for k in labels],
            "draws": [c[k] for k in labels],
            "epochs": [c[k] / sizes[k] for k in labels],
        },
        schema={"label": pl.Utf8, "rows": pl.Int64, "p": pl.Float64, "draws": pl.Int64, "epochs": pl.Float64},
    )


def _label_rng(seed: int, label: str) -> np.random.Generator:
    """Per-label generator: a label's row choice does not change when other labels come or go."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(label.encode("utf-8"))])


@dataclass
class _LabelStream:
    """Yields the selected rows of one label in file order, reading one row group at a time."""

    label: str
    files: list[Path]
    rows: int
    draws: int
    rng: np.random.Generator
    column: str = "text"
    buffer: deque = field(default_factory=deque)
    _groups: list[tuple[int, int, int]] = field(default_factory=list)  # (file idx, row group, first row)
    _gi: int = 0
    _epoch_left: int = 0
    _selected: np.ndarray | None = None  # sorted row ids of a partial epoch; None = every row
    _si: int = 0

    def __post_init__(self) -> None:
        start = 0
        for fi, f in enumerate(self.files):
            md = pq.ParquetFile(f).metadata
            for g in range(md.num_row_groups):
                self._groups.append((fi, g, start))
                start += md.row_group(g).num_rows
        self._remaining = self.draws
        self._gi = len(self._groups)  # forces a new epoch on first read

    def _new_epoch(self) -> None:
        if self._remaining <= 0:
            raise RuntimeError(f"{self.label}: asked for more rows than its {self.draws} planned draws")
        k = min(self.rows, self._remaining)
        self._remaining -= k
        self._selected = None if k == self.rows else np.sort(self.rng.choice(self.rows, k, replace=False))
        self._si, self._gi, self._epoch_left = 0, 0, k

    def take(self, k: int) -> list[str]:
        while len(self.buffer) < k:
            if self._epoch_left == 0 or self._gi >= len(self._groups):
                self._new_epoch()
            fi, g, first = self._groups[self._gi]
            self._gi += 1
            n_g = (self._groups[self._gi][2] if self._gi < len(self._groups) else self.rows) - first
            if self._selected is None:
                idx = None
            else:
                j = int(np.searchsorted(self._selected, first + n_g))
                idx = self._selected[self._si : j] - first
                self._si = j
                if len(idx) == 0:
                    continue
            col = pq.ParquetFile(self.files[fi]).read_row_group(g, columns=[self.column]).column(0)
            if idx is not None:
                col = col.take(idx)
            texts = col.to_pylist()
            self._epoch_left -= len(texts)
            self.buffer.extend(texts)
        return [self.buffer.popleft() for _ in range(k)]


def iter_sampled_texts(
    corpus_dir: str | Path,
    n: int,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    labels: Collection[str] | None = None,
    head: Collection[str] | None = None,
    max_epochs: float | None = None,
    block_size: int = DEFAULT_BLOCK,
    column: str = "text",
) -> Iterator[tuple[str, str]]:
    """Stream (label, text) pairs: the α-sample of n rows, shuffled across labels, deterministic for a seed.

    `labels` restricts the corpus to those labels (others are ignored, not redistributed from).
    The stream ends after `sum(sample_counts(...))` pairs (= n unless `max_epochs` caps every label).
    """
    files = corpus_files(corpus_dir)
    if labels is not None:
        missing = sorted(set(labels) - set(files))
        if missing:
            raise KeyError(f"labels not in corpus: {', '.join(missing[:10])}")
        files = {k: v for k, v in files.items() if k in set(labels)}
    sizes = {k: sum(pq.ParquetFile(f).metadata.num_rows for f in v) for k, v in files.items()}
    counts = sample_counts(sizes, n, alpha, head, max_epochs)
    order = [k for k in sorted(counts) if counts[k] > 0]
    if not order:
        return
    streams = [_LabelStream(k, files[k], sizes[k], counts[k], _label_rng(seed, k), column) for k in order]
    remaining = np.array([counts[k] for k in order], dtype=np.int64)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5A3D])
    while remaining.sum() > 0:
        b = int(min(block_size, remaining.sum()))
        per = rng.multivariate_hypergeometric(remaining, b, method="marginals")
        remaining -= per
        block: list[tuple[str, str]] = []
        for i in np.flatnonzero(per):
            s = streams[i]
            block.extend((s.label, t) for t in s.take(int(per[i])))
        for j in rng.permutation(len(block)):
            yield block[j]


def sample_label_texts(
    corpus_dir: str | Path, per_label: int, seed: int = 0, labels: Collection[str] | None = None
) -> dict[str, list[str]]:
    """Up to `per_label` rows of every label, a seeded uniform subset without replacement, in file order.

    For per-label evaluation (fertility, LID test sets): same (seed, label) -> same rows. Streams row
    groups, so a huge label costs one pass over its text column, never all of it in memory."""
    out: dict[str, list[str]] = {}
    for label, files in corpus_files(corpus_dir).items():
        if labels is not None and label not in labels:
            continue
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        k = min(per_label, rows)
        if k > 0:
            out[label] = _LabelStream(label, files, rows, k, _label_rng(seed, label)).take(k)
    return out
