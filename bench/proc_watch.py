"""Peak memory and CPU of a command's whole process tree, by kind of process (the benchmarks' one watcher).

RSS is sampled every 50 ms over the process and all its descendants, split into the driver (the command
itself), workers (multiprocessing children for the local engine; `ray::` task processes for Ray) and Ray's
own services (raylet, GCS, agents ...); `tree` is the largest sum over all of them at one sample. CPU is
user + system time, as last seen per process, plus the `reaped` total of every descendant that exited.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
import time

import psutil


def classify(proc: psutil.Process, root: psutil.Process) -> str:
    if proc.pid == root.pid:
        return "driver"
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if cmd.startswith("ray::") and "Agent" not in cmd or "default_worker.py" in cmd or "multiprocessing.spawn" in cmd:
        return "worker"
    return "ray" if "ray" in cmd else "other"


def watch(root: psutil.Process, stop: threading.Event, peaks: dict[str, int], cpu: dict[int, tuple]) -> None:
    """Peak RSS of the driver, of the largest single worker, of all Ray services together and of the
    whole tree; the last seen CPU time (user + system) of every process of the tree, by kind."""
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        services = tree = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
                # first answer wins: a zombie's cmdline can no longer be read
                kind = cpu[p.pid][0] if p.pid in cpu else classify(p, root)
                times = p.cpu_times()
                cpu[p.pid] = (kind, times.user + times.system)
            except psutil.Error:
                continue
            tree += rss
            if kind == "ray":
                services += rss
            else:
                peaks[kind] = max(peaks.get(kind, 0), rss)
        peaks["ray"] = max(peaks.get("ray", 0), services)
        peaks["tree"] = max(peaks.get("tree", 0), tree)
        time.sleep(0.05)


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, dict[str, int], dict[str, float], str]:
    """Run cmd in a fresh process: (wall s, peak RSS by kind, CPU s by kind, stdout); exits on failure."""
    peaks: dict[str, int] = {}
    cpu: dict[int, tuple] = {}
    stop = threading.Event()
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    thread = threading.Thread(target=watch, args=(psutil.Process(proc.pid), stop, peaks, cpu), daemon=True)
    thread.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    thread.join()
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the run and of every descendant reaped along the way (pool workers, Ray's processes)
    seconds: dict[str, float] = {"reaped": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}
    for kind, t in cpu.values():
        seconds[kind] = seconds.get(kind, 0.0) + t
    seconds["total"] = sum(t for _, t in cpu.values())  # every process of the tree, as last sampled
    return wall, peaks, seconds, out.decode()


def mib(n: int | None) -> str:
    return f"{n / 2**20:,.0f}" if n else "-"
