"""Queued whole-DAG runs (QUEUE_BACKEND=redis) against a real redis-server and real `dagctl worker` processes:
cancelling them, taking them off the queue, running a slot again, and the code a worker runs after a deploy.

One Redis and one worker (queues ``dagctl`` and ``jq``) are shared by the module; tests that need a worker of their
own (one pool process, a name clash) start it on a queue of their own. Every wait is bounded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dagctl.run.api import run_dag
from dagctl.settings import Settings
from tests.service_helpers import RedisServer, Worker, require_services, worker_env, workers
from tests.support import process_alive, wait_until

pytestmark = pytest.mark.service

LEASE = {"DAGCTL_WORKER_LEASE": "1.5"}
SLOT = "2026-03-08T07:00:00+00:00"
NOW = "2026-03-08T07:00:05Z"


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    require_services()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(redis, tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    with workers(redis, folder, {"name": "q1", "queues": "dagctl,jq", "concurrency": 2, "env": LEASE}) as (started,):
        yield started


@pytest.fixture
def queue(redis):
    from dagctl.run.executors.celery import RunQueue
    from dagctl.run.executors.celery_config import CeleryConfig

    with RunQueue(CeleryConfig.from_env({}, broker=redis.url)) as run_queue:
        yield run_queue


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def dagctl(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def finished(queue, job_id: str, timeout: float = 30) -> dict:
    return wait_until(
        lambda: (queue.job(job_id) or {}).get("state") in ("success", "failed", "cancelled") and queue.job(job_id),
        timeout,
        f"job {job_id} to end",
    )


def state_records(path: Path, event: str) -> list[dict]:
    return [r for r in (json.loads(line) for line in path.read_text().splitlines()) if r["event"] == event]


# ---------------------------------------------------------------------------------------- cancelling


def test_a_cancelled_queued_run_ends_its_job_cancelled_and_is_never_tried_again(redis, worker, queue, tmp_path):
    """`dagctl cancel` of a queued run was a failure: the job was tried again as a new run, max_retries times."""
    from dagctl.run.executors.celery import enqueue_run

    marks = tmp_path / "marks"
    dag = write(tmp_path / "mid.yaml", f"name: mid\ntasks:\n  - {{id: t, run: 'echo try >> {marks}; sleep 60'}}\n")
    job_id = enqueue_run(dag, broker=redis.url, queue="jq", max_retries=2, retry_delay_s=0)
    run_id = wait_until(lambda: marks.exists() and (queue.job(job_id) or {}).get("run_id"), 30, "the run to start")
    cancel = dagctl("cancel", run_id, env=worker_env(redis.url, worker.folder), cwd=tmp_path)
    assert cancel.returncode == 0, cancel.stderr
    job = finished(queue, job_id)
    assert (job["state"], job["attempts"], job["run_status"], job["run_id"]) == ("cancelled", 1, "cancelled", run_id)
    assert job["error"].startswith("cancelled by dagctl cancel")
    assert marks.read_text() == "try\n"


def test_a_pending_job_leaves_the_queue_and_dagctl_queue_shows_queues_no_worker_takes(redis, queue, tmp_path):
    """A pending job could only be removed with redis-cli, and `dagctl queue` showed only the default queue."""
    from dagctl.run.executors.celery import enqueue_run

    dag = write(tmp_path / "short.yaml", "name: short\ntasks:\n  - {id: t, run: 'echo never'}\n")
    run_id = "20261207-235959.000-abcdef"
    enqueue_run(dag, broker=redis.url, queue="nobody", job_id="pending-1", run_id=run_id)
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    status = json.loads(dagctl("queue", "--json", env=env, cwd=tmp_path).stdout)
    assert status["waiting"]["nobody"] == 1 and "nobody" in status["unserved"]
    shown = dagctl("queue", "-n", "0", env=env, cwd=tmp_path)
    assert "nobody 1 (no live worker takes it)" in shown.stdout and "No jobs yet" not in shown.stdout

    removed = dagctl("queue", "remove", run_id, env=env, cwd=tmp_path)  # by the run id it would run as
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"queue job pending-1 (run {run_id}) was pending: cancelled, it will not run"
    job = queue.job("pending-1")
    assert job["state"] == "cancelled" and job["error"].startswith("removed from the queue by dagctl queue remove")
    assert redis.client().llen("nobody") == 0  # its message is gone too
    again = dagctl("queue", "remove", "pending-1", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "had already finished (cancelled): nothing to cancel" in again.stdout
    unknown = dagctl("queue", "remove", "no-such-job", env=env, cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.startswith("dagctl: error: no queue job 'no-such-job'")
    assert "Traceback" not in unknown.stderr


def test_dagctl_cancel_of_a_run_only_the_queue_knows_cancels_its_job(redis, queue, tmp_path):
    """A queued run has no folder here until a worker runs it (or it runs elsewhere): `dagctl cancel RUN` finds it
    in the queue with QUEUE_BACKEND=redis, as `dagctl queue remove` does; without it, an unknown run is exit 2."""
    from dagctl.run.executors.celery import enqueue_run

    dag = write(tmp_path / "short.yaml", "name: short\ntasks:\n  - {id: t, run: 'echo never'}\n")
    run_id = "20261207-235959.000-fedcba"
    enqueue_run(dag, broker=redis.url, queue="nobody", job_id="pending-2", run_id=run_id)
    plain = dagctl("cancel", run_id, env=worker_env(redis.url, tmp_path), cwd=tmp_path)
    assert plain.returncode == 2 and "no run" in plain.stderr.lower()
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    cancel = dagctl("cancel", run_id, env=env, cwd=tmp_path)
    assert cancel.returncode == 0, cancel.stderr
    assert cancel.stdout.strip() == f"queue job pending-2 (run {run_id}) was pending: cancelled, it will not run"
    job = queue.job("pending-2")
    assert job["state"] == "cancelled" and job["error"].startswith("cancelled by dagctl cancel")


def test_a_running_job_is_stopped_by_queue_remove_and_one_waiting_to_retry_never_runs_again(
    redis, worker, queue, tmp_path
):
    from dagctl.run.executors.celery import enqueue_run

    pidfile, tries = tmp_path / "pid", tmp_path / "tries"
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    long = write(tmp_path / "long.yaml", f"name: long\ntasks:\n  - {{id: t, run: 'echo $$ > {pidfile}; sleep 60'}}\n")
    job_id = enqueue_run(long, broker=redis.url, queue="jq")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "the run to start")
    removed = dagctl("queue", "remove", job_id, env=env, cwd=tmp_path)
    assert removed.returncode == 0 and f"runs on worker {worker.nodename}: it stops within seconds" in removed.stdout
    job = finished(queue, job_id)
    assert job["state"] == "cancelled" and job["run_status"] == "cancelled" and job["attempts"] == 1
    wait_until(lambda: not process_alive(int(pidfile.read_text())), 10, "the task stopped")

    flaky = write(tmp_path / "flaky.yaml", f"name: flaky\ntasks:\n  - {{id: t, run: 'echo try >> {tries}; exit 4'}}\n")
    job_id = enqueue_run(flaky, broker=redis.url, queue="jq", max_retries=3, retry_delay_s=2)
    wait_until(lambda: (queue.job(job_id) or {}).get("state") == "retry", 30, "the first try to fail")
    removed = dagctl("queue", "remove", job_id, env=env, cwd=tmp_path)
    assert removed.returncode == 0 and "was retry: cancelled, it will not run" in removed.stdout, removed.stdout
    client = redis.client()
    wait_until(lambda: not client.hlen("unacked") and not client.llen("jq"), 20, "its retry message to be dropped")
    assert tries.read_text() == "try\n" and queue.job(job_id)["state"] == "cancelled"


# ---------------------------------------------------------------------------------------- the scheduler


def _schedule(tmp_path: Path, dag: str) -> Path:
    write(tmp_path / "schedules" / "s.yaml", f'- {{id: q, cron: "* * * * *", dag: ../{dag}}}\n')
    return tmp_path / "schedules"


def _once(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagctl", "schedule", "--once", "--dir", "schedules", "--now", NOW],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_scheduled_run_cancelled_on_its_worker_is_recorded_cancelled_and_backfill_runs_the_slot(
    redis, worker, queue, tmp_path
):
    """The scheduler recorded a cancelled queued run `failed` (so backfill skipped it), and a backfill of a slot
    whose job had ended got that job's outcome back without running anything."""
    marks, fast = tmp_path / "marks", tmp_path / "fast"
    write(
        tmp_path / "dag.yaml",
        f"name: slot\ntasks:\n  - {{id: t, run: 'echo run >> {marks}; [ -e {fast} ] || sleep 60'}}\n",
    )
    _schedule(tmp_path, "dag.yaml")
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    once = _once(tmp_path, env)
    try:
        job_id = f"q@{SLOT}"
        run_id = wait_until(lambda: marks.exists() and (queue.job(job_id) or {}).get("run_id"), 30, "the run")
        cancel = dagctl("cancel", run_id, env=worker_env(redis.url, worker.folder), cwd=tmp_path)
        assert cancel.returncode == 0, cancel.stderr
        _out, err = once.communicate(timeout=60)
    finally:
        if once.poll() is None:
            once.kill()
            once.communicate()
    assert once.returncode == 1, err
    state = tmp_path / "logs" / "orchestrator_state.jsonl"
    (end,) = state_records(state, "run_finished")
    assert (end["status"], end["run_id"]) == ("cancelled", run_id)
    assert end["error"].startswith("cancelled by dagctl cancel")

    fast.touch()  # the cause is fixed: backfill runs the cancelled slot again, on a worker
    backfill = dagctl("backfill", "q", "--dir", "schedules", "--start", SLOT, "--end", SLOT, env=env, cwd=tmp_path)
    assert backfill.returncode == 0, backfill.stderr
    _, again = state_records(state, "run_finished")
    assert again["status"] == "success" and again["run_id"] != run_id
    assert f"success  run {again['run_id']} again (run {run_id} was cancelled)" in backfill.stdout
    assert marks.read_text() == "run\nrun\n"
    job = queue.job(job_id)
    assert (job["state"], job["run_id"], job["trigger"]) == ("success", again["run_id"], "backfill")
    show = dagctl("show", again["run_id"], "--json", env=worker_env(redis.url, worker.folder), cwd=tmp_path)
    assert show.returncode == 0 and json.loads(show.stdout)["status"] == "success"  # a run that exists


