"""The Celery executor when the broker itself fails: real redis-server, real `dagctl worker` processes.

* Redis restarted **empty** mid-run: the attempt running on a worker finishes and is kept; attempts whose
  messages were lost are detected within the lease (the coordinator's marker key vanished, and no worker
  renews a lease on them) and fail with the true reason, or are retried when the task has ``retries:``.
* Redis **paused** (SIGSTOP): in-flight attempts fail ``broker_lost_s`` after its last answer (not after
  two socket timeouts, not never), and once it answers again they are stopped on their workers.
* The scheduler's run queue (``QUEUE_BACKEND=redis``): a job lost with the broker's data ends its wait as a
  failed run with that reason, which ``dagctl show`` knows.

Each test starts its own redis-server (it is restarted or paused) and its own workers; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.sinks import MemorySink
from tests.service_helpers import RedisServer, Worker, require_services, worker_env, workers
from tests.support import process_alive, wait_until

pytestmark = pytest.mark.service

WORKER_ENV = {"DAGCTL_WORKER_LEASE": "1.5"}  # workers renew their leases every 0.5 s


@pytest.fixture
def redis(tmp_path):
    require_services()
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)  # a paused one must be able to die
        server.stop()


def executor_for(server: RedisServer, remind_s: float = 60.0, **overrides):
    from dagctl.run.executors.celery import CeleryExecutor
    from dagctl.run.executors.celery_config import CeleryConfig

    return CeleryExecutor(CeleryConfig.from_env({}, broker=server.url, **overrides), remind_s=remind_s)


def write_dag(folder: Path, text: str, name: str = "dag.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def restart_empty(server: RedisServer) -> None:
    """Kill redis-server and start a fresh one on the same port, without data (no persistence)."""
    server.stop()
    server.start()


def test_broker_restarted_empty_mid_run_keeps_finished_work_and_fails_or_retries_lost_attempts(redis, tmp_path):
    marks = tmp_path / "marks.txt"
    dag = write_dag(
        tmp_path,
        f"""
        name: restart
        options: {{parallelism: 3}}
        tasks:
          - {{id: long, queue: rq, run: "echo long >> {marks}; sleep 4"}}
          - {{id: again, queue: nq, retries: 1, run: "echo again >> {marks}"}}
          - {{id: gone, queue: nq, run: "echo gone >> {marks}"}}
        """,
    )
    restarted: list[float] = []
    late: list[Worker] = []

    def restart_while_long_runs() -> None:
        client = redis.client()
        wait_until(marks.exists, 30, "the long task to start")
        wait_until(lambda: client.llen("nq") == 2, 30, "`again` and `gone` waiting in queue nq (no worker yet)")
        restart_empty(redis)
        restarted.append(time.monotonic())
        late.append(Worker(redis.url, tmp_path / "w", "n1", queues="nq", concurrency=1, env=WORKER_ENV))

    with workers(redis, tmp_path / "w", {"name": "r1", "queues": "rq", "concurrency": 1, "env": WORKER_ENV}):
        threading.Thread(target=restart_while_long_runs, daemon=True).start()
        executor = executor_for(redis, lease_s=3.0)
        sink = MemorySink()
        failed_at: list[float] = []
        original = sink.emit
        sink.emit = lambda e: (failed_at.append(time.monotonic()) if e.kind == "task_fail" else None, original(e))[1]
        try:
            result = run_dag(
                dag,
                executor=executor,
                sinks=[sink],
                settings=Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")}),
                run_id=f"restart-{uuid.uuid4().hex[:8]}",
                timeout=60,  # the whole run: before the fix it waited for ever for the lost attempts
            )
        finally:
            executor.shutdown()
            for worker in late:
                worker.stop()
    assert restarted, "redis was not restarted"
    tasks = result.tasks
    assert tasks["long"].status == "success"  # ran through the restart; its result was kept
    assert tasks["again"].status == "success" and tasks["again"].attempt == 2  # lost, then retried (retries: 1)
    assert tasks["gone"].status == "failed"
    assert tasks["gone"].error.startswith("the broker lost this attempt (restarted empty?): ")
    (lost,) = [e for e in sink.of("task_fail") if e.task_id == "gone"]
    assert lost.error == tasks["gone"].error
    (retried,) = sink.of("task_retry", "again")
    assert retried.error == tasks["gone"].error
    # detected within the coordinator's lease (3 s) plus a ledger check (0.5 s) and reconnecting
    assert failed_at and min(failed_at) - restarted[0] < 3.0 + 2.0, min(failed_at) - restarted[0]
    assert sorted(marks.read_text().split()) == ["again", "long"]  # the lost attempts never ran; the retry did
    assert "timed out" not in json.dumps(result.summary())


def test_broker_paused_fails_in_flight_attempts_after_broker_lost_then_stops_them_on_the_worker(redis, tmp_path):
    pid_file = tmp_path / "task.pid"
    dag = write_dag(
        tmp_path,
        f"""
        name: paused
        tasks:
          - {{id: long, queue: pq, run: "echo $$ > {pid_file}; sleep 60"}}
        """,
    )
    client = redis.client()
    stopped: list[float] = []
    run_id = f"paused-{uuid.uuid4().hex[:8]}"

    def pause_when_running() -> None:
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the task to start")
        os.kill(redis.proc.pid, signal.SIGSTOP)
        stopped.append(time.monotonic())

    with workers(redis, tmp_path / "w", {"name": "p1", "queues": "pq", "concurrency": 1, "env": WORKER_ENV}):
        threading.Thread(target=pause_when_running, daemon=True).start()
        executor = executor_for(redis, broker_lost_s=2.0, connect_timeout=1.0)
        sink = MemorySink()
        try:
            result = run_dag(
                dag,
                executor=executor,
                sinks=[sink],
                settings=Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")}),
                run_id=run_id,
                timeout=60,  # the whole run: before the fix it waited as long as the broker was paused
            )
            failed = time.monotonic()
            task_pid = int(pid_file.read_text())
            assert process_alive(task_pid)  # the worker cannot be told yet
            os.kill(redis.proc.pid, signal.SIGCONT)
            # the broker answers again: the coordinator (still up) cancels the attempt in the ledger, the
            # worker's next lease renewal reads it and stops the task's process group
            wait_until(
                lambda: client.hget(f"dagctl:attempt:{run_id}/long/1", "cancel") == b"cancelled", 15, "the fence"
            )
            wait_until(lambda: not process_alive(task_pid), 15, "the task stopped on its worker")
        finally:
            executor.shutdown()
    assert result.status == "failed"
    fail = sink.of("task_fail", "long")[0]
    assert fail.error.startswith(f"lost contact with the broker at {redis.url} for 2s (")
    # broker_lost_s (2 s) after its last answer, noticed within a probe (0.5 s) and a check (0.5 s)
    assert 1.5 <= failed - stopped[0] <= 2.0 + 1.5, failed - stopped[0]


def test_a_queued_run_lost_with_the_broker_is_a_failed_run_with_the_reason(redis, tmp_path):
    """`schedule --once` with QUEUE_BACKEND=redis and no worker: the job waits; redis restarts empty; the
    scheduler records the run as failed with the true reason within the lease, and `dagctl show` knows it."""
    (tmp_path / "dag.yaml").write_text("name: queued\ntasks:\n  - {id: a, run: 'echo never'}\n")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "s.yaml").write_text('- {id: q, cron: "* * * * *", dag: ../dag.yaml}\n')
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis", **WORKER_ENV}
    once = subprocess.Popen(
        [sys.executable, "-m", "dagctl", "schedule", "--once", "--dir", "schedules", "--now", "2026-03-08T07:00:05Z"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = redis.client()
        wait_until(lambda: client.exists("dagctl:job:q@2026-03-08T07:00:00+00:00"), 30, "the job enqueued")
        restart_empty(redis)
        restarted = time.monotonic()
        _out, err = once.communicate(timeout=60)
        took = time.monotonic() - restarted
    finally:
        if once.poll() is None:
            once.kill()
            once.communicate()
    assert once.returncode == 1, err
    assert took < 1.5 + 3.0, took
    state = [json.loads(line) for line in (tmp_path / "logs" / "orchestrator_state.jsonl").read_text().splitlines()]
    (finished,) = [r for r in state if r["event"] == "run_finished"]
    assert finished["status"] == "failed"
    assert finished["error"].startswith("the broker lost queue job q@2026-03-08T07:00:00+00:00 (restarted empty?)")
    show = subprocess.run(
        [sys.executable, "-m", "dagctl", "show", finished["run_id"], "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert show.returncode == 0, show.stderr
    summary = json.loads(show.stdout)
    assert summary["status"] == "failed" and summary["error"] == finished["error"]


def test_a_queued_run_whose_dag_does_not_load_is_recorded_as_failed_by_its_worker(redis, tmp_path):
    from dagctl.run.executors.celery import RunQueue, enqueue_run
    from dagctl.run.executors.celery_config import CeleryConfig

    dag = write_dag(tmp_path, "name: bad\ntasks:\n  - {id: a, rnu: 'echo never'}\n", "bad.yaml")
    with workers(redis, tmp_path / "w", {"name": "j1", "queues": "jq", "concurrency": 1}):
        job_id = enqueue_run(dag, broker=redis.url, queue="jq")
        with RunQueue(CeleryConfig.from_env({}, broker=redis.url)) as queue:
            job = wait_until(
                lambda: (queue.job(job_id) or {}).get("state") in ("success", "failed") and queue.job(job_id),
                30,
                "the job to end",
            )
    assert job["state"] == "failed" and "unknown key 'rnu'" in job["error"]
    env = {**worker_env(redis.url, tmp_path / "w" / "j1"), "NO_COLOR": "1"}  # the worker's DAGCTL_LOGS_DIR
    show = subprocess.run(
        [sys.executable, "-m", "dagctl", "show", job["run_id"], "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert show.returncode == 0, show.stderr
    summary = json.loads(show.stdout)
    assert summary["status"] == "failed" and "unknown key 'rnu'" in summary["error"]
    assert summary["trigger"] == "queue" and summary["tasks"] == {}


def test_a_worker_with_a_free_slot_lives_through_a_broker_restart_and_runs_what_comes_next(redis, tmp_path):
    """With one task in hand and a slot free, the worker died on the restart (kombu restoring its unacked message
    through a connection already gone: `'NoneType' object has no attribute 'hostname'`), and the run then waited
    for ever for its next task."""
    started = tmp_path / "started"
    dag = write_dag(
        tmp_path,
        f"""
        name: survive
        tasks:
          - {{id: first, run: "touch {started}; sleep 3"}}
          - {{id: after, depends_on: first, run: "true"}}
        """,
    )
    restarted: list[bool] = []

    def restart_while_first_runs() -> None:
        wait_until(started.exists, 30, "the first task to start")
        restart_empty(redis)
        restarted.append(True)

    with workers(redis, tmp_path / "w", {"name": "s1", "concurrency": 2, "env": WORKER_ENV}) as (worker,):
        threading.Thread(target=restart_while_first_runs, daemon=True).start()
        executor = executor_for(redis, lease_s=3.0)
        try:
            result = run_dag(
                dag,
                executor=executor,
                settings=Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")}),
                run_id=f"survive-{uuid.uuid4().hex[:8]}",
                timeout=60,
            )
        finally:
            executor.shutdown()
        assert restarted, "redis was not restarted"
        assert worker.proc.poll() is None, worker.output()[-3000:]
        assert "Unrecoverable error" not in worker.output()
    assert result.status == "success", result.summary()


def test_a_run_waiting_for_a_worker_that_is_not_there_says_so_again_and_again(redis, tmp_path, caplog):
    """The coordinator warned once, at the first send; a run whose workers had died waited on in silence."""
    import logging

    dag = write_dag(tmp_path, "name: lonely\ntasks:\n  - {id: a, queue: nobody, run: 'true'}\n")
    executor = executor_for(redis, remind_s=0.3)
    try:
        with caplog.at_level(logging.WARNING, logger="dagctl.run.executors.celery"):
            result = run_dag(
                dag,
                executor=executor,
                settings=Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")}),
                timeout=2,
            )
    finally:
        executor.shutdown()
    assert result.status == "failed" and result.tasks["a"].status == "cancelled"
    reminders = [r.getMessage() for r in caplog.records if "waiting for a dagctl worker" in r.getMessage()]
    assert len(reminders) >= 3, caplog.text
    assert reminders[-1].startswith("1 task(s) waiting for a dagctl worker on queue 'nobody' (the first for ")
    assert reminders[-1].endswith("no worker is alive on it (start one: dagctl worker --queues nobody)")


def test_the_reminder_counts_the_wait_from_when_the_task_was_sent(redis, tmp_path, caplog):
    """The first reminder, a minute after the task was sent, said `the first for 0s`; and the message of a task that
    timed out waiting stayed on its queue, unseen and never expiring."""
    import logging
    import re

    from dagctl.dag.durations import parse_duration

    dag = write_dag(tmp_path, "name: lonely\ntasks:\n  - {id: a, queue: nobody, run: 'true'}\n")
    executor = executor_for(redis, remind_s=1.5)
    try:
        with caplog.at_level(logging.WARNING, logger="dagctl.run.executors.celery"):
            run_dag(
                dag,
                executor=executor,
                settings=Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")}),
                timeout=2,
            )
    finally:
        executor.shutdown()
    reminders = [r.getMessage() for r in caplog.records if "waiting for a dagctl worker" in r.getMessage()]
    waited = re.search(r"\(the first for ([^)]+)\)", reminders[0])
    assert waited is not None and parse_duration(waited.group(1)) >= 0.7, reminders
    assert redis.client().llen("nobody") == 0  # its timed-out attempt's message does not wait there for ever


def test_a_broker_that_wants_a_password_is_not_called_unreachable(redis, tmp_path):
    """`cannot reach the broker … — start redis-server there` sent people to start a server that was running."""
    from dagctl.errors import ExecutorError
    from dagctl.run.executors.celery import CeleryExecutor

    redis.client().config_set("requirepass", "s3cret-pw")
    wrong = redis.url.replace("redis://", "redis://:nope@")
    for url in (redis.url, wrong):
        with pytest.raises(ExecutorError) as caught:
            CeleryExecutor(broker=url)
        text = str(caught.value)
        assert "refused dagctl's credentials" in text and "redis://:PASSWORD@HOST:PORT/DB" in text, text
        assert "nope" not in text and "s3cret-pw" not in text
