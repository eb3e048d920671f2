"""No task process outlives a SIGKILLed coordinator by more than 2 seconds, and a retry never runs a task
twice at once. Real processes, real SIGKILLs; everything a test starts is stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from dagctl.run.keeper import processes_of_run
from tests.support import process_alive, wait_until

from .helpers import dagctl, records

LONG = """\
name: long
tasks:
  - {id: shell, run: "echo $$ > shell.pid; exec sleep 60"}
  - {id: tree, run: "sh -c 'sleep 60 & echo $! > child.pid; wait' & echo $! > tree.pid; wait"}
  - {id: isolated, python: "steps:wait", isolation: process}
"""
STEPS = """\
import os, time
def wait():
    open("isolated.pid", "w").write(str(os.getpid()))
    time.sleep(60)
"""


@pytest.fixture(autouse=True)
def _dags(project: Path) -> None:
    (project / "long.yaml").write_text(LONG)
    (project / "steps.py").write_text(STEPS)


def _pids(project: Path) -> list[int]:
    names = ("shell.pid", "tree.pid", "child.pid", "isolated.pid")
    return [int((project / n).read_text()) for n in names if (project / n).exists() and (project / n).read_text()]


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _run_id(project: Path) -> str:
    starts = [r for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == "dag_start"]
    return str(starts[-1]["run_id"])


def test_tasks_die_within_two_seconds_of_a_sigkilled_run(project: Path) -> None:
    proc = dagctl(project, "run", "long.yaml", "-q", "-j", "3")
    pids: list[int] = []
    try:
        wait_until(lambda: len(_pids(project)) == 4, timeout=20, what="every task process started")
        pids = _pids(project)
        assert all(process_alive(p) for p in pids)
        proc.kill()
        proc.wait(timeout=10)
        wait_until(lambda: not any(process_alive(p) for p in pids), timeout=2.0, what="the tasks stopped")
        assert processes_of_run(_run_id(project)) == []
    finally:
        proc.kill()
        _kill_all(pids)


def test_a_prompt_retry_waits_for_the_old_attempt_and_never_overlaps_it(project: Path) -> None:
    # the task ignores SIGTERM, so it lives the keeper's whole grace period (~1 s) before SIGKILL
    (project / "once.yaml").write_text(
        "name: once\ntasks:\n  - {id: step, run: \"trap '' TERM; echo start >> trace; echo $$ > step.pid; "
        'while :; do sleep 0.05; done"}\n'
    )
    proc = dagctl(project, "run", "once.yaml", "-q")
    pid = 0
    retry: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: (project / "step.pid").exists() and (project / "step.pid").read_text(), timeout=20)
        pid = int((project / "step.pid").read_text())
        proc.kill()
        proc.wait(timeout=10)
        # at once, while the old `sleep` may still be dying: the retry must not start the task beside it
        # a zombie (reparented to an init that has not reaped it yet) counts as gone
        check = f"s=$(cut -d' ' -f3 /proc/{pid}/stat 2>/dev/null); [ -n \"$s\" ] && [ $s != Z ]"
        (project / "once.yaml").write_text(
            "name: once\ntasks:\n  - id: step\n    run: |\n"
            f"      echo start >> trace; if {check}; then echo alive=yes; else echo alive=no; fi >> trace\n"
        )
        retry = dagctl(project, "retry", "latest", "--use-current", "-q")
        _, err = retry.communicate(timeout=30)
        assert retry.returncode == 0, err
        lines = (project / "trace").read_text().split()
        assert lines[-1] == "alive=no" and len(lines) == 3
    finally:
        proc.kill()
        if retry is not None:
            retry.kill()
        _kill_all([pid] if pid else [])


def test_a_sigkilled_scheduler_leaves_no_task_behind(project: Path) -> None:
    schedules = project / "schedules"
    schedules.mkdir()
    (schedules / "s.yaml").write_text('- {id: long, cron: "* * * * *", dag: ../long.yaml}\n')
    proc = dagctl(project, "schedule", "--serve", "--dir", str(schedules), env={"SCHED_TICK_MS": "50"})
    pids: list[int] = []
    try:
        wait_until(lambda: len(_pids(project)) == 4, timeout=30, what="the scheduled run's tasks started")
        pids = _pids(project)
        proc.kill()
        proc.wait(timeout=10)
        wait_until(lambda: not any(process_alive(p) for p in pids), timeout=2.0, what="the tasks stopped")
    finally:
        proc.kill()
        _kill_all(pids)


def test_a_hangup_stops_a_scheduler_tick_and_records_its_run_cancelled(project: Path) -> None:
    """SIGHUP to `schedule --once` (its terminal closed): like SIGTERM, the run is cancelled and recorded, no task
    is left behind, and the exit code says which signal (129). Before, the default action killed dagctl."""
    schedules = project / "schedules"
    schedules.mkdir()
    (schedules / "s.yaml").write_text('- {id: long, cron: "* * * * *", dag: ../long.yaml}\n')
    proc = dagctl(project, "schedule", "--once", "--grace", "0s", "--dir", str(schedules), env={"DAGCTL_GRACE": "1"})
    pids: list[int] = []
    try:
        wait_until(lambda: len(_pids(project)) == 4, timeout=30, what="the scheduled run's tasks started")
        pids = _pids(project)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 129, err
        assert not any(process_alive(p) for p in pids)
        state = records(project / "logs" / "orchestrator_state.jsonl")
        assert [r["status"] for r in state if r["event"] == "run_finished"] == ["cancelled"]
        done = [r for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == "dag_done"]
        assert [d["status"] for d in done] == ["cancelled"]
    finally:
        proc.kill()
        _kill_all(pids)
