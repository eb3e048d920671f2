"""A wake-up flag the runner sleeps on that can also watch file descriptors while it sleeps.

:class:`Waker` behaves like :class:`threading.Event` (``set``, ``clear``, ``is_set``, ``wait``), so clocks,
signal dispatch and executor callbacks use it unchanged. On top of that, the thread that waits on it can
:meth:`~Waker.watch` file descriptors: while it waits, a readable descriptor runs its callback in that same
thread. The local executor watches one pidfd per shell task this way, so a finished child is reaped by
the runner's own thread — no worker thread per task and no hand-over between threads, which is most of
what a short task costs.

Until something is watched it is a plain ``threading.Event`` and holds no file descriptors. The first
``watch`` creates an epoll and a self-pipe; :meth:`close` gives them back (a later ``watch`` makes new ones).

``set`` is safe from any thread; ``wait``, ``clear``, ``watch``, ``unwatch`` and ``close`` belong to the one
thread that waits. As with an Event, a ``set`` racing a ``clear`` may be lost, so the waiting side checks its work
after ``clear``, before it sleeps again.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Callable


class Waker:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._epoll: select.epoll | None = None
        self._pipe: tuple[int, int] | None = None
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._pipe_lock = threading.Lock()  # a set() from another thread never writes to a closed (reused) fd
        self._owner: int | None = None  # the waiting thread (the one that watches): its own set() needs no pipe
        self._written = False  # a wake-up byte may be in the pipe: clear() drains only then

    # ------------------------------------------------------------------ Event interface
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        # The waiting thread itself (a watch callback, or the loop between waits) is not blocked in epoll,
        # and wait() checks the flag before it sleeps: writing to the pipe would only cost two syscalls.
        if self._pipe is not None and threading.get_ident() != self._owner:
            with self._pipe_lock:
                if self._pipe is not None:
                    self._written = True
                    with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
                        os.write(self._pipe[1], b"\0")

    def clear(self) -> None:
        self._event.clear()
        pipe = self._pipe
        if pipe is not None and self._written:
            # a set() racing this may leave a byte behind: the next wait returns early once and drains it
            self._written = False
            _drain(pipe[0])

    def wait(self, timeout: float | None = None) -> bool:
        """Until set or ``timeout`` seconds pass, running the callbacks of watched descriptors meanwhile.

        May return False before ``timeout`` when a callback ran without setting the flag.
        """
        if self._epoll is None or not self._callbacks:
            return self._event.wait(timeout)
        if self._event.is_set():
            return True
        ready = self._epoll.poll(-1 if timeout is None else max(timeout, 0.0))
        for fd, _mask in ready:
            callback = self._callbacks.get(fd)
            if callback is not None:
                callback()
            elif self._pipe is not None and fd == self._pipe[0]:
                _drain(fd)  # a byte that missed clear()'s drain must not keep the epoll readable
        return self._event.is_set()

    # ------------------------------------------------------------------ descriptors
    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (in the waiting thread) whenever ``fd`` is readable, until :meth:`unwatch`."""
        self._owner = threading.get_ident()
        if self._epoll is None:
            read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._epoll = select.epoll()
            self._epoll.register(read_fd, select.EPOLLIN)
            self._pipe = (read_fd, write_fd)
            if self._event.is_set():
                self._written = True
                os.write(write_fd, b"\0")
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def unwatch(self, fd: int) -> None:
        if self._callbacks.pop(fd, None) is not None and self._epoll is not None:
            with contextlib.suppress(OSError):  # already closed: the kernel dropped it from the epoll set
                self._epoll.unregister(fd)

    def forget(self, fd: int) -> None:
        """Stop calling back for ``fd`` without touching the epoll set: for a caller that closes ``fd`` next
        (the kernel drops a closed descriptor from the set; this saves the ``epoll_ctl`` call)."""
        self._callbacks.pop(fd, None)

    def close(self) -> None:
        """Give back the epoll and the pipe; watching stops. The flag keeps working."""
        with self._pipe_lock:
            epoll, pipe = self._epoll, self._pipe
            self._epoll, self._pipe = None, None
        self._callbacks.clear()
        if epoll is not None:
            epoll.close()
        if pipe is not None:
            os.close(pipe[0])
            os.close(pipe[1])


def supported() -> bool:
    """Whether descriptors can be watched here (Linux: epoll)."""
    return hasattr(select, "epoll") and hasattr(os, "pipe2")


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, OSError):
        pass
