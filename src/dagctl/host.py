"""Facts about this host and process, and process-wide switches. Base layer: imports nothing of dagctl.

* :func:`hostname`, :func:`process_start_ticks`, :func:`process_alive`: run ownership (dead-owner
  detection survives pid reuse).
* :func:`gc_paused`: the cyclic garbage collector paused around bulk loads.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator


def hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket


def disk_full(path: os.PathLike[str] | str, min_free: int = 64 * 1024) -> bool:
    """Has the file system holding ``path`` less than ``min_free`` bytes left for unprivileged writers?"""
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < min_free


def process_start_ticks(pid: int) -> float | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or None when unknown.

    Together with the pid it identifies a process: a reused pid has a different start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return float(fields[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start_ticks: float | None) -> bool:
    """Is the process that had ``pid`` (and started at ``start_ticks``) still running?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start_ticks is None:
        return True
    current = process_start_ticks(pid)
    return current is None or current == start_ticks


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many long-lived, acyclic objects.

    Loading a 10,000-task DAG or a day of events allocates ~10^6 objects that all stay alive; every
    generation-2 pass rescans them, which tripled load times. Nothing built under it is cyclic, so
    nothing leaks; the collector is re-enabled (if it was on) on the way out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
