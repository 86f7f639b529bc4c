"""Streaming, packed, dynamically masked MLM batches over the per-language Parquet corpus.

The trainer reads the build's output contract (`CORPUS/<label>/part-*.parquet`, column `text`), never
`corpus/` internals. Design choices, and why:

* **One language per sequence.** Each sequence is drawn from one label chosen by multinomial
  α-sampling (p_i ∝ n_i^α, the same sampler as the vocabulary stage), then filled with consecutive lines
  of that label, each wrapped in `<s> … </s>`, and cut at exactly `max_len` tokens (Glot500's
  `group_texts` packing, but without mixing languages inside a sequence). Packed sequences carry no
  padding, so every token the model sees is a useful one.
* **Small, exact resume state.** A stream's position is its sampler RNG state plus, per label, a cursor
  `(row, token offset)` into that label's rows, and the batch counter that seeds masking. Lines split
  across two sequences resume mid-line by re-tokenising the line and skipping `offset` tokens. The state
  is a few numbers per label, so it travels with every batch and a checkpoint records the exact position.
* **Worker- and rank-safe.** Each (rank, DataLoader worker) pair is one *shard* with its own seeded
  sampler; shard `s` of `S` starts every label at row `⌊s·n/S⌋`, so shards read different lines first and
  every shard can still use every label (tiny labels included).
* **Held-out split by position** (no pass over the text, no hash): row `i` of a label is held out when
  `i % stride == 0` and `i // stride < max_lines`; every label with at least one row gets at least one
  held-out line, which `glot eval` uses for pseudo-perplexity.
* **Dynamic masking** (15 %, 80/10/10 as in BERT/XLM-R) happens when the batch is made, with a torch
  generator seeded from (seed, shard, batch number): deterministic, and new masks on every epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import torch
from tokenizers import Tokenizer
from torch.utils.data import IterableDataset, get_worker_info

from glotforge.train.sampling import corpus_files, sampling_probabilities


@dataclass(frozen=True)
class HeldOut:
    """Positional held-out split of each label (see the module docstring)."""

    stride: int = 20
    max_lines: int = 200

    def is_heldout(self, row: int) -> bool:
        return row % self.stride == 0 and row // self.stride < self.max_lines

    def count(self, n_rows: int) -> int:
        return min(math.ceil(n_rows / self.stride), self.max_lines)


class LabelRows:
    """The rows of one label across its part files, read by row range without loading the label."""

    def __init__(self, files: list[Path]):
        self.files = files
        self.sizes = [pq.read_metadata(f).num_rows for f in files]
        self.starts = np.cumsum([0, *self.sizes])
        self.n_rows = int(self.starts[-1])

    def read(self, start: int, n: int) -> list[str]:
        """Texts of rows [start, start + n), clipped to the label's end; may span part files."""
        out: list[str] = []
        end = min(start + n, self.n_rows)
        while start < end:
            k = int(np.searchsorted(self.starts, start, side="right")) - 1
            off = start - int(self.starts[k])
            take = min(end - start, self.sizes[k] - off)
            col = pl.scan_parquet(self.files[k]).select("text").slice(off, take).collect()["text"]
            out.extend(t if t is not None else "" for t in col.to_list())
            start += take
        return out


def heldout_texts(
    corpus_dir: str | Path, heldout: HeldOut | None = None, max_lines: int | None = None
) -> dict[str, list[str]]:
    """label → held-out lines (the rows training never reads), in row order."""
    heldout = heldout or HeldOut()
    out: dict[str, list[str]] = {}
    for label, files in corpus_files(corpus_dir).items():
        rows = LabelRows(files)
        n = heldout.count(rows.n_rows)
        if max_lines is not None:
            n = min(n, max_lines)
        texts = [rows.read(i * heldout.stride, 1)[0] for i in range(n)]
        out[label] = [t for t in texts if t.strip()]
    return out


