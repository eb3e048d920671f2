"""An abandoned run ends when it was last seen alive, not at its last event: a run of silent tasks (``sleep``)
writes no event for hours, so its last event says nothing of when it died. Its folder's ``.alive`` file, touched
while its process lives, is a sign of life like a write to its events file or to the log of a task it left
running; whatever the signs say, the end stays between the run's start and now."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dagctl.clock import FakeClock
from dagctl.host import hostname
from dagctl.settings import Settings
from dagctl.store.events import format_ts
from dagctl.store.history import History
from dagctl.store.jsonl import append_record
from dagctl.store.layout import alive_file, events_file

RUN = "20261207-030000.000-a1b2c3"
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
DEAD = {"host": hostname(), "pid": os.getpid(), "pid_start": 1.0}  # this pid, another start time: a dead process


def at(seconds: float) -> str:
    return format_ts(T0 + timedelta(seconds=seconds))


def rec(event: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "ts": at(seconds), "event": event, "run_id": RUN, "dag_name": "slow", **fields}


def touch(path: Path, seconds: float) -> None:
    when = (T0 + timedelta(seconds=seconds)).timestamp()
    os.utime(path, (when, when))


def silent_run(settings: Settings) -> Path:
    """A run whose two silent tasks started 15 ms in; every file it wrote dated then."""
    folder = settings.runs_dir / RUN
    folder.mkdir(parents=True)
    for tid in ("s1", "s2"):
        (folder / f"{tid}.log").touch()
        touch(folder / f"{tid}.log", 0.015)
    for record in (
        rec("dag_start", 0, tasks=3, **DEAD),
        rec("task_start", 0.015, task_id="s1", attempt=1, log_path=str(folder / "s1.log")),
        rec("task_start", 0.015, task_id="s2", attempt=1, log_path=str(folder / "s2.log")),
    ):
        append_record(events_file(folder), record)
    touch(events_file(folder), 0.022)
    return folder


def test_a_dead_run_of_silent_tasks_ends_when_its_process_was_last_seen_alive(project: Path) -> None:
    settings = Settings.from_env()
    folder = silent_run(settings)
    (folder / ".alive").touch()
    touch(alive_file(folder), 2.0)  # touched while it lived: killed about two seconds in
    run = History(settings, FakeClock(T0 + timedelta(hours=3))).summary(RUN)
    assert run.status == "abandoned"
    assert run.ended == T0 + timedelta(seconds=2) and run.duration_s == 2.0  # not 22 ms, not three hours
    assert {t.task_id: t.duration_s for t in run.tasks.values()} == {"s1": 1.985, "s2": 1.985}
    assert "last seen alive 2026-12-07 03:00:02 UTC" in (run.error or "")


def test_a_sign_of_life_after_now_is_no_later_than_now(project: Path) -> None:
    settings = Settings.from_env()
    folder = silent_run(settings)
    (folder / ".alive").touch()
    touch(alive_file(folder), 3600.0)  # a clock that ran ahead
    run = History(settings, FakeClock(T0 + timedelta(seconds=9))).summary(RUN)
    assert run.ended == T0 + timedelta(seconds=9)


def test_a_running_run_touches_its_alive_file_so_a_kill_dates_its_end(project: Path) -> None:
    """Nothing a run wrote changed while its tasks were silent: killed two seconds in, it ended at its last event,
    15 ms in. A run now touches ``.alive`` every second."""
    import signal
    import subprocess
    import sys

    from tests.support import wait_until

    (project / "slow.yaml").write_text("name: slow\ntasks:\n  - {id: s, run: sleep 60}\n")
    run = subprocess.Popen([sys.executable, "-m", "dagctl", "run", "slow.yaml", "-q"], env=dict(os.environ))
    try:
        settings = Settings.from_env()
        folder = wait_until(lambda: settings.runs_dir.is_dir() and next(settings.runs_dir.iterdir(), None), 30, "a run")
        wait_until(alive_file(folder).exists, 30, "the run's first sign of life")
        started = History(settings).summary(folder.name, detect_abandoned=False).started
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
    finally:
        run.kill()
    summary = History(settings).summary(folder.name)
    assert summary.status == "abandoned" and started is not None
    assert (summary.duration_s or 0) >= 0.9  # its end is its last sign of life, about a second in, not 15 ms
