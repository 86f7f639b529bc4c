"""Dedup speed, memory and a side-by-side with datatrove's MinHash dedup.

    POLARS_MAX_THREADS=1 .venv/bin/python bench/bench_dedup.py speed --lines 1000000
    .venv/bin/python bench/bench_dedup.py memory --lines 10000000
    .venv/bin/python bench/bench_dedup.py versus [--dt-python /tmp/glotforge-dt-venv/bin/python]

- `speed`: exact + near dedup of N synthetic sentence-length lines of one label (`dedup_data.py`:
  UDHR words, 10 % exact and 10 % one-edit near copies) held in memory; one process, one polars
  thread, so lines/s is per core. CPU seconds are printed beside wall seconds because the machine is
  shared; `--script Thai` or `Hani` measures character shingles.
- `memory`: the same stage over a streaming `batches` callback that regenerates the text in every
  pass (as the runner streams Parquet), so peak RSS is the stage's own arrays; prints bytes per line.
- `versus`: datatrove (separate venv, see `dedup_datatrove.py`) and Glotforge on the same data:
  the labelled UDHR duplicate set of `dedup_quality.py` (quality per script) and N synthetic lines
  (throughput, one worker each).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # per-core figures: must precede the polars import

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402
from dedup_data import frame, pool, stream  # noqa: E402
from dedup_quality import DEFAULT_DATA, EDITS, REQUIRED, build_set, run, score  # noqa: E402

from glotforge.corpus.dedup.minhash import lsh_params  # noqa: E402
from glotforge.corpus.dedup.stage import DedupStage, dedup_frame  # noqa: E402
from glotforge.pipelines.recipe import default_recipe  # noqa: E402

LABELS = {"Latn": "mul_Latn", "Cyrl": "mul_Cyrl", "Thai": "tha_Thai", "Hani": "cmn_Hani"}
DT_PYTHON = "/tmp/glotforge-dt-venv/bin/python"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def config() -> dict:
    return default_recipe()["dedup"]


def speed(args) -> dict:
    tokens, words = pool(args.data, args.script)
    df = frame(tokens, words, args.lines, seed=args.seed)
    lsh_params(config()["threshold"], config()["num_perm"])  # import datasketch + optimise once, outside timing
    c0, t0 = cpu(), time.perf_counter()
    out, report = dedup_frame(df, LABELS[args.script], config())
    wall, cpus = time.perf_counter() - t0, cpu() - c0
    res = {"script": args.script, "lines": args.lines, "mean_chars": round(df["text"].str.len_chars().mean(), 1),
           "wall_s": round(wall, 1), "cpu_s": round(cpus, 1), "lines_per_s_wall": round(args.lines / wall),
           "lines_per_cpu_s": round(args.lines / cpus), "exact": report["exact"], "near": report["near"],
           "shingles": report["shingles"], "max_rss_mb": round(rss_mb())}
    print(json.dumps(res))
    return res


def memory(args) -> dict:
    tokens, words = pool(args.data, args.script)
    lsh_params(config()["threshold"], config()["num_perm"])
    base = rss_mb()
    t0 = time.perf_counter()
    rej, report = DedupStage(config()).decide(LABELS[args.script], stream(tokens, words, args.lines, args.seed))
    wall = time.perf_counter() - t0
    peak = rss_mb()
    res = {"script": args.script, "lines": args.lines, "wall_s": round(wall, 1), "rss_before_mb": round(base),
           "max_rss_mb": round(peak), "stage_bytes_per_line": round((peak - base) * 2**20 / args.lines, 1),
           "exact": report["exact"], "near": report["near"], "candidate_pairs": report.get("candidate_pairs")}
    print(json.dumps(res))
    return res


def salt(i: int) -> str:
    """A letters-only word per label (datatrove's simplify_text maps digits to 0)."""
    s = ""
    while True:
        s = chr(97 + i % 26) + s
        i //= 26
        if i == 0:
            return "qzq" + s


def run_datatrove(df: pl.DataFrame, dt_python: str, work: Path) -> tuple[set[str], dict]:
    labels = {lab: salt(i) for i, lab in enumerate(sorted(df["label"].unique().to_list()))}
    docs = df.select(id=pl.format("r{}", pl.int_range(pl.len())),
                     text=pl.col("label").replace_strict(labels) + pl.lit(" ") + pl.col("text"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "in.jsonl"
    docs.write_ndjson(path)
    proc = subprocess.run([dt_python, str(Path(__file__).with_name("dedup_datatrove.py")), str(path), str(work / "dt")],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"datatrove failed:\n{proc.stderr[-3000:]}")
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    kept = set((work / "dt" / "kept_ids.txt").read_text().split())
    return kept, timing


def versus(args) -> None:
    if not Path(args.dt_python).exists():
        raise SystemExit(f"{args.dt_python} not found; create it as described in bench/dedup_datatrove.py")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # quality on the labelled UDHR set
        labelled = build_set(args.data, REQUIRED, args.seed)
        ours, secs = run(labelled, config())
        kept, timing = run_datatrove(labelled, args.dt_python, work / "q")
        theirs = labelled.with_columns(
            reason=pl.when(pl.format("r{}", pl.int_range(pl.len())).is_in(list(kept))).then(None).otherwise(
                pl.lit("datatrove")))
        pl.Config.set_tbl_rows(50)
        pl.Config.set_tbl_cols(20)
        pl.Config.set_tbl_width_chars(220)
        pl.Config.set_float_precision(4)
        for name, out, t in (("glotforge", ours, secs), ("datatrove", theirs, timing["wall_s"])):
            flag = out.with_columns(removed=pl.col("reason").is_not_null())
            near = flag.filter(pl.col("kind").is_in(EDITS))
            ex = flag.filter(pl.col("kind") == "exact")
            orig = flag.filter(pl.col("kind") == "original")
            print(f"\n== {name}: quality on {labelled.height} UDHR lines ({t:.1f} s)")
            print(score(out).select("script", "originals", "exact", "near_n", "near_recall", *EDITS, "false_rate"))
            print(f"ALL {name}: exact recall {ex['removed'].mean():.4f}, near recall {near['removed'].mean():.4f}, "
                  f"false removal {orig['removed'].mean():.4%}")
        # throughput on synthetic lines
        tokens, words = pool(args.data, "Latn")
        df = frame(tokens, words, args.lines, seed=args.seed).with_columns(label=pl.lit("mul_Latn"))
        lsh_params(config()["threshold"], config()["num_perm"])
        c0, t0 = cpu(), time.perf_counter()
        _, report = dedup_frame(df.drop("label"), "mul_Latn", config())
        ours_wall, ours_cpu = time.perf_counter() - t0, cpu() - c0
        kept, timing = run_datatrove(df, args.dt_python, work / "s")
        print(f"\n== throughput on {args.lines} synthetic Latin lines (one worker each)")
        print(f"glotforge: {args.lines / ours_wall:,.0f} lines/s wall ({ours_wall:.1f} s), "
              f"{args.lines / ours_cpu:,.0f} lines/CPU-s; removed {report['exact'] + report['near']:,}")
        print(f"datatrove: {args.lines / timing['wall_s']:,.0f} lines/s wall ({timing['wall_s']:.1f} s), "
              f"{args.lines / timing['cpu_s']:,.0f} lines/CPU-s; removed {args.lines - timing['kept']:,}; "
              f"stages {timing['stages_s']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["speed", "memory", "versus"])
    p.add_argument("--lines", type=int, default=None)
    p.add_argument("--script", default="Latn", choices=sorted(LABELS))
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dt-python", default=DT_PYTHON)
    args = p.parse_args(argv)
    args.lines = args.lines or {"speed": 1_000_000, "memory": 10_000_000, "versus": 100_000}[args.mode]
    {"speed": speed, "memory": memory, "versus": versus}[args.mode](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
