"""The Celery side of dagctl: configuration, the app, and what a ``dagctl worker`` process runs.

:func:`make_app` builds a Celery app per caller (no module-level app): JSON only, late acks, one message
at a time per worker process, redelivery when a worker process is lost, short broker timeouts. With
``worker=True`` it also registers the two tasks a worker runs:

``dagctl.attempt``
    One task attempt from a coordinator's :class:`~dagctl.executors.celery.CeleryExecutor`. The worker
    claims the attempt id in the ledger, runs it with :class:`~dagctl.executors.local.LocalRunner` in a
    worker-local run folder, and publishes the result and the tail of the log on the coordinator's reply
    channel. While it runs, a watchdog thread renews the claim's lease, watches for a cancel or timeout
    from the coordinator (``revoke(terminate=True)`` delivers a SIGTERM that wakes it at once) and stops
    the task: the shell task's process group is terminated, an in-process Python task is interrupted.
``dagctl.run``
    One whole-DAG job from :func:`~dagctl.executors.celery.enqueue_run`, run with
    :func:`dagctl.api.run_dag`; the job record moves pending → running → success | failed | retry.

A SIGTERM that is not a cancel (a cold shutdown of the worker) hands the work back: it is stopped, its
lease released, and the message goes back to the queue for another worker.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from ..clock import SystemClock
from ..errors import DagctlError, ExecutorError, UsageError
from ..protocols import Clock
from ..settings import env_number
from .base import Attempt, AttemptResult, CancelToken
from .remote_logs import LOG_CAP_BYTES, localize, read_log_tail, remove_attempt_files

logger = logging.getLogger(__name__)

INSTALL_HINT = "install the extra: pip install 'dagctl[celery]'"
DEFAULT_QUEUE = "dagctl"
ATTEMPT_TASK = "dagctl.attempt"
RUN_TASK = "dagctl.run"


# ---------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class CeleryConfig:
    """Where the broker is and how patient to be. Built once (flags, then env) and passed down."""

    broker: str = "redis://localhost:6379/0"
    queue: str = DEFAULT_QUEUE
    connect_timeout: float = 3.0
    """Seconds to wait for the broker before saying it is unreachable."""
    lease_s: float = 10.0
    """A worker renews its claim on a running attempt or job this often x3; silence for this long = lost."""
    broker_lost_s: float = 10.0
    """The coordinator gives up on in-flight attempts after the broker has been unreachable this long."""
    visibility_timeout: float = 3600.0
    """Redis transport: an unacknowledged message is redelivered after this many seconds."""
    log_cap: int = LOG_CAP_BYTES
    keep_s: int = 7 * 86400
    """How long the ledger remembers finished attempts and jobs."""
    worker_dir: str = ""
    """Worker-local run folders (default: <tmp>/dagctl-worker/<worker name>)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, broker: str | None = None,
                 **overrides: Any) -> CeleryConfig:
        """``--broker``, else ``REDIS_URL``; ``DAGCTL_BROKER_TIMEOUT``, ``DAGCTL_WORKER_LEASE``,
        ``DAGCTL_BROKER_LOST``, ``DAGCTL_WORKER_DIR``, ``DAGCTL_VISIBILITY_TIMEOUT``."""
        e = os.environ if env is None else env
        config = cls(
            broker=check_broker_url(broker or e.get("REDIS_URL") or cls.broker),
            connect_timeout=env_number(e, "DAGCTL_BROKER_TIMEOUT", cls.connect_timeout, positive=True),
            lease_s=env_number(e, "DAGCTL_WORKER_LEASE", cls.lease_s, positive=True),
            broker_lost_s=env_number(e, "DAGCTL_BROKER_LOST", cls.broker_lost_s, positive=True),
            visibility_timeout=env_number(e, "DAGCTL_VISIBILITY_TIMEOUT", cls.visibility_timeout, positive=True),
            worker_dir=e.get("DAGCTL_WORKER_DIR") or "",
        )
        return replace(config, **overrides) if overrides else config


def check_broker_url(url: str) -> str:
    """The URL, if it is a Redis URL; UsageError otherwise (the ledger needs Redis, whatever Celery supports)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise UsageError(f"broker URL {redact(url)!r} is not a Redis URL",
                         hint="use redis://HOST:PORT/DB (or rediss:// for TLS); dagctl's Celery executor needs Redis")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise UsageError(f"broker URL {redact(url)!r} has a bad port", hint="use redis://HOST:PORT/DB") from None
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and events."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def describe_redis_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


def require(module: str) -> Any:
    """Import an optional dependency of the ``celery`` extra, or fail with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ExecutorError(f"the Celery executor needs the '{module.split('.')[0]}' package ({exc})",
                            hint=INSTALL_HINT) from None


