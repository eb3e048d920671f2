"""A run with 1,219 failed tasks (a disk out of inodes) printed 1,219 `Failed:` lines: the summary and `-q`'s lines
name the first 20 and count the rest, pointing at `dagctl show`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.cli.run_main import outcome_lines, print_summary
from dagctl.run.state import RunResult, TaskRun


def failed_run(tmp_path: Path, failed: int) -> RunResult:
    tasks = {
        f"t{i:04d}": TaskRun(id=f"t{i:04d}", status="failed", error="No space left on device") for i in range(failed)
    }
    tasks["ok"] = TaskRun(id="ok", status="success")
    return RunResult(run_id="r1", dag_name="many", status="failed", tasks=tasks, duration_s=1.0, run_dir=tmp_path)


def test_the_summary_names_the_first_twenty_failed_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(failed_run(tmp_path, 1219))
    out = capsys.readouterr().out.splitlines()
    named = [line for line in out if line.startswith("Failed: ")]
    assert named == [f"Failed: t{i:04d}: No space left on device" for i in range(20)]
    assert out[out.index(named[-1]) + 1] == "... and 1199 more failed tasks: dagctl show r1"
    assert "Tasks Failed: 1219" in out


def test_quiet_lines_name_the_first_twenty_failed_tasks(tmp_path: Path) -> None:
    lines = outcome_lines(failed_run(tmp_path, 1219))
    assert lines[:20] == [f"dagctl: task t{i:04d} failed: No space left on device" for i in range(20)]
    assert lines[20:] == [
        "dagctl: ... and 1199 more failed tasks: dagctl show r1",
        "dagctl: run r1 of many failed",
    ]


def test_twenty_failed_tasks_are_all_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(failed_run(tmp_path, 20))
    out = capsys.readouterr().out
    assert out.count("\nFailed: ") == 20 and "more failed tasks" not in out
    assert len(outcome_lines(failed_run(tmp_path, 20))) == 21
