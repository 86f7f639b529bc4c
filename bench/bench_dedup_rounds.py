"""Dedup of one large label: the single reduce task vs the rounds of tasks, local and Ray.

    cd bench && ../.venv/bin/python bench_dedup_rounds.py --lines 250000 1000000 [--slice-lines 100000]

For every size, a one-label corpus of synthetic UDHR-word lines (`dedup_data.py`: 10 % exact and
10 % one-edit near copies) is written as files of 50k lines, then built with `glot build --stages
dedup` in a fresh process per run: the single task (default recipe: the label is under
`dedup.shard_min_lines`) and the rounds (`shard_min_lines=1`, `slice_lines` rows per slice), with
the local engine at -j 1 and -j 2 and Ray at -j 2. Peak RSS is sampled over the process tree
(bench_engines.py): the driver, the largest single worker, Ray's services. The outputs of every run of
one size must be byte-identical (stats/build.json aside: it records the recipe, which differs).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_engines import RAY_ENV
from dedup_data import make_batch, pool
from dedup_quality import DEFAULT_DATA
from proc_watch import mib, run

FILE_LINES = 50_000


def write_corpus(root: Path, lines: int) -> Path:
    tokens, words = pool(DEFAULT_DATA, "Latn")
    data = root / "data"
    data.mkdir(parents=True)
    for k, start in enumerate(range(0, lines, FILE_LINES)):
        batch = make_batch(tokens, words, start, min(FILE_LINES, lines - start), 0, 0.1, 0.1)
        (data / f"part{k:04d}.txt").write_text("\n".join(batch) + "\n", "utf-8")
    manifest = root / "sources.toml"
    manifest.write_text('[[source]]\npath = "data/*.txt"\nlanguage = "deu_Latn"\n', "utf-8")
    return manifest


def output_hash(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if p.is_file() and rel.parts[0] != "_work" and rel.as_posix() != "stats/build.json":
            h.update(rel.as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[250_000, 1_000_000])
    ap.add_argument("--slice-lines", type=int, default=100_000)
    ap.add_argument("--runs", nargs="+", default=["local:1", "local:2", "ray:2"], help="engine:workers")
    a = ap.parse_args()
    glot = str(Path(sys.executable).with_name("glot"))
    tmp = Path(tempfile.mkdtemp(prefix="gf-rounds-"))
    env = os.environ | RAY_ENV | {"RAY_TMPDIR": str(tmp / "ray")}
    (tmp / "ray").mkdir()
    rows = []
    try:
        for lines in a.lines:
            manifest = write_corpus(tmp / f"src-{lines}", lines)
            hashes = set()
            for path, extra in (("single task", []), ("rounds", ["--set", "dedup.shard_min_lines=1", "--set",
                                                                  f"dedup.slice_lines={a.slice_lines}"])):
                for spec in a.runs:
                    engine, workers = spec.split(":")
                    out = tmp / "out"
                    cmd = [glot, "build", str(manifest), "-o", str(out), "--stages", "dedup", "--engine", engine,
                           "-j", workers, *extra]
                    load = os.getloadavg()[0]
                    wall, peaks, cpu, stdout = run(cmd, env)
                    hashes.add(output_hash(out))
                    shutil.rmtree(out)
                    phases = next((ln.strip() for ln in stdout.splitlines() if ln.strip().startswith("time:")), "")
                    print(f"{lines} {path} {spec}: {wall:.1f} s, CPU {cpu['total']:.0f} s; {phases}", file=sys.stderr)
                    rows.append((lines, path, engine, workers, wall, cpu, peaks, load))
            same = "identical" if len(hashes) == 1 else f"DIFFERENT ({len(hashes)} variants)"
            print(f"{lines} lines: outputs of all runs {same}", file=sys.stderr)
            if len(hashes) != 1:
                sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; one label; slice_lines = {a.slice_lines:,}; outputs identical across rows "
          "of one size")
    print("| lines | dedup | engine | -j | wall s | CPU s, whole tree | driver MiB | largest worker MiB "
          "| Ray services MiB | load avg |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for lines, path, engine, workers, wall, cpu, peaks, load in rows:
        worker = peaks.get("worker") or (peaks.get("driver") if engine == "local" and workers == "1" else None)
        where = " (in-process)" if engine == "local" and workers == "1" else ""
        print(f"| {lines:,} | {path} | {engine} | {workers} | {wall:.1f} | {cpu['total']:.0f} | "
              f"{mib(peaks.get('driver'))} | {mib(worker)}{where} | {mib(peaks.get('ray'))} | {load:.1f} |")


if __name__ == "__main__":
    main()
