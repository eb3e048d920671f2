"""The default executor: a pool of daemon worker threads on this machine.

Once a run has begun (:meth:`ThreadExecutor.begin`), shell attempts skip the pool: the runner's thread
spawns and reaps them itself (:mod:`dagctl.run.executors.spawner`). Python attempts always use the pool.

Daemon threads, not ``concurrent.futures``: an in-process Python task that ignores cancellation must
not keep the process alive after the run has been given up (second Ctrl+C).

Threads count against the user's processes (``ulimit -u``), which its tasks need too: the pool starts one worker
and grows on demand (a worker that takes a job starts a spare if none is idle), up to ``workers``. A spare that
cannot be started is not needed: the job waits for a busy worker. A first one that cannot be started is an
EnvironmentProblem (exit 3) naming the limit.

An attempt that cannot start for lack of resources (EMFILE, ENFILE, EAGAIN: ``ulimit -n``, ``ulimit -u``) does not
fail: it waits until another attempt of this executor ends (or a short backoff passes) and is started again
(:meth:`ThreadExecutor._execute`); the run records one ``run_warning`` naming the limit
(:meth:`ThreadExecutor.take_warnings`). Only when nothing else of the run is running and it still cannot start
after :data:`GIVE_UP_S` does it fail, saying which limit to raise.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence

from dagctl.clock import SystemClock
from dagctl.run import childsignal
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken

from .local import LocalRunner, describe_shortage, limit_of, no_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.protocols import Clock
    from dagctl.run.keeper import Keeper
    from dagctl.run.waker import Waker

    from .logfiles import LogPrecreator
    from .spawner import ShellSpawner

_Job = tuple[Attempt, CancelToken, Callable[[AttemptResult], None]]

RETRY_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""How long an attempt that could not start waits before it tries again when no other attempt ends first."""
GIVE_UP_S = 10.0
"""Attempts that cannot start while nothing else of the run runs (nothing will free what is short) fail once this
has lasted this long."""


