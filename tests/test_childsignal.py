"""SIGCHLD is blocked in the threads that only wait, and in nothing a task starts.

A child that exits while the runner's thread is inside ``posix_spawn`` (which blocks every signal) has its
SIGCHLD delivered to a thread that does not block it: without these blocks, an idle worker, the signal
thread or the main thread was woken for it, once per short task.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dagctl.run import childsignal
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_sigmask") or not os.path.isdir("/proc/self/task"),
    reason="thread signal masks are read from /proc (Linux)",
)

SIGCHLD_BIT = 1 << (signal.SIGCHLD - 1)

PROBE = textwrap.dedent('''
    import os, signal, subprocess, threading, time

    def _blocked(status_path):
        with open(status_path) as fh:
            for line in fh:
                if line.startswith("SigBlk:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGCHLD - 1)))

    def masks(**_):
        """SIGCHLD blocked, per thread of this process (by name), and in a process this task starts. The
        other worker may have just finished its task and not yet gone back to waiting: give it 5 s to."""
        deadline = time.monotonic() + 5
        found = _masks()
        while found.get("dagctl-worker") is False and time.monotonic() < deadline:
            time.sleep(0.01)
            found = _masks()
        child = subprocess.run(["grep", "SigBlk", "/proc/self/status"], capture_output=True, text=True)
        found["task-child"] = bool(int(child.stdout.split()[1], 16) & (1 << (signal.SIGCHLD - 1)))
        return {"masks": found}

    def _masks():
        found = {}
        for t in threading.enumerate():
            name = "this-worker" if t is threading.current_thread() else t.name
            for prefix in ("dagctl-run", "dagctl-worker"):  # dagctl-run-<run id>, dagctl-worker-<n>
                name = prefix if name.startswith(prefix + "-") else name
            found[name] = _blocked(f"/proc/self/task/{t.native_id}/status")
        return found
    ''')


def sigchld_blocked_here() -> bool:
    return signal.SIGCHLD in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_blocked_restores_the_thread_mask_and_threads_started_inside_inherit_it() -> None:
    seen: list[bool] = []

    def body() -> None:
        assert not sigchld_blocked_here()
        with childsignal.blocked():
            assert sigchld_blocked_here()
            with childsignal.blocked():  # nested: still blocked after the inner block ends
                pass
            assert sigchld_blocked_here()
            started = threading.Thread(target=lambda: seen.append(sigchld_blocked_here()))
            started.start()
            started.join()
        assert not sigchld_blocked_here()
        childsignal.block()
        assert sigchld_blocked_here()
        childsignal.unblock()
        assert not sigchld_blocked_here()

    thread = threading.Thread(target=body)  # a fresh thread: the test runner's own mask stays untouched
    thread.start()
    thread.join()
    assert seen == [True]


def _dag(tmp_path: Path) -> Path:
    (tmp_path / "probe_mod.py").write_text(PROBE)
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        textwrap.dedent("""
        name: masks
        options: {parallelism: 2}
        tasks:
          - {id: fast, run: "grep SigBlk /proc/self/status"}
          - {id: slow_path, run: "grep SigBlk /proc/self/status", cwd: "."}
          - {id: py, python: "probe_mod:masks", depends_on: [fast, slow_path]}  # the runner waits meanwhile
        """)
    )
    return dag


def _child_blocks_sigchld(log: Path) -> bool:
    return bool(int(log.read_text().split()[1], 16) & SIGCHLD_BIT)


def test_during_a_run_only_the_threads_that_start_processes_take_sigchld(tmp_path: Path) -> None:
    settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl")
    caller_before = sigchld_blocked_here()
    result = run_dag(_dag(tmp_path), settings=settings)
    assert result.status == "success", {t.id: t.error for t in result.tasks.values()}
    masks = result.tasks["py"].outputs["masks"]
    assert masks["MainThread"] is True  # waiting for the run
    assert masks["dagctl-worker"] is True  # the idle one
    assert masks["this-worker"] is False  # running a task: what it starts must get SIGCHLD as usual
    assert masks["task-child"] is False
    assert masks["dagctl-run"] is False  # starts the shell tasks
    assert sigchld_blocked_here() == caller_before  # the caller's mask is given back
    # shell tasks, started by the runner's thread or (with a cwd) by a worker, start with it unblocked
    assert not _child_blocks_sigchld(Path(result.tasks["fast"].log_path))
    assert not _child_blocks_sigchld(Path(result.tasks["slow_path"].log_path))


def test_the_cli_blocks_it_in_its_waiting_threads(tmp_path: Path) -> None:
    _dag(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(tmp_path / "logs")}
    env.pop("ORCH_EVENTS_PATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", "dag.yaml", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(json.loads(proc.stdout)["run_dir"])
    masks = json.loads((run_dir / "outputs" / "py.json").read_text())["masks"]
    assert masks["MainThread"] is True and masks["dagctl-signals"] is True and masks["dagctl-worker"] is True
    assert masks["this-worker"] is False and masks["task-child"] is False and masks["dagctl-run"] is False
    assert not _child_blocks_sigchld(run_dir / "fast.log")
