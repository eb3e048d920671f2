"""The tasks a run never started: one rule for ``dagctl show``, ``show --json`` and the dashboard."""

from __future__ import annotations

from dagctl.report.notstarted import unstarted_json, unstarted_tasks
from dagctl.store.runsummary import RunSummary, TaskSummary

RAN = {"a": TaskSummary(task_id="a", status="success"), "b": TaskSummary(task_id="b", status="cancelled")}


def summary(status: str, tasks_total: int | None = 4) -> RunSummary:
    return RunSummary(run_id="r", dag_name="d", tenant_id="t", status=status, tasks=RAN, tasks_total=tasks_total)


def test_each_task_without_an_event_is_named_as_the_run_left_it_in_the_dags_order() -> None:
    expected = {
        "running": ("pending", "not started yet: waits for its upstream tasks or a free slot"),
        "waiting": ("pending", "not started yet: waits for its upstream tasks"),
        "paused": ("not started", "the run was paused before it started; dagctl resume runs it"),
        "abandoned": ("not started", "its run's process died before it started; dagctl resume runs it"),
        "failed": ("not started", "it never started"),
    }
    for status, (shown, note) in expected.items():
        rows = unstarted_tasks(summary(status), lambda: ("a", "d", "b", "c", "d"))
        assert unstarted_json(rows) == [
            {"task_id": "d", "status": shown, "note": note},
            {"task_id": "c", "status": shown, "note": note},
        ]


def test_the_snapshot_is_asked_for_only_when_some_planned_task_has_no_event() -> None:
    def unread() -> tuple[str, ...]:
        raise AssertionError("the snapshot was read for a run whose every task has an event")

    assert unstarted_tasks(summary("abandoned", tasks_total=2), unread) == []
    assert unstarted_tasks(summary("abandoned", tasks_total=None), unread) == []  # an old run: size unknown


def test_a_paused_sub_dag_runs_tasks_point_at_its_parents_resume() -> None:
    """A sub-DAG run paused with its parent goes on when the parent is resumed: its tasks say so."""
    child = RunSummary(
        run_id="c", dag_name="d", tenant_id="t", status="paused", tasks=RAN, tasks_total=3, parent_run_id="p1"
    )
    [row] = unstarted_tasks(child, lambda: ("a", "b", "c"))
    assert row.note == "the run was paused before it started; dagctl resume p1 (its parent) runs it"
