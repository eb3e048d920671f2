"""The Celery executor against a real redis-server and real `dagctl worker` processes.

One Redis and two workers are shared by the module (``w1`` takes queue ``dagctl``; ``w2`` takes ``dagctl``
and ``gpu``); tests that kill or stop workers start their own, on their own queue, so they cannot disturb
the others. Coordinators run in-process (``run_dag(executor=CeleryExecutor(...))``) or as `dagctl run`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.sinks import MemorySink
from tests.service_helpers import RedisServer, Worker, require_services, wait_until, worker_env, workers
from tests.support import eventually
from tests.support import process_alive as _alive

pytestmark = pytest.mark.service

LEASE = "1.5"  # seconds: how fast a killed worker's attempt is noticed


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    require_services()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_workers(redis_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    with workers(
        redis_server,
        folder,
        {"name": "w1", "env": {"DAGCTL_WORKER_LEASE": LEASE}},
        {"name": "w2", "queues": "dagctl,gpu", "env": {"DAGCTL_WORKER_LEASE": LEASE}},
    ) as started:
        yield started


def executor_for(redis_server, **overrides):
    from dagctl.run.executors.celery import CeleryExecutor
    from dagctl.run.executors.celery_config import CeleryConfig

    return CeleryExecutor(CeleryConfig.from_env({}, broker=redis_server.url, **overrides))


def write_dag(folder: Path, text: str, name: str = "dag.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run_remote(dag: Path, redis_server, tmp_path: Path, *, executor=None, **options):
    """Run ``dag`` through a CeleryExecutor in this process; (result, events by kind, executor)."""
    own = executor is None
    executor = executor or executor_for(redis_server)
    sink = MemorySink()
    settings = Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")})
    try:
        result = run_dag(dag, executor=executor, sinks=[sink], settings=settings, **options)
    finally:
        if own:
            executor.shutdown()
    return result, sink


# ---------------------------------------------------------------------------------------- spreading, logs


def test_tasks_spread_over_two_workers_and_logs_outputs_come_back(redis_server, shared_workers, tmp_path):
    tasks = "".join(f"  - {{id: t{i}, run: 'echo line from t{i}; sleep 0.3'}}\n" for i in range(6))
    dag = write_dag(
        tmp_path,
        "name: spread\noptions: {parallelism: 6}\ntasks:\n"
        + tasks
        + """\
  - id: produce
    run: echo rows=42 > "$DAGCTL_OUTPUT"
  - id: consume
    depends_on: produce
    run: echo "got ${outputs.produce.rows} in $DAGCTL_RUN_DIR"
