"""What a ``dagctl worker`` process runs: the two Celery tasks of :mod:`dagctl.run.executors.celery_app`.

:func:`make_worker_app` builds the shared app and registers them:

``dagctl.attempt``
    One task attempt from a coordinator's :class:`~dagctl.run.executors.celery.CeleryExecutor`. The worker
    claims the attempt id in the ledger, runs it with :class:`~dagctl.run.executors.local.LocalRunner` in a
    worker-local run folder, and publishes the result and the tail of the log on the coordinator's reply
    channel. While it runs, a watchdog thread renews the claim's lease, watches for a cancel or timeout
    from the coordinator (``revoke(terminate=True)`` delivers a SIGTERM that wakes it at once) and stops
    the task: the shell task's process group is terminated, an in-process Python task is interrupted.
``dagctl.run``
    One whole-DAG job from :func:`~dagctl.run.executors.celery.enqueue_run`, run with
    :func:`dagctl.run.api.run_dag`; the job record moves pending → running → success | failed | cancelled, or
    retry (a failed run, tried again up to ``max_retries`` times). A cancelled run (``dagctl cancel``, ``dagctl
    queue remove``) ends the job cancelled, never retried.

A SIGTERM that is not a cancel (a cold shutdown of the worker) hands the work back: it is stopped, its
lease released, and the message goes back to the queue for another worker. :mod:`dagctl.run.workerstart` starts
the worker process itself (``dagctl worker``).
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
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError
from dagctl.protocols import Clock

from .actions.taskstreams import routed
from .attempts import Attempt, AttemptResult, CancelToken
from .executors.celery_app import ATTEMPT_TASK, RUN_TASK, make_app
from .executors.celery_config import CeleryConfig, connect
from .executors.remote_logs import PRUNE_EVERY_S, localize, prune_worker_dir, read_log_tail, remove_attempt_files

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


def make_worker_app(config: CeleryConfig) -> Any:
    """The shared Celery app with dagctl's tasks and worker bootstep registered."""
    app = make_app(config)
    _register_tasks(app, WorkerRuntime(app, config))
    return app


def _register_tasks(app: Any, runtime: WorkerRuntime) -> None:
    from celery.exceptions import Ignore, Reject

    def settle(outcome: str) -> None:
        if outcome == "ignore":
            raise Ignore()
        if outcome == "requeue":
            raise Reject("handed back: the worker is shutting down", requeue=True)

    @app.task(  # type: ignore[untyped-decorator]  # celery ships no type information
        name=ATTEMPT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )
    def attempt_task(self: Any, **payload: Any) -> None:
        settle(runtime.run_attempt(payload, self.request.hostname))

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )
    def run_task(self: Any, **payload: Any) -> None:
        settle(runtime.run_job(payload, self.request.hostname))

    app.steps["worker"].add(_worker_step(runtime))


def _worker_step(runtime: WorkerRuntime) -> type:
    """A bootstep in the worker's main process: announce the worker, requeue jobs of vanished workers."""
    from celery import bootsteps

    class DagctlWorker(bootsteps.StartStopStep):  # type: ignore[misc]  # untyped base class
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
                runtime.ledger().retire(parent.hostname, socket.gethostname(), os.getpid())

    return DagctlWorker


# ---------------------------------------------------------------------------------------- the worker


ORPHANED = "its run's coordinator (dagctl run) stopped renewing its lease: it died"
STOP_REASONS = {"cancelled": "cancelled by its run", "timeout": "timed out"}
"""How the log and the worker's log say why an attempt was stopped, by the reason in the ledger."""


class Interrupted(BaseException):
    """Raised inside an in-process Python task (from a signal handler) to stop it at a timeout or cancel."""


