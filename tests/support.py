"""Small helpers shared by tests that drive real processes: bounded waits, no bare sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll ``predicate`` every 20 ms until it returns something truthy; fail after ``timeout`` seconds."""
    tick = threading.Event()
    for _ in range(max(1, int(timeout / 0.02))):
        value = predicate()
        if value:
            return value
        tick.wait(0.02)
    raise AssertionError(f"{what} not met within {timeout:g}s")


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Like :func:`wait_until`, but answers whether it happened instead of failing the test."""
    try:
        wait_until(predicate, timeout)
    except AssertionError:
        return False
    return True


def process_alive(pid: int) -> bool:
    """Is ``pid`` a live process (zombies waiting to be reaped, and the dead, count as gone)?"""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][0] not in "ZX"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or reaped between open and read
        return False


DOOMED = """
name: doomed
tasks:
  - id: work
    run: echo $$ > {pidfile}; sleep 300
  - id: after
    run: "true"
    depends_on: work
"""
"""A DAG whose task ``work`` runs until it is stopped (its pid in ``{pidfile}``) and ``after`` waits on it: what the
tests of killed, abandoned and never-started runs start, from the CLI and through the web API."""


def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``1m``) mounted on ``where`` while the generator runs: a disk to fill, or to make
    read-only. Skips the test unless root can mount one here. For ``yield from`` in a fixture."""
    import os
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
