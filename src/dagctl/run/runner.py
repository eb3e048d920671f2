"""Run a plan: ready queue, parallelism, retries with backoff, timeouts, trigger rules, cancel, events.

One thread owns all run state: a thread started for the run, while the caller waits (see
:meth:`Runner.run`). Executors report results through a callback that only appends to a queue and wakes
the loop, so there are no locks around task state. A task starts as soon as its upstream tasks allow it;
among ready tasks the one with the longest remaining path goes first.

What the loop schedules are *units*: a plan task, or one cell of a matrix task (``train:3``, see
:mod:`dagctl.dag.matrix`). A matrix task fans out into its cells when it is reached (``max_parallel`` of them
at once), and finishes when they have, with the outputs :mod:`dagctl.run.fanin` gathers. A ``repeat:`` task
runs again until its ``until`` holds (:mod:`dagctl.run.loops`). A ``dag:`` task runs its child DAG as a run
of its own, linked to this one (:mod:`dagctl.run.subrun`).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import threading
from collections import deque
from pathlib import Path

from dagctl.clock import SystemClock
from dagctl.dag.plan import Plan
from dagctl.dag.triggers import decide
from dagctl.errors import DagctlError, cannot
from dagctl.host import disk_full, hostname, process_start_ticks
from dagctl.store import layout
from dagctl.store.events import (
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    DagDone,
    DagResume,
    DagStart,
    RunWarning,
    TaskCancel,
    TaskFail,
    TaskOk,
    TaskRetry,
    TaskSkip,
    TaskStart,
    format_ts,
)

from . import childsignal, loops, subrun
from .attempts import Attempt, AttemptResult, CancelToken, allowed_failure
from .backoff import backoff_delay
from .fanin import aggregate
from .resolve import AttemptFactory, describe_error, iteration_unit
from .state import FINAL, RunControl, RunOptions, RunResult, TaskRun, default_parallelism, new_run_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dagctl.dag.plan import PlannedTask
    from dagctl.protocols import Clock
    from dagctl.store.protocols import EventSink

    from .cache import CacheStore
    from .environment import Masker
    from .protocols import Executor
    from .subrun import SubRun

CANCEL_POLL_S = 0.25
ALIVE_EVERY_S = 1.0
"""How often a run touches its ``.alive`` file: a reader of a run whose process died dates its end by it."""
INTERRUPT_POLL_S = 0.2
"""How soon the thread that waits for a run (a library caller's main thread) sees a Ctrl+C the kernel handed to
another thread of the process (Python runs signal handlers in the main thread only, between two bytecodes)."""
FLUSH_EVERY_S = 0.02
"""Events are written in groups: at most this long after they happen (one locked write per file per group,
not per event). A run killed with SIGKILL loses at most this much; every other ending flushes them all."""
HARD_STOP_MARGIN = 2.0  # seconds past timeout + grace before an unresponsive attempt is given up on


def _log(level: str, message: str, *args: object) -> None:
    """A diagnostic line through :mod:`logging`, imported only now (it costs ~2 ms of every start), and never at
    the price of the run: where importing it fails (no file descriptor left: ``ulimit -n``) the line is dropped,
    as what it says is also recorded in the run's events."""
    try:
        import logging
    except (ImportError, OSError):
        return
    getattr(logging.getLogger(__name__), level)(message, *args)


FDS_PER_TASK = 1
"""File descriptors dagctl holds for each task while it runs (measured: a shell task's pidfd; the task's log and
pipes are the child's own, or open only while it starts)."""
FD_HEADROOM = 8
"""Descriptors kept free beside them: what starting a task, writing events, outputs and logs open for a moment."""


def fd_parallelism(limit: int | None, in_use: int, wanted: int) -> int | None:
    """How many tasks may run at once when only ``limit`` descriptors may be open (``ulimit -n``) and ``in_use``
    are, if fewer than ``wanted``; None when ``wanted`` fit (or there is no limit)."""
    if limit is None or wanted <= 1:
        return None
    fits = max(1, (limit - in_use - FD_HEADROOM) // FDS_PER_TASK)
    return fits if fits < wanted else None


def _open_fd_limit() -> tuple[int, int] | None:
    """(``ulimit -n``, descriptors open now) of this process; None when there is no limit or it cannot be told."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")
        in_use = len(os.listdir("/proc/self/fd")) - 1  # (the listing's own)
    except (OSError, ValueError):
        return None
    return (limit, in_use) if limit > 0 else None


def _sign_of_life(path: Path) -> None:
    """Touch the run's ``.alive`` file (:func:`~dagctl.store.layout.alive_file`), creating it the first time."""
    try:
        os.utime(path)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            path.touch()
    except OSError:  # a full or read-only disk: its events will tell when it ended
        pass


def _cancel_reason(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
        return str(data.get("reason") or "cancelled by dagctl cancel")
    except (OSError, ValueError, AttributeError):
        return "cancelled by dagctl cancel"


class Runner:
    def __init__(
        self,
        plan: Plan,
        *,
        executor: Executor,
        sink: EventSink,
        runs_dir: Path,
        clock: Clock | None = None,
        options: RunOptions | None = None,
        control: RunControl | None = None,
        grace: float = 5.0,
        rand: Callable[[], float] | None = None,
        subrun: SubRun | None = None,
    ) -> None:
        self.plan = plan
        self.dag = plan.dag
        self.executor = executor
        self.sink = sink
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self.control = control or RunControl()
        self.grace = grace
        self.rand = rand
        self.subrun = subrun
        self.run_id = self.options.run_id or new_run_id(self.clock)
        self.run_dir = layout.run_dir(runs_dir, self.run_id)
        dag = self.dag
        self.parallelism = self.options.parallelism or dag.parallelism or default_parallelism()
        self.fail_fast = dag.fail_fast if self.options.fail_fast is None else self.options.fail_fast
        self.run_timeout = self.options.timeout if self.options.timeout is not None else dag.timeout
        done = self.options.attempts_done
        self.tasks = {tid: TaskRun(tid, attempt=done.get(tid, 0)) for tid in plan.tasks}
        self.units: dict[str, TaskRun] = dict(self.tasks)  # the tasks and, once fanned out, matrix cells
        self.cells: dict[str, TaskRun] = {}
        self._remaining = {tid: len(t.depends_on) for tid, t in plan.tasks.items()}
        self._ready: list[tuple[int, int, int, str]] = []  # (-priority, order, cell index or -1, unit)
        self._retries: list[tuple[float, str]] = []  # (when, unit): retry waits and loop delays
        self._checks: deque[tuple[str, bool, str]] = deque()  # precondition commands that finished
        self._checking = 0
        self._held: dict[str, deque[str]] = {}  # matrix task -> cells waiting for one of its max_parallel slots
        self._running_cells: dict[str, int] = {}
        self._open_cells: dict[str, int] = {}  # matrix task -> cells not finished yet
        self._done: deque[tuple[str, int, AttemptResult]] = deque()
        self._active: dict[str, TaskRun] = {}  # running attempts (at most `parallelism`)
        self._outputs: dict[str, dict[str, Any]] = {}  # of succeeded tasks (non-empty), and a failed matrix's cells
        self._stopping: str | None = None
        self._failed_run_error: str | None = None
        self._halted: str | None = None  # why no new task starts while running ones finish (disk full ...)
        self._pausing: str | None = None  # dagctl pause: running tasks finish, the run is recorded paused
        self._gates: dict[str, float | None] = {}  # approval gates waiting: unit -> deadline (monotonic) or None
        self._unflushed = False
        self._flushed_at = float("-inf")
        self._masker: Masker | None = None  # secret values, replaced by *** in events and logs
        self._cache: CacheStore | None = None
        self._unmatched_said: set[tuple[str, str]] = set()  # (task, glob): cache inputs that matched no file, warned
        if self.options.cache != "off" and any(t.cache is not None for t in plan.tasks.values()):
            from .cache import CacheStore

            self._cache = CacheStore(self.options.cache_dir or runs_dir.parent / "cache" / "tasks")
        # an executor may have something for the run to record (a resource limit tasks wait for, a keeper gone)
        self._executor_warnings: Callable[[], list[str]] | None = getattr(executor, "take_warnings", None)
        self._conditions: dict[str, Any] = {}
        if any(t.when for t in plan.tasks.values()):
            from dagctl.dag.conditions import compile_condition  # the expression parser is loaded only when used

            self._conditions = {tid: compile_condition(t.when) for tid, t in plan.tasks.items() if t.when}

    # ------------------------------------------------------------------ events
    def _emit(self, cls: type, **fields: Any) -> None:
        self._unflushed = True
        if self._masker is not None:
            fields = {k: self._masker.value(v) for k, v in fields.items()}
        event = cls(
            ts=format_ts(self.clock.now()),
            run_id=self.run_id,
            dag_name=self.dag.name,
            tenant_id=self.dag.tenant_id,
            **fields,
        )
        try:
            self.sink.emit(event)
        except (DagctlError, OSError) as exc:
            self._halt(exc)

    def _halt(self, exc: DagctlError | OSError) -> None:
        """What happened can no longer be recorded (a full disk, a lost file): start nothing new, let the
        running tasks finish, record what can be recorded, and end the run as an environment failure."""
        if self._halted is None:
            detail = str(exc) if isinstance(exc, DagctlError) else (cannot("write", self.run_dir, exc).message)
            self._halted = f"stopped: {detail}"
            self._ready.clear()
            self._retries.clear()
            _log("error", "run %s: %s; running tasks finish, nothing new starts", self.run_id, detail)

    # ------------------------------------------------------------------ run
    def run(self) -> RunResult:
        """Run the plan to its end on a thread of its own; the calling thread waits for it.

        The loop gets a fresh thread because of how Linux places the children it spawns. Measured on the
        2-core reference machine: ``posix_spawn`` from the interpreter's main thread, once start-up has kept
        it busy for some tens of milliseconds, waits a median 0.5 ms for the child to reach ``exec`` (the
        child is queued behind a busy CPU) against 0.15 ms from a thread started afterwards; 1000 short
        shell tasks at parallelism 2 finish ~10% sooner (docs/benchmarks.md).

        A KeyboardInterrupt in the waiting thread (a library caller without signal handlers) cancels the
        run as SIGINT does (a second one kills at once); once the run is recorded, it is raised again.
        """
        outcome: list[RunResult | BaseException] = []
        finished = threading.Event()  # not Thread.join: an interrupted join can leave the thread marked stopped

        def target() -> None:
            childsignal.unblock()  # this thread starts the shell tasks (see dagctl.run.childsignal)
            try:
                outcome.append(self._run_attached())
            except BaseException as exc:  # handed to the caller, raised there
                outcome.append(exc)
            finally:
                finished.set()

        try:
            threading.Thread(target=target, name=f"dagctl-run-{self.run_id}").start()
        except RuntimeError:  # no thread to spare: the processes of this user are at their limit
            from .executors.local import no_thread

            raise no_thread() from None
        interrupted: KeyboardInterrupt | None = None
        with childsignal.blocked():  # this thread only waits: no wake-up for every child that exits
            while not finished.is_set():
                try:
                    # timed: the kernel may hand SIGINT to another thread, which only flags it for this one;
                    # an untimed wait would then sleep through Ctrl+C until the run ended by itself
                    finished.wait(INTERRUPT_POLL_S)
                except KeyboardInterrupt as exc:
                    self.control.cancel("interrupted by SIGINT", now=interrupted is not None, signal=2)
                    interrupted = exc
        value = outcome[0]
        if isinstance(value, BaseException):
            raise value
        if interrupted is not None:
            raise interrupted
        return value

    def _run_attached(self) -> RunResult:
        try:
            return self._run()
        finally:
            self.control.wake.close()

    def _run(self) -> RunResult:
        from dagctl.dag.params import merge_params

        params = merge_params(self.dag.params, self.options.params, types=self.dag.param_types)
        if any(t.matrix is not None for t in self.plan.tasks.values()):
            from dagctl.dag.matrixcheck import check_static_cells

            # a matrix from params is known now: one the run would fail (no cells, too few for min_success) is
            # refused before anything starts, as its dry run refuses it
            select, reused = self.options.select, self.options.reuse_outputs
            check_static_cells(
                (t for tid, t in self.plan.tasks.items() if (select is None or tid in select) and tid not in reused),
                params,
            )
        from .environment import run_environment

        environment = run_environment(self.plan, self.options.env_files)  # a missing secret stops it here
        if environment is not None and environment.masker:
            self._masker = environment.masker
        self.factory = AttemptFactory(
            plan=self.plan,
            run_id=self.run_id,
            run_dir=self.run_dir,
            params=params,
            grace=self.grace,
            logical_date=self.options.logical_date,
            environment=environment,
        )
        if not self.options.resume:  # a resumed run keeps the snapshot it started with
            self._write_snapshot(params)
        # the executor may do its work on this thread while it waits (the local shell fast path)
        self.executor.begin(self.control.wake, self._shell_logs())
        try:
            return self._loop(params)
        finally:
            self.executor.end()

    def _emit_start(self, params: dict[str, Any]) -> None:
        self._emit(
            DagStart,
            params=params,
            trigger=self.options.trigger,
            host=hostname(),
            pid=os.getpid(),
            pid_start=process_start_ticks(os.getpid()),
            dag_file=self._dag_file(),
            run_dir=str(self.run_dir),
            tasks=len(self.tasks),
            executor=self.executor.name,
            parent_run_id=self.options.parent_run_id,
            schedule_id=self.options.schedule_id,
            logical_date=self.options.logical_date,
            parent_task=self.options.parent_task,
        )
        # on disk before the first task starts: a run killed in its first milliseconds (SIGKILL, OOM) is still a
        # run that `runs`, `show` and `retry` know (later events are flushed every FLUSH_EVERY_S)
        self._flush()

    def _loop(self, params: dict[str, Any]) -> RunResult:
        start = self.clock.monotonic()
        run_deadline = start + self.run_timeout if self.run_timeout else None
        if self.options.resume:
            with contextlib.suppress(OSError):
                layout.pause_file(self.run_dir).unlink()
            self._emit(
                DagResume,
                host=hostname(),
                pid=os.getpid(),
                pid_start=process_start_ticks(os.getpid()),
                reused=len(self.options.reuse_outputs),
            )
        else:
            self._emit_start(params)
        self._fit_open_files()
        self._abandon_at: float | None = None
        self._killing = False  # a second interrupt: tasks killed at once, the rest given up on sooner
        self._failed_handlers: dict[str, str] = {}  # handler:<kind> -> why it failed
        cancel_file = layout.cancel_file(self.run_dir)
        pause_file = layout.pause_file(self.run_dir)
        next_cancel_check = start
        next_sign_of_life = start + ALIVE_EVERY_S  # a run shorter than that has its events to date its end
        for tid, t in self.plan.tasks.items():
            if not t.depends_on:
                self._evaluate(tid)
        wake = self.control.wake
        while True:
            self._drain()
            now = self.clock.monotonic()
            if now >= next_cancel_check and not self.control.cancelled:
                next_cancel_check = now + CANCEL_POLL_S
                if cancel_file.exists():
                    self.control.cancel(_cancel_reason(cancel_file))
                elif self._pausing is None and (self.control.pausing is not None or pause_file.exists()):
                    # dagctl pause, or (a sub-DAG's run) its parent run pausing
                    self._pausing = self.control.pausing or _cancel_reason(pause_file).replace(
                        "cancelled by dagctl cancel", "paused"
                    )
                    self._pause_children()
                if self._gates:
                    self._check_gates(now)
                if now >= next_sign_of_life:
                    next_sign_of_life = now + ALIVE_EVERY_S
                    _sign_of_life(layout.alive_file(self.run_dir))
            if self.control.cancelled and self._stopping is None:
                self._stop(self.control.reason or "cancelled")
            if self.control.kill_now and not self._killing:
                self._killing = True
                self._abandon_at = min(self._abandon_at or now + HARD_STOP_MARGIN, now + HARD_STOP_MARGIN)
                for tr in self._active.values():
                    if tr.token is not None:
                        tr.token.cancel(now=True, reason=tr.token.reason)
            if run_deadline is not None and now >= run_deadline and self._stopping is None:
                self._failed_run_error = f"run timed out after {self.run_timeout:g}s"
                self._stop(self._failed_run_error)
            self._check_deadlines(now)
            if self._stopping is None and self._halted is None and self._pausing is None:
                self._start_ready(now)
            ending = self._stopping is not None or self._halted is not None or self._pausing is not None
            idle = not self._ready and not self._retries and not self._gates and not self._checking
            if not self._active and not self._checking and (ending or idle):
                break
            wait_for = self._next_wakeup(now, run_deadline)
            if not self.control.cancelled:  # keep polling for `dagctl cancel`
                wait_for = CANCEL_POLL_S if wait_for is None else min(wait_for, CANCEL_POLL_S)
            if self._unflushed:
                flush_at = self._flushed_at + FLUSH_EVERY_S
                if now >= flush_at:
                    self._flush()
                    self._flushed_at = now
                else:  # come back in time to write them
                    wait_for = flush_at - now if wait_for is None else min(wait_for, flush_at - now)
            self.clock.wait(wake, wait_for)
            wake.clear()
        return self._finish(start)

    def _fit_open_files(self) -> None:
        """Run no more tasks at once than ``ulimit -n`` leaves descriptors for (each running task holds one), and
        say so: past it, tasks could not start (``Too many open files``) and would wait for others to end."""
        found = _open_fd_limit()
        if found is None:
            return
        limit, in_use = found
        matrix = any(t.matrix is not None for t in self.plan.tasks.values())  # its cells are units too
        wanted = self.parallelism if matrix else min(self.parallelism, len(self.tasks))
        fits = fd_parallelism(limit, in_use, wanted)
        if fits is None:
            return
        self.parallelism = fits
        needed = in_use + FD_HEADROOM + wanted * FDS_PER_TASK
        self._emit(
            RunWarning,
            message=f"ulimit -n {limit} is too low for {wanted} tasks at once: at most {fits} run at once "
            f"(raise it to {needed} or more with ulimit -n, or lower -j)",
        )

    def _shell_logs(self) -> list[str]:
        """First-attempt logs of the shell units, in plan order, as far as they are known before the run: a
        matrix over literal lists has its cells' (a matrix over params or outputs expands later)."""
        from dagctl.dag.matrix import cell_count

        logs = []
        for tid, t in self.plan.tasks.items():
            if t.kind != "run":
                continue
            if t.matrix is None:
                logs.append(self.factory.log_path(tid))
            elif all(isinstance(v, list) for v in t.matrix.values()):
                logs.extend(self.factory.log_path(f"{tid}:{i}") for i in range(cell_count(t.matrix)))
        return logs

    def _flush(self) -> None:
        self._unflushed = False
        try:
            self.sink.flush()
        except (DagctlError, OSError) as exc:
            self._halt(exc)

    def _save_outputs(self, tid: str, outputs: dict[str, Any]) -> None:
        try:
            layout.output_file(self.run_dir, tid).write_text(json.dumps(outputs, default=str))
        except OSError as exc:
            self._halt(exc)

    def _dag_file(self) -> str | None:
        """The DAG's file as the run records it: absolute, so that a retry or a resume from another directory
        finds it, and the ``python:`` and ``dag:`` paths beside it."""
        src = self.dag.source_path
        return os.path.abspath(src) if src and not src.startswith("<") else src

    def _write_snapshot(self, params: Mapping[str, Any]) -> None:
        try:
            self._write_snapshot_files(params)
        except OSError as exc:
            raise cannot("write", exc.filename or self.run_dir, exc) from None

    def _write_snapshot_files(self, params: Mapping[str, Any]) -> None:
        layout.outputs_dir(self.run_dir).mkdir(parents=True, exist_ok=True)
        src = self.dag.snapshot_path or self.dag.source_path  # a retry keeps the text it runs, not the file now
        if src and os.path.isfile(src):  # a pipe (<(cat dag.yaml), /dev/stdin) cannot be read again: no snapshot
            try:
                snapshot = Path(src).read_bytes()  # a DAG file: small, read whole
            except OSError:  # gone since it was read: the run goes on without a snapshot
                pass
            else:
                layout.snapshot_file(self.run_dir).write_bytes(snapshot)
        meta = {
            "run_id": self.run_id,
            "dag": self.dag.name,
            "dag_file": self._dag_file(),
            "params": params,
            "trigger": self.options.trigger,
            "parent_run_id": self.options.parent_run_id,
        }
        layout.meta_file(self.run_dir).write_text(json.dumps(meta, indent=2, default=str) + "\n")

    def _next_wakeup(self, now: float, run_deadline: float | None) -> float | None:
        times = [t for t in (run_deadline, self._abandon_at) if t is not None]
        if self._retries and self._stopping is None:
            times.append(self._retries[0][0])
        for tr in self._active.values():
            times.extend(t for t in (tr.deadline, tr.hard_deadline) if t is not None)
        if not times:
            return None
        return max(0.0, min(times) - now)

    # ------------------------------------------------------------------ units
    def _unit(self, tr: TaskRun) -> dict[str, Any]:
        """The event fields naming a unit: the plan task, and the cell or iteration when there is one."""
        if tr.task_id:
            return {"task_id": tr.task_id, "cell": tr.id, "cell_index": tr.cell_index}
        if self.plan.tasks[tr.id].repeat is not None:
            return {"task_id": tr.id, "iteration": tr.iteration}
        return {"task_id": tr.id}

    def _file_stem(self, tr: TaskRun) -> str:
        """What names a unit's log and output files: the task, a cell (``train:3``), an iteration (``fit~2``)."""
        return iteration_unit(tr.id, tr.iteration)

    # ------------------------------------------------------------------ starting
    def _start_ready(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, uid = heapq.heappop(self._retries)
            self._push_ready(uid)
        while self._ready and len(self._active) < self.parallelism and self._stopping is None:
            _, _, _, uid = heapq.heappop(self._ready)
            tr = self.units[uid]
            parent = tr.task_id
            if parent:
                cap = self.plan.tasks[parent].max_parallel
                if cap is not None and self._running_cells.get(parent, 0) >= cap:
                    self._held.setdefault(parent, deque()).append(uid)  # started when a sibling cell's attempt ends
                    continue
                self._running_cells[parent] = self._running_cells.get(parent, 0) + 1
                tr.holds_slot = True
            self._start(uid, now)

    def _push_ready(self, uid: str) -> None:
        tr = self.units[uid]
        t = self.plan.tasks[tr.plan_id]
        heapq.heappush(self._ready, (-t.priority, t.order, -1 if tr.cell_index is None else tr.cell_index, uid))

    def _start(self, uid: str, now: float) -> None:
        tr = self.units[uid]
        planned = self.plan.tasks[tr.plan_id]
        tr.attempt += 1
        if planned.approval is not None:
            self._open_gate(tr, planned, now)
            return
        try:
            attempt = self.factory.build_unit(
                planned, tr.attempt, self._outputs, unit=tr.id, matrix=tr.matrix, iteration=tr.iteration
            )
        except DagctlError as exc:  # a template or registry problem: retrying cannot help
            tr.status, tr.error, tr.duration_s = "failed", describe_error(exc), 0.0
            self._emit(TaskFail, **self._unit(tr), attempt=tr.attempt, duration_s=0.0, error=tr.error)
            self._after_failure(uid)
            return
        # a loop is cached whole: looked up when it starts in this run (at its first iteration, or where a retried
        # or resumed run goes on with it), stored when it ends (see _from_cache for its key)
        first = planned.repeat is None or tr.cache_key is None
        if planned.cache is not None and self._cache is not None and first and self._from_cache(tr, planned, attempt):
            return
        tr.status, tr.log_path = "running", attempt.log_path if planned.kind != "dag" else None
        tr.started = now
        tr.token = CancelToken()
        tr.deadline = now + planned.timeout if planned.timeout else None
        tr.hard_deadline = now + planned.timeout + self.grace + HARD_STOP_MARGIN if planned.timeout else None
        self._active[uid] = tr
        number = tr.attempt
        wake = self.control.wake
        done = self._done

        def report(result: AttemptResult) -> None:
            done.append((uid, number, result))
            wake.set()

        if planned.kind == "dag":
            # a later attempt (or a retried or resumed run) reuses what the child run before it finished
            earlier = tr.child_run_id or self.options.reuse_children.get(planned.id)
            tr.child_run_id = new_run_id(self.clock)
            self._emit(
                TaskStart,
                **self._unit(tr),
                attempt=tr.attempt,
                child_run_id=tr.child_run_id,
                matrix=tr.matrix if tr.attempt == 1 else None,
            )
            tr.child_control = subrun.start(
                parent=self.plan,
                parent_run_id=self.run_id,
                planned=planned,
                attempt=attempt,
                token=tr.token,
                run_id=tr.child_run_id,
                reuse_from=earlier,
                launch=self.subrun,
                report=report,
                clock_now=self.clock.monotonic,
            )
            return
        self._emit(
            TaskStart,
            **self._unit(tr),
            attempt=tr.attempt,
            log_path=attempt.log_path,
            matrix=tr.matrix if tr.attempt == 1 else None,
        )
        try:
            self.executor.submit(attempt, tr.token, report)
        except DagctlError as exc:
            report(AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc)))

    # ------------------------------------------------------------------ approval gates
    def _open_gate(self, tr: TaskRun, planned: PlannedTask, now: float) -> None:
        """An approval gate is reached: record who must decide, and wait (without taking a slot)."""
        spec = planned.approval or {}
        try:
            text = str(spec.get("message") or "")
            message = (
                self.factory.render_text(planned, text, tr.attempt, self._outputs, matrix=tr.matrix) if text else ""
            )
        except DagctlError as exc:
            tr.status, tr.error, tr.duration_s = "failed", describe_error(exc), 0.0
            self._emit(TaskFail, **self._unit(tr), attempt=tr.attempt, duration_s=0.0, error=tr.error)
            self._after_failure(tr.id)
            return
        tr.status, tr.started = "waiting", now
        timeout = spec.get("timeout")
        self._gates[tr.id] = now + float(timeout) if timeout else None
        self._emit(
            ApprovalRequested,
            **self._unit(tr),
            attempt=tr.attempt,
            message=message,
            approvers=list(spec.get("approvers") or []),
            policy=str(spec.get("policy") or "any"),
            timeout_s=float(timeout) if timeout else None,
        )
        self._check_gates(now)

    def _check_gates(self, now: float) -> None:
        from dagctl.store.approvals import APPROVED, REJECTED, gate_state, read_decisions

        for uid, deadline in list(self._gates.items()):
            tr = self.units[uid]
            spec = self.plan.tasks[tr.plan_id].approval or {}
            try:
                decisions = read_decisions(self.run_dir, uid)
            except DagctlError:
                decisions = []
            state, who = gate_state(decisions, list(spec.get("approvers") or []), str(spec.get("policy") or "any"))
            tr.duration_s = round(now - tr.started, 6)
            if state == APPROVED:
                del self._gates[uid]
                comment = next((d.get("comment") for d in reversed(decisions) if d.get("comment")), None)
                self._emit(ApprovalGranted, **self._unit(tr), attempt=tr.attempt, by=who, comment=comment)
                tr.status, tr.outputs = "success", {"approved_by": who}
                self._outputs[uid] = tr.outputs
                self._emit(
                    TaskOk, **self._unit(tr), attempt=tr.attempt, duration_s=tr.duration_s, outputs=["approved_by"]
                )
                self._finished(uid)
            elif state == REJECTED:
                del self._gates[uid]
                reason = next((d.get("reason") for d in reversed(decisions) if d.get("decision") == "reject"), None)
                self._emit(ApprovalRejected, **self._unit(tr), attempt=tr.attempt, by=who, reason=reason)
                self._fail(
                    uid,
                    AttemptResult(status="failed", duration_s=tr.duration_s),
                    f"rejected by {who[0]}: {reason or 'no reason given'}",
                )
            elif deadline is not None and now >= deadline:
                del self._gates[uid]
                limit = f"no decision within {spec.get('timeout'):g}s"
                if spec.get("on_timeout") == "skip":
                    tr.status, tr.reason = "skipped", f"approval: {limit} (on_timeout: skip)"
                    self._emit(TaskSkip, **self._unit(tr), reason=tr.reason)
                    self._finished(uid)
                else:
                    self._fail(uid, AttemptResult(status="timeout", duration_s=tr.duration_s), f"approval: {limit}")

    # ------------------------------------------------------------------ the task cache
    @property
    def cache_stored(self) -> int:
        """How many task-cache entries this run has written."""
        return self._cache.stored if self._cache is not None else 0

    def _from_cache(self, tr: TaskRun, planned: PlannedTask, attempt: Attempt) -> bool:
        """Finish the unit from a cache entry of the same inputs, if there is one (see :mod:`dagctl.run.cache`).

        A loop's key is that of its first iteration plus what decides its iterations (``until`` and what it reads,
        ``max_iterations``, ``on_max``): a loop that goes on in a retried or resumed run has the key it started with,
        so its result is stored too."""
        from .cache import cache_key, inputs_base, loop_material, restore_log, unmatched_note

        assert self._cache is not None and planned.cache is not None
        unmatched: list[str] = []
        try:
            keyed, loop = attempt, None
            if planned.repeat is not None:
                if tr.iteration > 1:
                    keyed = self.factory.build_unit(planned, 1, self._outputs, unit=tr.id, iteration=1)
                loop = loop_material(planned.repeat, planned.id, self._scope())
            key = cache_key(keyed, planned.cache, loop=loop, unmatched=unmatched, dag_dir=self.factory.dag_dir)
        except (DagctlError, OSError, TypeError, ValueError):  # an input that cannot be read or encoded: just run it
            return False
        if unmatched:  # a key on "no files" would hide their changes: neither read nor stored (tr.cache_key stays None)
            unsaid = [g for g in dict.fromkeys(unmatched) if (planned.id, g) not in self._unmatched_said]
            if unsaid:  # once per task and glob, however many cells
                self._unmatched_said.update((planned.id, g) for g in unsaid)
                base = inputs_base(keyed, self.factory.dag_dir)
                self._emit(RunWarning, message=unmatched_note(planned.id, unsaid, base))
            return False
        tr.cache_key = key
        if self.options.cache != "use":
            return False
        entry = self._cache.get(tr.cache_key, now=self.clock.now().timestamp(), ttl=planned.cache.get("ttl"))
        if entry is None:
            return False
        tr.status, tr.outputs, tr.duration_s, tr.reason = "success", entry.outputs, 0.0, "cached"
        tr.log_path = restore_log(entry, attempt.log_path)
        if tr.outputs:
            if not tr.task_id:
                self._outputs[tr.id] = tr.outputs
            self._save_outputs(tr.id, tr.outputs)
        self._emit(
            TaskOk,
            **self._unit(tr),
            attempt=tr.attempt,
            duration_s=0.0,
            log_path=tr.log_path,
            outputs=sorted(tr.outputs) or None,
            cached=True,
            cache_key=tr.cache_key,
        )
        self._finished(tr.id)
        return True

    def _to_cache(self, tr: TaskRun) -> None:
        assert self._cache is not None and tr.cache_key is not None
        if self._masker is not None and self._masker.value(tr.outputs) != tr.outputs:
            # the cache keeps outputs in clear, outside any run, for every later run and `dagctl cache show`
            self._emit(
                RunWarning,
                message=f"task {tr.id} was not cached: its outputs hold the value of a secret, which the task "
                "cache would keep in clear; pass the secret to the tasks that need it (secrets:) instead",
            )
            return
        about = {"dag": self.dag.name, "task": tr.id, "run_id": self.run_id}
        try:
            self._cache.put(
                tr.cache_key, outputs=tr.outputs, log=tr.log_path, about=about, now=self.clock.now().timestamp()
            )
        except (DagctlError, OSError, TypeError, ValueError) as exc:  # the result stands; only its reuse is lost
            _log("warning", "could not cache task %s: %s", tr.id, exc)

    # ------------------------------------------------------------------ finishing attempts
    def _take_warnings(self) -> None:
        if self._executor_warnings is not None:
            for message in self._executor_warnings():
                self._emit(RunWarning, message=message)

    def _drain(self) -> None:
        self._take_warnings()
        while self._checks:
            tid, ok, why = self._checks.popleft()
            self._checking -= 1
            if self._stopping is None:
                self._prechecked(tid, ok, why)
        while self._done:
            uid, number, result = self._done.popleft()
            tr = self.units[uid]
            if tr.status != "running" or tr.attempt != number:
                continue  # a late answer for an attempt already given up on
            self._on_result(uid, result)

    def _on_result(self, uid: str, result: AttemptResult) -> None:
        tr = self.units[uid]
        self._active.pop(uid, None)
        self._release_slot(tr)  # a cell waiting for its retry does not keep a sibling from running
        if self._masker is not None:  # what the attempt wrote is masked once it is read
            if tr.log_path:
                self._masker.file(tr.log_path)
            self._masker.file(layout.shell_output_path(self.run_dir, self._file_stem(tr), tr.attempt))
            if result.error:
                result = result.replace(error=self._masker.text(result.error))
        tr.duration_s = round(result.duration_s, 6)
        tr.exit_code = result.exit_code
        tr.token = None
        planned = self.plan.tasks[tr.plan_id]
        control = tr.child_control
        if result.status == "cancelled" and control is not None and control.pausing and not control.cancelled:
            # its sub-DAG run paused with this run: what depends on it waits for the resume
            tr.status = "cancelled"
            tr.reason = f"paused with the run: its sub-DAG run {tr.child_run_id} is paused (a resume goes on with it)"
            self._emit(TaskCancel, **self._unit(tr), attempt=tr.attempt, reason=tr.reason, duration_s=tr.duration_s)
            return
        if result.status == "success":
            outputs = dict(result.outputs or {})
            if planned.repeat is not None and self._stopping is None:
                verdict = loops.decide(planned.repeat, uid, self._scope(), outputs, tr.previous, tr.iteration)
                if verdict.again:
                    self._emit(
                        TaskOk,
                        **self._unit(tr),
                        attempt=tr.attempt,
                        status="iterated",
                        duration_s=tr.duration_s,
                        exit_code=result.exit_code,
                        log_path=tr.log_path,
                        outputs=sorted(outputs) or None,
                        worker=result.worker,
                        reason=verdict.reason,
                    )
                    self._save_outputs(f"{self._file_stem(tr)}", outputs)
                    tr.previous, tr.iteration, tr.attempt, tr.status = outputs, tr.iteration + 1, 0, "retrying"
                    heapq.heappush(self._retries, (self.clock.monotonic() + verdict.delay, uid))
                    return
                if verdict.failed:
                    self._fail(uid, result, verdict.reason)
                    return
                tr.reason = verdict.reason
            tr.status, tr.outputs, tr.error = "success", outputs, None
            if tr.outputs:
                if not tr.task_id:
                    self._outputs[uid] = tr.outputs
                self._save_outputs(uid, tr.outputs)
                if tr.iteration > 1:  # a loop's last iteration also keeps a file of its own, like the others
                    self._save_outputs(self._file_stem(tr), tr.outputs)
            self._emit(
                TaskOk,
                **self._unit(tr),
                attempt=tr.attempt,
                duration_s=tr.duration_s,
                exit_code=result.exit_code,
                log_path=tr.log_path,
                outputs=sorted(tr.outputs) or None,
                worker=result.worker,
                child_run_id=tr.child_run_id,
                reason=tr.reason,
                cache_key=tr.cache_key,
            )
            if tr.cache_key is not None and self._cache is not None and not tr.tolerated:
                self._to_cache(tr)  # (a failure continue_on let pass is no result to reuse: it runs again next time)
            self._finished(uid)
            return
        tr.error = result.error
        if result.status in ("failed", "timeout") and disk_full(self.run_dir):
            tr.error = f"{result.error or 'failed'} (no space left on the disk of {self.run_dir})"
        if result.status == "cancelled":
            tr.status, tr.reason = "cancelled", self._stopping or result.error or "cancelled"
            self._emit(
                TaskCancel,
                **self._unit(tr),
                attempt=tr.attempt,
                reason=tr.reason,
                duration_s=tr.duration_s,
                log_path=tr.log_path,
            )
            self._finished(uid)
            return
        allowed = allowed_failure(planned.continue_on, result.replace(error=tr.error))
        if allowed is not None and self._stopping is None:
            tr.reason, tr.tolerated = allowed, True
            continued = AttemptResult(  # with what it wrote before it failed: downstream reads it as after a success
                status="success",
                duration_s=result.duration_s,
                exit_code=result.exit_code,
                worker=result.worker,
                outputs=result.outputs,
            )
            self._on_result(uid, continued)
            return
        retry_codes = planned.retry_on_exit_codes
        may_retry = retry_codes is None or result.exit_code in retry_codes
        if self._stopping is None and tr.attempt <= planned.retries and may_retry:
            delay = backoff_delay(
                tr.attempt, base=planned.retry_delay, factor=planned.backoff, cap=planned.max_delay, rand=self.rand
            )
            self._emit(
                TaskRetry,
                **self._unit(tr),
                attempt=tr.attempt,
                delay_s=round(delay, 3),
                error=tr.error,
                status=result.status,
            )
            tr.status = "retrying"
            heapq.heappush(self._retries, (self.clock.monotonic() + delay, uid))
            return
        self._fail(uid, result, tr.error)

    def _fail(self, uid: str, result: AttemptResult, error: str | None) -> None:
        tr = self.units[uid]
        tr.status, tr.error = "failed", error
        if tr.cell_index is not None and result.outputs:  # what it wrote: its matrix task's cells tell it
            tr.outputs = dict(result.outputs)
        self._emit(
            TaskFail,
            **self._unit(tr),
            attempt=tr.attempt,
            status=result.status if result.status != "success" else "failed",
            duration_s=tr.duration_s,
            exit_code=result.exit_code,
            error=error,
            log_path=tr.log_path,
            worker=result.worker,
            child_run_id=tr.child_run_id,
        )
        self._after_failure(uid)

    def _after_failure(self, uid: str) -> None:
        self.units[uid].status = "failed"
        if self.fail_fast and self._stopping is None:
            self._failed_run_error = f"stopped after task '{uid}' failed (--fail-fast)"
            self._stop(self._failed_run_error)
        self._finished(uid)

    def _check_deadlines(self, now: float) -> None:
        for uid, tr in list(self._active.items()):
            if self._abandon_at is not None and now >= self._abandon_at:
                why = (
                    "did not stop when killed; abandoned"
                    if self.control.kill_now
                    else f"did not stop within {self.grace:g}s of being cancelled; abandoned (an in-process Python "
                    "task stops only when it checks ctx.cancelled; use isolation: process to kill it)"
                )
                self._on_result(uid, AttemptResult(status="cancelled", duration_s=now - tr.started, error=why))
                continue
            if tr.deadline is not None and now >= tr.deadline and tr.token is not None:
                tr.token.cancel(reason="timeout")
                tr.deadline = None
            if tr.hard_deadline is not None and now >= tr.hard_deadline:
                timeout = self.plan.tasks[tr.plan_id].timeout or 0.0
                self._on_result(
                    uid,
                    AttemptResult(
                        status="timeout",
                        duration_s=now - tr.started,
                        error=f"timed out after {timeout:g}s and did not stop (an in-process Python task stops only "
                        "when it checks ctx.cancelled; use isolation: process to kill it)",
                    ),
                )

    # ------------------------------------------------------------------ deciding
    def _finished(self, uid: str) -> None:
        tr = self.units[uid]
        if tr.task_id:  # a cell: its matrix task ends with its last cell
            self._cell_finished(tr)
            return
        status = tr.status
        for child in self.plan.tasks[uid].downstream:
            self._remaining[child] -= 1
            rule = self.plan.tasks[child].trigger_rule
            if self._remaining[child] == 0 or status != "success" or rule in ("one_success", "one_failed"):
                self._evaluate(child)

    def _evaluate(self, tid: str) -> None:
        tr = self.tasks[tid]
        if tr.status != "pending" or tr.queued or self._stopping is not None:
            return
        planned = self.plan.tasks[tid]
        if tid in self.options.reuse_outputs:
            tr.status, tr.outputs, tr.reason = "success", dict(self.options.reuse_outputs[tid]), "reused"
            if tr.outputs:  # kept in this run's folder too, so a retry of this run can reuse them again
                self._outputs[tid] = tr.outputs
                self._save_outputs(tid, tr.outputs)
            if not self.options.resume:  # a resumed run recorded them already
                self._emit(TaskSkip, task_id=tid, status="success", reason="reused outputs of an earlier run")
            self._finished(tid)
            return
        if self.options.select is not None and tid not in self.options.select:
            self._skip(tid, "not selected")
            return
        upstream = {u: self.tasks[u].status for u in planned.depends_on}
        decision, reason = decide(planned.trigger_rule, upstream)
        if decision == "wait":
            return
        if decision == "skip":
            self._skip(tid, reason)
            return
        condition = self._conditions.get(tid)
        if condition is not None:
            try:
                ok = condition.evaluate(self._scope())
            except DagctlError as exc:
                tr.attempt = 1
                tr.status, tr.error, tr.duration_s = "failed", describe_error(exc), 0.0
                self._emit(TaskFail, task_id=tid, attempt=1, duration_s=0.0, error=tr.error)
                self._after_failure(tid)
                return
            if not ok:
                self._skip(tid, f"when: {condition.expr} is false")
                return
        tr.queued = True
        if planned.precondition is not None and not tr.reason:
            self._precheck(tr, planned)
            return
        self._queue(tr, planned)

    def _queue(self, tr: TaskRun, planned: PlannedTask) -> None:
        tid = tr.id
        if planned.matrix is not None:
            self._fan_out(tr, planned)
            return
        resumed = self.options.resume_loops.get(tid) if planned.repeat is not None else None
        if resumed:  # a retried loop goes on after its last completed iteration
            tr.iteration = int(resumed.get("iteration") or 0) + 1
            tr.previous = dict(resumed.get("outputs") or {})
        self._push_ready(tid)

    def _precheck(self, tr: TaskRun, planned: PlannedTask) -> None:
        """``precondition:``: a condition now, or a command on a thread of its own; unmet: the task is skipped."""
        from .preconditions import check_command, check_condition, command_env

        pre = planned.precondition or {}
        if "when" in pre:
            try:
                ok, why = check_condition(pre["when"], self._scope())
            except DagctlError as exc:
                tr.attempt = 1
                tr.status, tr.error, tr.duration_s = "failed", f"precondition: {describe_error(exc)}", 0.0
                self._emit(TaskFail, task_id=tr.id, attempt=1, duration_s=0.0, error=tr.error)
                self._after_failure(tr.id)
                return
            self._prechecked(tr.id, ok, why)
            return
        tr.status = "checking"
        self._checking += 1
        env = command_env(os.environ, self.plan.dag.env, planned.env, self.run_id, tr.id)
        command, cwd, checks, wake = pre["run"], planned.cwd, self._checks, self.control.wake

        def check() -> None:
            ok, why = check_command(command, cwd=cwd, env=env)
            checks.append((tr.id, ok, why))
            wake.set()

        threading.Thread(target=check, name=f"dagctl-precondition-{tr.id}", daemon=True).start()

    def _prechecked(self, tid: str, ok: bool, why: str) -> None:
        tr = self.tasks[tid]
        if ok:
            tr.status, tr.reason = "pending", "precondition met"
            self._queue(tr, self.plan.tasks[tid])
        else:
            tr.status = "pending"
            self._skip(tid, why)

    def _scope(self) -> dict[str, Any]:
        return {
            "params": self.factory.params,
            "outputs": self._outputs,
            "env": dict(os.environ),
            "run_id": self.run_id,
            "logical_date": self.options.logical_date,
        }

    def _skip(self, tid: str, reason: str) -> None:
        tr = self.tasks[tid]
        tr.status, tr.reason = "skipped", reason
        self._emit(TaskSkip, task_id=tid, reason=reason)
        self._finished(tid)

    # ------------------------------------------------------------------ matrix tasks
    def _fan_out(self, tr: TaskRun, planned: PlannedTask) -> None:
        """Expand a matrix task into its cells (values known now: literal, params, upstream outputs)."""
        from dagctl.dag import matrix
        from dagctl.dag.matrixcheck import check_min_success

        try:
            values = matrix.resolve(planned.matrix or {}, self._render)
            check_min_success(planned, matrix.cell_count(values))  # values from an output: known only now
        except DagctlError as exc:
            tr.attempt = 1
            tr.status, tr.error, tr.duration_s = "failed", describe_error(exc), 0.0
            self._emit(TaskFail, task_id=tr.id, attempt=1, duration_s=0.0, error=tr.error)
            self._after_failure(tr.id)
            return
        tr.status, tr.started = "running", self.clock.monotonic()
        cells = matrix.expand(values)
        self._emit(TaskStart, task_id=tr.id, cells=len(cells), matrix=values)
        reuse = self.options.reuse_cells
        for index, cell_values in enumerate(cells):
            cid = matrix.cell_id(tr.id, index)
            cell = TaskRun(cid, task_id=tr.id, cell_index=index, matrix=cell_values)
            tr.cells.append(cid)
            self.units[cid] = self.cells[cid] = cell
            earlier = reuse.get(cid)
            cell.attempt = self.options.attempts_done.get(cid, 0)
            if earlier is not None and earlier.get("matrix") == cell_values:
                cell.status, cell.outputs, cell.reason = "success", dict(earlier.get("outputs") or {}), "reused"
                self._save_outputs(cid, cell.outputs)
                if not self.options.resume:
                    self._emit(
                        TaskSkip, **self._unit(cell), status="success", reason="reused outputs of an earlier run"
                    )
            else:
                self._open_cells[tr.id] = self._open_cells.get(tr.id, 0) + 1
                self._push_ready(cid)
        if not self._open_cells.get(tr.id):
            self._finish_matrix(tr)

    def _render(self, text: str) -> Any:
        from dagctl.dag.templating import TemplateContext, render_value

        ctx = TemplateContext(params=self.factory.params, env=os.environ, outputs=self._outputs, run_id=self.run_id)
        return render_value(text, ctx)

    def _release_slot(self, cell: TaskRun) -> None:
        """The end of a cell's attempt (or of a start that ran nothing): its ``max_parallel`` slot is free."""
        if not cell.holds_slot:
            return
        cell.holds_slot = False
        self._running_cells[cell.task_id] -= 1
        held = self._held.get(cell.task_id)
        if held:
            self._push_ready(held.popleft())

    def _cell_finished(self, cell: TaskRun) -> None:
        parent = self.tasks[cell.task_id]
        self._release_slot(cell)
        self._open_cells[parent.id] -= 1
        if not self._open_cells[parent.id]:
            self._finish_matrix(parent)

    def _finish_matrix(self, tr: TaskRun) -> None:
        planned = self.plan.tasks[tr.id]
        cells = [self.cells[c] for c in tr.cells]
        ok = sum(1 for c in cells if c.status == "success")
        needed = len(cells) if planned.min_success is None else min(planned.min_success, len(cells))
        gathered = [{"matrix": c.matrix, "status": c.status, "outputs": c.outputs} for c in cells]
        tr.duration_s = round(self.clock.monotonic() - tr.started, 6)
        reason = f"{ok} of {len(cells)} cells succeeded"
        if self.control.cancelled and ok < len(cells):
            tr.status, tr.reason = "cancelled", self._stopping or "cancelled"
            self._emit(TaskCancel, task_id=tr.id, reason=tr.reason, duration_s=tr.duration_s)
            self._finished(tr.id)
            return
        try:
            if ok < needed:
                raise DagctlError(f"{reason}, {needed} needed (min_success)")
            outputs = aggregate(tr.id, gathered, planned.aggregate, self._call_aggregate)
        except DagctlError as exc:
            # its cells still tell what happened: a fan-in downstream that runs after failures (all_done) reads them
            tr.status, tr.error, tr.outputs = "failed", str(exc), {"cells": gathered}
            self._outputs[tr.id] = tr.outputs
            self._save_outputs(tr.id, tr.outputs)
            self._emit(TaskFail, task_id=tr.id, duration_s=tr.duration_s, error=tr.error)
            self._after_failure(tr.id)
            return
        tr.status, tr.outputs, tr.reason = "success", outputs, reason
        self._outputs[tr.id] = outputs
        self._save_outputs(tr.id, outputs)
        self._emit(TaskOk, task_id=tr.id, duration_s=tr.duration_s, outputs=sorted(outputs), reason=reason)
        self._finished(tr.id)

    def _call_aggregate(self, target: str, cells: list[dict[str, Any]]) -> Any:
        from dagctl.run.actions.python import call_aggregate

        return call_aggregate(target, cells, [str(self.factory.dag_dir)])

    # ------------------------------------------------------------------ handlers
    def _run_handlers(self, status: str) -> None:
        """``handlers:``: the one for how the run ended, then ``exit``. A handler never changes the outcome."""
        kind = {"success": "success", "failed": "failure", "cancelled": "cancel"}.get(status)
        for name in (kind, "exit"):
            if name is not None and name in self.plan.handlers:
                self._run_handler(name, status)

    def _run_handler(self, kind: str, status: str) -> None:
        """Run the handler ``kind``: once, and again as its ``retries:`` allow (with their backoff), as a task's
        attempts are retried, unless the run is being killed (a second Ctrl+C)."""
        planned = self.plan.handlers[kind]
        tr = self.units[planned.id] = TaskRun(planned.id, attempt=1)
        for number in range(1, planned.retries + 2):
            tr.attempt = number
            done = self._handler_attempt(planned, kind, status, number)
            if done is None:
                return
            result, log_path = done
            codes = planned.retry_on_exit_codes
            again = number <= planned.retries and not self.control.kill_now
            if result.ok:
                return
            if not again or (codes is not None and result.exit_code not in codes):
                self._failed_handlers[planned.id] = result.error or result.status
                self._emit(
                    TaskFail,
                    task_id=planned.id,
                    attempt=number,
                    duration_s=tr.duration_s,
                    log_path=log_path,
                    status=result.status,
                    exit_code=result.exit_code,
                    error=result.error,
                )
                return
            delay = backoff_delay(
                number, base=planned.retry_delay, factor=planned.backoff, cap=planned.max_delay, rand=self.rand
            )
            self._emit(
                TaskRetry,
                task_id=planned.id,
                attempt=number,
                delay_s=round(delay, 3),
                error=result.error,
                status=result.status,
            )
            deadline = self.clock.monotonic() + delay
            while not self.control.kill_now and (left := deadline - self.clock.monotonic()) > 0:
                self.control.wake.clear()
                self.clock.wait(self.control.wake, left)  # a second Ctrl+C (kill_now) wakes it
            if self.control.kill_now:
                why = "killed before its next attempt (a second interrupt)"
                self._failed_handlers[planned.id] = why
                self._emit(TaskFail, task_id=planned.id, attempt=number, duration_s=tr.duration_s, error=why)
                return

    def _handler_attempt(
        self, planned: PlannedTask, kind: str, status: str, number: int
    ) -> tuple[AttemptResult, str | None] | None:
        """One attempt of a handler and its log: its start recorded, and its success (a failure is the caller's to
        record, as a retry or for good); None when it could not be made (recorded as failed)."""
        tr = self.units[planned.id]
        failed = ",".join(t.id for t in self.tasks.values() if t.status == "failed")
        try:
            attempt = self.factory.build(planned, number, self._outputs)
        except DagctlError as exc:
            self._failed_handlers[planned.id] = describe_error(exc)
            self._emit(TaskFail, task_id=planned.id, attempt=number, duration_s=0.0, error=describe_error(exc))
            return None
        extra = {"DAGCTL_RUN_STATUS": status, "DAGCTL_FAILED_TASKS": failed, "DAGCTL_HANDLER": kind}
        attempt = attempt.replace(env={**attempt.env, **extra})
        token, results = CancelToken(), deque[AttemptResult]()
        wake = self.control.wake

        def report(result: AttemptResult) -> None:
            results.append(result)
            wake.set()

        self._emit(TaskStart, task_id=planned.id, attempt=number, log_path=attempt.log_path)
        began = self.clock.monotonic()
        timeout = planned.timeout
        give_up = began + timeout + self.grace + HARD_STOP_MARGIN if timeout else None
        try:
            self.executor.submit(attempt, token, report)
        except DagctlError as exc:
            report(AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc)))
        while not results:
            now = self.clock.monotonic()
            if timeout and now >= began + timeout and not token.is_cancelled:
                token.cancel(reason="timeout")
            if give_up is not None and now >= give_up:
                results.append(AttemptResult(status="timeout", duration_s=now - began, error="did not stop"))
                break
            self._flush()
            self.clock.wait(wake, CANCEL_POLL_S)
            wake.clear()
        result = results[0]
        if self._masker is not None:
            self._masker.file(attempt.log_path)
        tr.duration_s, tr.status = round(result.duration_s, 6), "success" if result.ok else "failed"
        if result.ok:
            self._emit(
                TaskOk,
                task_id=planned.id,
                attempt=number,
                duration_s=tr.duration_s,
                log_path=attempt.log_path,
                exit_code=result.exit_code,
                reason=f"handler {kind}",
            )
        return result, attempt.log_path

    def _pause_children(self) -> None:
        """This run is pausing: so are the child runs of its running ``dag:`` units (their running tasks finish,
        nothing new starts there, a gate that waits does not hold them), and they end paused with it."""
        for tr in self._active.values():
            if tr.child_control is not None:
                tr.child_control.pause(f"paused with its parent run {self.run_id}")

    def _paused(self, start: float) -> RunResult:
        """``dagctl pause``: what ran is recorded, what did not is left for ``dagctl resume``."""
        duration = self.clock.monotonic() - start
        result = RunResult(
            run_id=self.run_id,
            dag_name=self.dag.name,
            status="paused",
            tasks=self.tasks,
            duration_s=duration,
            run_dir=self.run_dir,
            error=self._pausing,
            cells=self.cells,
            resumed=self.options.resume,
        )
        self._emit(
            DagDone,
            status="paused",
            duration_s=round(duration, 3),
            tasks_succeeded=result.count("success"),
            tasks_failed=result.count("failed"),
            tasks_skipped=result.count("skipped"),
            tasks_cancelled=result.count("cancelled"),
            error=self._pausing,
        )
        self._flush()
        return result

    # ------------------------------------------------------------------ stopping
    def _stop(self, reason: str) -> None:
        self._stopping = reason
        for tr in self._active.values():
            if tr.token is not None:
                tr.token.cancel(now=self.control.kill_now, reason="cancelled")
        if self._abandon_at is None:  # what has not stopped by then is given up on, as a timed-out task is: an
            # in-process Python task that never looks at ctx.cancelled held the run (Ctrl+C, SIGTERM) until it returned
            self._abandon_at = self.clock.monotonic() + self.grace + HARD_STOP_MARGIN
        self._ready.clear()
        self._retries.clear()
        self._held.clear()

    def _finish(self, start: float) -> RunResult:
        self._take_warnings()
        if self._pausing is not None and not self.control.cancelled and self._stopping is None:
            return self._paused(start)
        why = self._stopping or self._halted or "run ended"
        stranded = [tr.id for tr in self.units.values() if tr.status not in FINAL]
        if stranded and why == "run ended":  # nothing left to wait for, yet not everything ended: never a success
            self._failed_run_error = (
                f"the runner stopped with {len(stranded)} unit(s) unfinished: {', '.join(stranded[:5])}"
            )
        for tr in [*self.cells.values(), *self.tasks.values()]:  # cells first: their matrix task ends after them
            if tr.status not in FINAL:
                was = {"running": "stopped", "waiting": "stopped while waiting for approval"}.get(
                    tr.status, "not started"
                )
                tr.status, tr.reason = "cancelled", f"{was}: {why}"
                self._emit(TaskCancel, **self._unit(tr), attempt=tr.attempt or None, reason=tr.reason)
        duration = self.clock.monotonic() - start
        if self._halted is not None:
            self._failed_run_error = self._halted
        if self.control.cancelled:
            status = "cancelled"
        elif self._failed_run_error or any(t.status == "failed" for t in self.tasks.values()):
            status = "failed"
        elif cancelled := [t for t in self.tasks.values() if t.status == "cancelled"]:
            # a task stopped from outside while the run was not (a sub-DAG's run cancelled on its own): what
            # depends on it was skipped, so the run did not do its work
            status = "failed"
            first = cancelled[0]
            self._failed_run_error = f"task '{first.id}' was cancelled" + (f": {first.reason}" if first.reason else "")
        else:
            status = "success"
        error = (
            self._failed_run_error if status == "failed" else (self.control.reason if status == "cancelled" else None)
        )
        result = RunResult(
            run_id=self.run_id,
            dag_name=self.dag.name,
            status=status,
            tasks=self.tasks,
            duration_s=duration,
            run_dir=self.run_dir,
            error=error,
            signal=self.control.signal,
            halted=self._halted,
            cells=self.cells,
            resumed=self.options.resume,
        )
        if self.plan.handlers and not self.control.kill_now:
            self._run_handlers(status)
            result.failed_handlers = self._failed_handlers
        if status == "success" and self.dag.outputs:
            try:
                result.outputs = subrun.render_outputs(self.dag.outputs, self._scope())
            except DagctlError as exc:
                result.status = status = "failed"
                result.error = error = f"outputs: {exc}"
        self._emit(
            DagDone,
            status=status,
            duration_s=round(duration, 3),
            tasks_succeeded=result.count("success"),
            tasks_failed=result.count("failed"),
            tasks_skipped=result.count("skipped"),
            tasks_cancelled=result.count("cancelled"),
            error=error,
        )
        self._flush()
        if result.halted is None:  # the last lines met a full disk: they go to the reserve at close; say so (exit 3)
            result.halted = self._halted
        return result
