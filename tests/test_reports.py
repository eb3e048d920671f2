"""Pure report folds over hand-built event lists: fold_run, task KPIs, recent runs, schedules, tenants."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dagctl.store.events import DagDone, DagStart, TaskFail, TaskOk, TaskRetry, TaskStart, format_ts
from dagctl.store.reports import (
    RunSummary,
    fold_run,
    p95,
    per_tenant_load,
    resolve_status,
    schedules_of,
    stats_report,
    summarize_dags,
    summarize_schedules,
    summarize_tasks,
    ts_key,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def at(minutes_ago: float) -> str:
    return format_ts(NOW - timedelta(minutes=minutes_ago))


def ev(
    kind: str, minutes_ago: float, run_id: str = "r1", *, dag: str = "etl", tenant: str = "acme", **fields: Any
) -> dict[str, Any]:
    return {
        "v": 1,
        "ts": at(minutes_ago),
        "event": kind,
        "run_id": run_id,
        "dag_name": dag,
        "tenant_id": tenant,
        **fields,
    }


def run_events(
    run_id: str,
    start_ago: float,
    *,
    status: str | None = "success",
    dag: str = "etl",
    tenant: str = "acme",
    tasks: dict[str, str] | None = None,
    **start_fields: Any,
) -> list[dict]:
    """A run of tasks (id -> ok|fail|skip) one minute apart; ``status=None`` leaves out dag_done."""
    tasks = tasks if tasks is not None else {"a": "ok"}
    out = [ev("dag_start", start_ago, run_id, dag=dag, tenant=tenant, trigger="manual", **start_fields)]
    t = start_ago
    for tid, outcome in tasks.items():
        if outcome == "skip":
            out.append(
                ev(
                    "task_skip",
                    t,
                    run_id,
                    dag=dag,
                    tenant=tenant,
                    task_id=tid,
                    status="skipped",
                    reason="upstream failed",
                )
            )
            continue
        out.append(ev("task_start", t, run_id, dag=dag, tenant=tenant, task_id=tid, attempt=1))
        t -= 1
        kind = "task_ok" if outcome == "ok" else "task_fail"
        out.append(ev(kind, t, run_id, dag=dag, tenant=tenant, task_id=tid, attempt=1, duration_s=60.0))
    if status is not None:
        counts = {
            k: sum(1 for o in tasks.values() if o == v)
            for k, v in (("tasks_succeeded", "ok"), ("tasks_failed", "fail"), ("tasks_skipped", "skip"))
        }
        out.append(
            ev("dag_done", t, run_id, dag=dag, tenant=tenant, status=status, duration_s=(start_ago - t) * 60, **counts)
        )
    return out


# --------------------------------------------------------------------------------------------- fold_run


def test_fold_run_counts_attempts_from_starts_and_retries_and_keeps_the_last_event_per_task():
    common = {"run_id": "r1", "dag_name": "etl", "tenant_id": "acme"}
    events = [
        DagStart(
            ts=at(10),
            **common,
            params={"rows": 5},
            trigger="schedule",
            host="h1",
            pid=42,
            pid_start=7.0,
            dag_file="dags/etl.yaml",
            run_dir="logs/runs/r1",
            schedule_id="nightly",
            parent_run_id="r0",
            tasks=2,
        ).to_record(),
        TaskStart(ts=at(10), **common, task_id="a", attempt=1, log_path="a.log").to_record(),
        TaskRetry(ts=at(9), **common, task_id="a", attempt=1, delay_s=1.0, error="exit code 1").to_record(),
        TaskStart(ts=at(8), **common, task_id="a", attempt=2, log_path="a@2.log").to_record(),
        TaskOk(
            ts=at(7),
            **common,
            task_id="a",
            attempt=2,
            duration_s=2.5,
            exit_code=0,
            log_path="a@2.log",
            outputs=["rows"],
        ).to_record(),
        TaskStart(ts=at(7), **common, task_id="b", attempt=1).to_record(),
        TaskFail(
            ts=at(6), **common, task_id="b", attempt=1, status="timeout", duration_s=30.0, error="timed out after 30s"
        ).to_record(),
        DagDone(ts=at(6), **common, status="failed", duration_s=240.0, tasks_succeeded=1, tasks_failed=1).to_record(),
    ]
    run = fold_run(events)
    assert (run.run_id, run.dag_name, run.tenant_id, run.status) == ("r1", "etl", "acme", "failed")
    assert run.started == NOW - timedelta(minutes=10) and run.ended == NOW - timedelta(minutes=6)
    assert run.duration_s == 240.0
    assert (run.trigger, run.host, run.pid, run.pid_start, run.schedule_id, run.parent_run_id) == (
        "schedule",
        "h1",
        42,
        7.0,
        "nightly",
        "r0",
    )
    assert run.params == {"rows": 5} and run.run_dir == "logs/runs/r1" and run.dag_file == "dags/etl.yaml"
    assert run.tasks_total == 2 and run.counts == {"success": 1, "failed": 1, "skipped": 0, "cancelled": 0}
    a, b = run.tasks["a"], run.tasks["b"]
    assert (a.status, a.attempts, a.retries, a.duration_s, a.exit_code, a.error) == ("success", 2, 1, 2.5, 0, None)
    assert a.started == NOW - timedelta(minutes=10) and a.log_path == "a@2.log" and a.outputs == ("rows",)
    assert (b.status, b.attempts, b.reason, b.error) == ("failed", 1, "timeout", "timed out after 30s")


def test_fold_run_without_dag_done_is_running_and_the_caller_decides_about_dead_owners():
    events = run_events("r1", 5, status=None, tasks={"a": "ok"})
    events.append(ev("task_start", 3, task_id="b", attempt=1))
    run = fold_run(events)
    assert run.status == "running" and not run.finished
    assert run.ended is None and run.duration_s is None
    assert run.elapsed(NOW) == pytest.approx(300.0)
    assert run.tasks["b"].status == "running"
    assert resolve_status(run, None) == "running"
    assert resolve_status(run, True) == "running"
    assert resolve_status(run, False) == "abandoned"


def test_fold_run_takes_cancelled_and_abandoned_from_dag_done():
    cancelled = run_events("r1", 5, status="cancelled", tasks={"a": "ok"})
    cancelled.insert(-1, ev("task_cancel", 3, task_id="b", reason="not started: interrupted by SIGINT"))
    run = fold_run(cancelled)
    assert run.status == "cancelled"
    assert (run.tasks["b"].status, run.tasks["b"].attempts, run.tasks["b"].reason) == (
        "cancelled",
        0,
        "not started: interrupted by SIGINT",
    )
    abandoned = [
        *run_events("r2", 5, status=None),
        ev("dag_done", 1, "r2", status="abandoned", error="owner process 42 died"),
    ]
    run = fold_run(abandoned)
    assert run.status == "abandoned" and run.error == "owner process 42 died"
    assert resolve_status(run, False) == "abandoned"


def test_a_paused_and_resumed_run_lasts_from_its_start_to_its_end_and_keeps_its_pauses():
    events = [
        ev("dag_start", 10),
        ev("task_start", 10, task_id="a", attempt=1),
        ev("task_ok", 9, task_id="a", attempt=1, duration_s=60.0),
        ev("dag_done", 9, status="paused", duration_s=60.0),
    ]
    paused = fold_run(events)
    assert paused.status == "paused" and paused.duration_s == 60.0
    assert paused.pauses == ((NOW - timedelta(minutes=9), None),) and paused.paused_s == 0.0
    events += [
        ev("dag_resume", 4, reused=1, pid=7),
        ev("task_start", 4, task_id="b", attempt=1),
        ev("task_ok", 2, task_id="b", attempt=1, duration_s=120.0),
        ev("dag_done", 2, status="success", duration_s=120.0),  # the resuming process's own part
    ]
    run = fold_run(events)
    assert run.status == "success" and run.duration_s == 8 * 60.0  # as its timeline draws it: start to end
    assert run.pauses == ((NOW - timedelta(minutes=9), NOW - timedelta(minutes=4)),) and run.paused_s == 300.0


def test_fold_run_reused_outputs_count_as_success():
    events = [
        ev("dag_start", 5),
        ev("task_skip", 5, task_id="a", status="success", reason="reused outputs"),
        ev("task_skip", 5, task_id="b", reason="when: false"),
    ]
    run = fold_run(events)
    assert run.tasks["a"].status == "success" and run.tasks["b"].status == "skipped"
    assert run.counts["success"] == 1 and run.counts["skipped"] == 1


def test_fold_run_without_dag_start_derives_the_start_from_dag_done():
    events = [
        ev("task_ok", 3, task_id="z", attempt=1, duration_s=1.0),
        ev("dag_done", 2, status="success", duration_s=600.0, tasks_succeeded=9),
    ]
    run = fold_run(events)
    assert run.started == NOW - timedelta(minutes=12)
    assert run.counts["success"] == 9  # dag_done's counts are the run's, even when the window cut its start


@pytest.mark.parametrize(
    "junk",
    [
        [],
        [None, 3, "x", [], {}],
        [{"event": "task_ok"}, {"event": "task_ok", "task_id": 5}, {"event": "dag_start", "params": [1, 2]}],
        [
            {"event": "task_start", "task_id": "a", "attempt": "two", "ts": 123},
            {
                "event": "task_ok",
                "task_id": "a",
                "duration_s": "fast",
                "exit_code": True,
                "outputs": "rows",
                "ts": "soon",
            },
            {"event": "dag_done", "status": 7, "duration_s": float("nan"), "tasks_failed": "2"},
            {"event": "from_the_future", "run_id": "r1"},
        ],
        [
            {"event": "dag_start", "run_id": "r1", "ts": "2026-11-21T10:00:00+02:00", "pid": "12", "pid_start": "x"},
            {"event": "task_ok", "run_id": "other", "task_id": "x"},
        ],
        [
            {"event": "dag_done", "ts": "0001-01-01T00:00:00.000Z", "duration_s": 1e20, "status": "success"},
            {"event": "task_retry", "task_id": "a", "attempt": 1e300, "ts": "9999-12-31T23:59:59.999Z"},
        ],
    ],
)
def test_fold_run_never_raises_on_odd_records(junk):
    run = fold_run(junk)
    assert isinstance(run, RunSummary)
    assert run.status in ("running", "failed", "success")


def test_fold_run_reads_mistyped_fields_as_absent_and_ignores_other_runs():
    run = fold_run(
        [
            {"event": "dag_start", "run_id": "r1", "ts": "2026-11-21T10:00:00+02:00", "pid": "12", "params": [1]},
            {"event": "task_start", "run_id": "r1", "task_id": "a", "attempt": "two"},
            {"event": "task_ok", "run_id": "r1", "task_id": "a", "duration_s": "1.5", "exit_code": True},
            {"event": "task_ok", "run_id": "r2", "task_id": "x"},
            {"event": "mystery", "run_id": "r1", "task_id": "a"},
        ]
    )
    assert run.run_id == "r1" and set(run.tasks) == {"a"}
    assert run.started == datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
    assert run.pid == 12 and run.params == {}
    a = run.tasks["a"]
    assert (a.status, a.attempts, a.duration_s, a.exit_code) == ("success", 1, 1.5, None)


# --------------------------------------------------------------------------------------------- tasks


def test_p95_is_nearest_rank():
    assert p95([]) is None
    assert p95([4.0]) == 4.0
    assert p95([float(i) for i in range(100, 0, -1)]) == 95.0
    assert p95([float(i) for i in range(1, 21)]) == 19.0


def test_summarize_tasks_counts_ok_failed_retries_and_computes_error_rate_avg_and_p95():
    events = []
    for i in range(1, 20):  # 19 ok runs of task a, durations 1..19 s
        events.append(ev("task_ok", 30 + i, f"r{i}", task_id="a", attempt=1, duration_s=float(i)))
    events.append(ev("task_retry", 20, "rx", task_id="a", attempt=1, error="exit code 1"))
    events.append(ev("task_fail", 19, "rx", task_id="a", attempt=2, duration_s=20.0))
    events.append(ev("task_skip", 18, "rx", task_id="b"))
    events.append(ev("task_cancel", 18, "rx", task_id="c"))
    events.append(ev("task_start", 18, "rx", task_id="d", attempt=1))
    stats = summarize_tasks(events, now=NOW, window_hours=24)
    overall = stats["overall"]
    assert (overall["ok"], overall["failed"], overall["retries"], overall["skipped"], overall["cancelled"]) == (
        19,
        1,
        1,
        1,
        1,
    )
    assert overall["error_rate"] == pytest.approx(1 / 20)
    assert overall["avg_duration_s"] == pytest.approx(sum(range(1, 21)) / 20)
    assert overall["p95_duration_s"] == 19.0
    a = next(t for t in stats["tasks"] if t["task_id"] == "a")
    assert (a["dag_name"], a["ok"], a["failed"], a["retries"], a["last_status"]) == ("etl", 19, 1, 1, "failed")
    assert stats["tasks"][0]["task_id"] == "a"  # most failures first
    assert {t["task_id"] for t in stats["tasks"]} == {"a", "b", "c"}  # a bare task_start is not a result
    assert stats["since"] == "2026-11-20T12:00:00.000Z" and stats["until"] == "2026-11-21T12:00:00.000Z"


def test_summarize_tasks_cuts_the_window_at_both_ends():
    events = [
        ev("task_fail", 24 * 60 + 1, task_id="a", duration_s=1.0),  # just older than 24h
        ev("task_ok", 24 * 60 - 1, task_id="a", duration_s=2.0),
        ev("task_ok", -5, task_id="a", duration_s=3.0),
    ]  # stamped after now
    overall = summarize_tasks(events, now=NOW, window_hours=24)["overall"]
    assert (overall["ok"], overall["failed"], overall["avg_duration_s"]) == (1, 0, 2.0)
    assert summarize_tasks(events, now=NOW, window_hours=25)["overall"]["failed"] == 1


def test_summarize_tasks_keeps_same_task_id_of_two_dags_apart_and_handles_no_data():
    events = [
        ev("task_ok", 5, task_id="load", dag="etl", duration_s=1.0),
        ev("task_fail", 5, "r2", task_id="load", dag="ml", duration_s=1.0),
    ]
    rows = summarize_tasks(events, now=NOW)["tasks"]
    assert [(r["dag_name"], r["ok"], r["failed"]) for r in rows] == [("ml", 0, 1), ("etl", 1, 0)]
    empty = summarize_tasks([], now=NOW)
    assert empty["overall"]["error_rate"] == 0.0 and empty["overall"]["avg_duration_s"] is None
    assert empty["overall"]["p95_duration_s"] is None and empty["tasks"] == []


# --------------------------------------------------------------------------------------------- runs


def test_summarize_dags_lists_newest_first_with_statuses_counts_and_trigger():
    events = (
        run_events("r1", 300, status="success", tasks={"a": "ok", "b": "ok"})
        + run_events("r2", 200, status="failed", tasks={"a": "ok", "b": "fail", "c": "skip"})
        + run_events("r3", 100, status="cancelled", tasks={"a": "ok"})
        + run_events("r4", 50, status=None, tasks={"a": "ok"}, pid=1)
        + run_events("r5", 40, status=None, tasks={"a": "ok"}, pid=2, schedule_id="nightly")
    )
    runs = summarize_dags(events, now=NOW, owner_alive=lambda r: {1: False, 2: None}[r.pid])
    assert [r["run_id"] for r in runs] == ["r5", "r4", "r3", "r2", "r1"]
    assert [r["status"] for r in runs] == ["running", "abandoned", "cancelled", "failed", "success"]
    r2 = runs[3]
    assert (r2["tasks_ok"], r2["tasks_failed"], r2["tasks_skipped"]) == (1, 1, 1)
    assert r2["duration"] == 120.0 and r2["start"] == at(200) and r2["dag_name"] == "etl" and r2["tenant"] == "acme"
    assert runs[0]["duration"] == pytest.approx(40 * 60) and runs[0]["end"] is None
    assert runs[0]["trigger"] == "manual" and runs[0]["schedule_id"] == "nightly"
    assert [r["run_id"] for r in summarize_dags(events, limit=2)] == ["r5", "r4"]
    assert summarize_dags(events)[1]["status"] == "running"  # without owner_alive nobody is judged dead
    assert summarize_dags(events)[0]["duration"] is None  # running, and no `now` to measure against


def test_summarize_dags_limit_also_considers_runs_whose_start_was_cut_off():
    events = run_events("a", 300) + run_events("b", 200) + run_events("c", 100)
    # d began before the events we have: its dag_done says it started 10 minutes ago
    events += [
        ev("task_ok", 6, "d", task_id="x", duration_s=1.0),
        ev("dag_done", 5, "d", status="success", duration_s=300.0, tasks_succeeded=3),
    ]
    assert [r["run_id"] for r in summarize_dags(events, limit=2)] == ["d", "c"]
    assert [r["run_id"] for r in summarize_dags(events, limit=1)] == ["d"]
    assert summarize_dags(events, limit=0) == []


# --------------------------------------------------------------------------------------------- schedules


def st(kind: str, minutes_ago: float, schedule: str = "nightly", run_id: str | None = None, **fields: Any) -> dict:
    rec = {"v": 1, "ts": at(minutes_ago), "event": kind, "schedule_id": schedule, **fields}
    if run_id:
        rec["run_id"] = run_id
    return rec


def test_summarize_schedules_counts_in_the_window_and_reports_the_last_run():
    state = [
        st("schedule_enqueued", 3000, run_id="old"),
        st("run_started", 3000, run_id="old"),
        st("run_finished", 2990, run_id="old", status="failed"),  # older than 24h: not counted
        st("schedule_enqueued", 600, run_id="n1"),
        st("run_started", 600, run_id="n1"),
        st("run_finished", 590, run_id="n1", status="success"),
        st("schedule_skipped", 400, reason="previous run still running"),
        st("schedule_enqueued", 300, run_id="n2"),
        st("run_started", 300, run_id="n2"),
        st("run_finished", 280, run_id="n2", status="timeout"),
        st("schedule_enqueued", 10, run_id="n3"),
        st("run_started", 10, run_id="n3"),
        st("schedule_enqueued", 5, "hourly", run_id="h1"),
        st("run_started", 5, "hourly", run_id="h1"),
        st("run_finished", 4, "hourly", run_id="h1", status="success"),
        st("run_started", -10, "hourly", run_id="future"),  # stamped after now: ignored
        {"event": "run_started", "ts": at(1)},  # no schedule id
    ]
    rows = summarize_schedules(state, now=NOW, window_hours=24)
    assert [r["schedule_id"] for r in rows] == ["hourly", "nightly"]
    hourly, nightly = rows
    assert (nightly["enqueued"], nightly["started"], nightly["success"], nightly["failed"], nightly["skipped"]) == (
        3,
        3,
        1,
        1,
        1,
    )
    assert (nightly["last_run"], nightly["last_run_id"], nightly["last_status"]) == (at(10), "n3", "running")
    assert (hourly["last_run_id"], hourly["last_status"], hourly["success"]) == ("h1", "success", 1)
    week = {r["schedule_id"]: r for r in summarize_schedules(state, now=NOW, window_hours=24 * 7)}
    assert week["nightly"]["failed"] == 2 and week["nightly"]["enqueued"] == 4


def test_summarize_schedules_links_a_finish_to_its_start_by_slot_and_counts_lost_as_failed():
    state = [
        st("schedule_enqueued", 30, slot="nightly@a"),
        st("run_started", 30, run_id="r1", slot="nightly@a"),
        st("run_finished", 20, slot="nightly@a", status="lost"),  # no run id: the scheduler died
        st("schedule_registered", 5, "weekly", watermark="x"),
    ]
    nightly, weekly = sorted(summarize_schedules(state, now=NOW), key=lambda r: r["schedule_id"])
    assert (nightly["last_run_id"], nightly["last_status"], nightly["failed"]) == ("r1", "lost", 1)
    assert (weekly["schedule_id"], weekly["last_run"], weekly["enqueued"]) == ("weekly", None, 0)


def test_schedules_of_names_the_schedules_that_started_runs():
    events = [*run_events("r1", 10, schedule_id="nightly"), *run_events("r2", 5), {"event": "dag_start"}]
    assert schedules_of(events) == {"nightly"}


def test_summarize_schedules_uses_run_finished_when_the_start_is_not_there():
    rows = summarize_schedules([st("run_finished", 5, run_id="x", status="failed")], now=NOW)
    assert (rows[0]["last_run"], rows[0]["last_status"], rows[0]["failed"]) == (at(5), "failed", 1)


# --------------------------------------------------------------------------------------------- tenants


def test_per_tenant_load_counts_runs_tasks_error_rate_and_latency():
    events = (
        run_events("r1", 100, tenant="acme", tasks={"a": "ok", "b": "fail"}, status="failed")
        + run_events("r2", 50, tenant="acme", tasks={"a": "ok"})
        + run_events("r3", 40, tenant="globex", tasks={"a": "ok", "b": "ok", "c": "ok"})
        + run_events("r4", 3000, tenant="initech", tasks={"a": "fail"})
    )  # outside 24h
    for rec in events:
        if rec["run_id"] == "r2" and rec["event"] == "task_ok":
            rec["duration_s"] = 30.0
    rows = per_tenant_load(events, now=NOW, window_hours=24)
    assert [r["tenant"] for r in rows] == ["acme", "globex"]
    acme = rows[0]
    assert (acme["runs"], acme["tasks"], acme["ok"], acme["failed"]) == (2, 3, 2, 1)
    assert acme["error_rate"] == pytest.approx(1 / 3)
    assert acme["avg_latency_s"] == pytest.approx((60 + 60 + 30) / 3)
    assert rows[1]["error_rate"] == 0.0 and rows[1]["runs"] == 1


def test_stats_report_has_the_four_sections_over_one_window():
    events = run_events("r1", 30) + run_events("old", 3000)
    report = stats_report(events, [st("run_started", 30, run_id="r1")], now=NOW, window_hours=24, limit=5)
    assert set(report) == {"window", "tasks", "runs", "schedules", "tenants"}
    assert report["window"] == {"hours": 24.0, "since": "2026-11-20T12:00:00.000Z", "until": "2026-11-21T12:00:00.000Z"}
    assert [r["run_id"] for r in report["runs"]] == ["r1"]
    assert report["tasks"]["overall"]["ok"] == 1
    assert report["schedules"][0]["last_status"] == "running"
    assert report["tenants"][0]["runs"] == 1


def test_ts_key_passes_the_writers_format_and_normalises_others():
    assert ts_key("2026-11-21T19:45:12.123Z") == "2026-11-21T19:45:12.123Z"
    assert ts_key("2026-11-21T21:45:12+02:00") == "2026-11-21T19:45:12.000Z"
    assert ts_key("2026-11-21T19:45:12") == "2026-11-21T19:45:12.000Z"
    assert ts_key("yesterday") is None and ts_key(None) is None and ts_key(1.5) is None


# --------------------------------------------------------------------------------------------- properties
#
# Hypothesis feeds the folds records as a log may hold them: well-formed ones as dagctl writes them, mixed with
# junk (mistyped fields, foreign kinds, values that are not mappings). Each property is something a user of
# `dagctl runs` / `dagctl stats` relies on. derandomize: the same examples on every run, so CI is repeatable.

PROPERTIES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KINDS = (
    "dag_start",
    "task_start",
    "task_ok",
    "task_fail",
    "task_retry",
    "task_skip",
    "task_cancel",
    "dag_done",
    "schedule_enqueued",
    "schedule_skipped",
    "run_started",
    "run_finished",
    "other",
)
ODD_VALUES = hs.sampled_from(
    [
        None,
        True,
        0,
        -1,
        7,
        1.5,
        float("inf"),
        float("nan"),
        1e300,
        "",
        "x",
        "failed",
        "success",
        "timeout",
        "2026-11-21T11:00:00.000Z",
        "2026-11-21T11:00:00+05:00",
        "nonsense",
        [],
        ["a", 1],
        {},
        {"k": 1},
    ]
)
KEYS = (
    "event",
    "ts",
    "run_id",
    "dag_name",
    "tenant_id",
    "task_id",
    "attempt",
    "status",
    "duration_s",
    "exit_code",
    "error",
    "reason",
    "outputs",
    "params",
    "pid",
    "schedule_id",
    "slot",
    "tasks_succeeded",
    "tasks_failed",
)
# Minutes before NOW: some records stamped after now, many in the last day, some older than a day.
STAMPS = hs.one_of(hs.floats(-60, 3000), hs.sampled_from([0.0, 60.0, 24 * 60.0])).map(at)

WELL_FORMED = hs.fixed_dictionaries(
    {
        "v": hs.just(1),
        "ts": STAMPS,
        "event": hs.sampled_from(KINDS),
        "run_id": hs.sampled_from(["r1", "r2", "r3", "r4"]),
        "dag_name": hs.sampled_from(["etl", "ml"]),
        "tenant_id": hs.sampled_from(["acme", "globex", ""]),
        "task_id": hs.sampled_from(["a", "b", "c"]),
        "schedule_id": hs.sampled_from(["nightly", "hourly"]),
    },
    optional={
        "attempt": hs.integers(1, 3),
        "status": hs.sampled_from(["success", "failed", "timeout", "cancelled", "skipped", "lost", "abandoned"]),
        "duration_s": hs.floats(0, 1e6),
        "slot": hs.sampled_from(["nightly@1", "hourly@1"]),
        "tasks_succeeded": hs.integers(0, 20),
        "tasks_failed": hs.integers(0, 20),
        "pid": hs.integers(1, 1000),
        "error": hs.text(max_size=8),
    },
)
JUNK = hs.one_of(
    hs.dictionaries(hs.sampled_from(KEYS), ODD_VALUES, max_size=8),
    hs.dictionaries(hs.sampled_from(KEYS), ODD_VALUES, max_size=6).flatmap(
        lambda rec: hs.fixed_dictionaries({"event": hs.sampled_from(KINDS), "ts": STAMPS}).map(lambda f: {**rec, **f})
    ),
    ODD_VALUES,  # not a mapping at all
)
ANY_LOG = hs.lists(hs.one_of(WELL_FORMED, JUNK), max_size=40)
CLEAN_LOG = hs.lists(WELL_FORMED, max_size=40)
WINDOWS = hs.sampled_from([0, 1, 24, -5, 0.001])

COUNTS = ("ok", "failed", "retries", "skipped", "cancelled")
SCHEDULE_COUNTS = ("enqueued", "started", "success", "failed", "cancelled", "skipped")


def in_window(records: list[Any], report: dict[str, Any]) -> list[dict[str, Any]]:
    since, until = report["window"]["since"], report["window"]["until"]
    return [
        r for r in records if isinstance(r, dict) and (key := ts_key(r.get("ts"))) is not None and since <= key <= until
    ]


def is_rate(value: object) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


def check_counts(row: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        assert type(row[name]) is int and row[name] >= 0, (name, row)


def check_report(records: list[Any], report: dict[str, Any], *, window_hours: float, limit: int) -> None:
    """What holds for any input: the shape, the ranges, the orders, and counts that agree with each other."""
    assert json.loads(json.dumps(report, allow_nan=False)) == report  # plain, finite JSON (`dagctl stats --json`)
    window = report["window"]
    assert window["hours"] == float(window_hours) and window["until"] == format_ts(NOW)
    assert window["since"] <= window["until"]
    assert (report["tasks"]["since"], report["tasks"]["until"]) == (window["since"], window["until"])

    overall, rows = report["tasks"]["overall"], report["tasks"]["tasks"]
    check_counts(overall, COUNTS)
    assert is_rate(overall["error_rate"])
    finished = overall["ok"] + overall["failed"]
    assert overall["error_rate"] == (overall["failed"] / finished if finished else 0.0)
    for name in COUNTS:  # every task record counted overall is counted for exactly one (dag, task)
        assert sum(row[name] for row in rows) == overall[name], name
    assert len({(r["dag_name"], r["task_id"]) for r in rows}) == len(rows)
    sort_keys = [(-r["failed"], -(r["ok"] + r["failed"]), r["dag_name"], r["task_id"]) for r in rows]
    assert sort_keys == sorted(sort_keys)  # most failures first, then the busiest
    for row in rows:
        check_counts(row, COUNTS)
        assert is_rate(row["error_rate"]) and row["task_id"]
        assert row["last_status"] in (None, "success", "failed", "skipped", "cancelled")
        assert row["last_ts"] is None or window["since"] <= row["last_ts"] <= window["until"]
        assert (row["avg_duration_s"] is None) == (row["p95_duration_s"] is None)

    window_records = in_window(records, report)
    run_ids = {r["run_id"] for r in window_records if isinstance(r.get("run_id"), str) and r["run_id"]}
    runs = report["runs"]
    assert len(runs) == min(limit, len(run_ids))  # the newest `limit` of the runs seen in the window
    assert len({r["run_id"] for r in runs}) == len(runs) and {r["run_id"] for r in runs} <= run_ids
    starts = [r["start"] for r in runs]
    dated = [s for s in starts if s is not None]
    assert starts[: len(dated)] == dated and dated == sorted(dated, reverse=True)  # newest first, undated last
    for run in runs:  # owner_alive says every owner is dead: a run without dag_done is abandoned, not running
        assert run["status"] != "running" and (run["status"] == "abandoned" or run["end"] is not None)
        assert run["duration"] is None or isinstance(run["duration"], float)

    schedules = report["schedules"]
    assert [r["schedule_id"] for r in schedules] == sorted({r["schedule_id"] for r in schedules})
    for row in schedules:
        check_counts(row, SCHEDULE_COUNTS)
        assert row["last_run"] is None or row["last_run"] <= window["until"]
        assert row["last_run"] is not None or row["last_status"] is None

    tenants = report["tenants"]
    assert len({t["tenant"] for t in tenants}) == len(tenants)
    assert [(-t["runs"], -t["tasks"], t["tenant"]) for t in tenants] == sorted(
        (-t["runs"], -t["tasks"], t["tenant"]) for t in tenants
    )
    for tenant in tenants:
        check_counts(tenant, ("runs", "tasks", "ok", "failed", "retries"))
        assert tenant["tasks"] == tenant["ok"] + tenant["failed"] and tenant["runs"] <= len(run_ids)
        assert tenant["error_rate"] == (tenant["failed"] / tenant["tasks"] if tenant["tasks"] else 0.0)
    # Tenants count every task result; the task table only those naming their task.
    assert sum(t["ok"] for t in tenants) >= overall["ok"] and sum(t["failed"] for t in tenants) >= overall["failed"]


def report_of(records: list[Any], window_hours: float = 24, limit: int = 15) -> dict[str, Any]:
    return stats_report(
        records, records, now=NOW, window_hours=window_hours, limit=limit, owner_alive=lambda _run: False
    )


@PROPERTIES
@given(records=ANY_LOG, window_hours=WINDOWS, limit=hs.integers(0, 4))
def test_every_report_is_total_consistent_and_plain_json_over_any_records(records, window_hours, limit):
    before = repr(records)
    report = report_of(records, window_hours, limit)
    assert repr(records) == before  # pure: the records are not changed
    check_report(records, report, window_hours=window_hours, limit=limit)
    # Records stamped after `now` (a clock ahead, a run still writing) do not change a report made for `now`.
    future = [{**r, "ts": at(-5)} for r in records if isinstance(r, dict)]
    assert report_of(records + future, window_hours, limit) == report


@PROPERTIES
@given(records=ANY_LOG)
def test_fold_run_is_total_and_reads_one_run(records):
    run = fold_run(records)
    mappings = [r for r in records if isinstance(r, dict)]
    first_id = next((r["run_id"] for r in mappings if isinstance(r.get("run_id"), str) and r["run_id"]), "")
    assert run.run_id == first_id

    def belongs(rec: dict[str, Any]) -> bool:  # records without a run id are read as this run's
        rid = rec.get("run_id")
        return not (isinstance(rid, str) and rid) or rid == run.run_id

    mine = [r for r in mappings if belongs(r)]
    assert run.finished == any(r.get("event") == "dag_done" for r in mine)
    assert set(run.tasks) == {
        r["task_id"]
        for r in mine
        if r.get("event") in ("task_start", "task_ok", "task_fail", "task_retry", "task_skip", "task_cancel")
        and isinstance(r.get("task_id"), str)
        and r["task_id"]
    }
    assert {"success", "failed", "skipped", "cancelled"} <= set(run.counts)
    assert all(type(n) is int for n in run.counts.values())
    for task in run.tasks.values():
        assert task.attempts >= 0 and task.retries >= 0


@PROPERTIES
@given(records=CLEAN_LOG, limit=hs.integers(1, 5))
def test_reports_of_well_formed_logs_have_sane_numbers_and_read_a_duplicated_log_alike(records, limit):
    report = report_of(records, 24, limit)
    check_report(records, report, window_hours=24, limit=limit)
    durations = [
        r["duration_s"]
        for r in in_window(records, report)
        if r["event"] in ("task_ok", "task_fail") and "duration_s" in r
    ]
    overall = report["tasks"]["overall"]
    if durations:  # the average and p95 of the finished executions' durations, never outside them
        assert min(durations) - 1e-6 <= overall["avg_duration_s"] <= max(durations) + 1e-6
        assert overall["p95_duration_s"] in durations
    else:
        assert overall["avg_duration_s"] is None and overall["p95_duration_s"] is None
    for run in report["runs"]:
        assert run["duration"] is None or run["duration"] >= 0
        assert min(run["tasks_ok"], run["tasks_failed"], run["tasks_skipped"], run["tasks_cancelled"]) >= 0
    for tenant in report["tenants"]:
        assert tenant["avg_latency_s"] is None or tenant["avg_latency_s"] >= 0
    tenants = report["tenants"]  # every well-formed task record names its task: the two tables agree
    assert sum(t["ok"] for t in tenants) == overall["ok"] and sum(t["failed"] for t in tenants) == overall["failed"]

    # The same log read twice (e.g. two copies concatenated): counts double; runs, rates and durations do not move.
    twice = report_of(records + records, 24, limit)
    assert twice["runs"] == report["runs"]
    doubled = twice["tasks"]["overall"]
    assert {k: doubled[k] for k in COUNTS} == {k: 2 * overall[k] for k in COUNTS}
    assert doubled["error_rate"] == overall["error_rate"] and doubled["p95_duration_s"] == overall["p95_duration_s"]
    if durations:  # summed in another order: equal up to rounding
        assert doubled["avg_duration_s"] == pytest.approx(overall["avg_duration_s"], rel=1e-9, abs=1e-6)
    else:
        assert doubled["avg_duration_s"] is None
    assert [(t["tenant"], t["runs"], t["tasks"]) for t in twice["tenants"]] == [
        (t["tenant"], t["runs"], 2 * t["tasks"]) for t in report["tenants"]
    ]
    assert [{k: r[k] for k in SCHEDULE_COUNTS} for r in twice["schedules"]] == [
        {k: 2 * r[k] for k in SCHEDULE_COUNTS} for r in report["schedules"]
    ]

    # A wider window sees at least as much: no count shrinks from the last hour to the last day.
    hour = report_of(records, 1, limit)
    assert all(hour["tasks"]["overall"][k] <= overall[k] for k in COUNTS)
    day_schedules = {r["schedule_id"]: r for r in report["schedules"]}
    for row in hour["schedules"]:
        assert all(row[k] <= day_schedules[row["schedule_id"]][k] for k in SCHEDULE_COUNTS)
    assert {r["run_id"] for r in hour["runs"]} <= {r["run_id"] for r in summarize_dags(in_window(records, report))}


def test_cache_hits_are_counted_and_their_rate_is_over_tasks_with_a_cache() -> None:
    from datetime import datetime, timezone

    from dagctl.store.reports import summarize_tasks

    base = {"v": 1, "event": "task_ok", "run_id": "r", "dag_name": "d", "tenant_id": "default"}
    events = [
        {**base, "ts": "2026-12-06T12:00:00.000Z", "task_id": "a", "duration_s": 4.0, "cache_key": "k1"},
        {
            **base,
            "ts": "2026-12-06T12:01:00.000Z",
            "task_id": "a",
            "duration_s": 0.0,
            "cache_key": "k1",
            "cached": True,
        },
        {
            **base,
            "ts": "2026-12-06T12:02:00.000Z",
            "task_id": "a",
            "duration_s": 0.0,
            "cache_key": "k1",
            "cached": True,
        },
        {**base, "ts": "2026-12-06T12:03:00.000Z", "task_id": "b", "duration_s": 2.0},
    ]
    report = summarize_tasks(events, now=datetime(2026, 12, 6, 13, tzinfo=timezone.utc))
    overall = report["overall"]
    assert (overall["ok"], overall["cache_hits"]) == (4, 2)
    assert overall["cache_hit_rate"] == 2 / 3  # b has no cache: not in the rate
    assert overall["avg_duration_s"] == 3.0  # hits ran nothing: not in the durations
    [a] = [t for t in report["tasks"] if t["task_id"] == "a"]
    assert a["cache_hit_rate"] == 2 / 3
