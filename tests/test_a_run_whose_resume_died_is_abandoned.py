"""A resumed run whose resuming process died (SIGKILL of `dagctl resume`) is abandoned again, like any run whose
process died: the `dag_done` written before its `dag_resume` (paused, or abandoned before) is not its end, and the
process that owns it is the one its `dag_resume` names. It used to stay `running` forever: `resume` refused it,
`retry` said it was still running, `cancel` asked nobody, and `prune` kept it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dagctl.host import hostname, process_start_ticks
from dagctl.run.resume import prepare_resume, prepare_retry
from dagctl.settings import Settings
from dagctl.store.events import format_ts
from dagctl.store.history import History
from dagctl.store.jsonl import append_record, iter_records
from dagctl.store.layout import events_file
from dagctl.store.prune import prune
from tests.conftest import ROOT
from tests.support import wait_until

RUN = "20261207-030000.000-a1b2c3"
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
DAG = "name: pz\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: a}\n"


def rec(event: str, seconds: float, **fields: Any) -> dict[str, Any]:
    ts = format_ts(T0 + timedelta(seconds=seconds))
    return {"v": 1, "ts": ts, "event": event, "run_id": RUN, "dag_name": "pz", "tenant_id": "default", **fields}


def dead_owner() -> dict[str, Any]:
    """This host and this test's own pid, with another start time: a process that died (its pid since reused)."""
    return {"host": hostname(), "pid": os.getpid(), "pid_start": 1.0}


def write_run(settings: Settings, records: list[dict[str, Any]]) -> History:
    """A run as dagctl writes it: its folder with its DAG snapshot and its events, which the event log has too."""
    folder = settings.runs_dir / RUN
    folder.mkdir(parents=True)
    (folder / "dag.yaml").write_text(DAG)
    for record in records:
        append_record(events_file(folder), record)
        append_record(settings.events_path, record)
    return History(settings)


def resumed_then_killed(first_end: str) -> list[dict[str, Any]]:
    return [
        rec("dag_start", 0, tasks=2, **dead_owner()),
        rec("task_start", 0, task_id="a", attempt=1),
        rec("task_ok", 1, task_id="a", attempt=1, duration_s=1.0),
        rec("dag_done", 1, status=first_end, duration_s=1.0, tasks_succeeded=1),
        rec("dag_resume", 5, reused=1, **dead_owner()),
        rec("task_start", 5, task_id="b", attempt=1),
    ]


def test_a_paused_run_whose_resume_was_killed_is_abandoned_and_can_be_resumed_or_retried(project: Path) -> None:
    settings = Settings.from_env()
    history = write_run(settings, resumed_then_killed("paused"))
    run = history.summary(RUN)
    assert run.status == "abandoned"
    assert run.error is not None and f"owner process {os.getpid()} on {hostname()} died" in run.error
    assert run.tasks["b"].status == "cancelled"
    done = [r["status"] for r in iter_records(events_file(history.run_dir(RUN))) if r["event"] == "dag_done"]
    assert done == ["paused", "abandoned"]  # recorded once, after the resume
    assert [r["status"] for r in iter_records(settings.events_path) if r["event"] == "dag_done"] == done
    history.summary(RUN)
    assert len([r for r in iter_records(settings.events_path) if r["event"] == "dag_done"]) == 2  # exactly once
    assert prepare_resume(history, RUN).resume  # `dagctl resume` goes on with it
    assert prepare_retry(history, RUN).parent == RUN  # and `dagctl retry` takes it


def test_an_abandoned_run_whose_resume_was_killed_is_abandoned_again_and_pruned(project: Path) -> None:
    settings = Settings.from_env()
    history = write_run(settings, resumed_then_killed("abandoned"))
    assert history.summary(RUN).status == "abandoned"
    done = [r["status"] for r in iter_records(events_file(history.run_dir(RUN))) if r["event"] == "dag_done"]
    assert done == ["abandoned", "abandoned"]
    report = prune(history, older_than=timedelta(seconds=0))
    assert report.removed == [RUN] and report.kept_running == []


def test_a_resume_that_still_runs_keeps_its_run_running(project: Path) -> None:
    settings = Settings.from_env()
    alive = {"host": hostname(), "pid": os.getpid(), "pid_start": process_start_ticks(os.getpid())}
    records = resumed_then_killed("paused")
    records[4] = rec("dag_resume", 5, reused=1, **alive)
    history = write_run(settings, records)
    assert history.summary(RUN).status == "running"
    assert [r["status"] for r in iter_records(settings.events_path) if r["event"] == "dag_done"] == ["paused"]


def dagctl(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "dagctl", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_sigkill_of_dagctl_resume_leaves_a_run_that_runs_resume_and_retry_handle(project: Path) -> None:
    """The QA scenario, with real processes: run, pause, resume, SIGKILL the resume; then `runs` says abandoned
    and `dagctl resume` finishes the run."""
    (project / "pz.yaml").write_text(
        "name: pz\ntasks:\n  - {id: a, run: sleep 1}\n  - {id: b, run: 'test -e go || sleep 60', depends_on: a}\n"
    )
    log = project / "logs" / "orchestrator_events.jsonl"

    def kinds() -> list[str]:
        return [r["event"] + ":" + str(r.get("task_id", "")) for r in iter_records(log)]

    run = dagctl(project, "run", "pz.yaml", "-q")
    resume = None
    try:
        wait_until(lambda: log.exists() and "task_start:a" in kinds(), what="task a started")
        assert finish(dagctl(project, "pause", "latest"))[0] == 0
        code, _, err = finish(run)
        assert code == 0, err
        resume = dagctl(project, "resume", "latest", "-q")
        wait_until(lambda: "task_start:b" in kinds(), what="the resumed run started b")
        os.kill(resume.pid, signal.SIGKILL)
        resume.wait(timeout=10)
        (project / "go").touch()
        code, out, err = finish(dagctl(project, "runs", "--json"))
        assert code == 0, err
        assert [r["status"] for r in json.loads(out)] == ["abandoned"]
        code, out, err = finish(dagctl(project, "resume", "latest", "--json"))
        assert code == 0, err
        assert json.loads(out)["status"] == "success"
    finally:
        for proc in (run, resume):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
