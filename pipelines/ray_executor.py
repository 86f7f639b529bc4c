"""Ray executor: the build's tasks as Ray core tasks, on a local Ray instance or on a cluster.

Why core tasks and not Ray Data: a build task (`run_map` per source shard, `run_reduce` per label) is
already a pure function that reads its own input files and writes its own output files and a marker,
and returns a few counters. Running it as one Ray task keeps the data path identical to the local
engine (same code, same writers, hence the same bytes), keeps rows out of the object store (only the
task description goes in and a small dict comes back), and keeps the resume markers meaningful.
Ray Data would re-batch rows by its own block sizes, stream them through the object store and write
files named by its own scheme, which breaks byte-identity and our canonical order.

Scheduling: at most `workers` tasks run at once (a sliding window of submissions, plus Ray's own CPU
accounting when the workers fill the cluster); each task asks Ray for
`cpus_per_task` CPUs and gets the same thread budget (POLARS_MAX_THREADS...) as the local engine gives
a worker. A worker process that dies (OOM killer, segfault, lost node) is retried by Ray up to
`attempts` times in all; an exception raised by the task itself is not retried (tasks are
deterministic: the same input fails the same way) and is reported with its item, like the local
engine does.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .runner import TaskError, TaskFailure, _describe, _progress

THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "RAYON_NUM_THREADS")


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The one remote function: every build task goes through it, so workers import nothing else."""
    return fn(item)


class RayExecutor:
    """Run `fn(item)` for every item as a Ray task; results in input order (the Executor protocol).

    address: None starts a local Ray instance with this machine's cores; `auto` or `ray://host:port`
    connects to a running cluster (every node needs glotforge installed, and OUT and the sources on
    storage that every node sees). If this process is already connected to Ray (e.g. a test fixture
    or a notebook called `ray.init`), that connection is used and left open.
    """

    def __init__(self, workers: int | None = None, progress: bool = True, address: str | None = None,
                 attempts: int = 3, init_options: dict[str, Any] | None = None) -> None:
        import ray  # noqa: F401  (fail now, with the install hint, if the extra is missing)

        self.requested = workers
        self.progress = progress and sys.stderr.isatty()
        self.address = address
        self.attempts = max(1, attempts)
        self.init_options = dict(init_options or {})
        self._owns_ray = False
        self._remote = None
        self._workers: int | None = None
        self._cpus_per_task = 1
        self._window = 1

    # -- connection ---------------------------------------------------------------------------------
    def _connect(self):
        """Connect lazily, so that a build that fails on its inputs never waits for Ray to start."""
        import ray

        if self._remote is not None:
            return ray
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            if self.address:
                options["address"] = self.address
            else:
                options["num_cpus"] = os.cpu_count() or 1
            ray.init(**(options | self.init_options))
            self._owns_ray = True
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self._workers = max(1, min(self.requested or cluster_cpus, cluster_cpus))
        if not self.address and self._owns_ray:
            # One machine: split its cores between the workers, as LocalExecutor does.
            self._cpus_per_task = max(1, cluster_cpus // self._workers)
        # Ray itself caps concurrency at the CPUs when the workers fill the cluster: then keep one more
        # task per worker queued at the scheduler, so a worker never idles through a driver round trip
        # (small tasks lost ~1/3 of their time that way). Otherwise the window is what enforces -j.
        full = self._workers * self._cpus_per_task >= cluster_cpus
        self._window = 2 * self._workers if full else self._workers
        self._remote = ray.remote(_call)
        return ray

    @property
    def workers(self) -> int:
        """Tasks in flight at once: the requested number, at most the cluster's CPUs."""
        self._connect()
        assert self._workers is not None
        return self._workers

    def close(self) -> None:
        """Shut down the Ray instance if this executor started it (a cluster it joined keeps running)."""
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False
        self._remote = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -------------------------------------------------------------------------------
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "") -> list[Any]:
        """Run fn over items with at most `workers` in flight; raise TaskError after all ran if any failed."""
        ray = self._connect()
        from ray.exceptions import RayTaskError

        threads = str(self._cpus_per_task)
        remote = self._remote.options(
            num_cpus=self._cpus_per_task, max_retries=self.attempts - 1, retry_exceptions=False,
            runtime_env={"env_vars": dict.fromkeys(THREAD_VARS, threads)}, name=desc or None)
        results: list[Any] = [None] * len(items)
        failures: list[TaskFailure] = []
        pending: dict[Any, int] = {}
        todo = iter(range(len(items)))
        bar = _progress(len(items), desc, self.progress)
        try:
            while True:
                while len(pending) < self._window and (i := next(todo, None)) is not None:
                    pending[remote.remote(fn, items[i])] = i
                if not pending:
                    break
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    try:
                        results[i] = ray.get(ref)
                    except RayTaskError as exc:  # the task raised: report its own exception
                        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                        failures.append(TaskFailure(items[i], _describe(cause), str(exc)))
                    except ray.exceptions.RayError as exc:  # worker or node died `attempts` times
                        failures.append(TaskFailure(
                            items[i], f"{type(exc).__name__} after {self.attempts} attempt(s): "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}", str(exc)))
                    bar.update()
        except BaseException:
            # Ctrl-C or a lost driver: stop the work in flight. Killed tasks leave only temporary
            # names and no marker, so a --resume run redoes exactly them.
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            bar.close()
        if failures:
            raise TaskError(failures)
        return results
