"""A real `dagctl schedule --serve` with a broken state store: it never says READY=1 when the store is unusable
at start (exit 3, one line naming the path), and it stops with exit 3 (watchdog no longer fed) when ticks keep
failing for --fail-after. Bounded waits only; the child is killed at the end whatever happens."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import wait_until

WAIT = 30.0


def _serve(project: Path, *extra: str) -> tuple[subprocess.Popen[str], socket.socket]:
    name = f"dagctl-health-{secrets.token_hex(4)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(b"\0" + name.encode())
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DAGCTL_LOGS_DIR": str(project / "logs"),
        "SCHED_TICK_MS": "50",
        "NOTIFY_SOCKET": "@" + name,
        "WATCHDOG_USEC": "200000",
        "NO_COLOR": "1",
    }
    for key in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagctl", "schedule", "--serve", "--dir", "configs/schedules", *extra],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, server


def _messages(server: socket.socket, timeout: float) -> list[str]:
    """Every datagram that arrives within ``timeout`` seconds of silence."""
    server.settimeout(timeout)
    got = []
    try:
        while True:
            got.append(server.recv(4096).decode())
    except TimeoutError:
        return got


@pytest.fixture
def schedules(project: Path) -> Path:
    (project / "configs" / "dags" / "note.yaml").write_text("name: note\ntasks:\n  - {id: n, run: 'echo hi'}\n")
    (project / "configs" / "schedules" / "s.yaml").write_text(
        textwrap.dedent('- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    )
    return project


def test_serve_with_an_unusable_state_store_fails_its_start_and_never_says_ready(schedules: Path) -> None:
    logs = schedules / "logs"
    logs.mkdir()
    (logs / "orchestrator_state.jsonl.lock").mkdir()  # the log is writable; its lock file is not a file
    proc, server = _serve(schedules)
    try:
        _out, err = proc.communicate(timeout=WAIT)
        messages = _messages(server, 0.2)
    finally:
        proc.kill()
        proc.wait(WAIT)
        server.close()
    assert proc.returncode == 3, err
    assert err.splitlines() == [
        f"dagctl: error: cannot use the state store {logs / 'orchestrator_state.jsonl'}: cannot write "
        f"{logs / 'orchestrator_state.jsonl.lock'}: Is a directory — a directory is in the way of a file"
    ]
    assert not [m for m in messages if "READY=1" in m]


def test_serve_whose_ticks_keep_failing_stops_with_exit_3_and_starves_the_watchdog(schedules: Path) -> None:
    state = schedules / "logs" / "orchestrator_state.jsonl"
    proc, server = _serve(schedules, "--fail-after", "1s")
    try:
        server.settimeout(WAIT)
        first = server.recv(4096).decode()
        assert first.startswith("READY=1"), first
        while server.recv(4096).decode() != "WATCHDOG=1":
            pass
        wait_until(state.exists, WAIT, "the state log")
        after: list[str] = []
        reader = threading.Thread(target=lambda: after.extend(_messages(server, 2.0)), daemon=True)
        reader.start()  # keep the socket drained, as systemd does
        state.rename(state.with_name("moved.jsonl"))
        state.mkdir()  # every tick now fails: the state log is a directory
        broken = time.monotonic()
        _out, err = proc.communicate(timeout=WAIT)
        stopped = time.monotonic() - broken
        reader.join(WAIT)
    finally:
        proc.kill()
        proc.wait(WAIT)
        server.close()
    assert proc.returncode == 3, err
    assert stopped < 10, stopped  # --fail-after 1s, plus start-up of the failure and the shutdown
    assert "tick failed: cannot read " in err and "(failing for 0s; the scheduler stops after 1s)" in err
    last = err.splitlines()[-1]
    assert last.startswith("dagctl: error: the scheduler stopped while its ticks were failing (for 1s, ")
    assert str(state) in last
    # pings stop once ticks fail: at most one that was already on its way when the store broke
    assert after.count("WATCHDOG=1") <= 1, after
    assert any(m.startswith("STATUS=failing since ") for m in after)
    assert after[-1].startswith("STOPPING=1")
