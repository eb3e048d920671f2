"""Signal handling for long-running commands, safe for code that uses threading primitives.

A Python signal handler runs in the main thread between two bytecodes, possibly while that thread holds
a lock the handler would need (``Event.set`` takes the Event's own lock): a deadlock that showed up in
about 1 run in 7 of a SIGHUP test. So the handlers do nothing; ``signal.set_wakeup_fd`` makes the
interpreter write the signal number to a pipe, and a small thread reads it and calls the callbacks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dagctl.run import childsignal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@contextmanager
def handle_signals(on_stop: Callable[[int, bool], None], on_reload: Callable[[], None] | None = None) -> Iterator[None]:
    """SIGINT/SIGTERM: ``on_stop(signum, again)``; SIGHUP: ``on_reload()`` when given, else a stop like the others.

    A command without a reload (``dagctl run``, ``schedule --once``, ``backfill``) treats SIGHUP, the signal of a
    closed terminal or SSH session, as an interrupt: its running tasks are stopped and recorded as cancelled
    (exit 129), instead of the default action killing dagctl mid-run and leaving the run to be found abandoned.
    Started with SIGHUP ignored (``nohup dagctl run ...``), it leaves it ignored.

    The callbacks set threading Events, which take locks; a Python signal handler runs in the main thread
    between two bytecodes, possibly while that thread holds the very same lock (deadlock). So the handlers
    do nothing: ``signal.set_wakeup_fd`` makes the interpreter write the signal number to a pipe, and a
    small thread reads it and calls the callbacks from an ordinary thread.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    seen: list[int] = []

    def dispatch() -> None:
        childsignal.block()  # only reads the pipe (see dagctl.run.childsignal)
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum == signal.SIGHUP and on_reload is not None:
                    on_reload()
                    continue
                again = bool(seen)
                seen.append(signum)
                with contextlib.suppress(OSError):  # its message to a terminal that hung up: the stop is asked
                    on_stop(signum, again)

    def ignore(_signum: int, _frame: Any) -> None:
        pass  # the interpreter has already written the number to the wakeup pipe

    watched = [signal.SIGINT, signal.SIGTERM]
    if on_reload is not None or signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        watched.append(signal.SIGHUP)  # under nohup it stays ignored: the run outlives its terminal, as asked
    previous = {s: signal.signal(s, ignore) for s in watched}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    thread = threading.Thread(target=dispatch, name="dagctl-signals", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        for s, h in previous.items():
            signal.signal(s, h)
        os.close(write_fd)
        thread.join(5)
        os.close(read_fd)
