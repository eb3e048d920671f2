"""Hand-built runs for the CI report tests: every kind of task outcome, a matrix and a sub-DAG."""

from __future__ import annotations

from dagctl.report.cases import RunTree
from dagctl.store.runsummary import fold_run

from .events import ev


def parent_events() -> list[dict]:
    """Run ``r1`` of ``etl`` (file ``dags/etl.yaml``): one task of each outcome, a matrix, a ``dag:`` task."""
    return [
        ev("dag_start", 0, dag_file="dags/etl.yaml", host="ci-1", trigger="manual", params={"day": "2026-12-06"}),
        ev("task_start", 0, "extract", attempt=1, log_path="logs/runs/r1/extract.log"),
        ev("task_ok", 1.25, "extract", attempt=1, duration_s=1.25, exit_code=0),
        ev("task_start", 0, "flaky", attempt=1, log_path="logs/runs/r1/flaky.log"),
        ev("task_retry", 1, "flaky", attempt=1, error="exit code 3", delay_s=1),
        ev("task_start", 2, "flaky", attempt=2, log_path="logs/runs/r1/flaky@2.log"),
        ev("task_fail", 2.5, "flaky", attempt=2, duration_s=0.5, exit_code=3, error="exit code 3"),
        ev("task_start", 0, "slow", attempt=1),
        ev("task_fail", 5, "slow", attempt=1, duration_s=5, status="timeout", error="timed out after 5s"),
        ev("task_skip", 3, "report", reason="upstream 'flaky' failed"),
        ev("task_start", 1, "train", cells=2, matrix={"lr": [0.1, 1]}),
        ev("task_start", 1, "train", attempt=1, cell="train:0", cell_index=0, matrix={"lr": 0.1}),
        ev("task_start", 1, "train", attempt=1, cell="train:1", cell_index=1, matrix={"lr": 1}),
        ev("task_ok", 2, "train", attempt=1, cell="train:0", cell_index=0, duration_s=1),
        ev("task_fail", 2, "train", attempt=1, cell="train:1", cell_index=1, duration_s=1, exit_code=1, error="x"),
        ev("task_fail", 2, "train", error="1 of 2 cells succeeded, 2 needed"),
        ev("task_start", 3, "prep", attempt=1, child_run_id="c1"),
        ev("task_fail", 4, "prep", attempt=1, duration_s=1, error="sub-DAG run c1: task(s) failed: fetch"),
        ev("task_start", 4, "sleepy", attempt=1),
        ev("task_cancel", 6, "sleepy", attempt=1, reason="run timed out after 6s"),
        ev("task_cancel", 6, "never", reason="run timed out after 6s"),
        ev("dag_done", 6, status="failed", duration_s=6.0, error="run timed out after 6s"),
    ]


def child_events() -> list[dict]:
    return [
        ev("dag_start", 3, run="c1", dag="prep", dag_file="dags/prep.yaml", parent_run_id="r1", parent_task="prep"),
        ev("task_start", 3, "fetch", run="c1", dag="prep", attempt=1),
        ev(
            "task_fail", 3.5, "fetch", run="c1", dag="prep", attempt=1, duration_s=0.5, exit_code=5, error="exit code 5"
        ),
        ev("task_skip", 3.5, "clean", run="c1", dag="prep", reason="upstream 'fetch' failed"),
        ev("dag_done", 3.5, run="c1", dag="prep", status="failed", duration_s=0.5),
    ]


def tree(*, with_child: bool = True) -> RunTree:
    tails = {"flaky": ("try 2", "\x1b[31mboom\x1b[0m <&> \x07bell"), "train:1": ("lr=1",)}
    children = {"prep": RunTree(fold_run(child_events()), {"fetch": ("no route",)})} if with_child else {}
    return RunTree(fold_run(parent_events()), tails, children)
