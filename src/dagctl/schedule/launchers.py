"""How the scheduler starts a claimed run: here (threads or a Celery executor) or as a queue job.

A *launcher* turns a :class:`RunRequest` into a :class:`RunOutcome`; the scheduler never knows which one it
has, so tests pass a fake and production picks one with :func:`make_launcher`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError, ExecutorError, SpecError
from dagctl.protocols import Clock
from dagctl.run.state import RunControl

from .files import ScheduleSpec
from .slots import Slot
from .tick import logical_date

log = logging.getLogger("dagctl.scheduler")


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
    halted: bool = False
    """The run stopped because what happened could no longer be recorded (a full disk): exit 3, as ``run``."""


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
        with recorded_if_unstarted(request, settings):
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
        return RunOutcome(
            result.status,
            result.run_id,
            result.duration_s,
            result.error or failed_tasks(result),
            halted=result.halted is not None,
        )

    return launch


FAILED_SHOWN = 3
"""At most this many failed tasks are named in a run's error; the rest are counted."""


def failed_tasks(result: Any) -> str | None:
    """Why a run failed when its runner gave no error of its own: its failed tasks and their errors,
    ``task a failed: exit code 7`` (``dagctl show RUN`` has the whole story). None when no task failed."""
    failed = [t for t in result.tasks.values() if t.status == "failed"]
    if not failed:
        return None
    parts = [f"{t.id} ({t.error or 'failed'})" for t in failed[:FAILED_SHOWN]]
    if len(failed) == 1:
        return f"task {failed[0].id} failed: {failed[0].error or 'no reason recorded'}"
    more = f" and {len(failed) - FAILED_SHOWN} more" if len(failed) > FAILED_SHOWN else ""
    return f"{len(failed)} tasks failed: {', '.join(parts)}{more}"


def describe_failure(exc: BaseException) -> str:
    """One line for a run that a launcher could not run: what ``run_finished`` and the run's ``dag_done`` say."""
    if isinstance(exc, SpecError):
        return exc.message  # the first problem, FILE:LINE:COL, and how many more
    if isinstance(exc, DagctlError):
        return str(exc).splitlines()[0]
    return f"internal error: {type(exc).__name__}: {exc}"


@contextmanager
def recorded_if_unstarted(request: RunRequest, settings: Any = None) -> Iterator[None]:
    """If the block raises before the run's runner has written anything (its DAG no longer loads, the queue
    refuses the job), record the run as failed with the reason, so ``dagctl runs`` and ``dagctl show RUN`` know
    the run id the scheduler logged (:func:`dagctl.store.unstarted.record_unstarted_run`). Re-raises."""
    try:
        yield
    except Exception as exc:
        from dagctl.settings import Settings
        from dagctl.store.unstarted import record_unstarted_run

        schedule = request.schedule
        try:
            record_unstarted_run(
                settings or Settings.from_env(),
                run_id=request.run_id,
                dag_name=Path(schedule.dag).stem,
                error=describe_failure(exc),
                tenant_id=schedule.tenant or "",
                trigger=request.trigger,
                params=dict(schedule.params),
                dag_file=str(schedule.dag_path.resolve()),
                schedule_id=schedule.id,
                logical_date=request.logical_date,
            )
        except (DagctlError, OSError) as problem:  # the scheduler's own record of the slot still says why
            log.error("cannot record run %s that did not start: %s", request.run_id, problem)
        raise


def queue_launcher(
    *, broker: str | None = None, poll_s: float = 0.5, clock: Clock | None = None, settings: Any = None
) -> Launcher:
    """``QUEUE_BACKEND=redis``: each claimed run becomes a job for ``dagctl worker``; wait for its end.

    The job id is ``<schedule id>@<logical date>``, so a slot is enqueued at most once even if a claim is
    retried. Waiting keeps ``SCHED_MAX_PARALLEL`` meaningful and lets ``run_finished`` record the real
    outcome. If the scheduler stops first, the job stays on the queue and finishes on its worker; the
    slot is then recorded ``cancelled`` with that explanation. A job the broker lost (restarted empty: no
    record, no worker renewing its lease for ``DAGCTL_WORKER_LEASE``), or a broker silent for
    ``DAGCTL_BROKER_LOST``, ends the wait as ``failed`` with that reason.
    """
    from dagctl.run.executors.celery import RunQueue
    from dagctl.run.executors.celery_config import describe_redis_error, redact

    run_queue = RunQueue(broker=broker)  # connects now: a dead broker fails at start, not at 03:00
    config = run_queue.config
    timer = clock or SystemClock()

    def launch(request: RunRequest, control: RunControl) -> RunOutcome:
        schedule = request.schedule
        start = timer.monotonic()
        with recorded_if_unstarted(request, settings):  # the job never reached the queue
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
        state = "pending"
        silent_since: float | None = None  # the broker does not answer
        lost_since: float | None = None  # the job's record is gone and no worker holds its lease
        while True:
            now = timer.monotonic()
            try:
                job = run_queue.job(job_id)
                alive = job is not None or run_queue.job_alive(job_id)
            except Exception as exc:  # the broker is away: wait for it, up to broker_lost_s
                silent_since = now if silent_since is None else silent_since
                if now - silent_since >= config.broker_lost_s:
                    return RunOutcome(
                        "failed",
                        request.run_id,
                        now - start,
                        f"lost contact with the broker at {redact(config.broker)} for {now - silent_since:.0f}s "
                        f"({describe_redis_error(exc)}) while queue job {job_id} was {state}; it may still finish "
                        "on its worker",
                    )
            else:
                silent_since = None
                if job is not None:
                    state = job.get("state") or state
                    if state in ("success", "failed"):
                        run_id = str(job.get("run_id") or request.run_id)
                        return RunOutcome(state, run_id, now - start, job.get("error") or None)
                if alive:
                    lost_since = None
                elif lost_since is None:
                    lost_since = now
                elif now - lost_since >= config.lease_s:  # a worker running it would have renewed its lease
                    with recorded_if_unstarted(request, settings):  # no worker has it: this run will not happen
                        raise ExecutorError(
                            f"the broker lost queue job {job_id} (restarted empty?): {redact(config.broker)} no "
                            f"longer has it and no worker renewed a lease on it for {config.lease_s:g}s"
                        )
            if control.cancelled:
                return RunOutcome(
                    "cancelled",
                    request.run_id,
                    now - start,
                    f"scheduler stopped while queue job {job_id} was {state}; it stays on the queue",
                )
            timer.wait(control.wake, poll_s)

    return launch


def make_launcher(
    settings: Any, *, executor: str | None = None, broker: str | None = None
) -> tuple[Launcher, Callable[[], None]]:
    """The launcher the settings ask for, and how to release it: whole runs on the queue when
    ``QUEUE_BACKEND=redis``, else runs here with the chosen task executor."""
    if (settings.queue_backend or "memory").lower() == "redis":
        return queue_launcher(broker=broker or settings.redis_url, settings=settings), lambda: None
    from dagctl.run.executors.factory import make_executor

    chosen = make_executor(executor, broker, settings)
    return dag_launcher(settings, executor=chosen), (lambda: chosen.shutdown(wait=False)) if chosen else (lambda: None)
