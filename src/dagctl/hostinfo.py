"""Facts about this host and process, for run ownership (dead-owner detection survives pid reuse)."""

from __future__ import annotations

import os


def hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket


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
    fields = data[data.rfind(b")") + 2:].split()
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
