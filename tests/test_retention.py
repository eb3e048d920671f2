"""Retention: retention: of dagctl.yaml applied by the scheduler at most once a day (schedule.retention)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.run.api import run_dag
from dagctl.run.cache import CacheStore
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.loop import Scheduler
from dagctl.schedule.retention import Retention, retention_due
from dagctl.settings import Settings
from dagctl.store import prune as prune_module
from dagctl.store.history import History
from dagctl.store.state import StateStore
from tests.conftest import ROOT, logs_under
from tests.test_scheduler_loop import FakeLauncher

UTC = timezone.utc
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
POLICY = "retention: {keep_days: 30, keep_last: 1, cache_max: 3000}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    logs_under(tmp_path, monkeypatch)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "dagctl.yaml").write_text(POLICY)
    (tmp_path / "a.yaml").write_text("name: a\ntasks:\n  - {id: t, run: 'true'}\n")
    (tmp_path / "b.yaml").write_text("name: b\ntasks:\n  - {id: t, run: 'true'}\n")
    return tmp_path


def make_runs(project: Path, settings: Settings, *, days_ago: float, per_dag: int) -> list[str]:
    clock = FakeClock(NOW - timedelta(days=days_ago))
    ids = []
    for _ in range(per_dag):
        for name in ("a.yaml", "b.yaml"):
            ids.append(run_dag(project / name, settings=settings, clock=clock).run_id)
            clock.advance(60)
    return ids


def fill_cache(settings: Settings, count: int) -> CacheStore:
    store = CacheStore(settings.task_cache_dir)
    for i in range(count):
        store.put(f"{i:02d}" + "0" * 62, outputs={"x": "y" * 900}, log=None, about={}, now=float(i))
        path = store.root / f"{i:02d}" / f"{i:02d}{'0' * 62}.json"
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # least recently used: the lowest i
    return store


def log_records(settings: Settings) -> list[dict]:
    path = settings.logs_dir / "retention.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ------------------------------------------------------------------------------------------- the rule


def test_a_pass_is_due_a_day_after_the_last_one_began() -> None:
    assert retention_due(None, NOW)
    assert not retention_due(NOW - timedelta(hours=23, minutes=59), NOW)
    assert retention_due(NOW - timedelta(days=1), NOW)
    assert not retention_due(NOW + timedelta(hours=1), NOW)  # a clock set back a little: still waits
    assert retention_due(NOW + timedelta(days=3), NOW)  # a clock set back days: not blocked for good


# ------------------------------------------------------------------------------------------- one pass


def test_a_pass_prunes_old_runs_keeps_the_newest_per_dag_and_trims_the_cache(project: Path) -> None:
    settings = Settings.from_env()
    old = make_runs(project, settings, days_ago=60, per_dag=2)
    new = make_runs(project, settings, days_ago=1, per_dag=1)
    fill_cache(settings, 5)
    clock = FakeClock(NOW)
    retention = Retention(settings, project / "schedules", clock=clock)
    report = retention.run_if_due()
    assert report is not None and report.error is None
    assert report.runs_removed == 4 and report.cache_entries_dropped == 3
    assert sorted(History(settings).run_ids()) == sorted(new)
    assert not any(rid in settings.events_path.read_text() for rid in old)  # the event log was compacted too
    assert len(list(CacheStore(settings.task_cache_dir).entries())) == 2
    started, finished = log_records(settings)
    assert started["event"] == "retention_started" and started["ts"] == "2026-12-06T12:00:00.000Z"
    assert started["policy"] == {"keep_days": 30, "keep_last": 1, "cache_max": 3000}
    assert finished["event"] == "retention_finished" and finished["runs_removed"] == 4


def test_keep_last_alone_keeps_that_many_runs_of_each_dag_whatever_their_age(project: Path) -> None:
    (project / "dagctl.yaml").write_text("retention: {keep_last: 1}\n")
    settings = Settings.from_env()
    make_runs(project, settings, days_ago=0.5, per_dag=3)
    report = Retention(settings, project / "schedules", clock=FakeClock(NOW)).run_if_due()
    assert report is not None and report.runs_removed == 4 and report.cache_entries_dropped == 0
    assert sorted(s.dag_name for s in History(settings).summaries()) == ["a", "b"]


def test_at_most_one_pass_a_day_by_the_injected_clock(project: Path) -> None:
    settings = Settings.from_env()
    clock = FakeClock(NOW)
    retention = Retention(settings, project / "schedules", clock=clock)
    assert retention.run_if_due() is not None
    clock.advance(23 * 3600 + 3599)
    assert retention.run_if_due() is None
    clock.advance(1)
    assert retention.run_if_due() is not None
    assert [r["ts"] for r in log_records(settings) if r["event"] == "retention_started"] == [
        "2026-12-06T12:00:00.000Z",
        "2026-12-07T12:00:00.000Z",
    ]


def test_two_schedulers_sharing_the_logs_folder_make_one_pass(project: Path) -> None:
    settings = Settings.from_env()
    make_runs(project, settings, days_ago=60, per_dag=2)
    clock = FakeClock(NOW)
    retentions = [Retention(settings, project / "schedules", clock=clock) for _ in range(6)]
    reports: list[object] = []
    gate = threading.Barrier(len(retentions))

    def go(retention: Retention) -> None:
        gate.wait()
        reports.append(retention.run_if_due())

    threads = [threading.Thread(target=go, args=(r,)) for r in retentions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in reports if r is not None) == 1
    assert [r["event"] for r in log_records(settings)] == ["retention_started", "retention_finished"]


def test_a_failing_prune_removes_nothing_is_recorded_and_waits_for_the_next_day(project: Path, monkeypatch) -> None:
    settings = Settings.from_env()
    old = make_runs(project, settings, days_ago=60, per_dag=2)
    fill_cache(settings, 5)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted", str(settings.events_path))

    monkeypatch.setattr(prune_module, "rewrite_atomic", refuse)
    clock = FakeClock(NOW)
    retention = Retention(settings, project / "schedules", clock=clock)
    report = retention.run_if_due()
    assert report is not None and report.error is not None and report.error.startswith("prune: cannot compact")
    assert report.cache_entries_dropped == 3  # the cache is trimmed all the same
    assert set(old) <= set(History(settings).run_ids())  # all or nothing: nothing was removed
    assert log_records(settings)[-1]["error"] == report.error
    clock.advance(3600)
    assert retention.run_if_due() is None


def test_no_retention_key_or_a_broken_config_means_no_pass(project: Path, caplog) -> None:
    settings = Settings.from_env()
    (project / "dagctl.yaml").write_text("workflows: {}\n")
    assert Retention(settings, project / "schedules", clock=FakeClock(NOW)).run_if_due() is None
    (project / "dagctl.yaml").write_text("retention: {keep_dayz: 3}\n")
    assert Retention(settings, project / "schedules", clock=FakeClock(NOW)).run_if_due() is None
    assert "unknown key 'retention.keep_dayz'" in caplog.text
    (project / "dagctl.yaml").unlink()
    assert Retention(settings, project / "schedules", clock=FakeClock(NOW)).run_if_due() is None
    assert log_records(settings) == []


# ----------------------------------------------------------------------------------- in the scheduler


def test_schedule_once_applies_retention_after_its_runs(project: Path) -> None:
    settings = Settings.from_env()
    make_runs(project, settings, days_ago=60, per_dag=2)
    clock = FakeClock(NOW)
    launcher = FakeLauncher()
    schedules = [ScheduleSpec(id="s", cron="* * * * *", dag="a.yaml")]
    with StateStore(settings.state_path, clock, fsync=False) as store:
        scheduler = Scheduler(
            schedules, store, launcher, clock=clock, retention=Retention(settings, project, clock=clock)
        )
        assert scheduler.run_once(NOW) == 0
        assert len(launcher.calls) == 1 and len(scheduler.retention.passes) == 1  # type: ignore[union-attr]
        clock.advance(60)
        assert scheduler.run_once() == 0
        assert len(scheduler.retention.passes) == 1  # type: ignore[union-attr]


def test_schedule_serve_makes_a_pass_a_day_while_it_ticks(project: Path) -> None:
    settings = Settings.from_env()
    clock = FakeClock(NOW)
    launcher = FakeLauncher()
    schedules = [ScheduleSpec(id="s", cron="0 * * * *", dag="a.yaml")]
    with StateStore(settings.state_path, clock, fsync=False) as store:
        retention = Retention(settings, project, clock=clock)
        scheduler = Scheduler(schedules, store, launcher, clock=clock, retention=retention)
        assert scheduler.serve(tick_s=600, max_ticks=6 * 50) == 0  # 50 hours of virtual time
    starts = [r["ts"] for r in log_records(settings) if r["event"] == "retention_started"]
    assert len(starts) == 3  # hours 0, 24 and 48
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in starts]
    assert all(b - a >= timedelta(days=1) for a, b in itertools.pairwise(times))
    assert len(launcher.calls) >= 49  # the hourly runs went on


# ----------------------------------------------------------------------------------- real processes


def test_schedule_once_processes_prune_once_a_day(project: Path) -> None:
    settings = Settings.from_env()
    old = make_runs(project, settings, days_ago=60, per_dag=2)
    (project / "schedules" / "s.yaml").write_text('- {id: s, cron: "0 0 1 1 *", dag: ../a.yaml}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dagctl", "schedule", "--once", "--dir", "schedules"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = once()
    assert first.returncode == 0, first.stderr
    assert "retention: removed 2 run(s)" in first.stderr
    assert set(History(settings).run_ids()) == set(old[-2:])  # the newest of each DAG is kept
    second = once()
    assert second.returncode == 0 and "retention" not in second.stderr
    assert [r["event"] for r in log_records(settings)] == ["retention_started", "retention_finished"]


def test_schedule_serve_process_makes_its_pass_and_a_once_beside_it_does_not(project: Path) -> None:
    from tests.cli.test_schedule_cli import Proc

    settings = Settings.from_env()
    old = make_runs(project, settings, days_ago=60, per_dag=2)
    (project / "schedules" / "s.yaml").write_text('- {id: s, cron: "0 0 1 1 *", dag: ../a.yaml}\n')
    serve = Proc("schedule", "--serve", "--dir", "schedules", cwd=project, env={"SCHED_TICK_MS": "50"})
    try:
        serve.wait_line("retention: removed 2 run(s)")
        beside = subprocess.run(
            [sys.executable, "-m", "dagctl", "schedule", "--once", "--dir", "schedules"],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert beside.returncode == 0 and "retention" not in beside.stderr
        serve.popen.terminate()
        code, _out, err = serve.finish()
    finally:
        serve.kill()
    assert code == 0, err
    assert set(History(settings).run_ids()) == set(old[-2:])
    assert [r["event"] for r in log_records(settings)] == ["retention_started", "retention_finished"]
