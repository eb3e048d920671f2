"""`dagctl worker --name w1` refused a name whose ledger entry named a live PID on this host, even its own PID: a
worker restarted in its container (PID 1 again, same hostname) crash-looped with exit 2 until the entry expired."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dagctl.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from dagctl.run.workerstart import _check_name_free
from dagctl.store.events import format_ts


class Ledger:
    def __init__(self, **entry: Any) -> None:
        self.entry = {"host": socket.gethostname(), "name": "w1@here", **entry}

    def worker(self, name: str) -> dict[str, Any] | None:
        return self.entry


def ago(seconds: float) -> str:
    return format_ts(datetime.now(timezone.utc) - timedelta(seconds=seconds))


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this host that is not this one (a stand-in for another worker)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield proc
    proc.kill()
    proc.wait(10)


def test_an_entry_with_this_process_s_own_pid_does_not_block_the_start() -> None:
    _check_name_free(Ledger(pid=os.getpid(), seen=ago(1)), "w1@here")  # a restarted container: PID 1 again


def test_a_pid_reused_by_a_process_started_after_the_entry_was_renewed_does_not_block(other_process) -> None:
    _check_name_free(Ledger(pid=other_process.pid, seen=ago(3600)), "w1@here")


def test_another_live_worker_under_the_name_is_an_environment_problem(other_process) -> None:
    seen = format_ts(datetime.now(timezone.utc) + timedelta(seconds=5))  # renewed while it runs
    with pytest.raises(EnvironmentProblem) as caught:
        _check_name_free(Ledger(pid=other_process.pid, seen=seen), "w1@here")
    assert caught.value.exit_code == EXIT_ENVIRONMENT == 3
    assert f"a dagctl worker named w1@here is already running (pid {other_process.pid}" in str(caught.value)


def test_an_entry_of_another_host_blocks_whatever_its_pid() -> None:
    with pytest.raises(EnvironmentProblem):
        _check_name_free(Ledger(pid=os.getpid(), host="elsewhere", seen=ago(1)), "w1@here")
