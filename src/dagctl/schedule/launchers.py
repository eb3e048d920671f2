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
from dagctl.dag.durations import format_duration
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


QUEUE_REMIND_S = 300.0
"""How often the queue launcher says again that a job waits on a queue no live worker takes."""
WORKER_CHECK_S = 5.0
"""How often the queue launcher looks for live workers while its job waits for one."""
NO_WORKER_GIVE_UP_S = 60.0
"""``schedule --once`` and ``backfill``: how long a job may wait with no live worker on its queue before the wait
ends (the job stays on the queue); ``--serve`` waits for a worker as long as it runs."""
WAITING = ("pending", "retry")
"""Job states in which no worker is running the job."""


class QueueLauncher:
    """``QUEUE_BACKEND=redis``: each claimed run becomes a job for ``dagctl worker``; wait for its end.

    The job id is ``<schedule id>@<logical date>``. A slot claimed again (``dagctl backfill`` of a slot recorded
    ``cancelled`` or ``lost``, a scheduler with another state log) whose job has finished runs it again (the job is
    made pending again, as this claim's run id); one whose job is still waiting or running waits for that job
    instead of running the slot twice, and records the run id that job has. Waiting keeps ``SCHED_MAX_PARALLEL``
    meaningful and lets ``run_finished`` record the real outcome: ``success``, ``failed`` or ``cancelled`` (the run
    was cancelled: ``dagctl cancel``, ``dagctl queue remove``).

    While the job waits and no live worker takes its queue, a warning says so at once and every
    :data:`QUEUE_REMIND_S`; with ``give_up_s`` (``--once``, backfill) the wait ends after that long, the slot
    ``cancelled`` and the job left on the queue. If the scheduler stops (:meth:`stopping`), a job no worker has
    taken ends the wait at once and one that runs gets the grace period; either way it stays on the queue (and
    finishes on its worker) and the slot is recorded ``cancelled`` with that explanation. A job the broker lost
    (restarted empty: no record, no worker renewing its lease for ``DAGCTL_WORKER_LEASE``), or a broker silent
    for ``DAGCTL_BROKER_LOST``, ends the wait as ``failed`` with that reason.
    """

    def __init__(
        self,
        *,
        broker: str | None = None,
        poll_s: float = 0.5,
        clock: Clock | None = None,
        settings: Any = None,
        give_up_s: float | None = None,
        remind_s: float = QUEUE_REMIND_S,
    ) -> None:
        import threading

        from dagctl.run.executors.celery import RunQueue

        self.run_queue = RunQueue(broker=broker)  # connects now: a dead broker fails at start, not at 03:00
        self.config = self.run_queue.config
        self.poll_s = poll_s
        self.clock = clock or SystemClock()
        self.settings = settings
        self.give_up_s = give_up_s
        self.remind_s = remind_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._waiting: set[RunControl] = set()

    def stopping(self) -> None:
        """The scheduler stops: waits for jobs that no worker has taken end now (the jobs stay on the queue)."""
        self._stopping.set()
        with self._lock:
            for control in self._waiting:
                control.wake.set()

    def close(self) -> None:
        self.run_queue.close()

    def __call__(self, request: RunRequest, control: RunControl) -> RunOutcome:
        with self._lock:
            self._waiting.add(control)
        try:
            return self._launch(request, control)
        finally:
            with self._lock:
                self._waiting.discard(control)

    def _enqueue(self, request: RunRequest) -> str:
        """Put the slot's job on the queue (or find it there); its id."""
        schedule = request.schedule
        options: dict[str, Any] = {
            "params": dict(schedule.params),
            "schedule_id": schedule.id,
            "logical_date": request.logical_date,
            "tenant": schedule.tenant or None,
            "run_id": request.run_id,
            "trigger": request.trigger,
            "rerun_finished": True,
        }
        job_id = f"{schedule.id}@{request.logical_date}"
        with recorded_if_unstarted(request, self.settings):  # the job never reached the queue
            done = self.run_queue.submit(schedule.dag_path, job_id=job_id, **options)
            if done.verdict != "exists":
                return job_id
            job = done.job or {}
            same = (job.get("dag_path"), job.get("params"), job.get("tenant") or None) == (
                str(schedule.dag_path.resolve()),
                dict(schedule.params),
                schedule.tenant or None,
            )
            if not same:  # another environment's job under the same id (a shared Redis): not this slot's work
                return self.run_queue.submit(schedule.dag_path, job_id=f"{job_id}/{request.run_id}", **options).job_id
        adopted = self.run_queue.adopt(job_id, request.run_id)
        run = request.run_id if adopted else job.get("run_id") or job.get("requested_run_id") or "?"
        log.warning(
            "%s: queue job %s of this slot is still %s (enqueued %s); waiting for it as run %s instead of running "
            "the slot twice",
            request.slot.key,
            job_id,
            job.get("state") or "pending",
            job.get("enqueued_at") or "earlier",
            run,
        )
        return job_id

    def _launch(self, request: RunRequest, control: RunControl) -> RunOutcome:
        from dagctl.run.executors.celery_config import describe_redis_error, redact

        config, timer = self.config, self.clock
        start = timer.monotonic()
        job_id = self._enqueue(request)
        queue_name = self.config.queue
        state, run_id = "pending", request.run_id
        silent_since: float | None = None  # the broker does not answer
        lost_since: float | None = None  # the job's record is gone and no worker holds its lease
        unserved = _Unserved(self, job_id, request)
        while True:
            now = timer.monotonic()
            try:
                job = self.run_queue.job(job_id)
                alive = job is not None or self.run_queue.job_alive(job_id)
            except Exception as exc:  # the broker is away: wait for it, up to broker_lost_s
                silent_since = now if silent_since is None else silent_since
                if now - silent_since >= config.broker_lost_s:
                    return RunOutcome(
                        "failed",
                        run_id,
                        now - start,
                        f"lost contact with the broker at {redact(config.broker)} for {now - silent_since:.0f}s "
                        f"({describe_redis_error(exc)}) while queue job {job_id} was {state}; it may still finish "
                        "on its worker",
                    )
            else:
                silent_since = None
                if job is not None:
                    state = job.get("state") or state
                    queue_name = job.get("queue") or queue_name
                    run_id = str(job.get("run_id") or job.get("requested_run_id") or run_id)
                    if state in ("success", "failed", "cancelled"):
                        return RunOutcome(state, run_id, now - start, job.get("error") or None)
                if alive:
                    lost_since = None
                elif lost_since is None:
                    lost_since = now
                elif now - lost_since >= config.lease_s:  # a worker running it would have renewed its lease
                    with recorded_if_unstarted(request, self.settings):  # no worker has it: this run will not happen
                        raise ExecutorError(
                            f"the broker lost queue job {job_id} (restarted empty?): {redact(config.broker)} no "
                            f"longer has it and no worker renewed a lease on it for {config.lease_s:g}s"
                        )
                if state in WAITING:
                    given_up = unserved.check(queue_name, now)
                    if given_up is not None:
                        return RunOutcome("cancelled", run_id, now - start, given_up)
                else:
                    unserved.reset()
            if control.cancelled or (self._stopping.is_set() and state in WAITING):
                taken = "" if state not in WAITING else " (no worker had taken it)"
                why = "backfill interrupted" if control.reason == "backfill interrupted" else "scheduler stopped"
                return RunOutcome(
                    "cancelled",
                    run_id,
                    now - start,
                    f"{why} while queue job {job_id} was {state}{taken}; it stays on the queue",
                )
            timer.wait(control.wake, self.poll_s)