@dataclass
class StreamSpec:
    """Everything a shard needs to rebuild its stream; picklable, so DataLoader workers get a copy."""

    corpus_dir: str  # a build's OUT folder or its corpus/ folder
    tokenizer: Any
    max_len: int = 512
    batch_size: int = 8
    alpha: float = 0.3
    seed: int = 0
    mlm_probability: float = 0.15
    heldout: HeldOut = field(default_factory=HeldOut)
    chunk_lines: int = 256
    labels: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        files = corpus_files(self.corpus_dir)
        if not self.labels:
            self.labels = sorted(files)
        self._files = [files[lab] for lab in self.labels]
        if not self.probabilities:
            sizes = {}
            for lab, fs in zip(self.labels, self._files, strict=True):
                n = LabelRows(fs).n_rows
                sizes[lab] = n - self.heldout.count(n)
            p = sampling_probabilities(sizes, self.alpha)
            self.probabilities = [p.get(lab, 0.0) for lab in self.labels]
        tok = self.tokenizer
        # a private copy of the fast backend without truncation/padding: whole lines, packed by us
        self.backend = Tokenizer.from_str(tok.backend_tokenizer.to_str())
        self.backend.no_truncation()
        self.backend.no_padding()
        self.mask_id = int(tok.mask_token_id)
        self.vocab_size = len(tok)
        self.special_ids = sorted(set(int(i) for i in tok.all_special_ids))


class PackedMLMStream:
    """One shard's endless stream of masked, packed batches; `state()` / `state=` give exact resume."""

    def __init__(self, spec: StreamSpec, shard: int = 0, n_shards: int = 1, state: dict | None = None):
        self.spec, self.shard, self.n_shards = spec, shard, n_shards
        self.rows = [LabelRows(fs) for fs in spec._files]
        self.probs = np.asarray(spec.probabilities, dtype=np.float64)
        self.probs = self.probs / self.probs.sum()
        self._cache: dict[int, tuple[int, list[np.ndarray | None]]] = {}
        normal = np.setdiff1d(np.arange(spec.vocab_size), np.asarray(spec.special_ids))
        self._random_ids = torch.from_numpy(normal.astype(np.int64))
        self._special = torch.tensor(spec.special_ids, dtype=torch.long)
        if state is None:
            self.rng = np.random.default_rng([spec.seed, shard])
            self.epochs = np.zeros(len(self.rows), dtype=np.int64)
            self.cursor = np.zeros((len(self.rows), 2), dtype=np.int64)
            for j, r in enumerate(self.rows):
                if r.n_rows > spec.heldout.count(r.n_rows):  # labels with no training row are never drawn
                    self.cursor[j, 0] = self._skip_heldout(j, (shard * r.n_rows) // n_shards)
            self.batch = 0
        else:
            self.load_state(state)

    # --- state -------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "shard": self.shard,
            "n_shards": self.n_shards,
            "rng": self.rng.bit_generator.state,
            "cursor": self.cursor.tolist(),
            "epochs": self.epochs.tolist(),
            "batch": self.batch,
        }

    def load_state(self, state: dict) -> None:
        if int(state["n_shards"]) != self.n_shards or int(state["shard"]) != self.shard:
            raise ValueError(
                f"data state is for shard {state['shard']}/{state['n_shards']}, this stream is "
                f"{self.shard}/{self.n_shards}: resume with the same world size and num_workers"
            )
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        self.cursor = np.asarray(state["cursor"], dtype=np.int64).reshape(len(self.rows), 2)
        self.epochs = np.asarray(state["epochs"], dtype=np.int64)
        self.batch = int(state["batch"])

    # --- rows and tokens -----------------------------------------------------------------------
    def _skip_heldout(self, j: int, row: int) -> int:
        """First training row at or after `row`, wrapping to the start (and counting an epoch)."""
        n = self.rows[j].n_rows
        for _ in range(self.spec.heldout.stride + 1):
            if row >= n:
                row = 0
                self.epochs[j] += 1
            if not self.spec.heldout.is_heldout(row):
                return row
            row += 1
        raise RuntimeError("unreachable: a stride window always has a training row")

    def _tokens(self, j: int, row: int) -> np.ndarray:
        start, toks = self._cache.get(j, (-1, []))
        if not (0 <= row - start < len(toks)):
            start = row
            texts = self.rows[j].read(row, self.spec.chunk_lines)
            enc = self.spec.backend.encode_batch(texts, add_special_tokens=True)
            toks = [np.asarray(e.ids, dtype=np.int64) for e in enc]
            self._cache[j] = (start, toks)
        return toks[row - start]

    def _sequence(self, j: int) -> np.ndarray:
        L = self.spec.max_len
        buf = np.empty(L, dtype=np.int64)
        row, off = (int(x) for x in self.cursor[j])
        filled = 0
        while filled < L:
            toks = self._tokens(j, row)
            take = min(len(toks) - off, L - filled)
            buf[filled : filled + take] = toks[off : off + take]
            filled += take
            off += take
            if off >= len(toks):
                row, off = self._skip_heldout(j, row + 1), 0
        self.cursor[j] = (row, off)
        return buf

    # --- batches -----------------------------------------------------------------------------
    def next_batch(self) -> dict:
        """A dict with `input_ids`, `labels` (-100 = not masked), `label_ids` (language index per row)
        and `state` (this shard's position *after* the batch, for checkpoints)."""
        spec = self.spec
        langs = self.rng.choice(len(self.rows), size=spec.batch_size, p=self.probs)
        ids = torch.from_numpy(np.stack([self._sequence(int(j)) for j in langs]))
        g = torch.Generator().manual_seed(_mix(spec.seed, self.shard, self.batch))
        input_ids, labels = mask_tokens(
            ids, spec.mlm_probability, spec.mask_id, self._special, self._random_ids, g
        )
        self.batch += 1
        return {
            "input_ids": input_ids,
            "labels": labels,
            "label_ids": torch.from_numpy(langs.astype(np.int64)),
            "shard": self.shard,
            "state": self.state(),
        }


