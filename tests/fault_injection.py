"""Real faults for executor tests: a task function wrapper that kills its worker process or raises.

Nothing is mocked: the wrapped function is the build's own `run_map`/`run_reduce`, the executor is
the real one, and a "death" is `os._exit` in the worker process. Attempts are counted with files in a
folder, so the count survives the process that died (and works across Ray workers on one machine).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glotforge.pipelines.plan import shard_id
from glotforge.pipelines.tasks import marker_path


@dataclass(frozen=True)
class Faulty:
    """Run `fn(task)`, but the task whose str() is `target` fails on its first `times` attempts.

    how:
      "die"   - the worker process exits at once (os._exit), like a segfault or the OOM killer;
      "torn"  - the map task runs, then its marker is removed, one of its Parquet files is cut in half
                and a stray temporary file is left: the state a worker killed mid-shard leaves at
                worst; then the process exits;
      "raise" - the task raises RuntimeError (an ordinary failing shard).
    """

    fn: Callable[[Any], Any]
    target: str
    flags: str
    times: int = 1
    how: str = "die"

    def _claim_attempt(self) -> bool:
        flags = Path(self.flags)
        flags.mkdir(parents=True, exist_ok=True)
        n = len(list(flags.iterdir()))
        if n >= self.times:
            return False
        (flags / f"attempt-{n}-pid-{os.getpid()}").touch()
        return True

    def __call__(self, task: Any) -> Any:
        if str(task) != self.target or not self._claim_attempt():
            return self.fn(task)
        if self.how == "raise":
            raise RuntimeError(f"injected failure in {task}")
        if self.how == "torn":
            self.fn(task)
            out = task.plan.out_path
            marker_path(out, task.task_id).unlink()
            folder = out / "_work" / "map" / shard_id(task.source.shard_key)
            for part in sorted(folder.glob("*.parquet"))[:1]:
                data = part.read_bytes()
                part.write_bytes(data[: len(data) // 2])
            (folder / ".kept-00000.parquet.tmp-1").write_bytes(b"PAR1 half a file")
        os._exit(17)


class FaultyExecutor:
    """A real executor whose `map` wraps one phase's function (run_map or run_reduce) in Faulty."""

    def __init__(self, inner: Any, phase: Callable[[Any], Any], target: str, flags: Path, times: int = 1,
                 how: str = "die") -> None:
        self.inner = inner
        self.phase = phase
        self.faulty = Faulty(phase, target, str(flags), times, how)

    @property
    def workers(self) -> int:
        return self.inner.workers

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], desc: str = "") -> list[Any]:
        return self.inner.map(self.faulty if fn is self.phase else fn, items, desc)


def attempts(flags: Path) -> int:
    """How many times the faulty task was started (and failed)."""
    return len(list(flags.iterdir())) if flags.exists() else 0
