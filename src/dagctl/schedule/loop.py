"""The scheduler at work: claim slots in the state store, run them in threads, stop gracefully.

:class:`Scheduler` is shared by ``dagctl schedule --once`` (:meth:`~Scheduler.run_once`: one tick, wait
for its runs, exit) and ``--serve`` (:meth:`~Scheduler.serve`: tick every SCHED_TICK_MS until stopped).
What to claim is decided by the pure :func:`dagctl.schedule.tick.plan_tick` inside a state-store
transaction; this module only does the IO around it:

1. **Claim** (one transaction, under the state log's lock): reap open slots whose owner process died
   (``run_finished`` status ``lost``), plan, append ``schedule_registered`` / ``schedule_enqueued`` /
   ``schedule_skipped`` with fsync. Another process waiting for the lock then sees the new watermark.
2. **Start** when a worker is free (at most SCHED_MAX_PARALLEL), the slot's jitter has passed and, with
   ``overlap: queue``, no earlier slot of the schedule is open in any process: append ``run_started``
   (fsync), then call the launcher (``dagctl.run.api.run_dag``) in a thread with its own RunControl.
3. **Finish**: append ``run_finished`` with the status. If that cannot be written (a full disk, the state lock
   held too long by another process), the record is kept in memory and written with the next transaction this
   scheduler makes (every tick tries, and a tick that cannot write counts as failing); meanwhile the slot does
   not count as running here. A stop tries once more; what still cannot be written is logged, ``--once`` exits 3,
   and the next scheduler records the slot ``lost``.

Stopping: no new claims; claimed slots that have not started are recorded as ``schedule_skipped``;
running DAGs get ``grace`` seconds, then are cancelled (the runner terminates their tasks), and every
end is recorded. A wait for the state lock (held by another process) ends at a stop request (for the
writes of a stop itself: at a second signal). The clock is injected: tests drive the whole loop with a FakeClock.

Retention (:mod:`~dagctl.schedule.retention`): with a :class:`~dagctl.schedule.retention.Retention`, ``--once`` applies
the project's ``retention:`` after its runs and ``--serve`` looks every minute, in a thread of its own; either
way at most once a day across processes. A stop waits for a pass in progress (a prune is all or nothing).

Health (``--serve``): the state store is locked and read before ``READY=1``; ticks that fail stop feeding the
watchdog, and after ``fail_after_s`` of failures (:class:`~dagctl.schedule.tick.TickFailures`) the scheduler
stops and raises :class:`SchedulerFailing` (exit 3) so that the service manager restarts it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, DagctlError, StateError, UsageError
from dagctl.protocols import Clock
from dagctl.run.state import RunControl, new_run_id
from dagctl.store.events import format_ts, parse_ts
from dagctl.store.state import (
    LockWaitInterrupted,
    OpenSlot,
    Owner,
    RunFinished,
    RunStarted,
    ScheduleEnqueued,
    ScheduleRegistered,
    ScheduleSkipped,
    StateStore,
    Transaction,
)

from .files import ScheduleSource, ScheduleSpec, rare_schedules
from .launchers import (
    Launcher,
    RunOutcome,
    RunRequest,
    dag_launcher,
    describe_failure,
    make_launcher,
    queue_launcher,
)
from .retention import Retention
from .sdnotify import Notifier
from .slots import ScheduleLike, Slot
from .tick import (
    DEFAULT_CATCHUP_CAP,
    DEFAULT_FAIL_AFTER_S,
    Claim,
    Register,
    Skip,
    TickFailures,
    jitter_delay,
    plan_tick,
)

__all__ = [
    "RunOutcome",
    "RunRequest",
    "Scheduler",
    "SchedulerFailing",
    "SchedulerLocked",
    "SchedulerStateError",
    "ServeLock",
    "dag_launcher",
    "make_launcher",
    "queue_launcher",
]

log = logging.getLogger("dagctl.scheduler")


# ---------------------------------------------------------------------------------------- serve lock


class SchedulerStateError(StateError):
    """The state store cannot be used (locked too long, unwritable): an environment problem, exit 3."""

    exit_code = EXIT_ENVIRONMENT


class SchedulerLocked(SchedulerStateError):
    """Another ``--serve`` holds this state directory."""


class SchedulerFailing(SchedulerStateError):
    """``--serve`` stopped because its ticks kept failing (exit 3: the service manager should restart it)."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DagctlError):
        return exc.message.splitlines()[0] if exc.message else type(exc).__name__
    return str(exc) or type(exc).__name__


