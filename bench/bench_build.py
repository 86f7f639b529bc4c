"""Throughput and memory of `glot build` (ingest only, no filters) against a bare polars read+write.

    python bench/make_corpus.py --lines 1000000 --out bench/data/corpus-1m
    python bench/bench_build.py bench/data/corpus-1m [-j 2] [--stages ""]

Prints a table: wall time, lines/s, lines/s per core, input MB/s, peak RSS (sum over the process tree
and the largest single process). The reference reads every file with polars' own readers and writes one
zstd Parquet file per label: the I/O floor that any pipeline doing the same work has to pay.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl
from proc_watch import run


def run_measured(cmd: list[str]) -> tuple[float, dict]:
    """Wall seconds and peaks: RSS of the whole tree and of its largest process, CPU s of the tree."""
    wall, peaks, cpu, _ = run(cmd)
    single = max(peaks.get("driver", 0), peaks.get("worker", 0), peaks.get("other", 0))
    return wall, {"tree": peaks.get("tree", 0), "single": single, "cpu": cpu["reaped"]}


REFERENCE = r'''
import sys, polars as pl
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
by_label = {}
for f in sorted(p for p in src.rglob("*") if p.is_file()):
    name = f.name
    if name.endswith(".parquet"):
        df = pl.read_parquet(f, columns=["text"])
    elif ".jsonl" in name:
        df = pl.read_ndjson(f.read_bytes() if not name.endswith(".gz") else __import__("gzip").decompress(f.read_bytes()))
    elif name.endswith(".csv"):
        df = pl.read_csv(f)
    elif name.endswith(".tsv"):
        df = pl.read_csv(f, separator="\t", quote_char=None)
    else:
        df = pl.read_csv(f, has_header=False, separator="\x1f", quote_char=None, new_columns=["text"])
    by_label.setdefault(f.parent.name, []).append(df.select(pl.col("text").cast(pl.Utf8)))
for label, frames in by_label.items():
    (out / label).mkdir(parents=True, exist_ok=True)
    pl.concat(frames).write_parquet(out / label / "part-00000.parquet", compression="zstd")
'''


def count_lines(out: Path) -> int:
    return sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in (out / "corpus").rglob("*.parquet"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("-j", "--workers", type=int, default=os.cpu_count())
    ap.add_argument("--stages", default="", help='stages after ingest ("" = none, the issue-2 figure)')
    a = ap.parse_args()
    size_mb = sum(p.stat().st_size for p in a.corpus.rglob("*") if p.is_file()) / 1e6
    glot = str(Path(sys.executable).with_name("glot"))
    tmp = Path(tempfile.mkdtemp(prefix="glotbench-"))
    rows = []
    try:
        out = tmp / "glot"
        wall, peaks = run_measured([glot, "build", str(a.corpus), "-o", str(out), "-j", str(a.workers),
                                    "--stages", a.stages])
        lines = sum(s for s in [count_lines(out)])
        rejected = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in (out / "rejected").rglob("*.parquet"))
        total = lines + rejected
        rows.append((f"glot build -j {a.workers} (stages: {a.stages or 'ingest only'})", wall, total, a.workers, peaks))
        ref_out = tmp / "ref"
        wall_r, peaks_r = run_measured([sys.executable, "-c", REFERENCE, str(a.corpus), str(ref_out)])
        rows.append(("bare polars read + write (1 process)", wall_r, total, 1, peaks_r))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"corpus: {a.corpus} ({size_mb:.1f} MB on disk), machine: {os.cpu_count()} cores")
    print("| run | wall s | CPU s | lines | lines/s | lines per CPU-second | input MB/s | peak RSS tree | "
          "peak RSS largest process |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, wall, n, _cores, peaks in rows:
        print(f"| {name} | {wall:.1f} | {peaks['cpu']:.1f} | {n:,} | {n / wall:,.0f} | {n / peaks['cpu']:,.0f} | "
              f"{size_mb / wall:.1f} | {peaks.get('tree', 0) / 2**20:,.0f} MiB | {peaks.get('single', 0) / 2**20:,.0f} MiB |")
    print(f"glot / reference: wall time {rows[0][1] / rows[1][1]:.2f}x, CPU time {rows[0][4]['cpu'] / rows[1][4]['cpu']:.2f}x "
          "(polars' readers use every core, so CPU time is the per-core comparison)")


if __name__ == "__main__":
    main()
