"""The keeper also stops tasks its coordinator started but had not listed yet when it died (found by the
``DAGCTL_COORDINATOR`` variable every task carries), and leaves them alone after a goodbye."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dagctl.run.keeper import MARKER_ENV, PROGRAM
from tests.support import eventually, process_alive

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the keeper scans /proc (Linux)")


def _task(marker: str) -> subprocess.Popen[bytes]:
    """A task in a session of its own that ignores SIGTERM, as the coordinator would have started it."""
    env = {"PATH": os.environ.get("PATH", os.defpath), MARKER_ENV: marker}
    return subprocess.Popen(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], env=env, start_new_session=True)


def _keeper(marker: str, lines: bytes) -> int:
    keeper = subprocess.Popen(
        [sys.executable, "-I", "-S", PROGRAM, str(os.getpid()), "0.2", marker], stdin=subprocess.PIPE
    )
    keeper.communicate(lines, timeout=30)  # the pipe ends: as when the coordinator dies, or says goodbye
    return keeper.returncode


@pytest.mark.parametrize(("goodbye", "stopped"), [(False, True), (True, False)])
def test_an_unlisted_task_of_a_dead_coordinator_is_stopped(goodbye: bool, stopped: bool) -> None:
    marker = f"{os.getpid()}:test-{goodbye}"
    task, other = _task(marker), _task(marker + "-someone-else")  # Popen returns once they have exec'd
    try:
        assert _keeper(marker, b".\n" if goodbye else b"") == 0
        if stopped:
            assert eventually(lambda: task.poll() is not None, timeout=10), "the unlisted task still runs"
        else:
            assert task.poll() is None  # a coordinator that ended well leaves nothing to look for
        assert other.poll() is None and process_alive(other.pid)  # another coordinator's task is not touched
    finally:
        for proc in (task, other):
            proc.kill()
            proc.wait(timeout=10)