class ServeLock:
    """One ``--serve`` per state directory: a non-blocking flock on ``scheduler.lock``, with the holder
    (host, pid, start time, schedules folder) written next to it in ``scheduler.owner.json``."""

    def __init__(self, state_dir: str | Path, clock: Clock | None = None) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / "scheduler.lock"
        self.info_path = self.dir / "scheduler.owner.json"
        self.clock = clock or SystemClock()
        self._lock: Any = None

    def acquire(self, **details: Any) -> None:
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path), timeout=0, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SchedulerLocked(
                f"another dagctl schedule --serve already uses {self.dir}: {self.holder()}",
                hint="stop it first (systemctl stop dagctl-scheduler, or kill its pid), or give "
                "this one its own state directory with STATE_STORE_PATH",
            ) from None
        self._lock = lock
        owner = Owner.current()
        info = {
            "host": owner.host,
            "pid": owner.pid,
            "pid_start": owner.pid_start,
            "started": format_ts(self.clock.now()),
            **details,
        }
        tmp = self.info_path.with_name(f".{self.info_path.name}.{owner.pid}.tmp")
        tmp.write_text(json.dumps(info) + "\n")
        os.replace(tmp, self.info_path)

    def holder(self) -> str:
        try:
            info = json.loads(self.info_path.read_text())
            started = parse_ts(info["started"]).astimezone().isoformat(timespec="seconds")
        except (OSError, ValueError, KeyError, TypeError):
            return "held by another process (no holder details written yet)"
        where = f" with --dir {info['dir']}" if info.get("dir") else ""
        return f"held by pid {info.get('pid')} on {info.get('host')}, started {started}{where}"

    def release(self) -> None:
        if self._lock is None:
            return
        try:
            info = json.loads(self.info_path.read_text())
            if info.get("pid") == os.getpid():
                self.info_path.unlink()
        except (OSError, ValueError):
            pass
        self._lock.release()
        self._lock = None

    def __enter__(self) -> ServeLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ------------------------------------------------------------------------------------------- scheduler


@dataclass
class _Pending:
    schedule: ScheduleSpec
    slot: Slot
    not_before: float
    trigger: str = "schedule"


@dataclass
class _Active:
    request: RunRequest
    control: RunControl
    thread: threading.Thread


def _overlap(schedule: ScheduleLike) -> str:
    value = getattr(schedule, "overlap", "skip")
    return str(getattr(value, "value", value))


