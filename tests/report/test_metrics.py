"""Prometheus text of a run and of the scheduler, read back with prometheus_client's parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dagctl.report.metrics import METRICS, ScheduleInfo, last_success_in, run_metrics, scheduler_metrics
from dagctl.store.runsummary import fold_run
from dagctl.store.state import StateFold
from tests.conftest import ROOT

from .ci_runs import parent_events
from .events import T0, at, ev


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """``{family: {(sample name, sorted labels): value}}``; fails on anything the parser refuses."""
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in found, f"{family.name} appears twice"
        found[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return found


def value(found: dict, family: str, **labels: str) -> float:
    samples = found[family]
    matches = [v for (_name, labs), v in samples.items() if dict(labs) == labels]
    assert len(matches) == 1, (family, labels, samples)
    return matches[0]


def test_a_run_s_status_times_and_tasks():
    found = parse(run_metrics(fold_run(parent_events()), last_success=1000.0))
    assert value(found, "dagctl_last_run_success", dag="etl") == 0
    assert value(found, "dagctl_last_run_status", dag="etl", status="failed") == 1
    assert value(found, "dagctl_last_run_status", dag="etl", status="success") == 0
    assert value(found, "dagctl_last_run_duration_seconds", dag="etl") == 6.0
    assert value(found, "dagctl_last_run_start_timestamp_seconds", dag="etl") == T0.timestamp()
    assert value(found, "dagctl_last_run_end_timestamp_seconds", dag="etl") == at(6).timestamp()
    assert value(found, "dagctl_last_success_timestamp_seconds", dag="etl") == 1000.0  # carried over: this one failed
    assert value(found, "dagctl_last_run_tasks", dag="etl", status="failed") == 4  # flaky, slow, train, prep
    assert value(found, "dagctl_last_run_tasks", dag="etl", status="skipped") == 1
    assert value(found, "dagctl_last_run_task_duration_seconds", dag="etl", task="extract") == 1.25
    assert value(found, "dagctl_last_run_task_duration_seconds", dag="etl", task="train:1") == 1
    assert value(found, "dagctl_last_run_task_attempts", dag="etl", task="flaky") == 2
    assert value(found, "dagctl_last_run_task_status", dag="etl", task="flaky", status="failed") == 1
    assert value(found, "dagctl_last_run_task_status", dag="etl", task="flaky", status="success") == 0
    assert ("dagctl_last_run_task_duration_seconds", (("dag", "etl"), ("task", "never"))) not in found[
        "dagctl_last_run_task_duration_seconds"
    ]  # it never ran: no duration rather than a made-up one


def test_a_successful_run_is_the_last_success_and_the_next_file_keeps_it():
    records = [ev("dag_start", 0), ev("task_start", 0, "a", attempt=1), ev("task_ok", 2, "a", attempt=1, duration_s=2)]
    ok = run_metrics(fold_run([*records, ev("dag_done", 2, status="success", duration_s=2)]), last_success=1.0)
    assert value(parse(ok), "dagctl_last_success_timestamp_seconds", dag="etl") == at(2).timestamp()
    assert last_success_in(ok, "etl") == at(2).timestamp()
    assert last_success_in(ok, "other") is None and last_success_in("garbage\n", "etl") is None
    failed = run_metrics(
        fold_run([*records, ev("dag_done", 3, status="failed")]), last_success=last_success_in(ok, "etl")
    )
    assert value(parse(failed), "dagctl_last_success_timestamp_seconds", dag="etl") == at(2).timestamp()
    never = run_metrics(fold_run([*records, ev("dag_done", 3, status="failed")]))
    assert "dagctl_last_success_timestamp_seconds" not in parse(never)


def test_label_values_are_escaped():
    records = [ev("dag_start", 0, dag='we"ird\\na\nme'), ev("dag_done", 1, dag='we"ird\\na\nme', status="success")]
    found = parse(run_metrics(fold_run(records)))
    assert value(found, "dagctl_last_run_success", dag='we"ird\\na\nme') == 1


def state(records: list[dict]) -> StateFold:
    fold = StateFold()
    for record in records:
        fold.apply(record)
    return fold


def test_the_scheduler_s_schedules_last_runs_lag_and_counts():
    slot = "nightly@2026-12-06T12:00:00.000Z"
    owner = {"host": "h", "pid": 1}
    fold = state(
        [
            {"event": "schedule_enqueued", "ts": "2026-12-06T12:00:01.000Z", "schedule_id": "nightly", "slot": slot,
             "fire_utc": "2026-12-06T12:00:00.000Z", "claimed_by": owner},
            {"event": "run_started", "ts": "2026-12-06T12:00:02.500Z", "schedule_id": "nightly", "slot": slot,
             "run_id": "r1"},
            {"event": "run_finished", "ts": "2026-12-06T12:00:10.000Z", "schedule_id": "nightly", "slot": slot,
             "run_id": "r1", "status": "success", "duration_s": 7.5},
            {"event": "schedule_enqueued", "ts": "2026-12-06T13:00:00.000Z", "schedule_id": "nightly",
             "slot": "nightly@b", "fire_utc": "2026-12-06T13:00:00.000Z", "claimed_by": owner},
            {"event": "run_started", "ts": "2026-12-06T13:00:01.000Z", "schedule_id": "nightly", "slot": "nightly@b",
             "run_id": "r2"},
            {"event": "run_finished", "ts": "2026-12-06T13:00:03.000Z", "schedule_id": "nightly", "slot": "nightly@b",
             "run_id": "r2", "status": "failed", "duration_s": 2},
            {"event": "schedule_skipped", "ts": "2026-12-06T14:00:00.000Z", "schedule_id": "nightly", "slot": "n@c",
             "fire_utc": "2026-12-06T14:00:00.000Z", "reason": "overlap"},
            {"event": "schedule_enqueued", "ts": "2026-12-06T15:00:00.000Z", "schedule_id": "nightly",
             "slot": "nightly@d", "fire_utc": "2026-12-06T15:00:00.000Z", "claimed_by": owner},
        ]
    )  # fmt: skip
    schedules = [
        ScheduleInfo("nightly", "../dags/etl.yaml", "0 * * * *", "UTC"),
        ScheduleInfo("paused", "../dags/etl.yaml", "@daily", "Europe/Paris", enabled=False),
    ]
    found = parse(scheduler_metrics(fold.schedules, schedules))
    assert value(found, "dagctl_schedule_info", schedule="nightly", dag="../dags/etl.yaml", cron="0 * * * *",
                 timezone="UTC") == 1  # fmt: skip
    assert value(found, "dagctl_schedule_enabled", schedule="paused") == 0
    assert value(found, "dagctl_schedule_last_run_status", schedule="nightly", status="failed") == 1
    assert value(found, "dagctl_schedule_last_run_success", schedule="nightly") == 0
    assert value(found, "dagctl_schedule_last_run_duration_seconds", schedule="nightly") == 2
    assert value(found, "dagctl_schedule_last_run_lag_seconds", schedule="nightly") == 1.0
    assert value(found, "dagctl_schedule_last_run_end_timestamp_seconds", schedule="nightly") == (
        at(3600 + 3).timestamp()
    )
    assert value(found, "dagctl_schedule_last_success_timestamp_seconds", schedule="nightly") == at(10).timestamp()
    assert value(found, "dagctl_schedule_watermark_timestamp_seconds", schedule="nightly") == at(3 * 3600).timestamp()
    assert value(found, "dagctl_schedule_runs_waiting", schedule="nightly") == 1
    assert value(found, "dagctl_schedule_runs_running", schedule="nightly") == 0
    runs = found["dagctl_schedule_runs"]  # a counter: the parser names the family without _total
    assert runs[("dagctl_schedule_runs_total", (("outcome", "success"), ("schedule", "nightly")))] == 1
    assert runs[("dagctl_schedule_runs_total", (("outcome", "skipped"), ("schedule", "nightly")))] == 1
    assert runs[("dagctl_schedule_runs_total", (("outcome", "lost"), ("schedule", "paused")))] == 0
    # a schedule that never ran has no last-run series at all (rather than zeros that look like facts)
    assert not any(dict(labels).get("schedule") == "paused" for _n, labels in found["dagctl_schedule_last_run_status"])


def test_docs_list_every_series():
    doc = (ROOT / "docs" / "ci.md").read_text()
    assert [name for name in METRICS if f"`{name}{{" not in doc] == []
