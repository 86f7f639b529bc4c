"""Local vs Ray engine: wall time, peak memory of driver and workers, and byte-identical outputs.

    python bench/make_corpus.py --lines 1000000 --out bench/data/corpus-1m
    python bench/make_corpus.py --lines 250000 --out bench/data/corpus-250k
    python bench/bench_engines.py bench/data/corpus-250k bench/data/corpus-1m [--workers 1 2] [--stages ...]

Every run is `glot build CORPUS -o OUT --engine E -j W` in a fresh process (what a user runs), so
the Ray figures include starting a local Ray instance; that start is also timed on its own. Memory is
sampled every 50 ms over the process tree and split into the driver (the `glot` process), workers
(multiprocessing children for local; `ray::` task processes for Ray) and Ray's own services (raylet,
GCS, object store ...). Outputs of all runs of one corpus are hashed and must be identical.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from proc_watch import mib, run

RAY_ENV = {"RAY_AUTH_MODE": "disabled"}


def tree_hash(out: Path) -> str:
    """One hash over every output file (name + bytes), the `_work` folder excluded."""
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if p.is_file() and rel.parts[0] != "_work":
            h.update(rel.as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def ray_start_seconds(env: dict[str, str], cpus: int) -> float:
    code = ("import time, logging, ray; t = time.perf_counter(); "
            f"ray.init(num_cpus={cpus}, include_dashboard=False, logging_level=logging.WARNING); "
            "print(time.perf_counter() - t); ray.shutdown()")
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", type=Path, nargs="+")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    ap.add_argument("--stages", default=None, help="--stages for glot build (default: the recipe's)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (the fastest is kept)")
    a = ap.parse_args()
    glot = str(Path(sys.executable).with_name("glot"))
    tmp = Path(tempfile.mkdtemp(prefix="gf-bench-"))
    env = os.environ | RAY_ENV | {"RAY_TMPDIR": str(tmp / "ray")}
    (tmp / "ray").mkdir()
    rows = []
    try:
        start = ray_start_seconds(env, os.cpu_count() or 1) if "ray" in a.engines else 0.0
        for corpus in a.corpora:
            files = sum(1 for p in corpus.rglob("*") if p.is_file())
            hashes = set()
            for _ in range(a.repeat):
                for engine in a.engines:
                    for workers in a.workers:
                        out = tmp / "out"
                        cmd = [glot, "build", str(corpus), "-o", str(out), "--engine", engine, "-j", str(workers)]
                        if a.stages is not None:
                            cmd += ["--stages", a.stages]
                        load = os.getloadavg()[0]
                        wall, peaks, cpu, stdout = run(cmd, env)
                        read = next((ln.split("lines read")[1].split(";")[0].strip() for ln in stdout.splitlines()
                                     if "lines read" in ln), "?")
                        digest = tree_hash(out)
                        hashes.add(digest)
                        shutil.rmtree(out)
                        rows.append((corpus.name, files, read, engine, workers, wall, peaks, load, cpu))
                        phases = next((ln.strip() for ln in stdout.splitlines() if ln.strip().startswith("time:")), "")
                        print(f"{corpus.name} {engine} -j {workers}: {wall:.1f} s (load {load:.1f}), outputs {digest}; "
                              f"CPU {cpu['total']:.0f} s; {phases}", file=sys.stderr)
            same = "identical" if len(hashes) == 1 else f"DIFFERENT ({len(hashes)} variants)"
            print(f"{corpus.name}: outputs of all runs {same}: {sorted(hashes)}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best: dict[tuple, tuple] = {}
    for row in rows:
        key = row[0], row[3], row[4]
        if key not in best or row[5] < best[key][5]:
            best[key] = row
    print(f"machine: {os.cpu_count()} cores; Ray local start (ray.init): {start:.1f} s; stages: "
          f"{a.stages if a.stages is not None else 'recipe default'}")
    print("| corpus | files | lines | engine | -j | wall s | vs local same -j | CPU s: driver / workers / Ray "
          "| CPU s, whole tree | driver MiB | largest worker MiB | Ray services MiB | load avg |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, engine, workers), (_, files, read, _, _, wall, peaks, load, cpu) in best.items():
        local = best.get((name, "local", workers))
        ratio = f"{wall / local[5]:.2f}x" if local and engine != "local" else ""
        worker = peaks.get("worker") or (peaks.get("driver") if engine == "local" and workers == 1 else None)
        cpus = " / ".join(f"{cpu.get(k, 0):.0f}" for k in ("driver", "worker", "ray"))
        print(f"| {name} | {files} | {read} | {engine} | {workers} | {wall:.1f} | {ratio} | {cpus} | {cpu['total']:.0f} "
              f"| {mib(peaks.get('driver'))} "
              f"| {mib(worker)}{' (in-process)' if engine == 'local' and workers == 1 else ''} "
              f"| {mib(peaks.get('ray'))} | {load:.1f} |")


if __name__ == "__main__":
    main()
