"""Stopping a run whose in-process Python task never looks at ``ctx.cancelled``: Ctrl+C, SIGTERM and ``dagctl
cancel`` waited for the function to return (a hung one: for ever); now it is given up on after the grace period
and 2 s more, as a task that outlives its timeout is."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dagctl.run.api import run_dag
from dagctl.run.state import RunControl
from dagctl.settings import Settings
from tests.support import wait_until

STEPS = """
import pathlib
import threading

def deaf(ctx):
    pathlib.Path("started").touch()
    threading.Event().wait(60)  # ignores ctx.cancelled
    return {"x": 1}
"""


def test_a_cancelled_run_gives_up_on_a_task_that_ignores_it(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "steps.py").write_text(STEPS)
    (tmp_path / "deaf.yaml").write_text("name: deaf\ntasks:\n  - {id: t, python: 'steps:deaf'}\n")
    monkeypatch.chdir(tmp_path)
    control = RunControl()

    def cancel_once_started() -> None:
        wait_until((tmp_path / "started").exists, timeout=20)
        control.cancel("interrupted by SIGTERM")

    threading.Thread(target=cancel_once_started, daemon=True).start()
    settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl", grace_s=0.5)
    began = time.monotonic()
    result = run_dag(tmp_path / "deaf.yaml", settings=settings, control=control)
    assert time.monotonic() - began < 20  # grace 0.5 s + 2 s after the cancel, not the function's 60 s
    assert result.status == "cancelled"
    task = result.tasks["t"]
    assert task.status == "cancelled"
    assert task.error and task.error.startswith("did not stop within 0.5s of being cancelled; abandoned")
