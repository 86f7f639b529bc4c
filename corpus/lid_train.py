"""Train a fastText LID model from a built corpus (`glot lid train`).

Reads `OUT/corpus/<label>/part-*.parquet` (the output contract), so the model's labels are exactly
the corpus' `xxx_Scrp` labels. Per label: a bounded, deterministic sample (a hash of the text decides,
so huge labels are never loaded whole), a held-out split, a cap on training lines; across labels:
α-sampling p_i ∝ n_i^α (GlotLID and Glot500 use α = 0.3, sampling with replacement), so that small
languages are seen often enough without drowning the big ones. Writes the model, a held-out Parquet
(`<model>.heldout.parquet`, evaluable with `glot lid eval`) and a JSON sidecar (`<model>.json`) with
the parameters, per-label counts and the held-out scores.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

# fastText's own defaults for supervised training are tuned for topic classification (dim 100, no
# char n-grams, bucket 2M). These are for language ID of single lines and small enough to predict
# ≥ 50k lines/s on one core (bench/bench_langid.py): character trigrams only beat 2–4-grams and
# 1–4-grams on UDHR (docs/benchmarks.md), and dim 32 loses nothing against 64 there.
FASTTEXT_DEFAULTS = {
    "dim": 32, "epoch": 25, "lr": 0.5, "minn": 3, "maxn": 3, "wordNgrams": 1, "loss": "softmax",
    "bucket": 200_000, "minCount": 1, "thread": 1, "seed": 1,
}
HASH_SPACE = 2**64


@dataclass
class LidTrainConfig:
    """Options of `glot lid train`; every field is also a keyword of `train_lid_from_corpus`."""

    max_per_label: int = 100_000   # cap on distinct training lines per label (before α-sampling)
    min_per_label: int = 1         # labels with fewer usable lines are left out (listed in the sidecar)
    min_chars: int = 1             # shorter lines are not used (headings like "1." teach nothing)
    heldout: float = 0.1           # share of each label's lines held out for evaluation ...
    max_heldout: int = 1_000       # ... at most this many per label
    alpha: float = 0.3             # p_i ∝ n_i^α; 1 = keep the natural distribution, 0 = uniform
    total: int | None = None       # training lines after sampling (default: sum of capped counts)
    max_repeat: float = 10.0       # a label's lines are repeated at most this many times (0 = no cap)
    dedup: bool = True             # drop exact duplicate lines within a label before splitting
    seed: int = 1
    quantize: bool = False         # also shrink the model (fastText product quantisation, .ftz)
    cutoff: int = 100_000          # quantize: keep this many words and n-grams
    fasttext: dict = field(default_factory=dict)  # overrides of FASTTEXT_DEFAULTS


@dataclass
class TrainResult:
    model_path: Path
    heldout_path: Path | None
    sidecar_path: Path
    report: dict


def _label_dirs(corpus_dir: Path) -> list[Path]:
    root = corpus_dir / "corpus" if (corpus_dir / "corpus").is_dir() else corpus_dir
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("part-*.parquet")))
    if not dirs:
        raise FileNotFoundError(f"{corpus_dir}: no <label>/part-*.parquet files (give a build's OUT folder)")
    return dirs


def read_label_sample(files: list[Path], want: int, seed: int, min_chars: int, dedup: bool) -> list[str]:
    """Up to about `want` lines of one label, chosen by a seeded hash of the text: deterministic,
    streaming (never more than the sample in memory), and independent of file order."""
    scan = pl.scan_parquet(files).select("text").filter(pl.col("text").str.strip_chars().str.len_chars() >= min_chars)
    n = scan.select(pl.len()).collect().item()
    if n == 0:
        return []
    frac = min(1.0, 1.5 * want / n)
    key = pl.col("text").hash(seed)
    if frac < 1.0:
        scan = scan.filter(key < int(frac * (HASH_SPACE - 1)))
    if dedup:
        scan = scan.unique(subset="text")
    df = scan.with_columns(key.alias("k")).sort("k", "text").head(want).collect()
    return df["text"].to_list()


def alpha_counts(sizes: dict[str, int], alpha: float, total: int | None = None) -> dict[str, int]:
    """Lines to draw per label: total · n_i^α / Σ n_j^α, largest-remainder rounding (ties by label),
    at least 1 for every non-empty label.

    Same rule as `glotforge.train.sampling.sample_counts`; this small copy exists because `corpus`
    must not import `train` (docs/architecture.md)."""
    sizes = {k: v for k, v in sizes.items() if v > 0}
    if not sizes:
        return {}
    total = sum(sizes.values()) if total is None else total
    weights = {k: v**alpha for k, v in sizes.items()}
    z = sum(weights.values())
    exact = {k: total * w / z for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[: total - sum(counts.values())]:
        counts[k] += 1
    return {k: max(1, counts[k]) for k in sorted(counts)}


def _draw(lines: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` lines: every line once per full pass, the remainder without replacement."""
    full, rest = divmod(count, len(lines))
    return lines * full + rng.sample(lines, rest)


_CHILD = "import sys; from glotforge.corpus.lid_train import _child; _child(sys.stdin.read())"


