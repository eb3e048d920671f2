"""SCHED_MAX_JOBS_PER_DRAIN: the queue drain of a worker's housekeeping (Ledger.recover_jobs) takes at most that
many running jobs per pass, and goes on where it stopped, so a lost job is never starved."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from dagctl.errors import UsageError
from dagctl.run.executors.celery_config import CeleryConfig
from dagctl.settings import BY_NAME
from tests.conftest import ROOT
from tests.service_helpers import RedisServer, require_services


def test_the_variable_is_declared_with_a_range_and_read_by_the_celery_config() -> None:
    var = BY_NAME["SCHED_MAX_JOBS_PER_DRAIN"]
    assert (var.kind, var.default, var.minimum, var.maximum) == ("int", 100, 1, 100_000)
    assert CeleryConfig.from_env({}).max_jobs_per_drain == 100
    assert CeleryConfig.from_env({"SCHED_MAX_JOBS_PER_DRAIN": "25"}).max_jobs_per_drain == 25
    with pytest.raises(UsageError, match="SCHED_MAX_JOBS_PER_DRAIN='0' is out of range: expected a whole number"):
        CeleryConfig.from_env({"SCHED_MAX_JOBS_PER_DRAIN": "0"})


def test_a_bad_value_stops_every_command_at_its_start(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SCHED_MAX_JOBS_PER_DRAIN": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "dagctl", "runs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SCHED_MAX_JOBS_PER_DRAIN='lots' is not valid: expected a whole number from 1 to 100000" in result.stderr


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    require_services()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def _running_jobs(ledger, count: int, *, lost: bool) -> list[str]:
    """``count`` jobs claimed by a worker; with ``lost`` its leases are gone, as when the worker was killed."""
    ids = []
    for _ in range(count):
        job_id = f"drain-{uuid.uuid4().hex[:10]}"
        assert ledger.create_job(job_id, {"id": job_id, "queue": "dq", "dag_path": "/x.yaml"})
        assert ledger.claim_job(job_id, 1, "w1:1:1", "w1")[0] == "claimed"
        if lost:
            ledger.redis.delete(ledger.job_keys(job_id)[1])
        ids.append(job_id)
    return ids


@pytest.mark.service
def test_each_pass_requeues_at_most_the_limit_and_the_next_goes_on(redis_server) -> None:
    from dagctl.run.executors.celery_ledger import Ledger

    client = redis_server.client()
    client.flushdb()
    ledger = Ledger(client, CeleryConfig.from_env({"SCHED_MAX_JOBS_PER_DRAIN": "3"}, broker=redis_server.url))
    lost = _running_jobs(ledger, 7, lost=True)
    passes = [ledger.recover_jobs() for _ in range(4)]
    assert [len(p) for p in passes] == [3, 3, 1, 0]
    assert sorted(job for p in passes for job, _delivery, _queue in p) == sorted(lost)
    assert all(delivery == 2 and queue == "dq" for p in passes for _job, delivery, queue in p)
    assert all(ledger.job(job)["state"] == "retry" for job in lost)


@pytest.mark.service
def test_healthy_jobs_do_not_starve_a_lost_one(redis_server) -> None:
    from dagctl.run.executors.celery_ledger import Ledger

    client = redis_server.client()
    client.flushdb()
    ledger = Ledger(client, CeleryConfig.from_env({}, broker=redis_server.url, max_jobs_per_drain=2))
    alive = _running_jobs(ledger, 5, lost=False)
    (lost,) = _running_jobs(ledger, 1, lost=True)
    requeued = [job for _ in range(3) for job, _d, _q in ledger.recover_jobs()]
    assert requeued == [lost]  # found within ceil(6 / 2) passes
    assert all(ledger.job(job)["state"] == "running" for job in alive)
    assert [job for job, _d, _q in ledger.recover_jobs(limit=100)] == []  # an explicit limit wins
