"""The scheduler's queue launcher (QUEUE_BACKEND=redis) while no worker takes its job: it waited in silence, for
ever, even from `schedule --once`. A real redis-server with no worker; time is a FakeClock, so the minutes of the
reminders and of the give-up pass in a second."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.run.state import RunControl
from dagctl.schedule.files import load_schedule_dir
from dagctl.schedule.launchers import QUEUE_REMIND_S, RunRequest, queue_launcher
from dagctl.schedule.slots import Slot
from tests.service_helpers import RedisServer, require_services

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    require_services()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def request_for(tmp_path: Path) -> RunRequest:
    (tmp_path / "dag.yaml").write_text("name: lonely\ntasks:\n  - {id: t, run: 'echo never'}\n")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "s.yaml").write_text('- {id: lonely, cron: "* * * * *", dag: ../dag.yaml}\n')
    (schedule,) = load_schedule_dir(tmp_path / "schedules")
    fire = datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)
    return RunRequest(schedule, Slot("lonely", fire, "2026-03-08T07:00"), "20260308-070001.000-abcdef")


def test_a_job_no_worker_takes_is_reported_at_once_and_every_few_minutes_and_once_gives_up(redis, tmp_path, caplog):
    launcher = queue_launcher(broker=redis.url, clock=FakeClock(), give_up_s=2 * QUEUE_REMIND_S + 60)
    try:
        with caplog.at_level(logging.WARNING, logger="dagctl.scheduler"):
            outcome = launcher(request_for(tmp_path), RunControl())
        job = launcher.run_queue.job("lonely@2026-03-08T07:00:00+00:00")
    finally:
        launcher.close()
    said = [r.getMessage() for r in caplog.records if "waits for a dagctl worker" in r.getMessage()]
    assert len(said) == 3, said  # at once, then every QUEUE_REMIND_S (5 minutes)
    assert said[0] == (
        "lonely@2026-03-08T07:00:00Z: queue job lonely@2026-03-08T07:00:00+00:00 waits for a dagctl worker: no "
        "worker is alive on queue 'dagctl' (start one: dagctl worker --queues dagctl)"
    )
    assert "no worker is alive on queue 'dagctl' for 5m (start one" in said[1] and "'dagctl' for 10m (" in said[2]
    assert outcome.status == "cancelled" and outcome.run_id == "20260308-070001.000-abcdef"
    assert outcome.error == (
        "no dagctl worker took queue job lonely@2026-03-08T07:00:00+00:00: none was alive on queue 'dagctl' for "
        "11m; the job stays on the queue and runs when a worker starts (dagctl worker --queues dagctl), or remove "
        "it: dagctl queue remove lonely@2026-03-08T07:00:00+00:00"
    )
    assert job is not None and job["state"] == "pending"
