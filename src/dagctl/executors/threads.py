"""The default executor: a pool of daemon worker threads on this machine.

Daemon threads, not ``concurrent.futures``: an in-process Python task that ignores cancellation must
not keep the process alive after the run has been given up (second Ctrl+C).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ..clock import Clock, SystemClock
from .base import Attempt, AttemptResult, CancelToken
from .local import LocalRunner

_Job = tuple[Attempt, CancelToken, Callable[[AttemptResult], None]]


class ThreadExecutor:
    name = "threads"

    def __init__(self, workers: int, clock: Clock | None = None) -> None:
        self.local = LocalRunner(clock or SystemClock())
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"dagctl-worker-{n}", daemon=True)
                         for n in range(max(1, workers))]
        for t in self._threads:
            t.start()

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        self._queue.put((attempt, cancel, done))

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            attempt, cancel, done = job
            try:
                result = self.local.execute(attempt, cancel)
            except BaseException as exc:  # never lose a result: the runner waits for it
                result = AttemptResult(status="failed", duration_s=0.0, error=f"{type(exc).__name__}: {exc}")
            done(result)

    def shutdown(self, *, wait: bool = True) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=5.0)
