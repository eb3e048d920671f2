"""The GitHub Actions view: plain lines, each finished attempt's log folded in a group, long logs cut."""

from __future__ import annotations

import io
from pathlib import Path

from dagctl.cli.github_view import GithubView
from dagctl.store.events import TaskCancel, TaskOk, TaskRetry, TaskStart

RUN = {"run_id": "r1", "dag_name": "etl", "tenant_id": "default", "ts": "2026-12-06T12:00:00.000Z"}


def test_each_attempt_s_log_is_folded_under_its_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "a@2.log"
    first.write_text("try 1\n")
    second.write_text("try 2\n")
    out = io.StringIO()
    view = GithubView(out)
    view.emit(TaskStart(**RUN, task_id="a", attempt=1, log_path=str(first)))
    view.emit(TaskRetry(**RUN, task_id="a", attempt=1, error="exit code 1", delay_s=1))
    view.emit(TaskStart(**RUN, task_id="a", attempt=2, log_path=str(second)))
    view.emit(TaskOk(**RUN, task_id="a", attempt=2, duration_s=1, log_path=str(second)))
    view.emit(TaskCancel(**RUN, task_id="never", reason="stopped"))  # no log: a plain line
    view.close()  # the run's end: what was queued is written
    lines = out.getvalue().splitlines()
    groups = [i for i, line in enumerate(lines) if line.startswith("::group::")]
    assert len(groups) == 2
    assert "retry  a: attempt 1" in lines[groups[0]] and lines[groups[0] + 2] == "try 1"
    assert "ok     a in" in lines[groups[1]] and lines[groups[1] + 2] == "try 2"
    assert lines[-1].endswith("cancel never: stopped") and not lines[-1].startswith("::")
    assert lines.count("::endgroup::") == 2


def test_a_matrix_cell_is_named_and_a_long_log_keeps_its_end(tmp_path: Path) -> None:
    log = tmp_path / "train:1.log"
    log.write_text("".join(f"line {i}\n" for i in range(10_000)))
    out = io.StringIO()
    view = GithubView(out, limit=1000)
    view.emit(TaskStart(**RUN, task_id="train", attempt=1, cell="train:1", log_path=str(log)))
    view.emit(TaskOk(**RUN, task_id="train", attempt=1, cell="train:1", duration_s=2))
    view.close()
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::group::"))
    assert "ok     train:1 in" in lines[start]
    assert lines[start + 2].startswith("[... ") and f"the whole log: {log}" in lines[start + 2]
    assert lines[-3] == "line 9999" and 100 < len(lines) - start < 200
