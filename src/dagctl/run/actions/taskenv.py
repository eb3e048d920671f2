"""What a Python task running in a thread of dagctl reads from ``os.environ``: its own environment on top of the
process's.

A shell task, or a Python task with ``isolation: process``, gets its environment (the run's ``.env`` files, ``env:``,
``secrets:``, the ``DAGCTL_*`` variables) as its process's environment. A task in a thread shares the process with
the runner and the other tasks, so its variables cannot be put in the process's environment. While such a task runs
(:func:`task_environ`), ``os.environ`` is a view that, in the task's thread, shows the task's variables over the
process's: ``os.environ["API_TOKEN"]``, ``os.environ.get``, ``os.getenv``, ``"X" in os.environ``, iterating it and
``os.environ.copy()`` see them; every other thread sees the process's variables only. In the task's thread a write
to one of the task's own variables (``os.environ[k] = v``, ``del``, ``update``, ``pop``) changes the task's view
only: its secrets never reach the process's environment, where later tasks and runs would read them unmasked. A
write to any other variable changes the process's environment, as it always did.

The view is Python's ``os.environ`` only. What reads the C-level environment (``getenv()`` in an extension
module or a C library: libpq's ``PGPASSWORD``/``PGHOST``, OpenSSL's ``SSL_CERT_FILE``, ``TZ``), a process the
task starts without ``env=``, and the threads the task starts itself (a ``ThreadPoolExecutor``, s3transfer,
fsspec) see the process's environment, not the task's: pass the values explicitly (a libpq connection string,
``env=os.environ.copy()``), or use ``isolation: process``. The view is put in place by the first task and taken
away with the last, and only while it is still the process's ``os.environ``.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

_local = threading.local()
_lock = threading.Lock()


class _Installed:
    """How many tasks use the view now, and the ``os.environ`` it replaced (one per process, as ``os.environ``)."""

    count = 0
    saved: os._Environ[str] | None = None


class TaskEnviron(os._Environ[str]):
    """``os.environ`` while Python tasks run in threads: the same variables (it shares the process's mapping), with
    the running task's own on top in that task's thread."""

    def __init__(self, real: os._Environ[str]) -> None:
        super().__init__(
            real._data,  # type: ignore[attr-defined]  # the process's variables, shared: writes reach both
            real.encodekey,
            real.decodekey,
            real.encodevalue,
            real.decodevalue,
        )

    @staticmethod
    def _own() -> dict[str, str | None] | None:
        """The running task's variables in this thread (None: a variable it deleted), or None outside a task."""
        own: dict[str, str | None] | None = getattr(_local, "env", None)
        return own

    def __getitem__(self, key: str) -> str:
        own = self._own()
        if own is not None and key in own:
            value = own[key]
            if value is None:
                raise KeyError(key)
            return value
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        own = self._own()
        if not own:
            yield from super().__iter__()
            return
        yield from [key for key, value in own.items() if value is not None]
        yield from (key for key in list(super().__iter__()) if key not in own)

    def __len__(self) -> int:
        own = self._own()
        if not own:
            return super().__len__()
        mine = sum(1 for value in own.values() if value is not None)
        return mine + sum(1 for key in list(super().__iter__()) if key not in own)

    def __setitem__(self, key: str, value: str) -> None:
        own = self._own()
        if own is not None and key in own:  # the task's own variable (maybe a secret): its view only, no putenv
            own[key] = str(self.decodevalue(self.encodevalue(value)))  # the same type check as os.environ's
            return
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        own = self._own()
        if own is not None and key in own:  # hidden in the task's view; the process's variable is left alone
            if own[key] is None:
                raise KeyError(key)
            own[key] = None
            return
        super().__delitem__(key)

    def copy(self) -> dict[str, str]:
        return dict(self)


@contextmanager
def task_environ(env: Mapping[str, str]) -> Iterator[None]:
    """While this block runs, ``os.environ`` in this thread shows ``env`` over the process's variables (nothing to
    do for an empty ``env``)."""
    if not env:
        yield
        return
    with _lock:
        if _Installed.count == 0:
            real = os.environ
            if not isinstance(real, TaskEnviron):
                _Installed.saved = real
                os.environ = TaskEnviron(real)  # noqa: B003 - a view of the same variables, none lost
        _Installed.count += 1
    before: dict[str, str | None] | None = getattr(_local, "env", None)
    _local.env = {**before, **env} if before else dict(env)  # a sub-DAG's task inside a task: both
    try:
        yield
    finally:
        _local.env = before
        with _lock:
            _Installed.count -= 1
            if _Installed.count == 0 and _Installed.saved is not None:
                if isinstance(os.environ, TaskEnviron):  # not replaced meanwhile by someone else
                    os.environ = _Installed.saved  # noqa: B003 - the process's own mapping back
                _Installed.saved = None