class ThreadExecutor:
    name = "threads"

    def __init__(self, workers: int, clock: Clock | None = None, *, keeper: Keeper | None = None) -> None:
        self.local = LocalRunner(clock or SystemClock(), keeper=keeper)
        self._spawner: ShellSpawner | None = None
        self._logs: LogPrecreator | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._max = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0
        self._stopping = False
        self._waiting: list[threading.Event] = []  # of attempts waiting for room: set when an attempt ends
        self._waker: Waker | None = None
        self._warnings: deque[str] = deque()
        self._warned: set[str] = set()
        self._starved_since: float | None = None  # since when attempts cannot start and nothing else runs
        self._trying = 0  # workers inside an attempt (starting it, or running it)
        self._spawned = 0  # the spawner's count of started children when last looked at
        if not self._add_worker():
            raise no_thread()

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

        self._waker = waker
        self._warned.clear()
        self.local.keeper.listen(self._warn)  # a keeper that died or cannot start: the run says so
        if not spawner.supported():
            return
        self._spawner = spawner.ShellSpawner(
            waker,
            self.local.clock,
            self.local.base_env,
            self.local.keeper,
            fallback=lambda attempt, cancel, done: self._queue.put((attempt, cancel, done)),
            on_short=lambda number: self._warn(describe_shortage(number, self._max)),
        )
        if shell_logs:
            from . import logfiles

            try:
                self._logs = logfiles.LogPrecreator(shell_logs) if logfiles.ENABLED else None
            except RuntimeError:  # no thread to spare (ulimit -u): each attempt creates its own log
                self._logs = None

    def end(self) -> None:
        self.local.keeper.unlisten(self._warn)
        if self._logs is not None:
            self._logs.finish()
            self._logs = None
        if self._spawner is not None:
            self._spawner.close()
            self._spawner = None

    def take_warnings(self) -> list[str]:
        """What the run should record as ``run_warning`` events since it last asked (each said once per run): a
        resource limit tasks wait for, a keeper that died or cannot start."""
        taken = []
        while self._warnings:
            taken.append(self._warnings.popleft())
        return taken

    def _warn(self, message: str) -> None:
        """Have the run record ``message`` (from any thread), unless it did already."""
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
            self._warnings.append(message)
        if self._waker is not None:
            self._waker.set()

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        if self._logs is not None:
            self._logs.used(attempt.log_path)

        def ended(result: AttemptResult) -> None:
            done(result)
            if self._waiting:  # what it held is free: the attempts waiting for room try again
                with self._lock:
                    waiting, self._waiting = self._waiting, []
                for event in waiting:
                    event.set()

        spawner = self._spawner
        if spawner is not None and attempt.kind == "run" and spawner.try_start(attempt, cancel, ended):
            return
        self._queue.put((attempt, cancel, ended))

    def _execute(self, attempt: Attempt, cancel: CancelToken) -> AttemptResult:
        """Run the attempt on this worker. One that cannot start for lack of resources waits until another attempt
        ends (or a backoff passes) and tries again. Attempts fail only once none could start for :data:`GIVE_UP_S`
        while nothing else ran that could free what is short (then at once, until one starts again)."""
        clock = self.local.clock
        tries = 0
        while True:
            with self._lock:
                self._trying += 1
            try:
                result, short = self.local.execute_or_short(attempt, cancel)
            finally:
                with self._lock:
                    self._trying -= 1
            if short is None:
                with self._lock:
                    self._starved_since = None  # it started: resources come and go
            if short is None or cancel.is_cancelled:
                return result
            self._warn(describe_shortage(short, self._max))
            if self._starving(clock.monotonic()):
                return result.replace(error=f"{result.error} ({limit_of(short)} is too low for this run: raise it)")
            event = threading.Event()
            with self._lock:
                self._waiting.append(event)
            cancel.on_cancel(event.set)
            clock.wait(event, RETRY_S[min(tries, len(RETRY_S) - 1)])
            tries += 1
            with self._lock:
                if event in self._waiting:  # (no attempt ended: it is still listed)
                    self._waiting.remove(event)

    def _starving(self, now: float) -> bool:
        """Whether attempts have not been able to start for :data:`GIVE_UP_S` while nothing of this executor ran:
        nothing will free what they lack (the limit is below what dagctl itself needs, or others hold it all)."""
        spawner = self._spawner
        spawned = spawner.started if spawner is not None else 0
        with self._lock:
            if spawned != self._spawned:  # the spawner started something meanwhile
                self._spawned, self._starved_since = spawned, None
            if self._trying or (spawner is not None and spawner.running):
                return False  # something else runs (or is starting): its end may free what is short
            if self._starved_since is None:
                self._starved_since = now
            return now - self._starved_since >= GIVE_UP_S

    def _add_worker(self) -> bool:
        """Start one more worker thread; False when none can be started (RLIMIT_NPROC, kernel.threads-max)."""
        thread = threading.Thread(target=self._work, name=f"dagctl-worker-{len(self._threads)}", daemon=True)
        with self._lock:
            self._idle += 1  # it goes straight to waiting for a job
        try:
            thread.start()
        except RuntimeError:
            with self._lock:
                self._idle -= 1
            return False
        self._threads.append(thread)
        return True

    def _work(self) -> None:
        while True:
            childsignal.block()  # idle: no wake-up for every shell task that exits (see dagctl.run.childsignal)
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
                spare = not (job is None or self._idle or self._waiting or self._stopping)
            if spare and len(self._threads) < self._max:  # started with SIGCHLD blocked, as an idle worker has it
                # (not while attempts wait for resources: a thread counts against ulimit -u as a process does)
                self._add_worker()
            if job is None:
                return
            childsignal.unblock()  # a task's own processes start with SIGCHLD unblocked, as usual
            attempt, cancel, done = job
            try:
                result = self._execute(attempt, cancel)
            except BaseException as exc:  # never lose a result: the runner waits for it
                result = AttemptResult(status="failed", duration_s=0.0, error=f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._idle += 1
            done(result)

    def shutdown(self, *, wait: bool = True) -> None:
        self.end()
        self.local.close()
        with self._lock:
            self._stopping = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for t in threads:
                t.join(timeout=5.0)