def connect(config: CeleryConfig) -> Any:
    """A redis-py client for the broker's Redis with short timeouts and no silent retry loops."""
    redis = require("redis")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(config.broker, socket_connect_timeout=config.connect_timeout,
                                socket_timeout=max(10.0, config.connect_timeout), health_check_interval=30,
                                retry=Retry(NoBackoff(), 1))


# ---------------------------------------------------------------------------------------- the app


def make_app(config: CeleryConfig, *, worker: bool = False) -> Any:
    """A Celery app for ``config``; with ``worker=True`` the dagctl tasks and worker step are registered."""
    celery = require("celery")
    app = celery.Celery("dagctl", broker=config.broker, set_as_current=False)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json", result_accept_content=["json"],
        event_serializer="json",
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_ignore_result=True, task_store_errors_even_if_ignored=False,
        task_default_queue=config.queue, task_create_missing_queues=True,
        broker_connection_timeout=config.connect_timeout, broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": config.visibility_timeout,
            "socket_connect_timeout": config.connect_timeout,
            "socket_timeout": max(10.0, config.connect_timeout),
            "socket_keepalive": True,
            "fanout_prefix": True,
            "fanout_patterns": True,
        },
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_disable_rate_limits=True, worker_send_task_events=False, task_send_sent_event=False,
        enable_utc=True, timezone="UTC",
    )
    if worker:
        _register_tasks(app, WorkerRuntime(app, config))
    return app


