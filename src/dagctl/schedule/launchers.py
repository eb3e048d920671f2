"""How the scheduler starts a claimed run: here (threads or a Celery executor) or as a queue job.

A *launcher* turns a :class:`RunRequest` into a :class:`RunOutcome`; the scheduler never knows which one it
has, so tests pass a fake and production picks one with :func:`make_launcher`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagctl.clock import SystemClock
from dagctl.protocols import Clock
from dagctl.run.runner import RunControl

from .files import ScheduleSpec
from .slots import Slot
from .tick import logical_date


@dataclass(frozen=True)
class RunRequest:
    schedule: ScheduleSpec
    slot: Slot
    run_id: str
    trigger: str = "schedule"

    @property
    def logical_date(self) -> str:
        return logical_date(self.schedule, self.slot)


@dataclass(frozen=True)
class RunOutcome:
    status: str  # success | failed | cancelled
    run_id: str
    duration_s: float | None = None
    error: str | None = None


Launcher = Callable[[RunRequest, RunControl], RunOutcome]


def dag_launcher(settings: Any = None, *, executor: Any = None) -> Launcher:
    """The real launcher: load the schedule's DAG and run it with :func:`dagctl.run.api.run_dag`.

    ``executor`` (e.g. a Celery executor from ``--executor celery``) is shared by every run; None gives
    each run its own local thread pool.
    """

    def launch(request: RunRequest, control: RunControl) -> RunOutcome:
        from dagctl.dag.loader import load_dag
        from dagctl.run.api import run_dag

        schedule = request.schedule
        spec = load_dag(schedule.dag_path)
        if schedule.tenant and schedule.tenant != spec.tenant_id:
            spec = spec.model_copy(update={"tenant_id": schedule.tenant})
        result = run_dag(
            spec,
            params=dict(schedule.params),
            settings=settings,
            control=control,
            executor=executor,
            trigger=request.trigger,
            schedule_id=schedule.id,
            logical_date=request.logical_date,
            run_id=request.run_id,
        )
        return RunOutcome(result.status, result.run_id, result.duration_s, result.error)

    return launch


def queue_launcher(*, broker: str | None = None, poll_s: float = 0.5, clock: Clock | None = None) -> Launcher:
    """``QUEUE_BACKEND=redis``: each claimed run becomes a job for ``dagctl worker``; wait for its end.

    The job id is ``<schedule id>@<logical date>``, so a slot is enqueued at most once even if a claim is
    retried. Waiting keeps ``SCHED_MAX_PARALLEL`` meaningful and lets ``run_finished`` record the real
    outcome. If the scheduler stops first, the job stays on the queue and finishes on its worker; the
    slot is then recorded ``cancelled`` with that explanation.
    """
    from dagctl.run.executors.celery import RunQueue

    run_queue = RunQueue(broker=broker)  # connects now: a dead broker fails at start, not at 03:00
    timer = clock or SystemClock()

    def launch(request: RunRequest, control: RunControl) -> RunOutcome:
        schedule = request.schedule
        start = timer.monotonic()
        job_id = run_queue.enqueue(
            schedule.dag_path,
            params=dict(schedule.params),
            schedule_id=schedule.id,
            logical_date=request.logical_date,
            tenant=schedule.tenant or None,
            run_id=request.run_id,
            trigger=request.trigger,
            job_id=f"{schedule.id}@{request.logical_date}",
        )
        while True:
            job = run_queue.job(job_id) or {}
            state = job.get("state")
            if state in ("success", "failed"):
                return RunOutcome(
                    state, str(job.get("run_id") or request.run_id), timer.monotonic() - start, job.get("error") or None
                )
            if control.cancelled:
                return RunOutcome(
                    "cancelled",
                    request.run_id,
                    timer.monotonic() - start,
                    f"scheduler stopped while queue job {job_id} was {state or 'pending'}; it stays on the queue",
                )
            timer.wait(control.wake, poll_s)

    return launch


def make_launcher(
    settings: Any, *, executor: str | None = None, broker: str | None = None
) -> tuple[Launcher, Callable[[], None]]:
    """The launcher the settings ask for, and how to release it: whole runs on the queue when
    ``QUEUE_BACKEND=redis``, else runs here with the chosen task executor."""
    if (settings.queue_backend or "memory").lower() == "redis":
        return queue_launcher(broker=broker or settings.redis_url), lambda: None
    from dagctl.run.executors.factory import make_executor

    chosen = make_executor(executor, broker, settings)
    return dag_launcher(settings, executor=chosen), (lambda: chosen.shutdown(wait=False)) if chosen else (lambda: None)
