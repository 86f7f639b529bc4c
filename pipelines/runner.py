"""Executors: how a list of independent tasks gets run.

A task is a picklable pure function call (`fn(item)`) that writes its own files and returns a small
JSON-able result. The build only ever asks an executor to `map` a function over items, so a
distributed engine can replace the local process pool without touching the stages. Failures are
collected per item rather than aborting the whole run: finished tasks keep their markers, and a
`--resume` run only redoes what failed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

ATTEMPTS = 3  # tries per task when its worker process dies (a task's own exception is never retried)


@dataclass
class TaskFailure:
    item: Any
    error: str
    trace: str


class TaskError(RuntimeError):
    """One or more tasks failed; `failures` says which and why."""

    def __init__(self, failures: list[TaskFailure]):
        self.failures = failures
        first = failures[0]
        super().__init__(f"{len(failures)} task(s) failed; first: {first.item}: {first.error}")


class Executor(Protocol):
    workers: int

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "") -> list[Any]:
        """Run fn over items; results in input order. Raises TaskError after all tasks ran if any failed."""
        ...


def _limit_threads(threads: int) -> None:
    """Each worker gets its share of the cores, so N workers don't each start a full thread pool."""
    for var in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="task", disable=not enabled or total == 0,
                file=sys.stderr, leave=False, dynamic_ncols=True)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class LocalExecutor:
    """Processes on this machine (`workers` = 1 runs in-process, which keeps tracebacks simple)."""

    def __init__(self, workers: int | None = None, progress: bool = True):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.progress = progress and sys.stderr.isatty()
        self._kept: ProcessPoolExecutor | None = None  # reused by the next map (dedup runs many short rounds)

    def close(self) -> None:
        if self._kept is not None:
            self._kept.shutdown(wait=True, cancel_futures=True)
            self._kept = None

    def _reusable_pool(self) -> ProcessPoolExecutor:
        if self._kept is None:
            self._kept = self._pool(self.workers)
        return self._kept

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "") -> list[Any]:
        results: list[Any] = [None] * len(items)
        failures: list[TaskFailure] = []
        bar = _progress(len(items), desc, self.progress)
        if self.workers == 1:  # with more, even one task runs in a worker: the driver never holds a label
            for i, item in enumerate(items):
                try:
                    results[i] = fn(item)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # collected and reported with the item it belongs to
                    failures.append(TaskFailure(item, _describe(exc), traceback.format_exc()))
                bar.update()
        else:
            self._map_pool(fn, items, results, failures, bar)
        bar.close()
        if failures:
            raise TaskError(failures)
        return results

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        ctx = mp.get_context("spawn")  # forking a process that runs polars' thread pool can deadlock
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_limit_threads, initargs=(threads,))

    def _map_pool(self, fn: Callable[[Any], Any], items: Sequence[Any], results: list[Any],
                  failures: list[TaskFailure], bar: Any) -> None:
        """Run items in a shared pool with at most `workers` in flight.

        A worker that dies (OOM killer, segfault) breaks the whole pool; the window bounds the tasks
        it takes down with it. Those are retried each in a process of its own, so a shard that kills
        its worker every time cannot take the others with it, and is reported after ATTEMPTS tries;
        the items not yet started go on in a fresh pool. Two fresh pools in a row that break before
        finishing anything mean the workers cannot run at all: the rest is reported, not retried.
        """
        todo = list(range(len(items)))[::-1]
        died: list[int] = []
        stalled = 0
        while todo:
            if stalled >= 2:
                failures.extend(TaskFailure(items[i], "BrokenProcessPool: worker processes die before "
                                            "finishing any task", "") for i in reversed(todo))
                break
            pool = self._reusable_pool()
            try:
                running: dict[Any, int] = {}
                broken = progressed = False
                while todo or running:
                    while todo and not broken and len(running) < self.workers:
                        try:
                            fut = pool.submit(fn, items[todo[-1]])
                        except BrokenProcessPool:  # a worker died before we saw a future fail
                            broken = True
                            break
                        running[fut] = todo.pop()
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = running.pop(fut)
                        try:
                            results[i] = fut.result()
                        except BrokenProcessPool:
                            died.append(i)
                            broken = True
                            continue
                        except Exception as exc:
                            failures.append(TaskFailure(items[i], _describe(exc), "".join(
                                traceback.format_exception(exc))))
                        progressed = True
                        bar.update()
            except BaseException:
                self.close()  # Ctrl-C: nothing may keep running behind the driver's back
                raise
            if broken:
                self.close()
            stalled = stalled + 1 if broken and not progressed else 0
        if died:
            with ThreadPoolExecutor(self.workers) as threads:
                retries = {threads.submit(self._retry_alone, fn, items[i]): i for i in sorted(died)}
                for fut in as_completed(retries):
                    i = retries[fut]
                    try:
                        results[i] = fut.result()
                    except Exception as exc:
                        failures.append(TaskFailure(items[i], _describe(exc), "".join(
                            traceback.format_exception(exc))))
                    bar.update()

    def _retry_alone(self, fn: Callable[[Any], Any], item: Any) -> Any:
        for _ in range(ATTEMPTS - 1):
            with self._pool(1) as pool:
                try:
                    return pool.submit(fn, item).result()
                except BrokenProcessPool:
                    continue
        raise BrokenProcessPool(f"the worker process died in all {ATTEMPTS} attempts (killed, out of memory "
                                "or crashed)")


def make_executor(engine: str = "local", workers: int | None = None, progress: bool = True, **options: Any) -> Executor:
    if engine == "local":
        return LocalExecutor(workers, progress)
    if engine == "ray":
        from .ray_executor import RayExecutor  # optional extra

        return RayExecutor(workers, progress=progress, **options)
    raise ValueError(f"unknown engine {engine!r} (local, ray)")
