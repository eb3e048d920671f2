"""Task log files created ahead of time, off the runner's thread.

Creating a file is a journalled metadata change; on some disks it costs 50–400 µs, more than a short task
itself, and the runner would pay it on its own thread just before every spawn. :class:`LogPrecreator`
creates the (empty) first-attempt logs of the next few shell tasks, in plan order, from a background
thread while the runner waits on the running ones; opening an existing file is cheap. It stays at most
``ahead`` files in front of the tasks actually started, and :meth:`LogPrecreator.finish` removes the
files it made for tasks that never started (still empty), so a run folder holds logs only of tasks that ran.

Where creating a file is cheap (tmpfs, a settled local disk: a few µs) there is nothing to save, and the
thread would only cost wake-ups. It times its first ``sample`` creations and stops when their median is
under ``worth_s``; the attempts then create their own logs as they start. The timing is wall-clock (a slow
network disk counts) and includes waiting for the GIL, so a busy process errs towards creating ahead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from dagctl.run import childsignal

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC

ENABLED = True
"""Create shell tasks' logs ahead of time (fan1000 on a slow disk: 965 -> 774 ms, docs/benchmarks.md);
False leaves each attempt to create its own log as it starts."""


class LogPrecreator:
    def __init__(
        self, paths: Sequence[str], *, ahead: int = 32, sample: int = 16, worth_s: float | None = 20e-6
    ) -> None:
        self._paths = list(paths)
        self._ahead = ahead
        self._sample = sample
        self._worth_s = worth_s
        self.retired = False  # stopped early: creating files here is cheap enough for the attempts to do it
        self._limit = ahead
        self._position = 0  # index of the next path to create
        self._waiting = False
        self._used: set[str] = set()
        self._created: list[str] = []
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="dagctl-logfiles", daemon=True)
        self._thread.start()

    def used(self, path: str) -> None:
        """An attempt is starting with the log ``path``: keep its file, and let creation run further ahead.

        The creating thread is woken only once half of its lead is used up: a wake-up per task would cost
        more (GIL hand-overs) than the file creations it saves.
        """
        self._used.add(path)  # also once retired: finish() must keep this file
        if self.retired:
            return
        with self._cond:
            self._limit = len(self._used) + self._ahead
            if self._waiting and self._limit - self._position >= self._ahead // 2:
                self._cond.notify()

    def _work(self) -> None:
        childsignal.block()  # never starts a process (see dagctl.run.childsignal)
        timings: list[float] = []
        measuring = self._worth_s is not None
        clock = time.perf_counter
        for index, path in enumerate(self._paths):
            with self._cond:
                self._position = index
                while index >= self._limit and not self._stopped:
                    self._waiting = True
                    self._cond.wait()
                    self._waiting = False
                if self._stopped:
                    return
                if path in self._used:
                    continue
            began = clock()
            try:
                os.close(os.open(path, FLAGS, 0o644))
            except OSError:
                continue  # the attempt's own open will report the problem, if there is one
            took = clock() - began
            with self._cond:
                self._created.append(path)
            if measuring:
                timings.append(took)
                if len(timings) >= self._sample:
                    if sorted(timings)[len(timings) // 2] < (self._worth_s or 0.0):
                        self.retired = True
                        return
                    measuring = False  # slow here: keep creating ahead for the whole run

    def finish(self) -> None:
        """Stop, and remove the files made for tasks that never started (unless something wrote to them)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5.0)
        with self._cond:
            unused = [p for p in self._created if p not in self._used]
        for path in unused:
            try:
                if os.stat(path).st_size == 0:
                    os.unlink(path)
            except OSError:
                pass
