"""The plain progress lines (cron mail, journald, CI logs): each kind of unit says what it is."""

from __future__ import annotations

import pytest

from dagctl.cli.plain import describe
from dagctl.store.events import (
    ApprovalGranted,
    ApprovalRequested,
    DagDone,
    RunWarning,
    TaskFail,
    TaskOk,
    TaskStart,
)

RUN = {"ts": "2026-12-06T12:00:00.000Z", "run_id": "r1", "dag_name": "d", "tenant_id": "default"}


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (TaskStart(**RUN, task_id="train", attempt=1, cells=6), "start  train: 6 cells"),
        (
            TaskStart(**RUN, task_id="train", cell="train:2", cell_index=2, attempt=1, matrix={"lr": 0.1, "bs": 16}),
            "start  train:2 [lr=0.1, bs=16]",
        ),
        (TaskStart(**RUN, task_id="fit", iteration=3, attempt=2), "start  fit (iteration 3) (attempt 2)"),
        (TaskStart(**RUN, task_id="prep", attempt=1, child_run_id="r2"), "start  prep: sub-DAG run r2"),
        (
            TaskOk(**RUN, task_id="a", attempt=1, cached=True, cache_key="0123456789abcdef"),
            "ok     a from the cache (key 0123456789ab)",
        ),
        (
            TaskOk(**RUN, task_id="fit", attempt=1, status="iterated", duration_s=2.0, reason="until is false"),
            "ok     fit in 2s; again: until is false",
        ),
        (
            TaskFail(**RUN, task_id="train", error="1 of 6 cells succeeded, 6 needed"),
            "FAILED train: 1 of 6 cells succeeded, 6 needed",
        ),
        (
            TaskFail(**RUN, task_id="a", attempt=2, error="exit code 1", log_path="/l/a.log"),
            "FAILED a after 2 attempts: exit code 1 (log: /l/a.log)",
        ),
        (
            ApprovalRequested(**RUN, task_id="go", attempt=1, message="Deploy?", approvers=["ana"]),
            "wait   go: approval 'Deploy?' from ana; dagctl approve r1 go",
        ),
        (ApprovalGranted(**RUN, task_id="go", by=["ana"]), "approved go by ana"),
        (DagDone(**RUN, status="paused", duration_s=1.0), "run r1 paused in 1s; resume with: dagctl resume r1"),
        (
            RunWarning(**RUN, message="progress output stopped: Broken pipe"),
            "warning: progress output stopped: Broken pipe",
        ),
    ],
)
def test_each_event_reads_as_one_line(event, line) -> None:
    assert describe(event) == line