class _Work:
    """One attempt or job running in this worker process: its lease, and how to stop it."""

    def __init__(
        self,
        keys: list[str],
        holder: str,
        stop: Callable[[str], None],
        *,
        interruptible: bool = False,
        deadline: float | None = None,
        coordinator: str | None = None,
    ) -> None:
        self.keys = keys
        self.coordinator = coordinator
        """The marker of the coordinator that sent the attempt, whose lease the watchdog watches (None: a job)."""
        self.orphaned_at: float | None = None
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
        from .executors.celery_ledger import Ledger

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
        from .executors.local import LocalRunner

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
                verdict, cancel, coordinator = self.ledger.beat(work.keys, work.holder, coordinator=work.coordinator)
            except Exception as exc:
                logger.warning("cannot renew the lease of %s: %s", work.keys[0], exc)
                verdict, cancel, coordinator = "ok", "", True
            if verdict == "lost":
                self._stop(work, "another worker took this over after this one went silent")
            elif cancel:
                self._stop(work, cancel)
            elif self._orphaned(work, coordinator):
                self._stop(work, ORPHANED)
            elif work.sigterm:
                self._stop(work, "the worker is shutting down; handed back", handback=True)
            elif work.deadline is not None and self.clock.monotonic() >= work.deadline:
                self._stop(work, "timeout")

    def _orphaned(self, work: _Work, coordinator: bool) -> bool:
        """The coordinator's lease has been gone for ``lease_s`` (not a broker that restarted empty a moment ago:
        the coordinator renews it again within a second of noticing)."""
        if coordinator:
            work.orphaned_at = None
            return False
        now = self.clock.monotonic()
        if work.orphaned_at is None:
            work.orphaned_at = now
        return now - work.orphaned_at >= self.config.lease_s

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
        self._next_prune = float("-inf")

    def process(self) -> _Process:
        if self._process is None or self._process.pid != os.getpid():
            self._process = _Process(self.config, self.clock)
        return self._process

    def ledger(self) -> Any:
        """A ledger for the worker's main process (no watchdog thread there: the pool forks from it)."""
        from .executors.celery_ledger import Ledger

        if self._main is None or self._main[0] != os.getpid():
            self._main = (os.getpid(), Ledger(connect(self.config), self.config, self.clock))
        return self._main[1]

    def worker_dir(self, worker: str) -> Path:
        if self.config.worker_dir:
            return Path(self.config.worker_dir)
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in worker)
        return Path(tempfile.gettempdir()) / "dagctl-worker" / safe

    def housekeeping(self, worker: str, concurrency: int) -> None:
        now = self.clock.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            try:
                prune_worker_dir(self.worker_dir(worker), self.clock.now().timestamp())
            except OSError as exc:
                logger.warning("cannot prune %s: %s", self.worker_dir(worker), exc)
        ledger = self.ledger()
        queues = sorted(q.name for q in self.app.amqp.queues.consume_from.values())
        ledger.announce(
            worker,
            {"host": socket.gethostname(), "pid": os.getpid(), "queues": queues, "concurrency": concurrency},
            ttl_s=self.config.lease_s,
        )
        for job_id, delivery, queue in ledger.recover_jobs():
            logger.warning("job %s: its worker stopped renewing its lease; requeued (delivery %d)", job_id, delivery)
            self.publish_job(job_id, delivery, queue)

    def publish_job(self, job_id: str, delivery: int, queue: str, countdown: float | None = None) -> None:
        self.app.send_task(
            RUN_TASK,
            kwargs={"v": 1, "job_id": job_id, "delivery": delivery},
            queue=queue or self.config.queue,
            task_id=f"job:{job_id}#{delivery}",
            countdown=countdown or None,
            ignore_result=True,
        )

    # ------------------------------------------------------------------ one attempt
    def run_attempt(self, payload: Mapping[str, Any], worker: str) -> str:
        """Run one delivered attempt; ``"ok"``, ``"ignore"`` (duplicate/stale) or ``"requeue"`` (handed back)."""
        proc = self.process()
        with proc.handling_sigterm():
            return self._run_attempt(proc, payload, worker)

    def _run_attempt(self, proc: _Process, payload: Mapping[str, Any], worker: str) -> str:
        from .executors.celery_ledger import Ledger

        attempt = attempt_from_dict(payload["attempt"])
        delivery = int(payload.get("delivery") or 1)
        reply_to = str(payload.get("reply_to") or "")
        holder = f"{worker}:{os.getpid()}:{delivery}"
        coordinator = str(payload.get("coordinator") or "") or None  # None from a coordinator that keeps no lease
        if coordinator is not None and not _coordinator_alive(proc, coordinator):
            proc.ledger.cancel(attempt.attempt_id, "its run's coordinator (dagctl run) died before a worker took it")
            logger.warning("%s not run: the dagctl run that sent it is gone (no lease)", attempt.attempt_id)
            return "ignore"
        verdict, extra = proc.ledger.claim(attempt.attempt_id, delivery, holder, worker)
        if verdict == "done":
            logger.warning("%s was delivered again after it finished; sending its stored result", attempt.attempt_id)
            self._reply_stored(proc, reply_to, attempt.attempt_id, delivery)
            return "ignore"
        if verdict != "claimed":
            logger.info("%s delivery %d not run: %s %s", attempt.attempt_id, delivery, verdict, extra)
            return "ignore"
        try:
            local = localize(attempt, self.worker_dir(worker))
        except Exception as exc:  # the coordinator gets the reason, not four "lost" deliveries of a silent worker
            folder = self.worker_dir(worker)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            failed = AttemptResult(
                status="failed",
                duration_s=0.0,
                error=f"worker {worker} cannot prepare the attempt in {folder}: {reason} (DAGCTL_WORKER_DIR)",
                worker=worker,
            )
            self._patiently(
                f"the result of {attempt.attempt_id}",
                lambda: proc.ledger.finish(
                    attempt.attempt_id, holder, failed.to_dict(), "", 0, reply_to=reply_to, delivery=delivery
                ),
            )
            return "ok"
        token = CancelToken()
        interruptible = attempt.kind != "run" and attempt.isolation == "thread"
        deadline = self.clock.monotonic() + attempt.timeout if interruptible and attempt.timeout else None

        def stop(reason: str) -> None:
            token.cancel(reason="timeout" if reason == "timeout" else "cancelled")

        work = _Work(
            Ledger.attempt_keys(attempt.attempt_id),
            holder,
            stop,
            interruptible=interruptible,
            deadline=deadline,
            coordinator=coordinator,
        )
        start = self.clock.monotonic()
        try:
            with proc.running(work), routed():  # what an in-process Python task prints goes to its log
                result = proc.runner(worker).execute(local, token)
        except Interrupted:
            result = _stopped_result(attempt, token, self.clock.monotonic() - start)
        except Exception as exc:  # never lose a result: the coordinator waits for it
            result = AttemptResult(
                status="failed",
                duration_s=self.clock.monotonic() - start,
                error=f"{type(exc).__name__}: {exc} (on worker {worker})",
            )
        if work.handback:
            with suppress(Exception):  # what it logged so far, should it never run again (the broker is away: lost)
                proc.ledger.keep_log(attempt.attempt_id, *read_log_tail(local.log_path, self.config.log_cap))
            proc.ledger.release(work.keys, holder)
            remove_attempt_files(local)
            return "requeue"
        if token.reason == "timeout" and result.status == "cancelled":
            result = _stopped_result(attempt, token, result.duration_s, exit_code=result.exit_code)
        result = result.replace(worker=worker)
        if work.stopped:
            why = STOP_REASONS.get(work.stopped, work.stopped)
            _note(local.log_path, f"dagctl: stopped on worker {worker}: {why}")
            logger.warning("%s stopped: %s", attempt.attempt_id, why)
        if work.stopped == ORPHANED:  # nobody will fetch its log: keep it here (pruned later), not in the broker
            logger.warning("%s: its log is kept on this worker at %s", attempt.attempt_id, local.log_path)
            self._patiently(
                f"the result of {attempt.attempt_id}",
                lambda: proc.ledger.finish(attempt.attempt_id, holder, result.to_dict(), None, 0, delivery=delivery),
            )
            return "ok"
        text, dropped = read_log_tail(local.log_path, self.config.log_cap)
        verdict, _ = self._patiently(
            f"the result of {attempt.attempt_id}",
            lambda: proc.ledger.finish(
                attempt.attempt_id, holder, result.to_dict(), text, dropped, reply_to=reply_to, delivery=delivery
            ),
        )  # and publishes it
        if verdict == "dup":
            logger.warning(
                "%s ran twice (redelivered while the first run was silent); the first result stands", attempt.attempt_id
            )
            self._reply_stored(proc, reply_to, attempt.attempt_id, delivery)
        remove_attempt_files(local)
        return "ok"

    def _reply_stored(self, proc: _Process, channel: str, attempt_id: str, delivery: int) -> None:
        stored = proc.ledger.stored_result(attempt_id)
        if stored is not None:
            self._reply(proc, channel, attempt_id, delivery, *stored)

    @staticmethod
    def _reply(
        proc: _Process,
        channel: str,
        attempt_id: str,
        delivery: int,
        result: Mapping[str, Any],
        log: str | None,
        dropped: int,
    ) -> None:
        from .executors.celery_ledger import reply_message

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
        from dagctl.dag.loader import load_dag

        from .api import run_dag
        from .executors.celery_ledger import Ledger
        from .state import RunControl, new_run_id

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
            with proc.running(work), _recorded_if_unstarted(job, run_id):
                spec = load_dag(job["dag_path"])
                if job.get("tenant") and job["tenant"] != spec.tenant_id:
                    spec = spec.model_copy(update={"tenant_id": job["tenant"]})
                result = run_dag(
                    spec,
                    params=dict(job.get("params") or {}),
                    control=control,
                    run_id=run_id,
                    trigger=job.get("trigger") or "queue",
                    schedule_id=job.get("schedule_id") or None,
                    logical_date=job.get("logical_date") or None,
                    parent_run_id=previous,
                )
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
        what = f"the end of job {job_id}"
        if run_status in ("success", "cancelled"):  # a cancelled run (dagctl cancel, queue remove) is not retried
            state = run_status
        elif int(failures or 0) + 1 <= int(job.get("max_retries") or 0):
            state = "retry"
        else:
            state = "failed"
        recorded, next_delivery = self._patiently(
            what,
            lambda: proc.ledger.finish_job(
                job_id,
                holder,
                state,
                run_id=run_id,
                run_status=run_status,
                error=error if state != "success" else "",
                failed=state in ("retry", "failed"),
                delivery=delivery,
            ),
        )
        if recorded == "stale":
            logger.warning("job %s: run %s ended %s, but another worker has taken the job over", job_id, run_id, state)
        elif recorded == "retry":
            self.publish_job(
                job_id, next_delivery, str(job.get("queue") or ""), countdown=float(job.get("retry_delay_s") or 0)
            )
        return "ok"

    def _patiently(self, what: str, write: Callable[[], _T]) -> _T:
        """A ledger write at the end of some work, tried again while the broker is away (restarting, paused) for
        up to ``broker_lost_s``, the coordinator's own patience: a result is not lost to a broker restart."""
        from .executors.celery_config import describe_redis_error, redact

        deadline = self.clock.monotonic() + self.config.broker_lost_s
        while True:
            try:
                return write()
            except Exception as exc:
                if self.clock.monotonic() >= deadline:
                    logger.error(
                        "cannot store %s: the broker at %s did not answer for %gs",
                        what,
                        redact(self.config.broker),
                        self.config.broker_lost_s,
                    )
                    raise
                logger.warning("cannot store %s yet (%s); trying again", what, describe_redis_error(exc))
                self.clock.sleep(0.5)


