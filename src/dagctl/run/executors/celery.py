"""The distributed executor: task attempts and whole runs on Celery workers, with Redis as broker and ledger.

Two ways to use workers (``pip install 'dagctl[celery]'``, then ``dagctl worker`` on each machine):

* **Task level** — :class:`CeleryExecutor`. This process stays the coordinator: it plans, retries and
  writes every event. Each attempt travels as JSON (``Attempt.to_dict``) to the queue named by the task's
  ``queue:`` (default ``dagctl``); a worker runs it with the same :class:`~.local.LocalRunner` the thread
  executor uses, in a worker-local folder, and sends back the result with the tail of its log.
* **Run level** — :func:`enqueue_run`. A whole DAG run becomes a job that a worker runs with
  :func:`dagctl.run.api.run_dag`; job states ``pending/running/success/failed/retry`` are kept in Redis and
  shown by ``dagctl queue`` (:func:`queue_status`).

Delivery is at least once: messages are acknowledged late, one at a time per worker process, and
redelivered when a worker process dies. What makes that safe is the **ledger** (:class:`Ledger`,
keys in the broker's Redis, updated by atomic Lua scripts): every attempt id and job id is claimed once
under a lease the worker keeps alive; a duplicate delivery returns the stored result (or is dropped while
the first is still running); a delivery older than the current one is dropped. When a lease lapses (the
worker was killed), the coordinator — or, for jobs, any worker — delivers the work again.

Nothing here imports celery or redis at module level; the first use does, with an install hint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagctl.clock import SystemClock
from dagctl.errors import ExecutorError, UsageError
from dagctl.protocols import Clock
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken

from .celery_app import ATTEMPT_TASK, RUN_TASK
from .celery_config import CeleryConfig, connect, describe_redis_error, redact
from .celery_ledger import CHECK_INTERVAL_S, JOB_STATES, MAX_LOST_DELIVERIES, TICK_S, Ledger, result_from_dict
from .remote_logs import write_shipped_log

if TYPE_CHECKING:
    from dagctl.run.waker import Waker

logger = logging.getLogger(__name__)

__all__ = ["CeleryConfig", "CeleryExecutor", "Ledger", "RunQueue", "enqueue_run", "queue_status"]


# ---------------------------------------------------------------------------------------- coordinator


@dataclass
class _InFlight:
    attempt: Attempt
    cancel: CancelToken
    done: Callable[[AttemptResult], None]
    queue: str
    delivery: int = 1
    delivery_id: str = ""
    cancel_sent: bool = False
    cancel_wait_until: float | None = None
    lost: list[str] = field(default_factory=list)


class CeleryExecutor:
    """Runs attempts on ``dagctl worker`` processes through Celery. See the module docstring.

    ``submit`` never blocks: a dispatcher thread publishes attempts, watches cancel tokens and the
    ledger, and a listener thread receives results on this executor's own reply channel. The constructor
    raises :class:`~dagctl.errors.ExecutorError` within ``connect_timeout`` when the broker is unreachable.
    """

    name = "celery"

    def __init__(
        self, config: CeleryConfig | None = None, *, broker: str | None = None, clock: Clock | None = None
    ) -> None:
        from .celery_app import make_app

        self.config = config or CeleryConfig.from_env(broker=broker)
        self.clock = clock or SystemClock()
        self.app = make_app(self.config)
        self.redis = connect(self.config)
        self.ledger = Ledger(self.redis, self.config, self.clock)
        self.ledger.ping()
        self.reply_to = f"dagctl:reply:{uuid.uuid4().hex}"
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(self.reply_to)
        except Exception as exc:
            raise ExecutorError(
                f"cannot subscribe to the broker at {redact(self.config.broker)}: {describe_redis_error(exc)}"
            ) from exc
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._inflight: dict[str, _InFlight] = {}
        self._stopping = threading.Event()
        self._queues_checked: set[str] = set()
        self._forget: list[str] = []
        self._down_since: float | None = None
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="dagctl-celery-dispatch", daemon=True)
        self._listener = threading.Thread(target=self._listen_loop, name="dagctl-celery-listen", daemon=True)
        self._dispatcher.start()
        self._listener.start()

    # ------------------------------------------------------------------ the Executor protocol
    def begin(self, waker: Waker, shell_logs: Sequence[str]) -> None:
        pass  # workers write their own logs; results arrive on the listener thread

    def end(self) -> None:
        pass

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        if self._stopping.is_set():
            raise ExecutorError("the Celery executor was shut down")
        self._inbox.put(("submit", _InFlight(attempt, cancel, done, attempt.queue or self.config.queue)))

    def shutdown(self, *, wait: bool = True) -> None:
        if self._stopping.is_set():
            return
        self._inbox.put(("stop", None))
        self._stopping.set()
        if not wait:
            return  # daemon threads: they end with the process
        self._dispatcher.join(timeout=5.0)
        self._listener.join(timeout=5.0)
        for close in (self._pubsub.close, self.app.close, self.redis.close):
            with contextlib.suppress(Exception):  # closing a broken connection
                close()

    # ------------------------------------------------------------------ threads
    def _listen_loop(self) -> None:
        idle = threading.Event()
        while not self._stopping.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
            except Exception as exc:  # broker gone: the dispatcher's ledger checks decide what to do
                logger.debug("reply channel: %s", exc)
                idle.wait(0.2)
                continue
            if message is not None and message.get("type") == "message":
                self._inbox.put(("reply", message["data"]))

    def _dispatch_loop(self) -> None:
        next_check = self.clock.monotonic() + CHECK_INTERVAL_S
        while True:
            try:
                kind, item = self._inbox.get(timeout=TICK_S)
            except queue.Empty:
                kind, item = "tick", None
            try:
                if kind == "stop":
                    self._stop_all()
                    return
                if kind == "submit":
                    self._publish(item)
                elif kind == "reply":
                    self._on_reply(item)
                self._watch_cancels()
                now = self.clock.monotonic()
                if now >= next_check:
                    next_check = now + CHECK_INTERVAL_S
                    self._check_ledger(now)
            except Exception:  # never let the dispatcher die: the runner would wait forever
                logger.exception("Celery executor dispatcher")

    # ------------------------------------------------------------------ sending
    def _publish(self, job: _InFlight) -> None:
        attempt = job.attempt
        self._inflight[attempt.attempt_id] = job
        self._warn_if_no_worker(job.queue)
        job.delivery_id = f"{attempt.attempt_id}#{job.delivery}"
        payload = {"v": 1, "attempt": attempt.to_dict(), "reply_to": self.reply_to, "delivery": job.delivery}
        try:
            self.app.send_task(
                ATTEMPT_TASK, kwargs=payload, queue=job.queue, task_id=job.delivery_id, ignore_result=True
            )
        except Exception as exc:
            self._finish(
                attempt.attempt_id,
                AttemptResult(
                    status="failed",
                    duration_s=0.0,
                    error=f"could not send the attempt to the broker at {redact(self.config.broker)}: "
                    f"{describe_redis_error(exc)}",
                ),
            )

    def _warn_if_no_worker(self, name: str) -> None:
        if name in self._queues_checked:
            return
        self._queues_checked.add(name)
        try:
            workers = self.ledger.workers()
        except Exception:
            return
        if not any(name in w.get("queues", []) for w in workers):
            logger.warning(
                "no dagctl worker is consuming queue '%s' now; its tasks wait until one starts "
                "(dagctl worker --queues %s)",
                name,
                name,
            )

    # ------------------------------------------------------------------ receiving
    def _on_reply(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            attempt_id = message["attempt_id"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed reply on %s", self.reply_to)
            return
        if attempt_id not in self._inflight:
            logger.debug("ignored a second result for %s (delivery %s)", attempt_id, message.get("delivery"))
            return
        self._accept(attempt_id, message.get("result") or {}, message.get("log"), int(message.get("dropped") or 0))

    def _accept(self, attempt_id: str, result_data: dict[str, Any], log: str | None, dropped: int) -> None:
        job = self._inflight.get(attempt_id)
        if job is None:
            return
        result = result_from_dict(result_data)
        try:
            write_shipped_log(job.attempt.log_path, log, dropped, worker=result.worker)
        except OSError as exc:
            logger.warning("cannot write the log of %s to %s: %s", attempt_id, job.attempt.log_path, exc)
        if job.lost and result.ok:
            logger.warning(
                "%s succeeded on %s after worker(s) %s were lost while running it",
                attempt_id,
                result.worker,
                ", ".join(job.lost),
            )
        self._finish(attempt_id, result)
        if log is not None:
            self._forget.append(attempt_id)

    def _finish(self, attempt_id: str, result: AttemptResult) -> None:
        job = self._inflight.pop(attempt_id, None)
        if job is None:
            return
        if job.cancel.reason == "timeout" and result.status == "cancelled" and job.cancel.is_cancelled:
            limit = f" after {job.attempt.timeout:g}s" if job.attempt.timeout else ""
            result = AttemptResult(
                status="timeout",
                duration_s=result.duration_s,
                exit_code=result.exit_code,
                error=f"timed out{limit}",
                outputs=None,
                worker=result.worker,
            )
        try:
            job.done(result)
        except Exception:
            logger.exception("result callback for %s", attempt_id)

    # ------------------------------------------------------------------ cancel
    def _watch_cancels(self) -> None:
        for attempt_id, job in list(self._inflight.items()):
            if job.cancel_sent or not job.cancel.is_cancelled:
                continue
            job.cancel_sent = True
            reason = "timeout" if job.cancel.reason == "timeout" else "cancelled"
            try:
                verdict, extra = self.ledger.cancel(attempt_id, reason)
            except Exception as exc:
                self._finish(
                    attempt_id,
                    AttemptResult(
                        status="cancelled",
                        duration_s=0.0,
                        error=f"cancelled; could not reach the broker to stop it: {describe_redis_error(exc)}",
                    ),
                )
                continue
            if verdict == "cancelled":  # never started: drop the message wherever it is
                self._revoke(job, terminate=False)
                if reason == "timeout":
                    limit = f" after {job.attempt.timeout:g}s" if job.attempt.timeout else ""
                    result = AttemptResult(
                        status="timeout",
                        duration_s=0.0,
                        error=f"timed out{limit} waiting in queue '{job.queue}': no worker started it",
                    )
                else:
                    result = AttemptResult(
                        status="cancelled", duration_s=0.0, error="cancelled before a worker started it"
                    )
                self._finish(attempt_id, result)
            elif verdict == "running":  # SIGTERM the worker's process for it; it stops the task's group
                self._revoke(job, terminate=True, worker=extra or None)
                job.cancel_wait_until = self.clock.monotonic() + job.attempt.grace + 5.0
            # "done": its result is on the way

    def _revoke(self, job: _InFlight, *, terminate: bool, worker: str | None = None) -> None:
        try:
            self.app.control.revoke(
                job.delivery_id, terminate=terminate, signal="SIGTERM", destination=[worker] if worker else None
            )
        except Exception as exc:
            logger.warning("could not revoke %s: %s", job.delivery_id, exc)

    # ------------------------------------------------------------------ the ledger check
    def _check_ledger(self, now: float) -> None:
        if self._forget:
            forget, self._forget = self._forget, []
            self.ledger.forget_logs(forget)
        if not self._inflight:
            self._down_since = None
            return
        ids = list(self._inflight)
        try:
            states = self.ledger.states(ids)
        except Exception as exc:
            self._broker_trouble(now, exc)
            return
        self._down_since = None
        for attempt_id, (state, has_lease) in zip(ids, states, strict=True):
            job = self._inflight.get(attempt_id)
            if job is None:
                continue
            if state == "done":  # the reply was missed (reconnect): take the stored result
                stored = self.ledger.stored_result(attempt_id)
                if stored is not None:
                    self._accept(attempt_id, *stored)
            elif state == "cancelled":
                self._finish(attempt_id, AttemptResult(status="cancelled", duration_s=0.0, error="cancelled"))
            elif job.cancel_sent and not has_lease and state in ("running", "handed_back", "lost"):
                self._finish(
                    attempt_id,
                    AttemptResult(
                        status="cancelled", duration_s=0.0, error="cancelled; the worker stopped without a result"
                    ),
                )
            elif job.cancel_wait_until is not None and now >= job.cancel_wait_until:
                self._finish(
                    attempt_id,
                    AttemptResult(status="cancelled", duration_s=0.0, error="cancelled; no answer from the worker"),
                )
            elif not has_lease and state in ("running", "handed_back"):
                self._redeliver(job)

    def _redeliver(self, job: _InFlight) -> None:
        attempt_id = job.attempt.attempt_id
        verdict, delivery, worker = self.ledger.take_over(attempt_id)
        if verdict != "resend":
            return
        job.lost.append(worker or "?")
        if len(job.lost) > MAX_LOST_DELIVERIES:
            self._finish(
                attempt_id,
                AttemptResult(
                    status="failed",
                    duration_s=0.0,
                    error=f"lost {len(job.lost)} times: worker(s) {', '.join(job.lost)} stopped while running it",
                ),
            )
            return
        logger.warning("%s: worker %s stopped while running it (no heartbeat); delivering it again", attempt_id, worker)
        job.delivery = delivery
        del self._inflight[attempt_id]
        self._publish(job)

    def _broker_trouble(self, now: float, exc: Exception) -> None:
        if self._down_since is None:
            self._down_since = now
            logger.warning("broker at %s unreachable: %s", redact(self.config.broker), describe_redis_error(exc))
        elif now - self._down_since >= self.config.broker_lost_s:
            self._abandon_all(
                f"lost contact with the broker at {redact(self.config.broker)} for "
                f"{now - self._down_since:.0f}s ({describe_redis_error(exc)}); the attempt may "
                "still finish on its worker"
            )

    def _stop_all(self) -> None:
        """Shut down with attempts still out (their run was given up): stop them on their workers too."""
        for job in self._inflight.values():
            if not job.cancel_sent:
                job.cancel.cancel(reason="cancelled")
        with contextlib.suppress(Exception):
            self._watch_cancels()
        self._abandon_all("the executor was shut down")

    def _abandon_all(self, reason: str) -> None:
        for attempt_id, job in list(self._inflight.items()):
            status = "cancelled" if job.cancel.is_cancelled else "failed"
            self._finish(attempt_id, AttemptResult(status=status, duration_s=0.0, error=reason))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- run-level queue


class RunQueue:
    """Whole-DAG runs as queue jobs: ``enqueue`` for the scheduler, ``status`` for ``dagctl queue``.

    Holds a broker connection: use it as a context manager (or call :meth:`close`).
    """

    def __init__(
        self, config: CeleryConfig | None = None, *, broker: str | None = None, clock: Clock | None = None
    ) -> None:
        from .celery_app import make_app

        self.config = config or CeleryConfig.from_env(broker=broker)
        self.clock = clock or SystemClock()
        self.redis = connect(self.config)
        self.ledger = Ledger(self.redis, self.config, self.clock)
        self.ledger.ping()
        self.app = make_app(self.config)

    def __enter__(self) -> RunQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.app.close()
        with contextlib.suppress(Exception):
            self.redis.close()

    def enqueue(
        self,
        dag_path: str | Path,
        *,
        params: dict[str, Any] | None = None,
        schedule_id: str | None = None,
        logical_date: str | None = None,
        tenant: str | None = None,
        queue: str | None = None,
        max_retries: int = 0,
        retry_delay_s: float = 10.0,
        job_id: str | None = None,
        run_id: str | None = None,
        trigger: str | None = None,
    ) -> str:
        """Record a ``pending`` job and publish it; return its id. An existing ``job_id`` is not enqueued again."""
        if max_retries < 0 or retry_delay_s < 0:
            raise UsageError(f"max_retries and retry_delay_s must be >= 0, not {max_retries} and {retry_delay_s}")
        try:
            encoded = json.dumps(params or {})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"run params must be JSON data: {exc}") from None
        job_id = job_id or uuid.uuid4().hex
        fields = {
            "id": job_id,
            "dag_path": str(Path(dag_path).resolve()),
            "params": encoded,
            "schedule_id": schedule_id or "",
            "logical_date": logical_date or "",
            "tenant": tenant or "",
            "queue": queue or self.config.queue,
            "max_retries": max_retries,
            "retry_delay_s": retry_delay_s,
            "requested_run_id": run_id or "",
            "trigger": trigger or ("schedule" if schedule_id else "queue"),
        }
        if self.ledger.create_job(job_id, fields):
            self.publish_job(job_id, 1, str(fields["queue"]))
        return job_id

    def publish_job(self, job_id: str, delivery: int, queue_name: str, countdown: float | None = None) -> None:
        try:
            self.app.send_task(
                RUN_TASK,
                kwargs={"v": 1, "job_id": job_id, "delivery": delivery},
                queue=queue_name,
                task_id=f"job:{job_id}#{delivery}",
                countdown=countdown or None,
                ignore_result=True,
            )
        except Exception as exc:
            raise ExecutorError(
                f"could not send job {job_id} to the broker at {redact(self.config.broker)}: "
                f"{describe_redis_error(exc)}"
            ) from exc

    def status(self, *, limit: int = 20, window: int = 1000) -> dict[str, Any]:
        """Counts by state over the last ``window`` jobs, the last ``limit`` jobs, live workers, waiting messages."""
        jobs = self.ledger.recent_jobs(window)
        counts = dict.fromkeys(JOB_STATES, 0)
        for job in jobs:
            counts[job.get("state", "?")] = counts.get(job.get("state", "?"), 0) + 1
        workers = self.ledger.workers()
        queues = sorted(
            {
                self.config.queue,
                *(q for w in workers for q in w.get("queues", [])),
                *(j.get("queue", "") for j in jobs[:limit] if j.get("queue")),
            }
        )
        return {
            "broker": redact(self.config.broker),
            "counts": counts,
            "window": window,
            "waiting": self.ledger.queue_lengths(queues),
            "workers": workers,
            "jobs": jobs[:limit],
        }

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.ledger.job(job_id)


def enqueue_run(
    dag_path: str | Path,
    *,
    params: dict[str, Any] | None = None,
    schedule_id: str | None = None,
    logical_date: str | None = None,
    tenant: str | None = None,
    broker: str | None = None,
    queue: str | None = None,
    max_retries: int = 0,
    retry_delay_s: float = 10.0,
    job_id: str | None = None,
    run_id: str | None = None,
    trigger: str | None = None,
) -> str:
    """Put one whole-DAG run on the queue for a ``dagctl worker``; return the job id (``QUEUE_BACKEND=redis``).

    A worker runs it with :func:`dagctl.run.api.run_dag` (events and logs go to the worker's ``DAGCTL_LOGS_DIR``),
    as ``run_id`` if given (later tries get new ids), with ``tenant`` overriding the DAG's ``tenant_id``.
    ``job_id`` makes enqueueing idempotent (e.g. ``f"{schedule_id}@{logical_date}"``). A failed run is tried
    again ``max_retries`` times, ``retry_delay_s`` apart. ``dag_path`` must exist at the same path on workers.
    ``broker`` defaults to ``REDIS_URL``.
    """
    with RunQueue(broker=broker) as run_queue:
        return run_queue.enqueue(
            dag_path,
            params=params,
            schedule_id=schedule_id,
            logical_date=logical_date,
            tenant=tenant,
            queue=queue,
            max_retries=max_retries,
            retry_delay_s=retry_delay_s,
            job_id=job_id,
            run_id=run_id,
            trigger=trigger,
        )


def queue_status(*, broker: str | None = None, limit: int = 20, window: int = 1000) -> dict[str, Any]:
    """What ``dagctl queue`` shows, as data."""
    with RunQueue(broker=broker) as run_queue:
        return run_queue.status(limit=limit, window=window)
