"""SIGCHLD kept away from threads that only wait.

Every child that exits sends SIGCHLD to the process. Python leaves it at its default action, "ignore",
and the kernel drops an ignored signal as it is sent, at no cost, unless the thread it is addressed to
(the one that started the child) has it blocked. glibc's ``posix_spawn`` blocks every signal in the
calling thread while it waits for the new child to reach ``exec``, and the runner's thread spends much of
a run of short shell tasks in that wait. Each child that ended meanwhile had its SIGCHLD handed to some
other thread instead: the kernel woke an idle worker, the signal thread or the main thread just to
discard it. In 1000 short tasks on two CPUs that was ~1000 needless wake-ups, each taking a CPU from a
task.

A thread that only waits (the main thread while a run goes on, the signal-dispatch thread, idle workers,
the log-creating thread, the threads that stop a timed-out task) blocks SIGCHLD. The signal then stays
pending until ``posix_spawn`` returns in the runner's thread, which discards it there. Threads that start
processes keep it unblocked, and so do the processes they start: a worker unblocks it while it runs a
task, so a Python task's own subprocesses start with it unblocked, as usual.

Nothing here changes how children are reaped: pidfds and ``waitpid`` do not depend on the signal.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

ENABLED = True
"""Block SIGCHLD in threads that only wait (fan1000: ~2-4% faster, docs/benchmarks.md); False leaves every
thread's signal mask alone. Read when this module is imported."""

_SET = {signal.SIGCHLD} if ENABLED and hasattr(signal, "SIGCHLD") and hasattr(signal, "pthread_sigmask") else None


def block() -> None:
    """Block SIGCHLD in the calling thread (for a thread that never starts processes)."""
    if _SET is not None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SET)


def unblock() -> None:
    """Unblock SIGCHLD in the calling thread: before it starts processes, which inherit its mask."""
    if _SET is not None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SET)


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """SIGCHLD blocked in the calling thread for the ``with`` block, then as it was before.

    Threads started inside inherit the block: those that start processes call :func:`unblock` first.
    """
    if _SET is None:
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _SET)
    try:
        yield
    finally:
        if signal.SIGCHLD not in before:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SET)