class _Unserved:
    """Whether a waiting job's queue has a live worker: a warning at once and every ``remind_s`` when it has none,
    and the reason to stop waiting after ``give_up_s`` without one."""

    def __init__(self, launcher: QueueLauncher, job_id: str, request: RunRequest) -> None:
        self.launcher = launcher
        self.job_id = job_id
        self.request = request
        self.next_check = float("-inf")
        self.since: float | None = None  # when no live worker was first seen on the queue
        self.next_warning = float("-inf")

    def reset(self) -> None:
        self.since, self.next_warning = None, float("-inf")

    def check(self, queue_name: str, now: float) -> str | None:
        if now < self.next_check:
            return self._give_up(queue_name, now)
        self.next_check = now + WORKER_CHECK_S
        try:
            workers = self.launcher.run_queue.ledger.workers()
        except Exception:  # the broker is away: the job's own read says so
            return None
        if any(queue_name in w.get("queues", []) for w in workers):
            self.reset()
            return None
        if self.since is None:
            self.since = now
        if now >= self.next_warning:
            self.next_warning = now + self.launcher.remind_s
            waited = format_duration(now - self.since)
            log.warning(
                "%s: queue job %s waits for a dagctl worker: no worker is alive on queue '%s'%s (start one: dagctl "
                "worker --queues %s)",
                self.request.slot.key,
                self.job_id,
                queue_name,
                f" for {waited}" if now > self.since else "",
                queue_name,
            )
        return self._give_up(queue_name, now)

    def _give_up(self, queue_name: str, now: float) -> str | None:
        limit = self.launcher.give_up_s
        if limit is None or self.since is None or now - self.since < limit:
            return None
        return (
            f"no dagctl worker took queue job {self.job_id}: none was alive on queue '{queue_name}' for "
            f"{format_duration(now - self.since)}; the job stays on the queue and runs when a worker starts "
            f"(dagctl worker --queues {queue_name}), or remove it: dagctl queue remove {self.job_id}"
        )


def queue_launcher(
    *,
    broker: str | None = None,
    poll_s: float = 0.5,
    clock: Clock | None = None,
    settings: Any = None,
    give_up_s: float | None = None,
) -> QueueLauncher:
    """``QUEUE_BACKEND=redis``: a :class:`QueueLauncher` (each claimed run becomes a job for ``dagctl worker``)."""
    return QueueLauncher(broker=broker, poll_s=poll_s, clock=clock, settings=settings, give_up_s=give_up_s)


def make_launcher(
    settings: Any, *, executor: str | None = None, broker: str | None = None, once: bool = False
) -> tuple[Launcher, Callable[[], None]]:
    """The launcher the settings ask for, and how to release it: whole runs on the queue when
    ``QUEUE_BACKEND=redis`` (``once``: a ``--once`` tick or a backfill, which stop waiting for a job no worker can
    take after :data:`NO_WORKER_GIVE_UP_S`), else runs here with the chosen task executor."""
    if (settings.queue_backend or "memory").lower() == "redis":
        queued = queue_launcher(
            broker=broker or settings.redis_url, settings=settings, give_up_s=NO_WORKER_GIVE_UP_S if once else None
        )
        return queued, queued.close
    from dagctl.run.executors.factory import make_executor

    chosen = make_executor(executor, broker, settings)
    return dag_launcher(settings, executor=chosen), (lambda: chosen.shutdown(wait=False)) if chosen else (lambda: None)