class Scheduler:
    """Claims, starts and records scheduled runs. Not thread-safe except the ``request_*`` methods."""

    def __init__(
        self,
        schedules: Sequence[ScheduleSpec],
        store: StateStore,
        launcher: Launcher,
        *,
        clock: Clock | None = None,
        max_parallel: int = 3,
        catchup_cap: int = DEFAULT_CATCHUP_CAP,
        poll_s: float = 0.5,
        owner: Owner | None = None,
        after_runs: Callable[[], object] | None = None,
        retention: Retention | None = None,
    ) -> None:
        if max_parallel < 1:
            raise UsageError(f"SCHED_MAX_PARALLEL must be 1 or more, got {max_parallel}")
        self.store = store
        self.launcher = launcher
        self.clock = clock or SystemClock()
        self.max_parallel = max_parallel
        self.catchup_cap = catchup_cap
        self.poll_s = poll_s
        self.owner = owner or Owner.current()
        # called on the loop's thread once finished runs are collected (their run_finished recorded): the
        # metrics textfile is written there; what it raises is logged, never more
        self.after_runs = after_runs
        self.retention = retention
        self.on_reload: Callable[[], object] | None = None
        """Called on every reload (SIGHUP, a changed file), after the schedules: settings read again."""
        self.pending: list[_Pending] = []
        self.active: dict[str, _Active] = {}
        self.outcomes: Counter[str] = Counter()
        self.halted = 0
        """Runs that stopped because their events could not be written (a full disk)."""
        self.unrecorded: dict[str, RunFinished] = {}
        """By slot key: ends of runs not written yet (loop thread only); the next transaction adds them."""
        self._hinted: set[str] = set()  # open slots of other hosts whose release hint was logged
        self.ticks = 0
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._kill_now = False
        self._finished: deque[tuple[str, RunOutcome, RunFinished | None]] = deque()
        self.set_schedules(schedules)

    # ---------------------------------------------------------------- control (any thread, signal handlers)

    def request_stop(self, *, now: bool = False) -> None:
        if now:
            self._kill_now = True
        self._stop.set()
        self.wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self.wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def set_schedules(self, schedules: Sequence[ScheduleSpec]) -> None:
        self.schedules = list(schedules)
        self._ids = {s.id for s in self.schedules}

    # ---------------------------------------------------------------- claiming

    def _reap(self, txn: Transaction) -> None:
        """Record slots whose owner process died (same host only) as finished with status ``lost``."""
        ts = self._ts()
        for sid, state in list(txn.fold.schedules.items()):
            for slot in list(state.open.values()):
                if slot.owner != self.owner and slot.owner.is_dead(self.owner.host):
                    started = "started" if slot.run_id else "claimed but never started"
                    txn.add(
                        RunFinished(
                            ts,
                            sid,
                            slot=slot.key,
                            run_id=slot.run_id,
                            status="lost",
                            error=f"{slot.owner} died ({started}); the slot is not run again",
                        )
                    )
                    log.warning("schedule %s slot %s: owner %s died; recorded as lost", sid, slot.key, slot.owner)

    def _open(self, state: Any) -> list[OpenSlot]:
        """A schedule's open slots, less those whose run ended here but whose end is not written yet."""
        return [slot for slot in state.open.values() if slot.key not in self.unrecorded]

    def _plan(self, fold: Any, now: datetime) -> list[Any]:
        ids = self._ids
        watermarks = {sid: st.watermark for sid, st in fold.schedules.items() if sid in ids}
        running = {sid: self._open(st) for sid, st in fold.schedules.items() if sid in ids and self._open(st)}
        recent = {sid: st.recent_minutes for sid, st in fold.schedules.items() if st.recent_minutes and sid in ids}
        return plan_tick(
            self.schedules,
            watermarks,
            running,
            now,
            catchup_cap=self.catchup_cap,
            recent_minutes=recent,
            registered=self.clock.now(),  # a replayed --now does not register new schedules in the past
        )

    def _hint_foreign_claims(self, fold: Any, actions: list[Any]) -> None:
        """Once per claim: a skip because of a slot held by another host (or by an owner its record does not name)
        says how to release it if that process is gone; dagctl cannot tell from here."""
        waiting = {  # due slots that wait for an open one: skipped (overlap: skip) or queued behind it
            a.slot.schedule_id
            for a in actions
            if (isinstance(a, Skip) and a.reason.startswith("overlap:"))
            or (isinstance(a, Claim) and _overlap(a.schedule) == "queue")
        }
        for sid in sorted(waiting):
            state = fold.schedules.get(sid)
            for slot in self._open(state) if state is not None else ():
                if slot.key in self._hinted or (slot.owner.known and slot.owner.host == self.owner.host):
                    continue
                self._hinted.add(slot.key)
                log.info(  # as the skip itself: a run on another host that is alive is no trouble
                    "schedule %s: slot %s is held by %s, which cannot be checked from %s; if that process is gone "
                    "(e.g. a container restarted with a new hostname), release it: dagctl schedule release %s",
                    sid,
                    slot.key,
                    slot.owner,
                    self.owner.host,
                    slot.key,
                )

    @contextmanager
    def _transaction(self, interrupt: Callable[[], bool] | None) -> Iterator[Transaction]:
        """A state-store transaction that also writes the run ends not written yet (:attr:`unrecorded`)."""
        with self.store.transaction(interrupt=interrupt) as txn:
            late = list(self.unrecorded.values())
            for event in late:
                txn.add(event)
            yield txn
        for event in late:
            del self.unrecorded[event.slot]
            log.info("recorded the end of run %s (%s) after all: %s", event.run_id, event.slot, event.status)

    def _write_unrecorded(self) -> None:
        """At the end (--once, a stop): one more try at the run ends not written yet; what fails is logged."""
        if not self.unrecorded:
            return
        try:
            with self._transaction(lambda: self._kill_now):
                pass
        except (DagctlError, OSError) as exc:
            log.error(
                "cannot record the end of %d run(s) (%s): %s; the next scheduler records them as lost",
                len(self.unrecorded),
                ", ".join(f"run {e.run_id} {e.status}" for e in self.unrecorded.values()),
                _describe(exc),
            )

    def _has_dead(self, fold: Any) -> bool:
        return any(
            slot.owner != self.owner and slot.owner.is_dead(self.owner.host)
            for state in fold.schedules.values()
            for slot in state.open.values()
        )

    def tick(self, now: datetime | None = None) -> list[Any]:
        """Claim what is due at ``now`` (default: the clock's now). Returns the actions taken."""
        now = now or self.clock.now()
        self.ticks += 1
        self._collect()  # runs that ended since the last look no longer count as running
        with self.store.reading() as preview:  # without the file lock: most ticks have nothing to do
            idle = not self.unrecorded and not self._plan(preview, now) and not self._has_dead(preview)
        if idle:
            return []
        with self._transaction(self._stop.is_set) as txn:
            self._reap(txn)
            actions = self._plan(txn.fold, now)
            self._hint_foreign_claims(txn.fold, actions)
            ts = self._ts()
            for action in actions:
                if isinstance(action, Register):
                    txn.add(ScheduleRegistered(ts, action.schedule_id, watermark=format_ts(action.watermark)))
                    continue
                slot, sid = action.slot, action.slot.schedule_id
                if isinstance(action, Skip):
                    txn.add(
                        ScheduleSkipped(
                            ts,
                            sid,
                            slot=slot.key,
                            fire_utc=format_ts(slot.fire_utc),
                            local_minute=slot.local_minute,
                            reason=action.reason,
                        )
                    )
                else:
                    txn.add(
                        ScheduleEnqueued(
                            ts,
                            sid,
                            slot=slot.key,
                            fire_utc=format_ts(slot.fire_utc),
                            local_minute=slot.local_minute,
                            claimed_by=self.owner,
                            dag=action.schedule.dag,
                            tenant=action.schedule.tenant,
                            timezone=action.schedule.timezone,
                        )
                    )
        mono = self.clock.monotonic()
        for action in actions:
            if isinstance(action, Claim):
                schedule = action.schedule
                assert isinstance(schedule, ScheduleSpec)
                self.pending.append(_Pending(schedule, action.slot, mono + jitter_delay(schedule, action.slot)))
                log.info("claimed %s", action.slot.key)
            elif isinstance(action, Skip):
                log.info("skipped %s: %s", action.slot.key, action.reason)
        self.pending.sort(key=lambda p: p.slot.fire_utc)
        return actions

    # ---------------------------------------------------------------- starting and finishing runs

    def _ts(self) -> str:
        return format_ts(self.clock.now())

    def _blocked(self, fold: Any, pending: _Pending) -> bool:
        """overlap: queue — an earlier slot of the same schedule is still open (in any process)."""
        state = fold.schedules.get(pending.slot.schedule_id)
        if state is None:
            return False
        return any(o.fire_utc < pending.slot.fire_utc for o in self._open(state))

    def pump(self) -> None:
        """Collect finished runs; start the pending ones that may start now."""
        self._collect()
        if not self.pending or self._stop.is_set() or len(self.active) >= self.max_parallel:
            return
        with self.store.reading() as fold:
            reap = self._has_dead(fold) and any(
                _overlap(p.schedule) == "queue" and self._blocked(fold, p) for p in self.pending
            )
        if reap:
            with self._transaction(self._stop.is_set) as txn:
                self._reap(txn)
        mono = self.clock.monotonic()
        startable: list[_Pending] = []
        with self.store.reading() as fold:
            for pending in self.pending:
                if len(self.active) + len(startable) >= self.max_parallel:
                    break
                if pending.not_before > mono:
                    continue
                if _overlap(pending.schedule) == "queue" and (
                    self._blocked(fold, pending) or any(p.schedule.id == pending.schedule.id for p in startable)
                ):
                    continue
                startable.append(pending)
        if startable:
            self._start(startable)

    def _start(self, batch: list[_Pending]) -> None:
        """Record ``run_started`` for every run of the batch (one fsync), then start their threads."""
        requests = [RunRequest(p.schedule, p.slot, new_run_id(self.clock), p.trigger) for p in batch]
        with self._transaction(self._stop.is_set) as txn:
            ts = self._ts()
            for r in requests:
                txn.add(
                    RunStarted(
                        ts,
                        r.schedule.id,
                        slot=r.slot.key,
                        run_id=r.run_id,
                        dag=r.schedule.dag,
                        tenant=r.schedule.tenant,
                        logical_date=r.logical_date,
                    )
                )
        for pending, request in zip(batch, requests, strict=True):
            self.pending.remove(pending)
            control = RunControl()
            thread = threading.Thread(
                target=self._run, args=(request, control), name=f"dagctl-run-{request.slot.key}", daemon=True
            )
            self.active[request.slot.key] = _Active(request, control, thread)
            log.info("started %s: run %s of %s", request.slot.key, request.run_id, request.schedule.dag)
            thread.start()

    def _run(self, request: RunRequest, control: RunControl) -> None:
        begin = self.clock.monotonic()
        try:
            outcome = self.launcher(request, control)
        except DagctlError as exc:  # e.g. the DAG no longer loads (the launcher recorded the run as failed)
            outcome = RunOutcome("failed", request.run_id, error=describe_failure(exc))
        except Exception as exc:  # a launcher bug must not lose the run_finished record
            log.exception("run %s of %s crashed", request.run_id, request.slot.key)
            outcome = RunOutcome("failed", request.run_id, error=describe_failure(exc))
        duration = outcome.duration_s if outcome.duration_s is not None else self.clock.monotonic() - begin
        end = RunFinished(
            self._ts(),
            request.schedule.id,
            slot=request.slot.key,
            run_id=outcome.run_id or request.run_id,  # a queue job of the slot may run under its own id
            status=outcome.status,
            duration_s=round(duration, 3),
            error=outcome.error,
        )
        unrecorded: RunFinished | None = end
        try:
            self.store.record(end, interrupt=lambda: self._kill_now)
            unrecorded = None
        except (DagctlError, OSError) as exc:  # an expected trouble (full disk, lock held too long): one line
            log.error(
                "cannot record the end of run %s (%s, %s) yet: %s; it is written with the next tick that can",
                request.run_id,
                request.slot.key,
                outcome.status,
                _describe(exc),
            )
        except Exception:  # a bug: the traceback helps, and the end is still kept for the next tick
            log.exception("cannot record the end of run %s", request.run_id)
        finally:
            self._finished.append((request.slot.key, outcome, unrecorded))
            self.wake.set()

    def _collect(self) -> None:
        collected = bool(self._finished)
        while self._finished:
            key, outcome, unrecorded = self._finished.popleft()
            if unrecorded is not None:
                self.unrecorded[key] = unrecorded
            active = self.active.pop(key, None)
            if active is not None:
                active.thread.join()
            self.outcomes[outcome.status] += 1
            self.halted += outcome.halted
            error = f": {outcome.error}" if outcome.error else ""
            level = logging.INFO if outcome.status == "success" else logging.WARNING
            log.log(level, "finished %s: run %s %s%s", key, outcome.run_id, outcome.status, error)
        if collected and self.after_runs is not None:
            try:
                self.after_runs()
            except Exception:
                log.exception("after the finished runs")

    def _next_wait(self, limit: float | None) -> float | None:
        """How long the loop may sleep: until ``limit``, the next jittered start, or (when a slot waits for
        a run in another process, overlap: queue) the next poll. A run finishing here sets ``wake``."""
        waits = [limit] if limit is not None else []
        mono = self.clock.monotonic()
        waits.extend(p.not_before - mono for p in self.pending if p.not_before > mono)
        if any(p.not_before <= mono for p in self.pending) and len(self.active) < self.max_parallel:
            waits.append(self.poll_s)  # could start but did not: blocked by an open slot elsewhere
        return max(0.0, min(waits)) if waits else None

    @property
    def exit_code(self) -> int:
        """0 when every run this scheduler started succeeded (or none ran); 3 when one stopped because what it did
        could no longer be recorded (a full disk), as ``dagctl run`` exits then, or when the end of a run could not be
        written to the state log; 1 otherwise."""
        if self.halted or self.unrecorded:
            return EXIT_ENVIRONMENT
        return EXIT_OK if all(status == "success" for status in self.outcomes) else EXIT_FAILED

    def status_text(self) -> str:
        return (
            f"{len(self.schedules)} schedules, {len(self.active)} running, {len(self.pending)} waiting, "
            f"{sum(self.outcomes.values())} finished"
        )

    # ---------------------------------------------------------------- modes

    def run_once(self, now: datetime | None = None, *, grace_s: float = 30.0) -> int:
        """One tick at ``now``, then wait for every run it started. Returns the exit code."""
        with suppress(LockWaitInterrupted):  # stopped while another process held the state lock: nothing claimed
            self.tick(now)
        while (self.pending or self.active) and not self._stop.is_set():
            self.wake.clear()
            with suppress(LockWaitInterrupted):  # the same, before a start was recorded: shutdown() skips it
                self.pump()
            if not (self.pending or self.active):
                break
            self.clock.wait(self.wake, self._next_wait(None))
        if self._stop.is_set():
            self.shutdown(grace_s)  # (it writes the run ends that could not be written, or says why not)
        else:
            self._collect()
            self._write_unrecorded()
        if self.retention is not None and not self._stop.is_set():
            self.retention.run_guarded()
        return self.exit_code

    def check_store(self) -> None:
        """Lock and read the state log as a claim does; raise :class:`SchedulerStateError` (exit 3) naming the
        path if it cannot be used. ``--serve`` calls it before it says it is ready."""
        try:
            with self.store.transaction(interrupt=self._stop.is_set):
                pass
        except LockWaitInterrupted:  # a stop during the start: serve() stops without a tick
            return
        except (DagctlError, OSError) as exc:
            raise SchedulerStateError(
                f"cannot use the state store {self.store.path}: {_describe(exc)}",
                hint=getattr(exc, "hint", None) or "check STATE_STORE_PATH (or DAGCTL_LOGS_DIR), its folder and disk",
            ) from exc

    def serve(
        self,
        *,
        tick_s: float = 1.0,
        grace_s: float = 30.0,
        source: ScheduleSource | None = None,
        notifier: Notifier | None = None,
        max_ticks: int | None = None,
        fail_after_s: float = DEFAULT_FAIL_AFTER_S,
    ) -> int:
        """Tick every ``tick_s`` until :meth:`request_stop` (or ``max_ticks``); then :meth:`shutdown`.

        The state store is checked before ``READY=1`` (:meth:`check_store`). While ticks fail, the systemd
        watchdog is not fed; once they have failed for ``fail_after_s`` without a success in between, the
        scheduler stops and raises :class:`SchedulerFailing` (exit 3), so that the service manager restarts it.
        A stop requested while ticks fail raises it too. Returns 0 otherwise.
        """
        notifier = notifier or Notifier()
        self.check_store()
        failures = TickFailures(fail_after_s)
        watchdog = notifier.watchdog_interval
        mono = self.clock.monotonic()
        next_tick, next_ping = mono, mono
        status = self.status_text()
        notifier.ready(status)
        log.info("scheduler ready: %s; ticking every %gs", status, tick_s)
        self._warn_rare()
        while not self._stop.is_set():
            self.wake.clear()
            if source is not None and (self._reload.is_set() or source.changed()):
                self._reload.clear()
                self._apply_reload(source, notifier)
            mono = self.clock.monotonic()
            problem: str | None = None
            ticked = mono >= next_tick
            if ticked:
                try:
                    if not self.tick() and failures.failing:
                        self.check_store()  # an idle tick only reads: prove the store works before trusting it
                except LockWaitInterrupted:  # a stop while another process held the lock: not a failure
                    break
                except (DagctlError, OSError) as exc:  # e.g. the state store is locked too long or unwritable
                    problem = f"tick failed: {_describe(exc)}"
                next_tick = next_tick + tick_s if next_tick + tick_s > mono else mono + tick_s
            try:
                self.pump()
            except LockWaitInterrupted:
                break
            except (DagctlError, OSError) as exc:
                problem = problem or f"cannot start a run: {_describe(exc)}"
            began, mono = mono, self.clock.monotonic()  # a tick that waited for the lock took that long
            if self.retention is not None and problem is None and not failures.failing:
                self.retention.poll()  # at most once a minute; the pass itself runs in a thread of its own
            if problem is not None:
                if failures.failed(mono, problem, began=began):
                    log.error(
                        "%s; ticks have failed for %.0fs (limit %gs): stopping so that the service manager "
                        "restarts the scheduler",
                        problem,
                        failures.duration(mono),
                        fail_after_s,
                    )
                    self._stop.set()
                    break
                log.error(
                    "%s (failing for %.0fs; the scheduler stops after %gs)",
                    problem,
                    failures.duration(mono),
                    fail_after_s,
                )
                if failures.count == 1 or problem != status:
                    status = problem  # STATUS= once per distinct problem, not on every failing tick
                    notifier.status(f"failing since {self._ts()}: {problem}")
            elif ticked and failures.failing:
                log.info("ticks work again after %d failure(s)", failures.count)
                failures.ok()
                status = ""  # send STATUS= again
            if max_ticks is not None and self.ticks >= max_ticks:
                self._stop.set()
            if not failures.failing and self.status_text() != status:
                status = self.status_text()
                notifier.status(status)
            mono = self.clock.monotonic()
            if watchdog is not None and mono >= next_ping:
                if not failures.failing:  # a scheduler that cannot tick is not healthy: let systemd see it
                    notifier.watchdog()
                next_ping = mono + watchdog
            if self._stop.is_set():
                break
            limit = next_tick - mono if watchdog is None else min(next_tick, next_ping) - mono
            self.clock.wait(self.wake, self._next_wait(limit))
        self.shutdown(grace_s, notifier, feed_watchdog=not failures.failing)
        if failures.failing:
            lasted = failures.duration(self.clock.monotonic())
            raise SchedulerFailing(
                f"the scheduler stopped while its ticks were failing (for {lasted:.0f}s, {failures.count} "
                f"time(s)); last: {failures.last}",
                hint="fix the cause above; under systemd, Restart=on-failure starts it again",
            )
        return EXIT_OK

    def _apply_reload(self, source: ScheduleSource, notifier: Notifier) -> None:
        notifier.reloading(self.clock.monotonic())
        schedules, problems = source.reload()
        for problem in problems:
            log.error("%s", problem)
        if problems:
            log.error(
                "schedules: %d problem%s; broken files keep their last good version",
                len(problems),
                "s" * (len(problems) != 1),
            )
        self.set_schedules(schedules)
        self._warn_rare()
        if self.on_reload is not None:
            try:
                self.on_reload()
            except Exception as exc:  # a setting that cannot be applied must not stop the scheduler
                log.error("reload: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        notifier.ready(self.status_text())
        log.info("schedules reloaded: %d active", len(schedules))

    def _warn_rare(self) -> None:
        """Log a warning for each schedule that fires less than once a year (as ``dagctl validate`` does)."""
        for warning in rare_schedules(self.schedules, self.clock.now()):
            log.warning("%s", warning)

    def shutdown(self, grace_s: float, notifier: Notifier | None = None, *, feed_watchdog: bool = True) -> None:
        """Claim nothing more; drop unstarted slots; give running DAGs ``grace_s``, then cancel them."""
        notifier = notifier or Notifier()
        self._stop.set()
        stopping = getattr(self.launcher, "stopping", None)  # a queue launcher: stop waiting for jobs not taken
        if callable(stopping):
            stopping()
        notifier.stopping(f"stopping: {len(self.active)} running")
        self._collect()
        if self.pending:
            try:
                with self._transaction(lambda: self._kill_now) as txn:
                    ts = self._ts()
                    for p in self.pending:
                        txn.add(
                            ScheduleSkipped(
                                ts,
                                p.slot.schedule_id,
                                slot=p.slot.key,
                                fire_utc=format_ts(p.slot.fire_utc),
                                local_minute=p.slot.local_minute,
                                reason="scheduler stopped before the run started",
                            )
                        )
                log.info("stopping: %d claimed slot(s) not started, recorded as skipped", len(self.pending))
            except (DagctlError, OSError) as exc:  # the running DAGs still get their grace period
                log.error(
                    "stopping: cannot record %d unstarted slot(s) as skipped: %s", len(self.pending), _describe(exc)
                )
            self.pending.clear()
        if self.active:
            log.info("stopping: waiting up to %gs for %d running DAG(s)", grace_s, len(self.active))
        deadline = self.clock.monotonic() + grace_s
        cancelled = killed = False
        watchdog = notifier.watchdog_interval if feed_watchdog else None
        while True:
            self.wake.clear()
            self._collect()
            if not self.active:
                break
            mono = self.clock.monotonic()
            if not cancelled and (mono >= deadline or self._kill_now):
                reason = (
                    "scheduler stopping: second signal"
                    if self._kill_now
                    else f"scheduler stopping: grace period of {grace_s:g}s is over"
                )
                log.warning("stopping: cancelling %d run(s): %s", len(self.active), reason)
                for active in self.active.values():
                    active.control.cancel(reason)
                cancelled = True
            if cancelled and self._kill_now and not killed:
                for active in self.active.values():
                    active.control.cancel(now=True)
                killed = True
            if watchdog is not None:
                notifier.watchdog()
            wait = self.poll_s if cancelled else deadline - mono
            if watchdog is not None:
                wait = min(wait, watchdog)
            self.clock.wait(self.wake, max(0.0, wait))
        self._write_unrecorded()
        if self.retention is not None:
            self.retention.join()
        log.info("scheduler stopped")