""",
    )
    result, sink = run_remote(dag, redis_server, tmp_path)
    assert result.status == "success", result.summary()
    oks = sink.of("task_ok")
    assert len(oks) == 8
    assert {e.worker for e in oks} == {w.nodename for w in shared_workers}
    start = sink.of("dag_start")[0]
    assert start.executor == "celery"
    run_dir = tmp_path / "logs" / "runs" / result.run_id
    assert (run_dir / "t3.log").read_text() == "line from t3\n"
    assert (run_dir / "consume.log").read_text().startswith("got 42 in ")
    assert str(tmp_path) not in (run_dir / "consume.log").read_text()  # ran in the worker's own folder
    assert json.loads((run_dir / "outputs" / "produce.json").read_text()) == {"rows": "42"}


def test_queue_key_routes_a_task_to_the_workers_of_that_queue(redis_server, shared_workers, tmp_path):
    tasks = "".join(f"  - {{id: g{i}, run: 'sleep 0.1', queue: gpu}}\n" for i in range(4))
    dag = write_dag(tmp_path, "name: routed\ntasks:\n" + tasks)
    result, sink = run_remote(dag, redis_server, tmp_path)
    assert result.status == "success"
    assert {e.worker for e in sink.of("task_ok")} == {shared_workers[1].nodename}


def test_python_task_runs_on_the_worker_with_its_module_and_a_big_log_is_capped(redis_server, shared_workers, tmp_path):
    (tmp_path / "steps.py").write_text(
        textwrap.dedent("""
        import os
        def total(ctx, rows):
            ctx.log("counting")
            return {"total": rows * 2, "pid": os.getpid()}
    """)
    )
    dag = write_dag(
        tmp_path,
        """
        name: py
        tasks:
          - {id: count, python: steps:total, params: {rows: 21}}
          - id: noisy
            run: head -c 1500000 /dev/zero | tr '\\0' 'x'; echo; echo the end
    """,
    )
    result, _ = run_remote(dag, redis_server, tmp_path)
    assert result.status == "success", result.summary()
    assert result.tasks["count"].outputs["total"] == 42
    assert result.tasks["count"].outputs["pid"] != os.getpid()
    run_dir = tmp_path / "logs" / "runs" / result.run_id
    assert "counting" in (run_dir / "count.log").read_text()
    noisy = (run_dir / "noisy.log").read_text()
    assert noisy.startswith("[dagctl: the first ") and "bytes of this log were dropped: worker" in noisy
    assert noisy.endswith("the end\n")
    assert len(noisy.encode()) <= 1024 * 1024 + 200


# ---------------------------------------------------------------------------------------- timeouts and cancel


def test_timeout_kills_the_task_process_group_on_the_worker(redis_server, shared_workers, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    (tmp_path / "steps.py").write_text("import time\ndef nap(ctx):\n    time.sleep(60)\n")
    dag = write_dag(
        tmp_path,
        f"""
        name: slow
        tasks:
          - id: hang
            run: sleep 300 & echo $! > {pidfile}; wait
            timeout: 1s
          - {{id: nap, python: steps:nap, timeout: 1s}}
    """,
    )
    result, sink = run_remote(dag, redis_server, tmp_path)
    assert result.status == "failed" and result.duration_s < 5
    for task in ("hang", "nap"):
        fail = sink.of("task_fail", task)[0]
        assert fail.status == "timeout" and fail.error.startswith("timed out after 1s")
        assert fail.worker in {w.nodename for w in shared_workers}
    grandchild = int(pidfile.read_text())
    wait_until(lambda: not _alive(grandchild), 5, "the task's background sleep to be killed")


def test_dagctl_cancel_revokes_running_attempts_and_dagctl_logs_shows_their_logs(
    redis_server, shared_workers, tmp_path
):
    pidfile = tmp_path / "grandchild.pid"
    (tmp_path / "steps.py").write_text(
        textwrap.dedent("""
        import time
        def stubborn(ctx):
            ctx.log("working")
            try:
                time.sleep(120)  # never looks at ctx.cancelled: the worker must interrupt it
            finally:
                ctx.log("cleaned up")
    """)
    )
    write_dag(
        tmp_path,
        f"""
        name: cancelme
        tasks:
          - id: shell
            run: echo begun; sleep 300 & echo $! > {pidfile}; wait
          - {{id: py, python: steps:stubborn}}
          - {{id: later, run: "true", depends_on: [shell, py]}}
    """,
    )
    env = worker_env(redis_server.url, tmp_path)
    run = subprocess.Popen(
        [sys.executable, "-m", "dagctl", "run", "dag.yaml", "--executor", "celery"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = redis_server.client()
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "shell task started")
    wait_until(lambda: any(k.endswith(b"/py/1") for k in client.scan_iter("dagctl:lease:*")), 20, "py started")
    early = subprocess.run(  # said "its log file is gone … was it deleted?" of a task running on a worker
        [sys.executable, "-m", "dagctl", "logs", "latest", "shell"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert early.returncode == 2 and "it runs on a celery worker, which sends its log back when the attempt ends" in (
        early.stderr
    ), early.stderr
    cancel = subprocess.run(
        [sys.executable, "-m", "dagctl", "cancel", "latest"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out, err = run.communicate(timeout=30)
    assert cancel.returncode == 0, cancel.stderr
    assert "DAG EXECUTION CANCELLED" in out and "Tasks Cancelled: 3" in out, (out, err)
    wait_until(lambda: not _alive(int(pidfile.read_text())), 5, "the shell task's group to be killed on the worker")
    logs = subprocess.run(
        [sys.executable, "-m", "dagctl", "logs", "latest", "py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logs.returncode == 0, logs.stderr
    assert "working" in logs.stdout and "cleaned up" in logs.stdout and "stopped on worker" in logs.stdout
    logs = subprocess.run(
        [sys.executable, "-m", "dagctl", "logs", "latest", "shell"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logs.stdout.startswith("begun")


# ---------------------------------------------------------------------------------------- lost workers


def test_worker_killed_mid_task_the_attempt_is_delivered_again_and_runs_once_to_success(redis_server, tmp_path):
    runs, pids = tmp_path / "runs.txt", tmp_path / "pids.txt"
    dag = write_dag(
        tmp_path,
        f"""
        name: survive
        tasks:
          - id: slow
            queue: killq
            run: echo "$DAGCTL_ATTEMPT" >> {runs}; echo $$ >> {pids}; sleep 2; echo finished
          - {{id: after, queue: killq, run: "echo after", depends_on: slow}}
    """,
    )
    env = {"DAGCTL_WORKER_LEASE": LEASE}
    with workers(
        redis_server,
        tmp_path / "w",
        {"name": "k1", "queues": "killq", "concurrency": 1, "env": env},
        {"name": "k2", "queues": "killq", "concurrency": 1, "env": env},
    ) as (k1, k2):
        client = redis_server.client()
        run_id = f"kill-{uuid.uuid4().hex[:8]}"
        by_name = {k1.nodename: k1, k2.nodename: k2}
        victim: list[Worker] = []
        gone: list[bool] = []

        def kill_the_runner() -> None:
            holder = wait_until(lambda: client.hget(f"dagctl:attempt:{run_id}/slow/1", "worker"), 20, "claimed")
            wait_until(lambda: pids.exists() and pids.read_text().strip(), 10, "the task to start")
            victim.append(by_name[holder.decode()])
            orphan = int(pids.read_text().split()[0])
            victim[0].kill()
            # the task's own process group outlives the SIGKILLed worker by at most ~1.2 s (its keeper)
            gone.append(eventually(lambda: not _alive(orphan), timeout=2.5))

        killer = threading.Thread(target=kill_the_runner, daemon=True)
        killer.start()
        result, sink = run_remote(dag, redis_server, tmp_path, run_id=run_id)
        killer.join(5)
        assert gone == [True], "the killed worker's task was still running 2.5 s later"
        assert result.status == "success", result.summary()
        survivor = (set(by_name) - {victim[0].nodename}).pop()
        assert [(e.task_id, e.worker) for e in sink.of("task_ok")] == [("slow", survivor), ("after", survivor)]
        assert not sink.of("task_fail") and not sink.of("task_retry")
        assert runs.read_text().splitlines() == ["1", "1"]  # started on both, succeeded once
        log = (tmp_path / "logs" / "runs" / run_id / "slow.log").read_text()
        assert log == "finished\n"

        # A late duplicate of any delivery of that attempt is not run again: the stored result is re-sent.
        from dagctl.run.executors.celery_app import make_app
        from dagctl.run.executors.celery_config import CeleryConfig

        app = make_app(CeleryConfig.from_env({}, broker=redis_server.url))
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe("dagctl:reply:test")
        attempt = _attempt_dict(run_id, "slow", runs)
        for delivery in (1, 2):
            app.send_task(
                "dagctl.attempt",
                kwargs={"v": 1, "attempt": attempt, "reply_to": "dagctl:reply:test", "delivery": delivery},
                queue="killq",
                ignore_result=True,
            )
        replies = [wait_until(lambda: pubsub.get_message(timeout=0.1), 10, "a duplicate's reply") for _ in range(2)]
        assert all(json.loads(r["data"])["result"]["worker"] == survivor for r in replies)
        assert runs.read_text().splitlines() == ["1", "1"]


def test_warm_shutdown_finishes_the_running_task_then_hand_back_after_the_timeout(redis_server, tmp_path, caplog):
    short = write_dag(
        tmp_path, "name: warm\ntasks:\n  - {id: short, queue: stopq, run: 'sleep 0.5; echo done'}\n", "short.yaml"
    )
    long = write_dag(
        tmp_path, "name: back\ntasks:\n  - {id: long, queue: backq, run: 'sleep 1; echo long done'}\n", "long.yaml"
    )
    client = redis_server.client()
    with workers(
        redis_server,
        tmp_path / "w",
        {"name": "s1", "queues": "stopq", "concurrency": 1},
        {"name": "b1", "queues": "backq", "concurrency": 1, "args": ("--shutdown-timeout", "0.2")},
    ) as (s1, b1):
        # warm: SIGTERM while a task runs; the task finishes and reports, then the worker exits 0
        run_id = f"warm-{uuid.uuid4().hex[:8]}"

        def stop_when_claimed(worker: Worker, lease: str, then=None) -> None:
            wait_until(lambda: client.exists(lease), 20, "claimed")
            worker.signal(signal.SIGTERM)
            if then is not None:
                worker.proc.wait(timeout=15)
                then()

        threading.Thread(target=stop_when_claimed, args=(s1, f"dagctl:lease:{run_id}/short/1"), daemon=True).start()
        result, sink = run_remote(short, redis_server, tmp_path, run_id=run_id)
        assert result.status == "success" and sink.of("task_ok")[0].worker == s1.nodename
        assert s1.proc.wait(timeout=15) == 0

        # --shutdown-timeout: a task still running then is stopped and handed back; a new worker runs it
        run_id = f"back-{uuid.uuid4().hex[:8]}"
        b2: list[Worker] = []
        replace = lambda: b2.append(Worker(redis_server.url, tmp_path / "w", "b2", queues="backq", concurrency=1))  # noqa: E731
        threading.Thread(
            target=stop_when_claimed, args=(b1, f"dagctl:lease:{run_id}/long/1", replace), daemon=True
        ).start()
        try:
            with caplog.at_level(logging.INFO, logger="dagctl.run.executors.celery"):
                result, sink = run_remote(long, redis_server, tmp_path, run_id=run_id)
        finally:
            for w in b2:
                w.stop()
        assert result.status == "success"
        assert "no heartbeat" not in caplog.text  # a hand-back is a routine restart, not a lost worker
        assert [e.worker for e in sink.of("task_ok")] == [b2[0].nodename]
        assert client.hget(f"dagctl:attempt:{run_id}/long/1", "runs") == b"2"
        assert "handed back" in b1.output()
        assert "Traceback" not in b1.output()  # a routine stop is one line in the worker's log, not a traceback


def test_a_handed_back_task_that_times_out_waiting_says_who_ran_it_and_keeps_what_it_logged(redis_server, tmp_path):
    """It said `no worker started it` of a task a worker had run for seconds, and what that task had logged was
    lost though `dagctl show` named its log."""
    flag = tmp_path / "started"
    dag = write_dag(
        tmp_path,
        f"name: ht\ntasks:\n  - {{id: t, queue: htq, timeout: 6s, run: 'echo begun; touch {flag}; sleep 30'}}\n",
    )
    with workers(
        redis_server, tmp_path / "w", {"name": "h1", "queues": "htq", "args": ("--shutdown-timeout", "0.2")}
    ) as (h1,):
        threading.Thread(
            target=lambda: (wait_until(flag.exists, 20, "the task started"), h1.signal(signal.SIGTERM)), daemon=True
        ).start()
        result, sink = run_remote(dag, redis_server, tmp_path)
        h1.proc.wait(timeout=15)
    (fail,) = sink.of("task_fail", "t")
    assert fail.status == "timeout", result.summary()
    assert fail.error == (
        f"timed out after 6s waiting in queue 'htq' after worker {h1.nodename} handed it back as it shut down"
    )
    assert (tmp_path / "logs" / "runs" / result.run_id / "t.log").read_text() == "begun\n"
    assert "Traceback" not in h1.output()


# ---------------------------------------------------------------------------------------- broker trouble


def test_broker_lost_mid_run_fails_in_flight_attempts_with_a_clear_error(tmp_path):
    require_services()
    server = RedisServer(tmp_path / "redis").start()
    try:
        dag = write_dag(
            tmp_path,
            """
            name: lost
            tasks:
              - {id: long, queue: lostq, run: "sleep 4"}
        """,
        )
        with workers(server, tmp_path / "w", {"name": "l1", "queues": "lostq", "concurrency": 1}) as (l1,):
            client = server.client()
            run_id = f"lost-{uuid.uuid4().hex[:8]}"
            threading.Thread(
                target=lambda: (
                    wait_until(lambda: client.exists(f"dagctl:lease:{run_id}/long/1"), 20, "claimed"),
                    server.stop(),
                ),
                daemon=True,
            ).start()
            executor = executor_for(server, broker_lost_s=1.5)
            try:
                result, sink = run_remote(dag, server, tmp_path, executor=executor, run_id=run_id)
            finally:
                executor.shutdown()
                l1.kill()  # it cannot finish cleanly without its broker
    finally:
        server.stop()
    assert result.status == "failed" and result.duration_s < 15
    fail = sink.of("task_fail", "long")[0]
    assert fail.error.startswith(f"lost contact with the broker at {server.url} for ")


def test_a_coordinator_killed_with_sigkill_leaves_nothing_running_or_queued_on_the_workers(redis_server, tmp_path):
    """Nothing stopped the attempts of a `dagctl run --executor celery` killed with SIGKILL (or by the OOM killer):
    they ran to their end for nobody, and the ones still queued started later."""
    pids, later = tmp_path / "pids.txt", tmp_path / "later.txt"
    write_dag(
        tmp_path,
        f"""
        name: orphans
        tasks:
          - {{id: slow, queue: orphq, run: 'echo $$ >> {pids}; sleep 60'}}
          - {{id: queued, queue: orphq, run: 'echo ran >> {later}'}}
    """,
    )
    run_id = f"20261207-120000.000-{uuid.uuid4().hex[:6]}"
    env = {**worker_env(redis_server.url, tmp_path), "DAGCTL_COORDINATOR_LEASE": "1", "DAGCTL_WORKER_LEASE": LEASE}
    with workers(redis_server, tmp_path / "w", {"name": "o1", "queues": "orphq", "concurrency": 1, "env": env}):
        client = redis_server.client()
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "dagctl", "run", "dag.yaml", "-q", "--executor", "celery", "--run-id", run_id],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: pids.exists() and pids.read_text().strip(), 30, "the first task to start")
            task = int(pids.read_text().split()[0])
            wait_until(lambda: client.llen("orphq") == 1, 10, "the second attempt to be sent")  # and wait: one slot
            coordinator.kill()
            coordinator.wait(10)
        finally:
            coordinator.kill()
        # its lease lapses after 1 s, the worker gives it 1.5 s more: the task is stopped, not left for 60 s
        assert eventually(lambda: not _alive(task), timeout=15), "the task ran on after its coordinator died"
        record = f"dagctl:attempt:{run_id}/queued/1"
        wait_until(lambda: client.hget(record, "state") == b"cancelled", 15, "the queued attempt to be dropped")
        assert b"coordinator" in client.hget(record, "cancel")
        assert not later.exists()  # never ran
        stored = json.loads(client.hget(f"dagctl:attempt:{run_id}/slow/1", "result"))
        assert stored["status"] == "cancelled"
        # nobody fetches its log: the worker keeps it, with why it stopped, and leaves no copy in the broker
        kept = tmp_path / "work" / "runs" / run_id / "slow.log"  # (env above: the DAGCTL_WORKER_DIR of this test)
        assert "dagctl: stopped on worker o1@" in kept.read_text() and "coordinator" in kept.read_text()
        assert not client.exists(f"dagctl:log:{run_id}/slow/1")


def test_dagctl_run_with_celery_through_the_cli_and_the_env_var(redis_server, shared_workers, tmp_path):
    write_dag(tmp_path, "name: cli\ntasks:\n  - {id: a, run: 'echo remote'}\n")
    env = {**worker_env(redis_server.url, tmp_path), "DAGCTL_EXECUTOR": "celery"}
    proc = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", "dag.yaml", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "success"
    events = [json.loads(line) for line in (tmp_path / "logs" / "orchestrator_events.jsonl").read_text().splitlines()]
    assert events[0]["executor"] == "celery"
    assert next(e["worker"] for e in events if e["event"] == "task_ok") in {w.nodename for w in shared_workers}
    assert (tmp_path / "logs" / "runs" / summary["run_id"] / "a.log").read_text() == "remote\n"


# ---------------------------------------------------------------------------------------- run-level queue


def test_enqueued_runs_are_run_by_workers_with_job_states_and_retries(redis_server, shared_workers, tmp_path):
    from dagctl.run.executors.celery import RunQueue, enqueue_run
    from dagctl.run.executors.celery_config import CeleryConfig

    good = write_dag(
        tmp_path, "name: good\nparams: {n: 1}\ntasks:\n  - {id: a, run: 'echo ${params.n}'}\n", "good.yaml"
    )
    bad = write_dag(tmp_path, "name: bad\ntasks:\n  - {id: a, run: 'exit 3'}\n", "bad.yaml")
    requested = f"sched-{uuid.uuid4().hex[:8]}"
    ok_id = enqueue_run(
        good,
        params={"n": 7},
        schedule_id="nightly",
        logical_date="2026-01-01T00:00:00Z",
        tenant="acme",
        broker=redis_server.url,
        run_id=requested,
    )
    bad_id = enqueue_run(bad, broker=redis_server.url, max_retries=1, retry_delay_s=0, job_id=f"bad-{ok_id}")
    again = enqueue_run(bad, broker=redis_server.url, job_id=f"bad-{ok_id}")
    assert again == bad_id
    queue = RunQueue(CeleryConfig.from_env({}, broker=redis_server.url))
    done = wait_until(
        lambda: (
            all((queue.job(j) or {}).get("state") in ("success", "failed") for j in (ok_id, bad_id))
            and [queue.job(ok_id), queue.job(bad_id)]
        ),
        30,
        "both jobs finished",
    )
    ok, failed = done
    assert ok["state"] == "success" and ok["attempts"] == 1 and ok["run_status"] == "success"
    assert ok["run_id"] == requested and ok["trigger"] == "schedule"
    assert ok["schedule_id"] == "nightly" and ok["tenant"] == "acme" and ok["params"] == {"n": 7}
    assert ok["worker"] in {w.nodename for w in shared_workers}
    assert failed["state"] == "failed" and failed["attempts"] == 2 and failed["failures"] == 2
    assert "task(s) failed: a" in failed["error"]
    worker_logs = Path(shared_workers[0].folder / "logs"), Path(shared_workers[1].folder / "logs")
    run_dirs = [d / "runs" / ok["run_id"] for d in worker_logs if (d / "runs" / ok["run_id"]).exists()]
    assert run_dirs and (run_dirs[0] / "a.log").read_text() == "7\n"
    start = json.loads((run_dirs[0] / "events.jsonl").read_text().splitlines()[0])
    assert (start["event"], start["tenant_id"], start["schedule_id"], start["trigger"]) == (
        "dag_start",
        "acme",
        "nightly",
        "schedule",
    )

    env = worker_env(redis_server.url, tmp_path, QUEUE_BACKEND="redis")
    proc = subprocess.run(
        [sys.executable, "-m", "dagctl", "queue", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["counts"]["success"] >= 1 and status["counts"]["failed"] >= 1
    assert {w["name"] for w in status["workers"]} >= {w.nodename for w in shared_workers}
    assert {ok_id, bad_id} <= {j["id"] for j in status["jobs"]}
    proc = subprocess.run(
        [sys.executable, "-m", "dagctl", "queue"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "Recent jobs" in proc.stdout and ok_id[:12] in proc.stdout


def test_a_job_whose_worker_dies_is_requeued_by_another_worker_and_completes(redis_server, tmp_path):
    from dagctl.run.executors.celery import RunQueue, enqueue_run
    from dagctl.run.executors.celery_config import CeleryConfig

    marks = tmp_path / "marks.txt"
    dag = write_dag(tmp_path, f"name: longjob\ntasks:\n  - {{id: a, run: 'echo x >> {marks}; sleep 1.5'}}\n")
    env = {"DAGCTL_WORKER_LEASE": LEASE}
    with workers(
        redis_server,
        tmp_path / "w",
        {"name": "j1", "queues": "jobq", "concurrency": 1, "env": env},
        {"name": "j2", "queues": "jobq", "concurrency": 1, "env": env},
    ) as (j1, j2):
        job_id = enqueue_run(dag, broker=redis_server.url, queue="jobq")
        queue = RunQueue(CeleryConfig.from_env({}, broker=redis_server.url))
        holder = wait_until(lambda: (queue.job(job_id) or {}).get("worker"), 20, "the job claimed")
        wait_until(marks.exists, 10, "the job's task started")
        victim = j1 if holder == j1.nodename else j2
        victim.kill()
        job = wait_until(
            lambda: (queue.job(job_id) or {}).get("state") in ("success", "failed") and queue.job(job_id),
            20,
            "the job finished elsewhere",
        )
        queue.close()
    assert job["state"] == "success" and job["worker"] != victim.nodename
    assert (job["attempts"], job["lost"]) == (2, 1)
    assert marks.read_text() == "x\nx\n"


# ---------------------------------------------------------------------------------------- the ledger


def test_ledger_claims_each_attempt_once_and_settles_races(redis_server):
    from dagctl.run.executors.celery import Ledger
    from dagctl.run.executors.celery_config import CeleryConfig

    ledger = Ledger(redis_server.client(), CeleryConfig.from_env({}, broker=redis_server.url, lease_s=0.2))
    aid = f"ledger-{uuid.uuid4().hex[:8]}/t/1"
    keys = Ledger.attempt_keys(aid)
    assert ledger.claim(aid, 1, "A", "wA") == ("claimed", "")
    assert ledger.claim(aid, 1, "B", "wB") == ("busy", "A")  # redelivered while A runs: dropped
    assert ledger.beat(keys, "A") == ("ok", "", True)
    assert ledger.states([aid]) == [("running", True)]
    wait_until(lambda: ledger.states([aid]) == [("running", False)], 5, "A's lease to lapse")
    assert ledger.take_over(aid) == ("resend", 2, "wA")  # the coordinator delivers it again
    assert ledger.claim(aid, 1, "C", "wC")[0] == "stale"  # the old delivery is dropped
    assert ledger.claim(aid, 2, "B", "wB") == ("claimed", "")
    assert ledger.beat(keys, "A") == ("lost", "", True)  # A wakes up: it is told to stop
    verdict, stored = ledger.finish(aid, "B", {"status": "success", "duration_s": 1.0}, "log\n", 0)
    assert verdict == "ok"
    assert ledger.finish(aid, "A", {"status": "failed", "duration_s": 2.0}, None, 0) == ("dup", stored)
    assert ledger.claim(aid, 2, "D", "wD") == ("done", stored)  # a duplicate returns the stored result
    assert ledger.stored_result(aid) == ({"status": "success", "duration_s": 1.0}, "log\n", 0)

    cid = f"ledger-{uuid.uuid4().hex[:8]}/t/1"
    assert ledger.cancel(cid, "cancelled") == ("cancelled", "")  # not started: never will be
    assert ledger.claim(cid, 1, "A", "wA")[0] == "cancelled"
    hid = f"ledger-{uuid.uuid4().hex[:8]}/t/1"  # handed back at a shutdown, then timed out waiting: says so
    ledger.claim(hid, 1, "A", "wA")
    assert ledger.release(Ledger.attempt_keys(hid), "A")
    assert ledger.cancel(hid, "timeout") == ("cancelled", "handed_back:wA")
    rid = f"ledger-{uuid.uuid4().hex[:8]}/t/1"
    ledger.claim(rid, 1, "A", "wA")
    assert ledger.cancel(rid, "timeout") == ("running", "wA")
    assert ledger.beat(Ledger.attempt_keys(rid), "A") == ("ok", "timeout", True)
    ledger.keep_coordinator("c1", "host pid 1")  # a coordinator's lease: a beat says whether it is there
    assert ledger.beat(Ledger.attempt_keys(rid), "A", coordinator="c1")[2] is True
    ledger.unmark("c1")
    assert ledger.beat(Ledger.attempt_keys(rid), "A", coordinator="c1")[2] is False
    assert not ledger.coordinator_alive("c1")


# ---------------------------------------------------------------------------------------- helpers


def _attempt_dict(run_id: str, task_id: str, runs: Path) -> dict:
    from dagctl.run.attempts import Attempt

    return Attempt(
        attempt_id=f"{run_id}/{task_id}/1",
        run_id=run_id,
        dag_name="survive",
        task_id=task_id,
        attempt=1,
        kind="run",
        command=f'echo "1" >> {runs}; sleep 2',
    ).to_dict()


# ---------------------------------------------------------------------------------------- the scheduler


def _schedule_once(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "schedules").mkdir(exist_ok=True)
    (tmp_path / "schedules" / "every.yaml").write_text(
        '- id: every_minute\n  cron: "* * * * *"\n  dag: ../dag.yaml\n  tenant: remote\n'
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dagctl",
            "schedule",
            "--once",
            "--dir",
            "schedules",
            "--now",
            "2026-03-08T07:00:05Z",
            *extra,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def _state(tmp_path: Path) -> list[dict]:
    path = tmp_path / "logs" / "orchestrator_state.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_schedule_once_with_the_celery_executor_runs_tasks_on_workers(redis_server, shared_workers, tmp_path):
    write_dag(tmp_path, "name: sched_remote\ntasks:\n  - {id: a, run: 'echo from a worker'}\n")
    env = worker_env(redis_server.url, tmp_path)
    proc = _schedule_once(tmp_path, env, "--executor", "celery", "--broker", redis_server.url)
    assert proc.returncode == 0, proc.stderr
    finished = [e for e in _state(tmp_path) if e["event"] == "run_finished"]
    assert [e["status"] for e in finished] == ["success"]
    events = [json.loads(line) for line in (tmp_path / "logs" / "orchestrator_events.jsonl").read_text().splitlines()]
    assert events[0]["executor"] == "celery" and events[0]["schedule_id"] == "every_minute"
    assert next(e["worker"] for e in events if e["event"] == "task_ok") in {w.nodename for w in shared_workers}


def test_with_queue_backend_redis_scheduled_runs_become_queue_jobs_run_by_workers(
    redis_server, shared_workers, tmp_path
):
    from dagctl.run.executors.celery import RunQueue

    write_dag(tmp_path, "name: sched_queued\ntasks:\n  - {id: a, run: 'echo whole run on a worker'}\n")
    env = {**worker_env(redis_server.url, tmp_path), "QUEUE_BACKEND": "redis"}
    proc = _schedule_once(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    finished = [e for e in _state(tmp_path) if e["event"] == "run_finished"]
    assert [e["status"] for e in finished] == ["success"]
    with RunQueue(broker=redis_server.url) as queue:
        job = queue.job("every_minute@2026-03-08T07:00:00+00:00")
    assert job is not None and job["state"] == "success"
    again = _schedule_once(tmp_path, env)  # the same slot: already claimed, nothing enqueued twice
    assert again.returncode == 0
    assert len([e for e in _state(tmp_path) if e["event"] == "run_finished"]) == 1


def test_a_worker_folder_that_cannot_be_used_is_named_at_start_and_then_as_the_attempts_error(redis_server, tmp_path):
    """A worker whose DAGCTL_WORKER_DIR could not be used started without a word; every attempt it took then
    failed on it and came back to the coordinator as `lost 4 times … (no heartbeat)`, 40 s later."""
    blocker = tmp_path / "afile"
    blocker.write_text("")
    bad = Worker(redis_server.url, tmp_path / "w", "b1", queues="badq", env={"DAGCTL_WORKER_DIR": str(blocker / "x")})
    assert bad.proc.wait(timeout=30) == 3
    assert f"cannot write {blocker / 'x'} (DAGCTL_WORKER_DIR)" in bad.output()
    folder = tmp_path / "work-later"
    dag = write_dag(tmp_path, "name: prep\ntasks:\n  - {id: a, queue: prepq, run: 'true'}\n")
    with workers(
        redis_server, tmp_path / "w", {"name": "p1", "queues": "prepq", "env": {"DAGCTL_WORKER_DIR": str(folder)}}
    ):
        os.rmdir(folder)  # the folder breaks after the worker started: a file where it was
        folder.write_text("")
        result, _ = run_remote(dag, redis_server, tmp_path, timeout=30)
    error = result.tasks["a"].error or ""
    assert result.tasks["a"].status == "failed", result.summary()
    assert error.startswith("worker p1@") and f"cannot prepare the attempt in {folder}: " in error
    assert error.endswith("(DAGCTL_WORKER_DIR)") and "lost" not in error


def test_a_finished_run_leaves_nothing_of_its_own_in_the_broker(redis_server, shared_workers, tmp_path):
    """Its marker stayed 7 days and the log of its last task an hour, unmasked (`dagctl run` shuts its executor
    down without waiting for its threads)."""
    dag = write_dag(
        tmp_path, "name: tidy\ntasks:\n  - {id: a, run: 'echo hello'}\n  - {id: b, depends_on: a, run: 'echo bye'}\n"
    )
    executor = executor_for(redis_server)
    try:
        result, _ = run_remote(dag, redis_server, tmp_path, executor=executor)
    finally:
        executor.shutdown(wait=False)
    assert result.status == "success", result.summary()
    client = redis_server.client()
    marker = executor._marker
    assert not client.exists(f"dagctl:marker:{marker}")
    assert not [k for k in client.scan_iter(f"dagctl:log:{result.run_id}/*")]
