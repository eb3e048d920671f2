"""What is recorded when a run's owner process died: its unfinished tasks and cells cancelled, the run
``abandoned``, all dated when the run was last seen alive rather than when someone happened to look."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from dagctl.store.events import format_ts
from dagctl.store.history import abandonment
from dagctl.store.runsummary import fold_run

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return format_ts(T0 + timedelta(seconds=seconds))


def rec(event: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "ts": at(seconds), "event": event, "run_id": "r1", "dag_name": "d", "tenant_id": "t", **fields}


EVENTS = [
    rec("dag_start", 0, tasks=5, pid=4242, host="box"),
    rec("task_start", 0, task_id="done", attempt=1),
    rec("task_ok", 1, task_id="done", attempt=1, duration_s=1.0),
    rec("task_start", 1, task_id="long", attempt=1, log_path="/logs/long.log"),
    rec("task_start", 1, task_id="grid", attempt=1, cells=2),
    rec("task_start", 1, task_id="grid", cell="grid:0", cell_index=0, attempt=1, matrix={"x": 1}),
    rec("task_start", 1, task_id="flaky", attempt=1),
    rec("task_retry", 2, task_id="flaky", attempt=1, status="failed", error="exit 1", delay_s=30),
]


def test_unfinished_tasks_and_cells_are_cancelled_and_the_run_ends_when_last_seen() -> None:
    summary = fold_run(EVENTS)
    records = abandonment(summary, last_seen=T0 + timedelta(seconds=5), now=T0 + timedelta(hours=3))
    cancels = {(r["task_id"], r.get("cell")): r for r in records if r["event"] == "task_cancel"}
    assert set(cancels) == {("long", None), ("grid", None), ("grid", "grid:0"), ("flaky", None)}
    assert all(r["ts"] == at(5) for r in records)  # when it was last seen, not three hours later
    assert cancels[("long", None)]["duration_s"] == 4.0 and cancels[("long", None)]["log_path"] == "/logs/long.log"
    assert "process 4242 on box died (last seen alive 2026-12-07 03:00:05 UTC)" in cancels[("long", None)]["reason"]
    done = records[-1]
    assert (done["event"], done["status"], done["duration_s"], done["tasks_succeeded"]) == (
        "dag_done",
        "abandoned",
        5.0,
        1,
    )
    assert done["tasks_cancelled"] == 4
    run = fold_run([*EVENTS, *records])
    assert run.status == "abandoned" and run.ended == T0 + timedelta(seconds=5) and run.duration_s == 5.0
    assert {tid: t.status for tid, t in run.tasks.items()} == {
        "done": "success",
        "long": "cancelled",
        "grid": "cancelled",
        "grid:0": "cancelled",
        "flaky": "cancelled",
    }


def test_last_seen_is_kept_between_the_start_and_now() -> None:
    summary = fold_run(EVENTS)
    late = abandonment(summary, last_seen=T0 + timedelta(days=1), now=T0 + timedelta(seconds=9))
    assert late[-1]["ts"] == at(9)  # a clock that ran ahead on another file cannot date it in the future
    early = abandonment(summary, last_seen=T0 - timedelta(hours=1), now=T0 + timedelta(seconds=9))
    assert early[-1]["ts"] == at(0) and early[-1]["duration_s"] == 0.0
    unknown = abandonment(summary, last_seen=None, now=T0 + timedelta(seconds=9))
    assert unknown[-1]["ts"] == at(9)


def test_tasks_of_a_run_on_workers_are_not_said_to_be_stopped_by_a_keeper() -> None:
    """A celery run's coordinator has no keeper over its workers' tasks: the record said `the keeper stopped it`
    of tasks its workers stop, when the coordinator's lease lapses."""
    local = abandonment(fold_run(EVENTS), last_seen=T0, now=T0)
    assert local[0]["reason"].endswith("; the keeper stopped it")
    remote = [rec("dag_start", 0, tasks=5, pid=4242, host="box", executor="celery"), *EVENTS[1:]]
    records = abandonment(fold_run(remote), last_seen=T0, now=T0)
    assert records[0]["reason"].endswith(
        "; its celery worker stops it once the run's lease lapses (DAGCTL_COORDINATOR_LEASE)"
    )


def test_a_run_that_said_it_had_no_keeper_is_not_said_to_have_had_its_tasks_stopped() -> None:
    """The record said `the keeper stopped it` of a run that had warned its keeper was gone: its tasks ran on."""
    from dagctl.store.history import keeper_gone

    gone = rec("run_warning", 1, message="the keeper of this run is gone (it could not start: EAGAIN): if ...")
    back = rec("run_warning", 2, message="the keeper of this run started after all (pid 7): it stops its tasks")
    assert keeper_gone([*EVENTS, gone]) and not keeper_gone([*EVENTS, gone, back]) and not keeper_gone(EVENTS)
    records = abandonment(fold_run([*EVENTS, gone]), last_seen=T0, now=T0, keeper_gone=True)
    assert "its keeper was gone, so it may still be running" in records[0]["reason"]
    assert "grep -l DAGCTL_RUN_ID=r1 /proc/*/environ" in records[0]["reason"]