def _mix(*xs: int) -> int:
    """A 63-bit seed from several integers (splitmix-style), so nearby batches get unrelated masks."""
    h = 0x9E3779B97F4A7C15
    for x in xs:
        h = (h ^ (int(x) + 0x9E3779B97F4A7C15 + (h << 6) + (h >> 2))) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def mask_tokens(
    ids: torch.Tensor,
    probability: float,
    mask_id: int,
    special: torch.Tensor,
    random_ids: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: choose `probability` of the non-special tokens; of those 80 % → `<mask>`, 10 % →
    a random non-special token, 10 % unchanged. Returns (inputs, labels with -100 where not chosen).
    At least one token is chosen so that a batch never has an empty loss."""
    prob = torch.full(ids.shape, probability)
    prob[torch.isin(ids, special)] = 0.0
    chosen = torch.bernoulli(prob, generator=generator).bool()
    if not chosen.any():
        chosen.view(-1)[int(torch.argmax(prob.view(-1)))] = True
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    inputs = ids.clone()
    to_mask = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool() & chosen
    inputs[to_mask] = mask_id
    to_random = torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool() & chosen & ~to_mask
    n_random = int(to_random.sum())
    if n_random:
        pick = torch.randint(len(random_ids), (n_random,), generator=generator)
        inputs[to_random] = random_ids[pick]
    return inputs, labels


class MLMBatches(IterableDataset):
    """Endless batches for one rank; with `DataLoader(batch_size=None, num_workers=W)` each worker is a
    shard. `states` maps shard → saved state; `rotation` (batches consumed so far, mod W) makes worker 0
    continue with the shard whose batch was due next, so the resumed batch order equals the original."""

    def __init__(
        self,
        spec: StreamSpec,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        states: dict[int, dict] | None = None,
        rotation: int = 0,
    ):
        super().__init__()
        self.spec, self.rank, self.world_size = spec, rank, world_size
        self.workers = max(1, num_workers)
        self.states = states or {}
        self.rotation = rotation

    def __iter__(self):
        info = get_worker_info()
        w = info.id if info is not None else 0
        local = (w + self.rotation) % self.workers
        shard = self.rank * self.workers + local
        stream = PackedMLMStream(self.spec, shard, self.world_size * self.workers, self.states.get(shard))
        while True:
            yield stream.next_batch()
