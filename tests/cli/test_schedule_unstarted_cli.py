"""A scheduled run whose DAG no longer loads is still a run: `dagctl runs` lists it and `dagctl show RUN` shows it
failed with the load error, under the run id the scheduler logged (a real `dagctl schedule --once` process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from dagctl.settings import Settings
from dagctl.store.unstarted import record_unstarted_run
from tests.conftest import ROOT


def _dagctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(project / "logs"), "NO_COLOR": "1"}
    for key in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_scheduled_run_whose_dag_fails_to_load_is_a_failed_run_with_the_reason(project: Path) -> None:
    dag = project / "configs" / "dags" / "note.yaml"
    dag.write_text("name: note\ntasks:\n  - {id: n, run: 'echo hi'}\n")
    (project / "configs" / "schedules" / "s.yaml").write_text('- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    dag.write_text("name: note\ntasks:\n  - {id: n, rnu: 'echo hi'}\n")  # broken after the schedule was written

    once = _dagctl(project, "schedule", "--once", "--dir", "configs/schedules", "--now", "2026-03-08T07:00:05Z")
    assert once.returncode == 1, once.stderr
    logged = re.search(r"finished a@2026-03-08T07:00:00Z: run (\S+) failed: (.*)$", once.stderr, re.M)
    assert logged, once.stderr
    run_id, reason = logged.groups()
    assert "unknown key 'rnu' in task 'n'" in reason and ":3:13: " in reason

    runs = _dagctl(project, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    (listed,) = json.loads(runs.stdout)
    assert (listed["run_id"], listed["status"], listed["trigger"]) == (run_id, "failed", "schedule")

    show = _dagctl(project, "show", run_id, "--json")
    assert show.returncode == 0, show.stderr
    summary = json.loads(show.stdout)
    assert summary["status"] == "failed" and summary["error"] == reason
    assert (summary["schedule_id"], summary["logical_date"]) == ("a", "2026-03-08T07:00:00+00:00")
    assert summary["dag_name"] == "note" and summary["tasks"] == {}
    text = _dagctl(project, "show", run_id)
    assert text.returncode == 0 and "unknown key 'rnu'" in text.stdout

    # the same record is in the global event log (stats) and the state log names the same run
    events = [json.loads(line) for line in (project / "logs" / "orchestrator_events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["run_id"]) for e in events] == [("dag_start", run_id), ("dag_done", run_id)]
    state = [json.loads(line) for line in (project / "logs" / "orchestrator_state.jsonl").read_text().splitlines()]
    finished = [r for r in state if r["event"] == "run_finished"]
    assert [(r["run_id"], r["status"], r["error"]) for r in finished] == [(run_id, "failed", reason)]


def test_a_run_that_started_is_not_recorded_again(project: Path) -> None:
    settings = Settings.from_env()
    kwargs = {"run_id": "20260308-070000.000-abcdef", "dag_name": "d", "error": "boom"}
    assert record_unstarted_run(settings, **kwargs) is True
    assert record_unstarted_run(settings, **kwargs) is False  # its folder has events: its runner owns its end
    lines = (settings.runs_dir / kwargs["run_id"] / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["dag_start", "dag_done"]
