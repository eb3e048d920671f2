"""What a Python task running in a thread of dagctl does with ``sys.stdout`` and ``sys.stderr`` stays in its own log.

Such a task shares ``sys.stdout`` and ``sys.stderr`` with the runner, the live view and the other tasks: its
``print()`` broke ``dagctl run --json`` (text before the JSON document) and ``-q``, and never reached
``dagctl logs``. While a run with such tasks goes on (:func:`routed`), both streams are replaced by a stand-in
that hands each use by a thread running a task (:func:`to_log`) to that task's own stream, :class:`TaskLog`, and
every other use to the stream it replaced. So inside a task ``sys.stdout`` and ``sys.stderr`` behave as its log
opened for appending, and nothing a task does with them reaches dagctl's own streams: ``print()`` and ``write()``
append to the log, ``.buffer.write(b"...")`` too, ``fileno()`` is the log's descriptor (a child process started
with ``stdout=sys.stdout`` writes into the log), ``isatty()`` is False, and ``close()`` closes the task's stream
only (its later writes fail, as on any closed file). The stand-ins are put in place and taken away in the order
runs nest (a sub-DAG's run inside its parent's), and only while they are still the process's streams.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, TextIO

_local = threading.local()
_lock = threading.Lock()
_installed = 0
_saved: tuple[Any, Any] | None = None


class TaskLog(io.TextIOBase):
    """A task's ``sys.stdout`` and ``sys.stderr``: its log, opened for appending on first use (most tasks print
    nothing). Each write is one ``write(2)`` at the end of the file (``O_APPEND``), so lines stay whole and in order
    with what the task's child processes and dagctl append to the same log. A log that cannot be written loses the
    text, as a shell task's would: the task goes on."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None
        self._buffer: _TaskLogBytes | None = None

    # ------------------------------------------------------------------ text
    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self.write_bytes(text.encode("utf-8", "replace"))
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        """The log's descriptor (a child process given it writes into the log); OSError if it cannot be opened."""
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        return self._open()

    @property
    def name(self) -> str:
        return self.path

    @property
    def line_buffering(self) -> bool:
        return False

    @property
    def buffer(self) -> _TaskLogBytes:
        """The log for bytes (``sys.stdout.buffer.write(b"...")``)."""
        if self._buffer is None:
            self._buffer = _TaskLogBytes(self)
        return self._buffer

    def reconfigure(self, **_options: Any) -> None:
        """Accepted and ignored: the log is UTF-8 and written at once (what a task asks for its terminal)."""

    def close(self) -> None:
        """Close the task's stream, and the log's descriptor: nothing of dagctl's."""
        if not self.closed:
            super().close()
            self.release()

    # ------------------------------------------------------------------ the file
    def write_bytes(self, data: bytes) -> None:
        try:
            fd = self._open()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:  # a log that cannot be written loses the text, as a shell task's would; the task goes on
            pass

    def _open(self) -> int:
        if self._fd is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o644)
        return self._fd

    def release(self) -> None:
        """Close the log's descriptor, if it was opened (the task is over)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # the task closed it itself (os.close(sys.stdout.fileno()))
                os.close(fd)


class _TaskLogBytes(io.RawIOBase):
    """``.buffer`` of a :class:`TaskLog`: bytes into the same log."""

    def __init__(self, log: TaskLog) -> None:
        super().__init__()
        self._log = log

    def write(self, data: Any) -> int:
        if self.closed or self._log.closed:
            raise ValueError("I/O operation on closed file.")
        chunk = bytes(data)
        self._log.write_bytes(chunk)
        return len(chunk)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._log.fileno()

    @property
    def name(self) -> str:
        return self._log.path

    @property
    def raw(self) -> _TaskLogBytes:
        return self


class _Router:
    """A stand-in for ``sys.stdout`` or ``sys.stderr``: a task's thread uses its own log, the others the real one."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def _target(self) -> Any:
        log: TaskLog | None = getattr(_local, "log", None)
        return self._real if log is None else log

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # close, buffer, fileno, isatty, encoding ...: the task's, in a task
        return getattr(self._target(), name)


@contextmanager
def routed() -> Iterator[None]:
    """Route the writes of task threads to their logs while this block runs (nests)."""
    global _installed, _saved
    with _lock:
        if _installed == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)
        _installed += 1
    try:
        yield
    finally:
        with _lock:
            _installed -= 1
            if _installed == 0 and _saved is not None:
                out, err = _saved
                if isinstance(sys.stdout, _Router):  # not replaced meanwhile by someone else
                    sys.stdout = out
                if isinstance(sys.stderr, _Router):
                    sys.stderr = err
                _saved = None


@contextmanager
def to_log(log_path: str | None) -> Iterator[None]:
    """While this block runs, this thread's ``sys.stdout`` and ``sys.stderr`` are the log at ``log_path`` (one
    :class:`TaskLog` for both; nothing to do without a path, or when no run routes the streams: they are then the
    process's, as always)."""
    if not log_path or not _installed:
        yield
        return
    log = TaskLog(log_path)
    before = getattr(_local, "log", None)
    _local.log = log
    try:
        yield
    finally:
        _local.log = before
        log.release()
