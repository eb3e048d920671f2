"""dagctl.analytics: the design note's analytics API, and the note's ``timestamp`` on every event dagctl writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.analytics import (
    load_events,
    load_state_events,
    per_tenant_load,
    summarize_dags,
    summarize_schedules,
    summarize_tasks,
)
from dagctl.clock import FakeClock
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.events import DagStart, TaskOk, parse_event
from dagctl.store.reports import stats_report
from tests.conftest import ROOT, logs_under

UTC = timezone.utc
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    logs_under(tmp_path, monkeypatch)
    (tmp_path / "ok.yaml").write_text("name: ok_dag\ntenant_id: acme\ntasks:\n  - {id: a, run: 'true'}\n")
    (tmp_path / "bad.yaml").write_text(
        "name: bad_dag\ntenant_id: globex\ntasks:\n"
        "  - {id: a, run: 'true'}\n  - {id: b, depends_on: a, run: 'exit 4'}\n"
    )
    return Settings.from_env()


def test_every_event_dagctl_writes_carries_the_notes_timestamp(settings: Settings, tmp_path: Path) -> None:
    run_dag(tmp_path / "ok.yaml", settings=settings)
    records = [json.loads(line) for line in settings.events_path.read_text().splitlines()]
    assert records and all(r["timestamp"] == r["ts"] and r["ts"].endswith("Z") for r in records)
    assert list(records[0])[:4] == ["v", "ts", "event", "timestamp"]
    event = DagStart(ts="2026-12-06T12:00:00.000Z", run_id="r", dag_name="d", tenant_id="t")
    assert parse_event(event.to_record()) == event  # readers take the record back whole, timestamp or not


def test_the_design_notes_snippet_runs_as_written(settings: Settings, tmp_path: Path) -> None:
    for name in ("ok.yaml", "bad.yaml", "ok.yaml"):
        run_dag(tmp_path / name, settings=settings)
    snippet = textwrap.dedent(
        f"""
        from dagctl.analytics import (
            load_events,
            summarize_tasks,
            summarize_dags,
            summarize_schedules,
            per_tenant_load,
        )

        events = load_events({str(settings.events_path)!r}, limit=5000)
        stats = summarize_tasks(events, window_hours=24)
        print(f"Error rate: {{stats['last_24h']['error_rate'] * 100:.1f}}%")
        runs = summarize_dags(events, limit=10)
        for run in runs:
            print(f"{{run['dag_name']}}: {{run['status']}} ({{run['duration']:.1f}}s)")
        tenants = per_tenant_load(events, window_hours=24)
        for tenant in tenants:
            print(f"{{tenant['tenant']}}: {{tenant['runs']}} runs, {{tenant['error_rate']*100:.1f}}% errors")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", snippet],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "Error rate: 25.0%"  # 3 ok, 1 failed
    assert [line.split(":")[0] for line in out[1:4]] == ["ok_dag", "bad_dag", "ok_dag"]
    assert out[2].startswith("bad_dag: failed (") and out[1].startswith("ok_dag: success (")
    assert sorted(out[4:]) == ["acme: 2 runs, 0.0% errors", "globex: 1 runs, 50.0% errors"]


def test_now_defaults_to_the_current_time_and_results_equal_the_stats_reports(settings: Settings, tmp_path) -> None:
    run_dag(tmp_path / "bad.yaml", settings=settings)
    events = load_events()  # ORCH_EVENTS_PATH
    now = datetime.now(UTC)
    report = stats_report(events, [], now=now, window_hours=24)
    tasks = summarize_tasks(events)
    assert tasks["overall"] == tasks["last_24h"] == report["tasks"]["overall"]
    assert summarize_tasks(events, 1.5)["last_1.5h"]["failed"] == 1
    assert per_tenant_load(events) == report["tenants"]
    assert [r["run_id"] for r in summarize_dags(events)] == [r["run_id"] for r in report["runs"]]
    # with an explicit now, a window that ended before the run has nothing
    past = NOW - timedelta(days=400)
    assert summarize_tasks(events, now=past)["last_24h"]["ok"] == 0 and per_tenant_load(events, now=past) == []


def test_old_files_without_timestamp_and_the_notes_own_files_are_both_read(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    start = DagStart(ts="2026-12-06T11:00:00.000Z", run_id="r1", dag_name="d", tenant_id="t").to_record()
    ok = TaskOk(ts="2026-12-06T11:00:01.000Z", run_id="r1", dag_name="d", tenant_id="t", task_id="a").to_record()
    for record in (start, ok):
        del record["timestamp"]  # as dagctl wrote them before
    old.write_text("".join(json.dumps(r) + "\n" for r in (start, ok)))
    events = load_events(old)
    assert [e["timestamp"] for e in events] == ["2026-12-06T11:00:00.000Z", "2026-12-06T11:00:01.000Z"]
    assert summarize_tasks(events, now=NOW)["last_24h"]["ok"] == 1

    note = tmp_path / "note.jsonl"  # the design note's example lines: naive timestamps, no ts
    note.write_text(
        '{"timestamp": "2026-12-06T10:00:00", "event": "dag_start", "dag_name": "weekly_ops_chain", "run_id": "x"}\n'
        '{"timestamp": "2026-12-06T10:00:01", "event": "task_start", "task_id": "sweep", "run_id": "x"}\n'
        '{"timestamp": "2026-12-06T10:00:02", "event": "task_ok", "task_id": "sweep", "run_id": "x"}\n'
        '{"timestamp": "2026-12-06T10:00:03", "event": "dag_done", "status": "success", "tasks_succeeded": 3, '
        '"run_id": "x"}\n'
    )
    events = load_events(note, limit=5000)
    assert events[0]["ts"] == "2026-12-06T10:00:00.000Z"
    assert summarize_tasks(events, now=NOW)["last_24h"]["ok"] == 1
    (run,) = summarize_dags(events, limit=10, now=NOW)
    assert run["dag_name"] == "weekly_ops_chain" and run["status"] == "success" and run["duration"] == 3.0
    raw = [json.loads(line) for line in note.read_text().splitlines()]  # not through load_events
    assert summarize_tasks(raw, now=NOW)["last_24h"]["ok"] == 1


def test_summarize_schedules_reads_the_state_store(settings: Settings, tmp_path: Path) -> None:
    from dagctl.schedule.files import ScheduleSpec
    from dagctl.schedule.loop import Scheduler, dag_launcher
    from dagctl.store.state import StateStore

    clock = FakeClock((datetime.now(UTC) - timedelta(minutes=1)).replace(second=5, microsecond=0))
    schedules = [ScheduleSpec(id="nightly", cron="* * * * *", dag=str(tmp_path / "ok.yaml"))]
    with StateStore(settings.state_path, clock, fsync=False) as store:
        Scheduler(schedules, store, dag_launcher(settings), clock=clock).run_once()
    (row,) = summarize_schedules(load_state_events(), window_hours=24)
    assert row["schedule_id"] == "nightly" and row["last_status"] == "success"
    assert (row["enqueued"], row["success"], row["failed"]) == (1, 1, 0)


def test_the_public_api_is_importable_from_the_package_root_without_loading_it() -> None:
    code = (
        "import sys, dagctl\n"
        "assert 'dagctl.store.state' not in sys.modules and 'dagctl.analytics' not in sys.modules\n"
        "from dagctl import (load_dag, build_plan, run_dag, record_event, last_runs, index_by, load_events,\n"
        "    summarize_tasks, summarize_dags, summarize_schedules, per_tenant_load)\n"
        "from dagctl.store.state import record_event as r\n"
        "assert record_event is r and callable(per_tenant_load)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