@contextmanager
def _recorded_if_unstarted(job: Mapping[str, Any], run_id: str) -> Iterator[None]:
    """A job whose run fails before its runner starts (the DAG no longer loads on this worker) is recorded as a
    failed run in this worker's logs, so the run id in the job record names a run ``dagctl show`` knows."""
    try:
        yield
    except Exception as exc:
        from dagctl.errors import SpecError
        from dagctl.settings import Settings
        from dagctl.store.unstarted import record_unstarted_run

        if isinstance(exc, SpecError):
            error = exc.message
        elif isinstance(exc, DagctlError):
            error = str(exc).splitlines()[0]
        else:
            error = f"{type(exc).__name__}: {exc}"
        try:
            record_unstarted_run(
                Settings.from_env(),
                run_id=run_id,
                dag_name=Path(str(job.get("dag_path") or "?")).stem,
                error=error,
                tenant_id=str(job.get("tenant") or ""),
                trigger=str(job.get("trigger") or "queue"),
                params=dict(job.get("params") or {}),
                dag_file=str(job.get("dag_path") or "") or None,
                schedule_id=job.get("schedule_id") or None,
                logical_date=job.get("logical_date") or None,
            )
        except (DagctlError, OSError) as problem:
            logger.error("cannot record run %s that did not start: %s", run_id, problem)
        raise


def _coordinator_alive(proc: _Process, marker: str) -> bool:
    try:
        return bool(proc.ledger.coordinator_alive(marker))
    except Exception:  # the broker is away: the claim that follows says so
        return True


def attempt_from_dict(data: Mapping[str, Any]) -> Attempt:
    """An Attempt from a message, ignoring keys this version does not know (a newer coordinator)."""
    names = Attempt.FIELDS
    return Attempt(**{k: v for k, v in data.items() if k in names})


def _stopped_result(
    attempt: Attempt, token: CancelToken, duration: float, exit_code: int | None = None
) -> AttemptResult:
    if token.reason == "timeout":
        limit = f" after {attempt.timeout:g}s" if attempt.timeout else ""
        return AttemptResult(status="timeout", duration_s=duration, exit_code=exit_code, error=f"timed out{limit}")
    return AttemptResult(status="cancelled", duration_s=duration, exit_code=exit_code, error="cancelled")


def _note(log_path: str, line: str) -> None:
    from .context import append_to_log

    with suppress(OSError):
        append_to_log(log_path, line + "\n")
