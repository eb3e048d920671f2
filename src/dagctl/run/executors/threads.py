"""The default executor: a pool of daemon worker threads on this machine.

Once a run has begun (:meth:`ThreadExecutor.begin`), shell attempts skip the pool: the runner's thread
spawns and reaps them itself (:mod:`dagctl.run.executors.spawner`). Python attempts always use the pool.

Daemon threads, not ``concurrent.futures``: an in-process Python task that ignores cancellation must
not keep the process alive after the run has been given up (second Ctrl+C).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

from dagctl.clock import SystemClock
from dagctl.run import childsignal
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken

from .local import LocalRunner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.protocols import Clock
    from dagctl.run.keeper import Keeper
    from dagctl.run.waker import Waker

    from .logfiles import LogPrecreator
    from .spawner import ShellSpawner

_Job = tuple[Attempt, CancelToken, Callable[[AttemptResult], None]]


class ThreadExecutor:
    name = "threads"

    def __init__(self, workers: int, clock: Clock | None = None, *, keeper: Keeper | None = None) -> None:
        self.local = LocalRunner(clock or SystemClock(), keeper=keeper)
        self._spawner: ShellSpawner | None = None
        self._logs: LogPrecreator | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"dagctl-worker-{n}", daemon=True) for n in range(max(1, workers))
        ]
        for t in self._threads:
            t.start()

    def for_child_run(self, parallelism: int) -> ThreadExecutor:
        """A pool of its own (the spawner belongs to one runner's thread), sharing this one's keeper."""
        return ThreadExecutor(parallelism, self.local.clock, keeper=self.local.keeper)

    def begin(self, waker: Waker, shell_logs: Sequence[str]) -> None:
        """Start and reap shell attempts on the thread that waits on ``waker`` (the runner's), where supported
        (:mod:`dagctl.run.executors.spawner`); then have the log files of the run's shell tasks created ahead
        of time by a background thread (:mod:`dagctl.run.executors.logfiles`).

        Also when every CPU runs a task: the spawned child opens its log before ``exec`` while the runner's
        thread waits for it, so a slow creation (a network disk, or ext4 without a journal after many files
        were deleted: 0.1-0.5 ms) delays every start; created ahead, the child only opens an existing file.
        """
        from . import spawner

        if not spawner.supported():
            return
        self._spawner = spawner.ShellSpawner(waker, self.local.clock, self.local.base_env, self.local.keeper)
        if shell_logs:
            from . import logfiles

            self._logs = logfiles.LogPrecreator(shell_logs) if logfiles.ENABLED else None

    def end(self) -> None:
        if self._logs is not None:
            self._logs.finish()
            self._logs = None
        if self._spawner is not None:
            self._spawner.close()
            self._spawner = None

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        if self._logs is not None:
            self._logs.used(attempt.log_path)
        if self._spawner is not None and attempt.kind == "run" and self._spawner.try_start(attempt, cancel, done):
            return
        self._queue.put((attempt, cancel, done))

    def _work(self) -> None:
        while True:
            childsignal.block()  # idle: no wake-up for every shell task that exits (see dagctl.run.childsignal)
            job = self._queue.get()
            if job is None:
                return
            childsignal.unblock()  # a task's own processes start with SIGCHLD unblocked, as usual
            attempt, cancel, done = job
            try:
                result = self.local.execute(attempt, cancel)
            except BaseException as exc:  # never lose a result: the runner waits for it
                result = AttemptResult(status="failed", duration_s=0.0, error=f"{type(exc).__name__}: {exc}")
            done(result)

    def shutdown(self, *, wait: bool = True) -> None:
        self.end()
        self.local.close()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=5.0)