def _child(request: str) -> None:
    """Runs in a fresh interpreter: train (and quantise) one model, save it, exit non-zero on error."""
    import fasttext

    job = json.loads(request)
    model = fasttext.train_supervised(input=job["train_file"], verbose=0, **job["ft"])
    if job["quantize"]:
        model.quantize(input=job["train_file"], qnorm=True, retrain=False, cutoff=job["cutoff"])
    model.save_model(job["out"])


def _train(train_file: str, out: Path, ft: dict, quantize: bool, cutoff: int) -> None:
    """Train in a child process, and survive fastText's "Encountered NaN".

    A child process because fastText leaks state between trainings in one process: after a dim-16
    model, a dim-8 model on a small file fails with "Encountered NaN" at any learning rate (measured
    with fasttext-numpy2-wheel 0.9.2); a fresh interpreter also returns the training memory.
    NaN retries: with several threads on a tiny file a thread can end with no examples (a 0/0
    loss), and a too high learning rate diverges on repetitive data (packages.md §1.1), so retry
    with one thread, then with the rate halved. The settings used are written back into `ft`.
    """
    for attempt in range(4):
        job = {"train_file": train_file, "out": str(out), "ft": ft, "quantize": quantize, "cutoff": cutoff}
        proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(job), capture_output=True,
                              text=True, check=False)
        if proc.returncode == 0:
            return
        err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        if "NaN" not in err or attempt == 3:
            raise RuntimeError(f"fastText training failed: {err}")
        if ft.get("thread", 1) > 1:
            ft["thread"] = 1
        else:
            ft["lr"] = ft["lr"] / 2


def clean_line(text: str) -> str:
    """One training line for fastText: no newlines (fastText reads one example per line), and no word
    starting with `__label__` (fastText would take it as a second label of the example)."""
    return " ".join(text.replace("__label__", "_label_").split())


def train_lid_from_corpus(corpus_dir: str | os.PathLike, out_model_path: str | os.PathLike,
                          **params) -> TrainResult:
    """Train a LID model from a built corpus; keyword params are LidTrainConfig fields, and
    `fasttext={...}` overrides fastText's training arguments (dim, epoch, lr, minn, maxn, loss, …)."""
    cfg = LidTrainConfig(**params)
    if not 0 <= cfg.heldout < 1:
        raise ValueError("heldout must be in [0, 1)")
    ft = {**FASTTEXT_DEFAULTS, **cfg.fasttext, "seed": cfg.fasttext.get("seed", cfg.seed)}
    out = Path(out_model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cfg.seed)
    t0 = time.perf_counter()

    train: dict[str, list[str]] = {}
    heldout_rows: list[tuple[str, str]] = []
    skipped: dict[str, int] = {}
    for d in _label_dirs(Path(corpus_dir)):
        label = d.name
        lines = read_label_sample(sorted(d.glob("part-*.parquet")), cfg.max_per_label + cfg.max_heldout,
                                  cfg.seed, cfg.min_chars, cfg.dedup)
        lines = [clean_line(t) for t in lines if clean_line(t)]
        if len(lines) < max(cfg.min_per_label, 1):
            skipped[label] = len(lines)
            continue
        n_held = min(cfg.max_heldout, int(len(lines) * cfg.heldout)) if len(lines) > 1 else 0
        heldout_rows += [(t, label) for t in lines[:n_held]]
        train[label] = lines[n_held:n_held + cfg.max_per_label]
    if len(train) < 2:
        raise ValueError(f"{corpus_dir}: need at least 2 labels with lines to train a LID model, found {len(train)}")

    counts = alpha_counts({k: len(v) for k, v in train.items()}, cfg.alpha, cfg.total)
    if cfg.max_repeat > 0:  # one line seen 90 times teaches that line, not the language
        counts = {k: min(c, max(1, int(cfg.max_repeat * len(train[k])))) for k, c in counts.items()}
    examples = [f"__label__{label} {line}" for label in sorted(counts)
                for line in _draw(train[label], counts[label], rng)]
    rng.shuffle(examples)  # fastText decays lr over the file: labels must be interleaved

    with tempfile.TemporaryDirectory(prefix="glot-lid-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(examples) + "\n", "utf-8")
        _train(str(train_file), out, ft, cfg.quantize, cfg.cutoff)
    train_s = time.perf_counter() - t0

    heldout_path = None
    report: dict = {"heldout": None}
    if heldout_rows:
        heldout_path = out.with_name(out.name + ".heldout.parquet")
        pl.DataFrame(heldout_rows, schema={"text": pl.Utf8, "label": pl.Utf8}, orient="row").write_parquet(
            heldout_path, compression="zstd")
        from .lid_eval import evaluate_model

        ev = evaluate_model(out, heldout_path)
        report["heldout"] = {"lines": ev.lines, "accuracy": ev.accuracy, "macro_f1": ev.macro_f1,
                             "worst": [asdict(s) for s in ev.worst(10)], "confused": ev.confused[:10]}
    sidecar = out.with_name(out.name + ".json")
    report.update({
        "model": out.name, "corpus": str(corpus_dir), "labels": len(train), "train_lines": len(examples),
        "train_seconds": round(train_s, 2), "config": {k: v for k, v in asdict(cfg).items() if k != "fasttext"},
        "fasttext": ft, "per_label": {k: {"distinct": len(train[k]), "sampled": counts[k]} for k in sorted(train)},
        "skipped_labels": skipped,
    })
    sidecar.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return TrainResult(out, heldout_path, sidecar, report)
