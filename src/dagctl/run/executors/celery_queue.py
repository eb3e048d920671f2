"""Whole-DAG runs as queue jobs (``QUEUE_BACKEND=redis``): :class:`RunQueue` for the scheduler and
``dagctl queue``, :func:`enqueue_run` for any program, :func:`queue_status` for what ``dagctl queue`` shows.

A job is a record in the ledger (:class:`~.celery_ledger.Ledger`: ``pending`` → ``running`` → ``success`` |
``failed`` | ``retry``) plus one Celery message per delivery; a ``dagctl worker`` runs it with
:func:`dagctl.run.api.run_dag` (:mod:`dagctl.run.worker`). Re-exported by :mod:`.celery`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import ExecutorError, UsageError
from dagctl.protocols import Clock

from .celery_app import RUN_TASK
from .celery_config import CeleryConfig, connect, describe_redis_error, redact
from .celery_ledger import JOB_STATES, Ledger

__all__ = ["RunQueue", "enqueue_run", "queue_status"]


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

    def job_alive(self, job_id: str) -> bool:
        """Does a worker hold the job's lease (even if the broker lost the job's record)?"""
        return self.ledger.job_alive(job_id)


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
