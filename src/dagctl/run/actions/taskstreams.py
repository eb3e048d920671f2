"""What a Python task running in a thread of dagctl prints goes to its own log, not to dagctl's stdout and stderr.

Such a task shares ``sys.stdout`` and ``sys.stderr`` with the runner, the live view and the other tasks: its
``print()`` broke ``dagctl run --json`` (text before the JSON document) and ``-q``, and never reached
``dagctl logs``. While a run with such tasks goes on (:func:`routed`), both streams are replaced by a stand-in
that sends each write of a thread running a task (:func:`to_log`) to that task's log, and every other write
where it went before. The stand-ins are put in place and taken away in the order runs nest (a sub-DAG's run
inside its parent's), and only while they are still the process's streams.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TextIO

_local = threading.local()
_lock = threading.Lock()
_installed = 0
_saved: tuple[Any, Any] | None = None


class _Router:
    """A stand-in for ``sys.stdout`` or ``sys.stderr``: a task's thread writes to its log, the others through."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def write(self, text: str) -> int:
        sink: Callable[[str], None] | None = getattr(_local, "sink", None)
        if sink is None:
            return self._real.write(text)
        sink(text)
        return len(text)

    def flush(self) -> None:
        if getattr(_local, "sink", None) is None:
            self._real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


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
    """While this block runs, what this thread prints goes to the end of ``log_path`` (nothing to do without a
    path, or when no run routes the streams: the writes then go where they always did)."""
    if not log_path or not _installed:
        yield
        return
    fd: list[int] = []

    def sink(text: str) -> None:
        if not text:
            return
        try:
            if not fd:  # opened on the first write: most tasks print nothing
                os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
                fd.append(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
            os.write(fd[0], text.encode("utf-8", "replace"))
        except OSError:  # a log that cannot be written loses the line, as a shell task's would; the task goes on
            pass

    before = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = before
        for number in fd:
            os.close(number)
