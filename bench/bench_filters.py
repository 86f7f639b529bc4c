"""Throughput of the `script` + `quality` line stages, in lines per second on one core.

Why a separate bench: issue 3 asks for >= 100k lines/s per core for both stages together on
mixed-script data. polars is limited to one thread (POLARS_MAX_THREADS=1, set before import) and
numpy runs these kernels single-threaded, so the figure is per core. Both wall-clock and CPU-time
rates are printed: on a shared machine (other jobs queueing for the cores) the CPU-time rate,
lines per CPU-second of this process, is the fairer per-core figure; the wall rate is a lower bound.

Data: UDHR lines (all 42 scripts) cycled into batches the way a build makes them: each batch holds
`--batch` lines of one label (mode `label`, what the runner does), or of all labels mixed (mode
`mixed`, the worst case for the script counter). Batches rotate through all labels.

    .venv/bin/python bench/bench_filters.py [/work/shared/data/udhr/udhr.parquet] --lines 200000
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import polars as pl  # noqa: E402

from glotforge.corpus.filters.features import char_tables  # noqa: E402
from glotforge.corpus.filters.stage import QualityStage  # noqa: E402
from glotforge.corpus.scripts import ScriptStage  # noqa: E402

DEFAULT_DATA = "/work/shared/data/udhr/udhr.parquet"


def make_batches(df: pl.DataFrame, lines: int, batch: int, mode: str) -> list[pl.DataFrame]:
    """Batches of `batch` rows (stage input columns) totalling about `lines` rows."""
    groups = [g for _, g in df.group_by("label", maintain_order=True)]
    everything = df.sample(fraction=1.0, shuffle=True, seed=0)
    out = []
    k = 0
    while sum(b.height for b in out) < lines:
        if mode == "mixed":
            src, label = everything, "eng_Latn"
        else:
            src = groups[k % len(groups)]
            label = src["label"][0]
            k += 37  # stride through labels so consecutive batches differ in script
        reps = -(-batch // src.height)
        texts = (src["text"].to_list() * reps)[:batch]
        out.append(
            pl.DataFrame(
                {
                    "text": texts,
                    "label": [label] * len(texts),
                    "source": ["bench"] * len(texts),
                    "line": list(range(1, len(texts) + 1)),
                    "sentence": [0] * len(texts),
                },
                schema={
                    "text": pl.Utf8,
                    "label": pl.Utf8,
                    "source": pl.Utf8,
                    "line": pl.Int64,
                    "sentence": pl.Int32,
                },
            )
        )
    return out


def run(path: str, lines: int, batch: int, mode: str, repeat: int) -> dict[str, float]:
    df = pl.read_parquet(path).select("label", "text")
    batches = make_batches(df, lines, batch, mode)
    total = sum(b.height for b in batches)
    chars = sum(int(b["text"].str.len_chars().sum()) for b in batches)
    script, quality = ScriptStage({}), QualityStage({})
    t0 = time.perf_counter()
    char_tables()
    script.apply(batches[0].head(10))
    setup = time.perf_counter() - t0
    best = {f"{k}_{c}": float("inf") for k in ("script", "quality", "both") for c in ("wall", "cpu")}
    for _ in range(repeat):
        spent = {k: 0.0 for k in best}
        for b in batches:
            t, c = time.perf_counter(), time.process_time()
            a = script.apply(b)
            spent["script_wall"] += time.perf_counter() - t
            spent["script_cpu"] += time.process_time() - c
            kept = a.filter(pl.col("reason").is_null()).drop("reason", "score", "detail")
            t, c = time.perf_counter(), time.process_time()
            quality.apply(kept)
            spent["quality_wall"] += time.perf_counter() - t
            spent["quality_cpu"] += time.process_time() - c
        spent["both_wall"] = spent["script_wall"] + spent["quality_wall"]
        spent["both_cpu"] = spent["script_cpu"] + spent["quality_cpu"]
        best = {k: min(v, spent[k]) for k, v in best.items()}
    return {
        "lines": total,
        "avg_chars": chars / total,
        "batches": len(batches),
        "setup_s": setup,
        **{f"{k}_lines_per_s": total / v for k, v in best.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default=DEFAULT_DATA)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=50_000, help="lines per batch (recipe build.batch_size)")
    ap.add_argument("--mode", choices=["label", "mixed"], default="label")
    ap.add_argument("--repeat", type=int, default=3, help="best of N passes (the machine is shared)")
    args = ap.parse_args()
    res = run(args.data, args.lines, args.batch, args.mode, args.repeat)
    print(f"mode={args.mode} lines={res['lines']} batches={res['batches']} avg_chars={res['avg_chars']:.0f}")
    print(f"one-time setup (tables): {res['setup_s']:.2f} s")
    print(f"best of {args.repeat} passes, 1 thread:      wall lines/s   CPU-time lines/s")
    for k in ("script", "quality", "both"):
        print(f"  {k:8s} {res[f'{k}_wall_lines_per_s']:>28,.0f} {res[f'{k}_cpu_lines_per_s']:>18,.0f}")


if __name__ == "__main__":
    main()