def test_a_slot_claimed_again_while_its_job_runs_waits_for_that_job_and_records_its_run(redis, worker, queue, tmp_path):
    """A scheduler with another state log (a rehearsal) recorded a run id that never existed, and another job's
    outcome."""
    marks, release = tmp_path / "marks", tmp_path / "release"
    write(
        tmp_path / "dag2.yaml",
        f"name: once\ntasks:\n  - {{id: t, run: 'echo run >> {marks}; until [ -e {release} ]; do sleep 0.1; done'}}\n",
    )
    _schedule(tmp_path, "dag2.yaml")
    redis.client().delete(f"dagctl:job:q@{SLOT}")  # the slot's job of the test before
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    rehearsal = {**env, "STATE_STORE_PATH": str(tmp_path / "rehearsal.jsonl")}
    first = _once(tmp_path, env)
    second = None
    try:
        run_id = wait_until(lambda: marks.exists() and (queue.job(f"q@{SLOT}") or {}).get("run_id"), 30, "the run")
        second = _once(tmp_path, rehearsal)
        wait_until(
            lambda: (
                (tmp_path / "rehearsal.jsonl").exists() and "run_started" in (tmp_path / "rehearsal.jsonl").read_text()
            ),
            30,
            "the rehearsal to claim the slot",
        )
        release.touch()
        _, err = second.communicate(timeout=60)
        first.communicate(timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert second.returncode == 0 and first.returncode == 0, err
    assert "is still running" in err and "instead of running the slot twice" in err
    (end,) = state_records(tmp_path / "rehearsal.jsonl", "run_finished")
    assert (end["status"], end["run_id"]) == ("success", run_id)
    assert marks.read_text() == "run\n"  # ran once


def test_schedule_once_with_no_live_worker_warns_and_a_stop_does_not_wait_out_the_grace_period(redis, tmp_path):
    """It waited in silence; on SIGTERM it waited the whole grace period for a job that no worker had taken."""
    import time

    write(tmp_path / "lonely.yaml", "name: lonely\ntasks:\n  - {id: t, run: 'echo never'}\n")
    write(tmp_path / "schedules" / "s.yaml", '- {id: lonely, cron: "* * * * *", dag: ../lonely.yaml}\n')
    env = {**worker_env(redis.url, tmp_path), "QUEUE_BACKEND": "redis"}
    env["REDIS_URL"] = redis.url.rsplit("/", 1)[0] + "/3"  # a database of its own: no live worker in it
    said = tmp_path / "scheduler.err"
    with said.open("w") as err_file:
        once = subprocess.Popen(
            [sys.executable, "-m", "dagctl", "schedule", "--once", "--dir", "schedules", "--now", NOW],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    warning = (
        "waits for a dagctl worker: no worker is alive on queue 'dagctl' (start one: dagctl worker --queues dagctl)"
    )
    try:
        wait_until(lambda: warning in said.read_text(), 30, "the warning that no worker is alive")
        once.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        once.wait(timeout=60)
        took = time.monotonic() - stopped
    finally:
        if once.poll() is None:
            once.kill()
            once.wait()
    err = said.read_text()
    assert took < 10, took  # not the 30 s of --grace
    assert once.returncode == 143, err
    assert err.count(warning) == 1, err
    (end,) = state_records(tmp_path / "logs" / "orchestrator_state.jsonl", "run_finished")
    assert end["status"] == "cancelled"
    assert end["error"].endswith("was pending (no worker had taken it); it stays on the queue")


# ---------------------------------------------------------------------------------------- after a deploy


def test_workers_run_the_current_code_of_python_tasks_after_a_deploy_and_their_prints_reach_the_log(
    redis, queue, tmp_path
):
    """Pool processes kept the modules they had imported: after a deploy, tasks ran the old code (which version
    depended on the process), and what they printed went to the worker's own log."""
    from dagctl.run.executors.celery import CeleryExecutor, enqueue_run
    from dagctl.run.executors.celery_config import CeleryConfig

    module = tmp_path / "ver.py"

    def deploy(version: int) -> None:  # same size, same second: the bytecode cache must not hide it either
        module.write_text(f"def version():\n    print('version {version}')\n    return {{'version': {version}}}\n")

    deploy(1)
    remote = write(tmp_path / "ver.yaml", "name: ver\ntasks:\n  - {id: v, queue: fresh, python: ver:version}\n")
    settings = Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")})
    with workers(redis, tmp_path / "w", {"name": "f1", "queues": "fresh", "concurrency": 1}) as (w,):
        executor = CeleryExecutor(CeleryConfig.from_env({}, broker=redis.url))
        try:
            first = run_dag(remote, executor=executor, settings=settings)
            deploy(2)
            second = run_dag(remote, executor=executor, settings=settings)
        finally:
            executor.shutdown()
        assert first.tasks["v"].outputs == {"version": 1}, first.summary()
        assert second.tasks["v"].outputs == {"version": 2}, second.summary()  # the same pool process
        log = tmp_path / "logs" / "runs" / second.run_id / "v.log"
        assert log.read_text() == "version 2\n"
        assert "version 2" not in w.output()

        outputs = []
        for version in (3, 4):  # whole runs on the queue, in the same pool process
            deploy(version)
            job = finished(queue, enqueue_run(remote, broker=redis.url, queue="fresh"))
            assert job["state"] == "success", job
            outputs.append(json.loads((w.folder / "logs" / "runs" / job["run_id"] / "outputs" / "v.json").read_text()))
        assert outputs == [{"version": 3}, {"version": 4}]


# ---------------------------------------------------------------------------------------- worker names


def test_a_second_worker_with_the_name_of_a_live_one_is_refused(redis, tmp_path):
    """Both ran; `dagctl queue` lost the first from its workers when the second stopped."""
    with workers(redis, tmp_path / "w", {"name": "dup", "queues": "dupq", "concurrency": 1}) as (first,):
        second = Worker(redis.url, tmp_path / "w2", "dup", queues="dupq", concurrency=1)
        try:
            wait_until(lambda: second.proc.poll() is not None, 30, "the second worker to be refused")
        finally:
            second.stop()  # (one that was not refused must not outlive the test)
        assert second.proc.returncode == 3, second.output()  # another live worker: the environment
        assert f"a dagctl worker named {first.nodename} is already running (pid {first.proc.pid}" in second.output()
        assert "Traceback" not in second.output()
        assert redis.client().exists(f"dagctl:worker:{first.nodename}")


def test_a_database_the_broker_does_not_have_is_not_called_unreachable(redis):
    """`cannot reach the broker … DB index is out of range — start redis-server there`: it was running."""
    from dagctl.errors import ExecutorError
    from dagctl.run.executors.celery import RunQueue

    with pytest.raises(ExecutorError) as caught:
        RunQueue(broker=redis.url.rsplit("/", 1)[0] + "/99")
    text = str(caught.value)
    assert "has no such database" in text and "below the server's `databases` setting" in text, text
    assert "start redis-server" not in text