def _register_tasks(app: Any, runtime: WorkerRuntime) -> None:
    from celery.exceptions import Ignore, Reject

    def settle(outcome: str) -> None:
        if outcome == "ignore":
            raise Ignore()
        if outcome == "requeue":
            raise Reject("handed back: the worker is shutting down", requeue=True)

    @app.task(name=ATTEMPT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def attempt_task(self: Any, **payload: Any) -> None:
        settle(runtime.run_attempt(payload, self.request.hostname))

    @app.task(name=RUN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run_task(self: Any, **payload: Any) -> None:
        settle(runtime.run_job(payload, self.request.hostname))

    app.steps["worker"].add(_worker_step(runtime))


def _worker_step(runtime: WorkerRuntime) -> type:
    """A bootstep in the worker's main process: announce the worker, requeue jobs of vanished workers."""
    from celery import bootsteps

    class DagctlWorker(bootsteps.StartStopStep):
        requires: ClassVar[set[str]] = {"celery.worker.components:Timer"}

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self.tref: Any = None

        def start(self, parent: Any) -> None:
            self.tick(parent)
            self.tref = parent.timer.call_repeatedly(runtime.config.lease_s / 3, self.tick, (parent,), priority=10)

        def tick(self, parent: Any) -> None:
            try:
                runtime.housekeeping(parent.hostname, parent.concurrency)
            except Exception as exc:
                logger.warning("dagctl worker housekeeping: %s", exc)

        def stop(self, parent: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None
            with suppress(Exception):  # the key expires on its own
                runtime.ledger().retire(parent.hostname)

    return DagctlWorker


# ---------------------------------------------------------------------------------------- the worker


class Interrupted(BaseException):
    """Raised inside an in-process Python task (from a signal handler) to stop it at a timeout or cancel."""


class _Work:
    """One attempt or job running in this worker process: its lease, and how to stop it."""

    def __init__(self, keys: list[str], holder: str, stop: Callable[[str], None], *, interruptible: bool = False,
                 deadline: float | None = None) -> None:
        self.keys = keys
        self.holder = holder
        self.stop = stop
        self.interruptible = interruptible
        self.deadline = deadline
        self.in_execute = True
        self.interrupt_now = False
        self.sigterm = False
        self.stopped: str | None = None
        self.handback = False


class _Process:
    """What one worker process (a prefork child) keeps: its Redis client, runner and watchdog thread."""

    def __init__(self, config: CeleryConfig, clock: Clock) -> None:
        from .celery_ledger import Ledger

        self.pid = os.getpid()
        self.config = config
        self.clock = clock
        self.ledger = Ledger(connect(config), config, clock)
        self.runners: dict[str, Any] = {}
        self.current: _Work | None = None
        self.main_ident: int | None = None
        self.wake = threading.Event()
        threading.Thread(target=self._watch, name="dagctl-lease", daemon=True).start()

    def runner(self, worker: str) -> Any:
        from .local import LocalRunner

        if worker not in self.runners:
            self.runners[worker] = LocalRunner(self.clock, worker=worker)
        return self.runners[worker]

    @contextmanager
    def handling_sigterm(self) -> Iterator[None]:
        """Own SIGTERM for a whole task body: a revoke that lands after the attempt ended must not kill us."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self.main_ident = threading.get_ident()
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    @contextmanager
    def running(self, work: _Work) -> Iterator[_Work]:
        work.interruptible = work.interruptible and threading.get_ident() == self.main_ident
        self.current = work  # the claim took the lease; the watchdog renews it on its next beat
        try:
            yield work
        finally:
            work.in_execute = False
            self.current = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        work = self.current
        if work is None:  # claiming or reporting: finish that, it takes milliseconds
            return
        if work.interrupt_now and work.in_execute:
            work.interrupt_now = False
            raise Interrupted(work.stopped or "stopped")
        work.sigterm = True  # a revoke (cancel) or a cold shutdown (hand back): the watchdog tells which
        self.wake.set()

    def _watch(self) -> None:
        interval = min(1.0, self.config.lease_s / 3)
        while True:
            self.wake.wait(interval)
            self.wake.clear()
            work = self.current
            if work is None or work.stopped:
                continue
            try:
                verdict, cancel = self.ledger.beat(work.keys, work.holder)
            except Exception as exc:
                logger.warning("cannot renew the lease of %s: %s", work.keys[0], exc)
                verdict, cancel = "ok", ""
            if verdict == "lost":
                self._stop(work, "another worker took this over after this one went silent")
            elif cancel:
                self._stop(work, cancel)
            elif work.sigterm:
                self._stop(work, "the worker is shutting down; handed back", handback=True)
            elif work.deadline is not None and self.clock.monotonic() >= work.deadline:
                self._stop(work, "timeout")

    def _stop(self, work: _Work, reason: str, *, handback: bool = False) -> None:
        work.stopped, work.handback = reason, handback
        work.stop(reason)
        if work.interruptible and work.in_execute and self.main_ident is not None:
            work.interrupt_now = True
            signal.pthread_kill(self.main_ident, signal.SIGTERM)


class WorkerRuntime:
    """The dagctl tasks' state inside a worker: one :class:`_Process` per process (re-made after fork)."""

    def __init__(self, app: Any, config: CeleryConfig, clock: Clock | None = None) -> None:
        self.app = app
        self.config = config
        self.clock = clock or SystemClock()
        self._process: _Process | None = None
        self._main: tuple[int, Any] | None = None

    def process(self) -> _Process:
        if self._process is None or self._process.pid != os.getpid():
            self._process = _Process(self.config, self.clock)
        return self._process

    def ledger(self) -> Any:
        """A ledger for the worker's main process (no watchdog thread there: the pool forks from it)."""
        from .celery_ledger import Ledger

        if self._main is None or self._main[0] != os.getpid():
            self._main = (os.getpid(), Ledger(connect(self.config), self.config, self.clock))
        return self._main[1]

    def worker_dir(self, worker: str) -> Path:
        if self.config.worker_dir:
            return Path(self.config.worker_dir)
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in worker)
        return Path(tempfile.gettempdir()) / "dagctl-worker" / safe

    def housekeeping(self, worker: str, concurrency: int) -> None:
        ledger = self.ledger()
        queues = sorted(q.name for q in self.app.amqp.queues.consume_from.values())
        ledger.announce(worker, {"host": socket.gethostname(), "pid": os.getpid(), "queues": queues,
                                 "concurrency": concurrency}, ttl_s=self.config.lease_s)
        for job_id, delivery, queue in ledger.recover_jobs():
            logger.warning("job %s: its worker stopped renewing its lease; requeued (delivery %d)", job_id, delivery)
            self.publish_job(job_id, delivery, queue)

    def publish_job(self, job_id: str, delivery: int, queue: str, countdown: float | None = None) -> None:
        self.app.send_task(RUN_TASK, kwargs={"v": 1, "job_id": job_id, "delivery": delivery},
                           queue=queue or self.config.queue, task_id=f"job:{job_id}#{delivery}",
                           countdown=countdown or None, ignore_result=True)

    # ------------------------------------------------------------------ one attempt
    def run_attempt(self, payload: Mapping[str, Any], worker: str) -> str:
        """Run one delivered attempt; ``"ok"``, ``"ignore"`` (duplicate/stale) or ``"requeue"`` (handed back)."""
        proc = self.process()
        with proc.handling_sigterm():
            return self._run_attempt(proc, payload, worker)

    def _run_attempt(self, proc: _Process, payload: Mapping[str, Any], worker: str) -> str:
        from .celery_ledger import Ledger

        attempt = attempt_from_dict(payload["attempt"])
        delivery = int(payload.get("delivery") or 1)
        reply_to = str(payload.get("reply_to") or "")
        holder = f"{worker}:{os.getpid()}:{delivery}"
        verdict, extra = proc.ledger.claim(attempt.attempt_id, delivery, holder, worker)
        if verdict == "done":
            logger.warning("%s was delivered again after it finished; sending its stored result", attempt.attempt_id)
            self._reply_stored(proc, reply_to, attempt.attempt_id, delivery)
            return "ignore"
        if verdict != "claimed":
            logger.info("%s delivery %d not run: %s %s", attempt.attempt_id, delivery, verdict, extra)
            return "ignore"
        local = localize(attempt, self.worker_dir(worker))
        token = CancelToken()
        interruptible = attempt.kind != "run" and attempt.isolation == "thread"
        deadline = self.clock.monotonic() + attempt.timeout if interruptible and attempt.timeout else None

        def stop(reason: str) -> None:
            token.cancel(reason="timeout" if reason == "timeout" else "cancelled")

        work = _Work(Ledger.attempt_keys(attempt.attempt_id), holder, stop, interruptible=interruptible,
                     deadline=deadline)
        start = self.clock.monotonic()
        try:
            with proc.running(work):
                result = proc.runner(worker).execute(local, token)
        except Interrupted:
            result = _stopped_result(attempt, token, self.clock.monotonic() - start)
            _note(local.log_path, f"stopped on worker {worker}: {result.error}")
        except Exception as exc:  # never lose a result: the coordinator waits for it
            result = AttemptResult(status="failed", duration_s=self.clock.monotonic() - start,
                                   error=f"{type(exc).__name__}: {exc} (on worker {worker})")
        if work.handback:
            proc.ledger.release(work.keys, holder)
            remove_attempt_files(local)
            return "requeue"
        if token.reason == "timeout" and result.status == "cancelled":
            result = _stopped_result(attempt, token, result.duration_s, exit_code=result.exit_code)
        result = result.replace(worker=worker)
        text, dropped = read_log_tail(local.log_path, self.config.log_cap)
        verdict, _ = proc.ledger.finish(attempt.attempt_id, holder, result.to_dict(), text, dropped,
                                        reply_to=reply_to, delivery=delivery)  # and publishes it
        if verdict == "dup":
            logger.warning("%s ran twice (redelivered while the first run was silent); the first result stands",
                           attempt.attempt_id)
            self._reply_stored(proc, reply_to, attempt.attempt_id, delivery)
        remove_attempt_files(local)
        return "ok"

    def _reply_stored(self, proc: _Process, channel: str, attempt_id: str, delivery: int) -> None:
        stored = proc.ledger.stored_result(attempt_id)
        if stored is not None:
            self._reply(proc, channel, attempt_id, delivery, *stored)

    @staticmethod
    def _reply(proc: _Process, channel: str, attempt_id: str, delivery: int, result: Mapping[str, Any],
               log: str | None, dropped: int) -> None:
        from .celery_ledger import reply_message

        if not channel:
            return
        try:
            proc.ledger.redis.publish(channel, reply_message(attempt_id, delivery, result, log, dropped))
        except Exception as exc:  # the coordinator reads the ledger when the reply does not come
            logger.warning("could not publish the result of %s: %s", attempt_id, exc)

    # ------------------------------------------------------------------ one whole run
    def run_job(self, payload: Mapping[str, Any], worker: str) -> str:
        """Run one delivered whole-DAG job; ``"ok"``, ``"ignore"`` or ``"requeue"``."""
        proc = self.process()
        with proc.handling_sigterm():
            return self._run_job(proc, payload, worker)

    def _run_job(self, proc: _Process, payload: Mapping[str, Any], worker: str) -> str:
        from ..api import run_dag
        from ..loader import load_dag
        from ..runner import RunControl, new_run_id
        from .celery_ledger import Ledger

        job_id = str(payload["job_id"])
        delivery = int(payload.get("delivery") or 1)
        holder = f"{worker}:{os.getpid()}:{delivery}"
        verdict, failures = proc.ledger.claim_job(job_id, delivery, holder, worker)
        if verdict != "claimed":
            logger.info("job %s delivery %d not run: %s", job_id, delivery, verdict)
            return "ignore"
        job = proc.ledger.job(job_id) or {}
        previous = job.get("run_id") or None
        run_id = (job.get("requested_run_id") if job.get("attempts") == 1 else None) or new_run_id(self.clock)
        proc.ledger.note_job(job_id, run_id=run_id)
        control = RunControl()
        work = _Work(Ledger.job_keys(job_id), holder, lambda reason: control.cancel(reason))
        run_status, error = "", ""
        try:
            with proc.running(work):
                spec = load_dag(job["dag_path"])
                if job.get("tenant") and job["tenant"] != spec.tenant_id:
                    spec = spec.model_copy(update={"tenant_id": job["tenant"]})
                result = run_dag(spec, params=dict(job.get("params") or {}), control=control, run_id=run_id,
                                 trigger=job.get("trigger") or "queue", schedule_id=job.get("schedule_id") or None,
                                 logical_date=job.get("logical_date") or None, parent_run_id=previous)
            run_status, error = result.status, result.error or ""
            if result.status != "success" and not error:
                failed = [t.id for t in result.tasks.values() if t.status == "failed"]
                error = f"task(s) failed: {', '.join(failed[:5])}" if failed else result.status
        except DagctlError as exc:
            run_status, error = "error", str(exc)
        except Exception as exc:
            run_status, error = "error", f"{type(exc).__name__}: {exc}"
        if work.handback:
            proc.ledger.release(work.keys, holder, state="running")
            return "requeue"
        if run_status == "success":
            proc.ledger.finish_job(job_id, holder, "success", run_id=run_id, run_status=run_status)
        elif int(failures or 0) + 1 <= int(job.get("max_retries") or 0):
            delivery = proc.ledger.finish_job(job_id, holder, "retry", run_id=run_id, run_status=run_status,
                                              error=error, failed=True)
            self.publish_job(job_id, delivery, str(job.get("queue") or ""),
                             countdown=float(job.get("retry_delay_s") or 0))
        else:
            proc.ledger.finish_job(job_id, holder, "failed", run_id=run_id, run_status=run_status, error=error,
                                   failed=True)
        return "ok"


def attempt_from_dict(data: Mapping[str, Any]) -> Attempt:
    """An Attempt from a message, ignoring keys this version does not know (a newer coordinator)."""
    names = Attempt.FIELDS
    return Attempt(**{k: v for k, v in data.items() if k in names})


def _stopped_result(attempt: Attempt, token: CancelToken, duration: float, exit_code: int | None = None
                    ) -> AttemptResult:
    if token.reason == "timeout":
        limit = f" after {attempt.timeout:g}s" if attempt.timeout else ""
        return AttemptResult(status="timeout", duration_s=duration, exit_code=exit_code, error=f"timed out{limit}")
    return AttemptResult(status="cancelled", duration_s=duration, exit_code=exit_code, error="cancelled")


def _note(log_path: str, line: str) -> None:
    from ..context import append_to_log

    with suppress(OSError):
        append_to_log(log_path, line + "\n")


# ---------------------------------------------------------------------------------------- dagctl worker


def worker_nodename(name: str | None) -> str:
    """Celery's node name: ``NAME@host``; the default ``dagctl-<pid>`` keeps two local workers apart."""
    name = name or f"dagctl-{os.getpid()}"
    return name if "@" in name else f"{name}@{socket.gethostname()}"


def start_worker(config: CeleryConfig, *, name: str | None = None, concurrency: int = 2,
                 queues: list[str] | None = None, loglevel: str = "WARNING",
                 shutdown_timeout: float | None = None) -> int:
    """Run a Celery worker in this process until it is stopped; return its exit code.

    SIGTERM is Celery's warm shutdown: take no new work, let running tasks finish. With
    ``shutdown_timeout``, tasks still running that many seconds later are stopped and handed back to the
    queue (a cold shutdown: SIGQUIT to this process).
    """
    from celery import signals

    from .celery_ledger import Ledger

    app = make_app(config, worker=True)
    Ledger(connect(config), config).ping()
    nodename = worker_nodename(name)
    timer: list[threading.Timer] = []

    def on_shutdown(sender: Any = None, how: str = "", **_: Any) -> None:
        if shutdown_timeout is not None and how == "Warm" and not timer:
            t = threading.Timer(shutdown_timeout, os.kill, (os.getpid(), signal.SIGQUIT))
            t.daemon = True
            timer.append(t)
            t.start()

    signals.worker_shutting_down.connect(on_shutdown, weak=False)
    try:
        worker = app.Worker(hostname=nodename, concurrency=concurrency, queues=queues or [config.queue],
                            loglevel=loglevel, pool_cls="prefork", optimization="fair", without_gossip=True,
                            without_mingle=True, without_heartbeat=True, quiet=True)
        worker.start()
        return int(worker.exitcode or 0)
    finally:
        signals.worker_shutting_down.disconnect(on_shutdown)
        for t in timer:
            t.cancel()
