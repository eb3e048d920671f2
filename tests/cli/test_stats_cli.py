"""`dagctl stats`: the observability panel as tables and as JSON, over real and hand-written histories."""

from __future__ import annotations

import json
import os
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.clock import SystemClock
from dagctl.host import hostname, process_start_ticks
from dagctl.store.events import format_ts


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


class History:
    """Events stamped relative to the real clock (the CLI reads it), written where the cli fixture looks."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.now = SystemClock().now()
        self.events: list[dict[str, Any]] = []
        self.state: list[dict[str, Any]] = []

    def ts(self, minutes_ago: float) -> str:
        return format_ts(self.now - timedelta(minutes=minutes_ago))

    def run(
        self,
        run_id: str,
        start_ago: float,
        tasks: dict[str, tuple[str, float]],
        *,
        dag: str = "etl",
        tenant: str = "acme",
        status: str | None = "success",
        retries: tuple[str, ...] = (),
        schedule: str | None = None,
        **start: Any,
    ) -> None:
        base = {"v": 1, "run_id": run_id, "dag_name": dag, "tenant_id": tenant}
        trigger = "schedule" if schedule else "manual"
        self.events.append(
            {
                **base,
                "ts": self.ts(start_ago),
                "event": "dag_start",
                "trigger": trigger,
                "schedule_id": schedule,
                **start,
            }
        )
        slot = f"{schedule}@{self.ts(start_ago)[:19]}Z"
        if schedule:  # the state store's shapes: linked by slot key, naming the DAG file, not the DAG
            self.state += [
                {
                    "v": 1,
                    "ts": self.ts(start_ago),
                    "event": "schedule_enqueued",
                    "schedule_id": schedule,
                    "slot": slot,
                    "trigger": "schedule",
                    "dag": f"dags/{dag}.yaml",
                },
                {
                    "v": 1,
                    "ts": self.ts(start_ago),
                    "event": "run_started",
                    "schedule_id": schedule,
                    "slot": slot,
                    "run_id": run_id,
                    "dag": f"dags/{dag}.yaml",
                },
            ]
        t = start_ago
        counts = {"tasks_succeeded": 0, "tasks_failed": 0, "tasks_skipped": 0}
        for tid, (outcome, duration) in tasks.items():
            t -= 0.5
            if outcome == "skip":
                self.events.append(
                    {
                        **base,
                        "ts": self.ts(t),
                        "event": "task_skip",
                        "task_id": tid,
                        "status": "skipped",
                        "reason": "upstream failed",
                    }
                )
                counts["tasks_skipped"] += 1
                continue
            attempt = 1
            if tid in retries:
                self.events.append({**base, "ts": self.ts(t), "event": "task_start", "task_id": tid, "attempt": 1})
                self.events.append(
                    {
                        **base,
                        "ts": self.ts(t),
                        "event": "task_retry",
                        "task_id": tid,
                        "attempt": 1,
                        "error": "exit code 1",
                        "delay_s": 1.0,
                    }
                )
                attempt = 2
            self.events.append({**base, "ts": self.ts(t), "event": "task_start", "task_id": tid, "attempt": attempt})
            kind = "task_ok" if outcome == "ok" else "task_fail"
            self.events.append(
                {**base, "ts": self.ts(t), "event": kind, "task_id": tid, "attempt": attempt, "duration_s": duration}
            )
            counts["tasks_succeeded" if outcome == "ok" else "tasks_failed"] += 1
        if status is not None:
            self.events.append(
                {
                    **base,
                    "ts": self.ts(t),
                    "event": "dag_done",
                    "status": status,
                    "duration_s": (start_ago - t) * 60,
                    **counts,
                }
            )
            if schedule:
                self.state.append(
                    {
                        "v": 1,
                        "ts": self.ts(t),
                        "event": "run_finished",
                        "schedule_id": schedule,
                        "slot": slot,
                        "run_id": run_id,
                        "status": status,
                    }
                )

    def save(self) -> None:
        write_jsonl(self.logs / "orchestrator_events.jsonl", self.events)
        write_jsonl(self.logs / "orchestrator_state.jsonl", self.state)


@pytest.fixture
def history(logs: Path) -> History:
    h = History(logs)
    h.run("20260101-000000.000-aaaaaa", 3 * 24 * 60, {"a": ("fail", 9.0)}, status="failed")  # 3 days ago
    h.run("20260101-000000.000-bbbbbb", 120, {"a": ("ok", 2.0), "b": ("ok", 4.0)}, retries=("b",), schedule="nightly")
    h.run(
        "20260101-000000.000-cccccc",
        60,
        {"a": ("ok", 6.0), "b": ("fail", 8.0), "c": ("skip", 0)},
        status="failed",
        dag="ml",
        tenant="globex",
    )
    h.save()
    return h


def test_stats_prints_the_four_panels_with_the_numbers(cli, history):
    result = cli("stats")
    assert result.code == 0, result
    out = result.out
    assert "Task KPIs (last 24h)" in out and "Recent DAG runs" in out
    assert "Schedules (counts: last 24h)" in out and "Per-tenant load (last 24h)" in out
    kpi = out.splitlines()[out.splitlines().index("Task KPIs (last 24h)") + 2].split()
    assert kpi == ["3", "1", "1", "1", "25.0%", "5s", "8s", "-"]  # ok failed retries skipped error avg p95 cache
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("20260101-")}
    assert set(rows) == {"20260101-000000.000-bbbbbb", "20260101-000000.000-cccccc"}  # not the 3-day-old run
    assert rows["20260101-000000.000-cccccc"][1:4] == ["ml", "globex", "failed"]
    assert rows["20260101-000000.000-cccccc"][-4:] == ["1", "1", "1", "manual"]  # ok failed skipped trigger
    assert rows["20260101-000000.000-bbbbbb"][-1] == "schedule:nightly"
    nightly = next(line.split() for line in out.splitlines() if line.startswith("nightly"))
    assert nightly[3:] == ["success", "1", "1", "0", "0"]
    globex = next(line.split() for line in out.splitlines() if line.startswith("globex"))
    assert globex[:5] == ["globex", "1", "2", "1", "50.0%"]


def test_stats_shows_local_time_on_screen(cli, history, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "XST-05:45")  # POSIX form, no zone files needed: UTC+05:45
    time.tzset()
    try:
        out = cli("stats").out
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    started = history.now - timedelta(minutes=120)
    local = started.astimezone(timezone(timedelta(hours=5, minutes=45))).strftime("%Y-%m-%d %H:%M:%S")
    assert local in out


def test_stats_json_has_the_four_sections_in_utc(cli, history):
    result = cli("stats", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert set(data) == {"window", "tasks", "runs", "schedules", "tenants"}
    assert data["window"]["hours"] == 24.0 and data["window"]["until"].endswith("Z")
    overall = data["tasks"]["overall"]
    assert (overall["ok"], overall["failed"], overall["retries"], overall["error_rate"]) == (3, 1, 1, 0.25)
    assert [r["run_id"][-6:] for r in data["runs"]] == ["cccccc", "bbbbbb"]
    assert data["runs"][0]["start"] == history.ts(60)
    assert data["schedules"] == [
        {
            "schedule_id": "nightly",
            "last_run": history.ts(120),
            "last_run_id": "20260101-000000.000-bbbbbb",
            "last_status": "success",
            "enqueued": 1,
            "started": 1,
            "success": 1,
            "failed": 0,
            "cancelled": 0,
            "skipped": 0,
        }
    ]
    assert [t["tenant"] for t in data["tenants"]] == ["acme", "globex"]


def test_stats_window_dag_and_tenant_filters(cli, history):
    week = json.loads(cli("stats", "--window", "7d", "--json").out)
    assert len(week["runs"]) == 3 and week["window"]["hours"] == 168.0
    ml = json.loads(cli("stats", "--dag", "ml", "--json").out)
    assert [r["dag_name"] for r in ml["runs"]] == ["ml"] and ml["schedules"] == []
    acme = json.loads(cli("stats", "--tenant", "acme", "--json").out)
    assert [r["tenant"] for r in acme["tenants"]] == ["acme"] and acme["tasks"]["overall"]["failed"] == 0
    assert [s["schedule_id"] for s in acme["schedules"]] == ["nightly"]  # the schedule that ran acme's run
    assert len(json.loads(cli("stats", "--limit", "1", "--json").out)["runs"]) == 1


def test_orch_panel_window_h_sets_the_default_window_in_hours(cli, history, monkeypatch):
    monkeypatch.setenv("ORCH_PANEL_WINDOW_H", "100")
    assert len(json.loads(cli("stats", "--json").out)["runs"]) == 3
    assert len(json.loads(cli("stats", "--window", "90m", "--json").out)["runs"]) == 1  # the flag wins
    monkeypatch.setenv("ORCH_PANEL_WINDOW_H", "soon")
    bad = cli("stats")
    assert bad.code == 2 and "ORCH_PANEL_WINDOW_H" in bad.err


def test_stats_on_an_empty_history_says_so_and_exits_0(cli):
    result = cli("stats")
    assert result.code == 0 and result.out == "no runs in the last 24h\n"
    assert cli("stats", "--window", "90m").out == "no runs in the last 90m\n"
    data = json.loads(cli("stats", "--json").out)
    assert data["runs"] == [] and data["tasks"]["overall"]["ok"] == 0


@pytest.mark.parametrize("window", ["soon", "-1h", "0", "24hours"])
def test_a_bad_window_is_a_one_line_usage_error(cli, window):
    result = cli("stats", "--window", window)
    assert result.code == 2
    assert result.err.startswith("dagctl: error: --window") and result.err.count("\n") == 1
    assert result.out == ""


def test_running_runs_of_dead_owners_show_as_abandoned(cli, logs):
    h = History(logs)
    me = {"host": hostname(), "pid": os.getpid()}
    h.run(
        "20260101-000000.000-a11111",
        30,
        {"a": ("ok", 1.0)},
        status=None,
        **me,
        pid_start=process_start_ticks(os.getpid()),
    )
    h.run("20260101-000000.000-d22222", 20, {"a": ("ok", 1.0)}, status=None, **me, pid_start=1.0)  # pid reused
    h.run("20260101-000000.000-e33333", 10, {"a": ("ok", 1.0)}, status=None, host="elsewhere", pid=1)
    h.save()
    runs = {r["run_id"][-6:]: r["status"] for r in json.loads(cli("stats", "--json").out)["runs"]}
    assert runs == {"a11111": "running", "d22222": "abandoned", "e33333": "running"}  # can't judge other hosts


def test_stats_reads_what_the_runner_wrote(cli, tmp_path):
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        textwrap.dedent("""
        name: hello
        tasks:
          - {id: a, run: "true"}
          - {id: b, run: "exit 3", depends_on: a}
          - {id: c, run: "true", depends_on: b}
        """).lstrip()
    )
    assert cli("run", str(dag), "-q").code == 1
    data = json.loads(cli("stats", "--json").out)
    (run,) = data["runs"]
    assert (run["dag_name"], run["status"], run["tasks_ok"], run["tasks_failed"], run["tasks_skipped"]) == (
        "hello",
        "failed",
        1,
        1,
        1,
    )
    assert run["trigger"] == "manual" and run["duration"] is not None
    assert data["tasks"]["overall"]["error_rate"] == 0.5
    assert datetime.fromisoformat(run["start"].replace("Z", "+00:00")) <= SystemClock().now()


def test_a_matrix_task_counts_its_cells_executions_once_and_takes_its_status(cli, tmp_path):
    """Its cells ran; the matrix task's own outcome (`2 of 3 cells succeeded, 3 needed`) was counted as one more
    execution: 2 ok and 2 failed for three cells, and its time counted twice."""
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        textwrap.dedent("""
        name: grid
        tasks:
          - {id: t, matrix: {n: [1, 2, 3]}, run: 'test ${matrix.n} != 3'}
        """).lstrip()
    )
    assert cli("run", str(dag), "-q").code == 1
    data = json.loads(cli("stats", "--json").out)
    (row,) = data["tasks"]["tasks"]
    assert (row["task_id"], row["ok"], row["failed"], row["last_status"]) == ("t", 2, 1, "failed")
    assert data["tasks"]["overall"]["failed"] == 1 and data["tenants"][0]["tasks"] == 3


def test_stats_help_has_examples(cli):
    result = cli("stats", "--help")
    assert result.code == 0 and "dagctl stats --window 7d" in result.out


def test_an_unreadable_event_log_is_a_one_line_error(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_EVENTS_PATH", str(tmp_path))
    result = cli("stats")
    assert result.code == 3 and result.err.startswith("dagctl: error: cannot read") and result.err.count("\n") == 1
    assert "it is a directory" in result.err
