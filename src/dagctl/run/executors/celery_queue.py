"""Whole-DAG runs as queue jobs (``QUEUE_BACKEND=redis``): :class:`RunQueue` for the scheduler and
``dagctl queue``, :func:`enqueue_run` for any program, :func:`queue_status` for what ``dagctl queue`` shows.

A job is a record in the ledger (:class:`~.celery_ledger.Ledger`: ``pending`` → ``running`` → ``success`` |
``failed`` | ``cancelled``, or ``retry``) plus one Celery message per delivery; a ``dagctl worker`` runs it with
:func:`dagctl.run.api.run_dag` (:mod:`dagctl.run.worker`). :meth:`RunQueue.cancel` (``dagctl queue remove``,
:func:`cancel_queued_run`) ends a job that has not started and stops a running one. Re-exported by :mod:`.celery`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import ExecutorError, UsageError
from dagctl.protocols import Clock

from .celery_app import RUN_TASK
from .celery_config import CeleryConfig, connect, describe_redis_error, redact
from .celery_ledger import JOB_STATES, Ledger

__all__ = ["Enqueued", "QueueCancel", "RunQueue", "cancel_queued_run", "enqueue_run", "queue_status"]


@dataclass(frozen=True)
class Enqueued:
    """What :meth:`RunQueue.submit` did: ``created`` a job, made a finished one pending again (``rerun``), or found
    one with that id still pending or running (``exists``: nothing sent; ``job`` is its record)."""

    job_id: str
    verdict: str
    job: dict[str, Any] | None = None


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

    def enqueue(self, dag_path: str | Path, **options: Any) -> str:
        """Record a ``pending`` job and publish it; return its id. An existing ``job_id`` is not enqueued again.
        The options are :meth:`submit`'s."""
        return self.submit(dag_path, **options).job_id

    def submit(
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
        rerun_finished: bool = False,
    ) -> Enqueued:
        """Record a ``pending`` job and publish it. An existing ``job_id`` is not enqueued again, unless
        ``rerun_finished`` and that job has finished (success, failed or cancelled): then it is made pending again
        with these values (a new run, as ``run_id``) and published under its next delivery number."""
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
        verdict, delivery = self.ledger.create_job(job_id, fields, rerun=rerun_finished)
        if verdict == "exists":
            return Enqueued(job_id, verdict, self.ledger.job(job_id))
        self.publish_job(job_id, delivery, str(fields["queue"]))
        return Enqueued(job_id, verdict)

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
        """Counts by state over the last ``window`` jobs, the last ``limit`` jobs, live workers, waiting messages
        (on every queue that has some, and on the default queue and those of live workers and recent jobs), and
        the queues with messages that no live worker takes (``unserved``)."""
        jobs = self.ledger.recent_jobs(window)
        counts = dict.fromkeys(JOB_STATES, 0)
        for job in jobs:
            counts[job.get("state", "?")] = counts.get(job.get("state", "?"), 0) + 1
        workers = self.ledger.workers()
        served = {q for w in workers for q in w.get("queues", [])}
        known = set(self.ledger.queue_names())
        queues = sorted(
            {self.config.queue, *served, *(j.get("queue", "") for j in jobs[:limit] if j.get("queue")), *known}
        )
        lengths = self.ledger.queue_lengths(queues)
        waiting = {q: n for q, n in lengths.items() if n or q == self.config.queue or q in served}
        return {
            "broker": redact(self.config.broker),
            "counts": counts,
            "window": window,
            "waiting": waiting,
            "unserved": sorted(q for q, n in waiting.items() if n and q not in served),
            "workers": workers,
            "jobs": jobs[:limit],
        }

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.ledger.job(job_id)

    def job_alive(self, job_id: str) -> bool:
        """Does a worker hold the job's lease (even if the broker lost the job's record)?"""
        return self.ledger.job_alive(job_id)

    def find(self, job_or_run: str) -> dict[str, Any] | None:
        """A job by its id, else the job that ran (or will run) as that run id."""
        return self.ledger.job(job_or_run) or self.ledger.job_of_run(job_or_run)

    def adopt(self, job_id: str, run_id: str) -> bool:
        """A job no worker has started yet will run as ``run_id``: see :meth:`Ledger.adopt_job`."""
        return self.ledger.adopt_job(job_id, run_id)

    def cancel(self, job_id: str, reason: str) -> tuple[str, str]:
        """Cancel a job (:meth:`Ledger.cancel_job`); a job that had not started is also taken off its queue."""
        verdict, extra = self.ledger.cancel_job(job_id, reason)
        if verdict == "cancelled":
            job = self.ledger.job(job_id) or {}
            with contextlib.suppress(Exception):  # a message left behind is dropped by the worker that gets it
                self.ledger.drop_messages(str(job.get("queue") or self.config.queue), {f"job:{job_id}#"}, prefix=True)
        return verdict, extra


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


@dataclass(frozen=True)
class QueueCancel:
    """What :func:`cancel_queued_run` did to the job of a run (or a job id)."""

    job_id: str
    verdict: str
    """``cancelled`` (it had not started: it never will), ``running`` (its worker stops it within seconds),
    ``done`` (it had finished: nothing to do)."""
    state: str
    """The job's state before: pending, retry, running, or how it finished."""
    run_id: str = ""
    worker: str = ""

    def describe(self) -> str:
        """One line for the operator."""
        run = f" (run {self.run_id})" if self.run_id else ""
        if self.verdict == "cancelled":
            return f"queue job {self.job_id}{run} was {self.state}: cancelled, it will not run"
        if self.verdict == "running":
            return f"queue job {self.job_id}{run} runs on worker {self.worker}: it stops within seconds"
        return f"queue job {self.job_id}{run} had already finished ({self.state}): nothing to cancel"


def cancel_queued_run(
    job_or_run: str, reason: str, *, broker: str | None = None, run_queue: RunQueue | None = None
) -> QueueCancel | None:
    """Cancel the queue job ``job_or_run`` (a job id, or the run id a job runs as); None when the queue has no such
    job. ``dagctl queue remove`` calls it, and ``dagctl cancel RUN`` for a run it does not know locally (queued runs
    run on workers, whose run folders the operator may not share)."""
    if run_queue is None:
        with RunQueue(broker=broker) as owned:
            return cancel_queued_run(job_or_run, reason, run_queue=owned)
    job = run_queue.find(job_or_run)
    if job is None:
        return None
    job_id = str(job.get("id") or job_or_run)
    verdict, extra = run_queue.cancel(job_id, reason)
    if verdict == "unknown":  # expired between the two reads
        return None
    state = extra if verdict in ("cancelled", "done") else str(job.get("state") or "running")
    run_id = str(job.get("run_id") or job.get("requested_run_id") or "")
    return QueueCancel(job_id, verdict, state, run_id, extra if verdict == "running" else "")
