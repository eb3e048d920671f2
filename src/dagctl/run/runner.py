"""Run a plan: ready queue, parallelism, retries with backoff, timeouts, trigger rules, cancel, events.

One thread owns all run state: a thread started for the run, while the caller waits (see
:meth:`Runner.run`). Executors report results through a callback that only appends to a queue and wakes
the loop, so there are no locks around task state. A task starts as soon as its upstream tasks allow it;
among ready tasks the one with the longest remaining path goes first.
"""

from __future__ import annotations

import heapq
import json
import os
import threading
from collections import deque
from pathlib import Path

from dagctl.clock import SystemClock
from dagctl.dag.plan import Plan
from dagctl.dag.triggers import decide
from dagctl.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, DagctlError, cannot
from dagctl.host import disk_full, hostname, process_start_ticks
from dagctl.records import PlainData, field
from dagctl.store import layout
from dagctl.store.events import (
    DagDone,
    DagStart,
    TaskCancel,
    TaskFail,
    TaskOk,
    TaskRetry,
    TaskSkip,
    TaskStart,
    format_ts,
)

from . import childsignal
from .attempts import AttemptResult, CancelToken
from .backoff import backoff_delay
from .resolve import AttemptFactory, describe_error
from .waker import Waker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dagctl.protocols import Clock
    from dagctl.store.protocols import EventSink

    from .protocols import Executor

FINAL = frozenset({"success", "failed", "skipped", "cancelled"})
CANCEL_POLL_S = 0.25
FLUSH_EVERY_S = 0.02
"""Events are written in groups: at most this long after they happen (one locked write per file per group,
not per event). A run killed with SIGKILL loses at most this much; every other ending flushes them all."""
HARD_STOP_MARGIN = 2.0  # seconds past timeout + grace before an unresponsive attempt is given up on


def _cancel_reason(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
        return str(data.get("reason") or "cancelled by dagctl cancel")
    except (OSError, ValueError, AttributeError):
        return "cancelled by dagctl cancel"


def default_parallelism() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


def new_run_id(clock: Clock, rand: Callable[[int], int] | None = None) -> str:
    """Sorts by start time, safe as a file name: ``20261121-194512.123-3f9a2c``."""
    now = clock.now()
    bits = rand(24) if rand is not None else int.from_bytes(os.urandom(3), "big")
    return now.strftime("%Y%m%d-%H%M%S.") + f"{now.microsecond // 1000:03d}-{bits:06x}"


class RunControl:
    """Asks a run to stop, from any thread or a signal handler: ``cancel()`` then ``cancel(now=True)``."""

    def __init__(self) -> None:
        self.wake = Waker()
        self.reason: str | None = None
        self.kill_now = False
        self.signal: int | None = None

    def cancel(self, reason: str = "cancelled", *, now: bool = False, signal: int | None = None) -> None:
        if self.reason is None:
            self.reason = reason
            self.signal = signal
        if now:
            self.kill_now = True
        self.wake.set()

    @property
    def cancelled(self) -> bool:
        return self.reason is not None


class RunOptions(PlainData):
    """How to run a plan, on top of what the DAG file says (``dagctl run`` flags, ``run_dag`` keywords).

    ``reuse_outputs``: tasks already done (e.g. by the run being retried): not run again, their outputs
    reused. ``select``: run only these tasks (plan order kept); the others must be in ``reuse_outputs`` or
    are skipped.
    """

    params: dict[str, Any] = field(default_factory=dict)
    parallelism: int | None = None
    fail_fast: bool | None = None
    timeout: float | None = None
    trigger: str = "manual"
    run_id: str | None = None
    parent_run_id: str | None = None
    schedule_id: str | None = None
    logical_date: str | None = None
    reuse_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    select: list[str] | None = None


class TaskRun(PlainData):
    """One task's state during a run (owned by the runner's thread)."""

    id: str
    status: str = "pending"
    attempt: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    reason: str | None = None
    log_path: str | None = None
    queued: bool = False
    token: CancelToken | None = None
    started: float = 0.0
    deadline: float | None = None
    hard_deadline: float | None = None


class RunResult(PlainData):
    """How a run ended: ``status`` is ``success``, ``failed`` or ``cancelled``."""

    run_id: str
    dag_name: str
    status: str
    tasks: dict[str, TaskRun]
    duration_s: float
    run_dir: Path
    error: str | None = None
    signal: int | None = None
    halted: str | None = None
    """Why the run stopped starting tasks although nothing asked it to (its events could not be written)."""

    def count(self, status: str) -> int:
        return sum(1 for t in self.tasks.values() if t.status == status)

    @property
    def exit_code(self) -> int:
        if self.halted is not None:
            return EXIT_ENVIRONMENT
        if self.status == "success":
            return EXIT_OK
        if self.status == "cancelled":
            return EXIT_SIGTERM if self.signal == 15 else EXIT_SIGINT
        return EXIT_FAILED

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dag": self.dag_name,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "tasks_succeeded": self.count("success"),
            "tasks_failed": self.count("failed"),
            "tasks_skipped": self.count("skipped"),
            "tasks_cancelled": self.count("cancelled"),
            "run_dir": str(self.run_dir),
            "error": self.error,
            "tasks": {
                t.id: {
                    k: v
                    for k, v in {
                        "status": t.status,
                        "attempts": t.attempt,
                        "duration_s": t.duration_s,
                        "exit_code": t.exit_code,
                        "error": t.error,
                        "reason": t.reason,
                        "log": t.log_path,
                    }.items()
                    if v is not None
                }
                for t in self.tasks.values()
            },
        }


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
        self.run_id = self.options.run_id or new_run_id(self.clock)
        self.run_dir = layout.run_dir(runs_dir, self.run_id)
        dag = self.dag
        self.parallelism = self.options.parallelism or dag.parallelism or default_parallelism()
        self.fail_fast = dag.fail_fast if self.options.fail_fast is None else self.options.fail_fast
        self.run_timeout = self.options.timeout if self.options.timeout is not None else dag.timeout
        self.tasks = {tid: TaskRun(tid) for tid in plan.tasks}
        self._remaining = {tid: len(t.depends_on) for tid, t in plan.tasks.items()}
        self._ready: list[tuple[int, int, str]] = []
        self._retries: list[tuple[float, str]] = []
        self._done: deque[tuple[str, int, AttemptResult]] = deque()
        self._active: dict[str, TaskRun] = {}  # running attempts (at most `parallelism`)
        self._outputs: dict[str, dict[str, Any]] = {}  # non-empty outputs of succeeded tasks
        self._stopping: str | None = None
        self._failed_run_error: str | None = None
        self._halted: str | None = None  # why no new task starts while running ones finish (disk full ...)
        self._unflushed = False
        self._flushed_at = float("-inf")
        self._conditions: dict[str, Any] = {}
        if any(t.when for t in plan.tasks.values()):
            from dagctl.dag.conditions import compile_condition  # the expression parser is loaded only when used

            self._conditions = {tid: compile_condition(t.when) for tid, t in plan.tasks.items() if t.when}

    # ------------------------------------------------------------------ events
    def _emit(self, cls: type, **fields: Any) -> None:
        self._unflushed = True
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
            import logging  # only on this path: importing logging costs ~2 ms of every start

            logging.getLogger(__name__).error(
                "run %s: %s; running tasks finish, nothing new starts", self.run_id, detail
            )
            self._ready.clear()
            self._retries.clear()

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

        threading.Thread(target=target, name=f"dagctl-run-{self.run_id}").start()
        interrupted: KeyboardInterrupt | None = None
        with childsignal.blocked():  # this thread only waits: no wake-up for every child that exits
            while not finished.is_set():
                try:
                    finished.wait()
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

        params = merge_params(self.dag.params, self.options.params)
        self.factory = AttemptFactory(
            plan=self.plan,
            run_id=self.run_id,
            run_dir=self.run_dir,
            params=params,
            grace=self.grace,
            logical_date=self.options.logical_date,
        )
        self._write_snapshot(params)
        # the executor may do its work on this thread while it waits (the local shell fast path)
        self.executor.begin(
            self.control.wake, [self.factory.log_path(tid) for tid, t in self.plan.tasks.items() if t.kind == "run"]
        )
        try:
            return self._loop(params)
        finally:
            self.executor.end()

    def _loop(self, params: dict[str, Any]) -> RunResult:
        start = self.clock.monotonic()
        run_deadline = start + self.run_timeout if self.run_timeout else None
        self._emit(
            DagStart,
            params=params,
            trigger=self.options.trigger,
            host=hostname(),
            pid=os.getpid(),
            pid_start=process_start_ticks(os.getpid()),
            dag_file=self.dag.source_path,
            run_dir=str(self.run_dir),
            tasks=len(self.tasks),
            executor=self.executor.name,
            parent_run_id=self.options.parent_run_id,
            schedule_id=self.options.schedule_id,
            logical_date=self.options.logical_date,
        )
        self._abandon_at: float | None = None
        cancel_file = layout.cancel_file(self.run_dir)
        next_cancel_check = start
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
            if self.control.cancelled and self._stopping is None:
                self._stop(self.control.reason or "cancelled")
            if self.control.kill_now and self._abandon_at is None:
                self._abandon_at = now + HARD_STOP_MARGIN
                for tr in self._active.values():
                    if tr.token is not None:
                        tr.token.cancel(now=True, reason=tr.token.reason)
            if run_deadline is not None and now >= run_deadline and self._stopping is None:
                self._failed_run_error = f"run timed out after {self.run_timeout:g}s"
                self._stop(self._failed_run_error)
            self._check_deadlines(now)
            if self._stopping is None and self._halted is None:
                self._start_ready(now)
            ending = self._stopping is not None or self._halted is not None
            if not self._active and (ending or (not self._ready and not self._retries)):
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

    def _write_snapshot(self, params: Mapping[str, Any]) -> None:
        try:
            self._write_snapshot_files(params)
        except OSError as exc:
            raise cannot("write", exc.filename or self.run_dir, exc) from None

    def _write_snapshot_files(self, params: Mapping[str, Any]) -> None:
        layout.outputs_dir(self.run_dir).mkdir(parents=True, exist_ok=True)
        src = self.dag.source_path
        if src:
            try:
                snapshot = Path(src).read_bytes()  # a DAG file: small, read whole
            except OSError:  # gone since it was read, or not a file: the run goes on without a snapshot
                pass
            else:
                layout.snapshot_file(self.run_dir).write_bytes(snapshot)
        meta = {
            "run_id": self.run_id,
            "dag": self.dag.name,
            "dag_file": src,
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

    # ------------------------------------------------------------------ starting
    def _start_ready(self, now: float) -> None:
        while self._retries and self._retries[0][0] <= now:
            _, tid = heapq.heappop(self._retries)
            self._push_ready(tid)
        while self._ready and len(self._active) < self.parallelism and self._stopping is None:
            _, _, tid = heapq.heappop(self._ready)
            self._start(tid, now)

    def _push_ready(self, tid: str) -> None:
        t = self.plan.tasks[tid]
        heapq.heappush(self._ready, (-t.priority, t.order, tid))

    def _start(self, tid: str, now: float) -> None:
        tr = self.tasks[tid]
        planned = self.plan.tasks[tid]
        tr.attempt += 1
        try:
            attempt = self.factory.build(planned, tr.attempt, self._outputs)
        except DagctlError as exc:  # a template or registry problem: retrying cannot help
            tr.status, tr.error, tr.duration_s = "failed", describe_error(exc), 0.0
            self._emit(TaskFail, task_id=tid, attempt=tr.attempt, duration_s=0.0, error=tr.error)
            self._after_failure(tid)
            return
        tr.status, tr.log_path = "running", attempt.log_path
        tr.started = now
        tr.token = CancelToken()
        tr.deadline = now + planned.timeout if planned.timeout else None
        tr.hard_deadline = now + planned.timeout + self.grace + HARD_STOP_MARGIN if planned.timeout else None
        self._active[tid] = tr
        self._emit(TaskStart, task_id=tid, attempt=tr.attempt, log_path=attempt.log_path)
        number = tr.attempt
        wake = self.control.wake
        done = self._done

        def report(result: AttemptResult) -> None:
            done.append((tid, number, result))
            wake.set()

        try:
            self.executor.submit(attempt, tr.token, report)
        except DagctlError as exc:
            report(AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc)))

    # ------------------------------------------------------------------ finishing attempts
    def _drain(self) -> None:
        while self._done:
            tid, number, result = self._done.popleft()
            tr = self.tasks[tid]
            if tr.status != "running" or tr.attempt != number:
                continue  # a late answer for an attempt already given up on
            self._on_result(tid, result)

    def _on_result(self, tid: str, result: AttemptResult) -> None:
        tr = self.tasks[tid]
        self._active.pop(tid, None)
        tr.duration_s = round(result.duration_s, 6)
        tr.exit_code = result.exit_code
        tr.token = None
        if result.status == "success":
            tr.status, tr.outputs, tr.error = "success", dict(result.outputs or {}), None
            if tr.outputs:
                self._outputs[tid] = tr.outputs
                self._save_outputs(tid, tr.outputs)
            self._emit(
                TaskOk,
                task_id=tid,
                attempt=tr.attempt,
                duration_s=tr.duration_s,
                exit_code=result.exit_code,
                log_path=tr.log_path,
                outputs=sorted(tr.outputs) or None,
                worker=result.worker,
            )
            self._finished(tid)
            return
        tr.error = result.error
        if result.status in ("failed", "timeout") and disk_full(self.run_dir):
            tr.error = f"{result.error or 'failed'} (no space left on the disk of {self.run_dir})"
        if result.status == "cancelled":
            tr.status, tr.reason = "cancelled", self._stopping or result.error or "cancelled"
            self._emit(
                TaskCancel,
                task_id=tid,
                attempt=tr.attempt,
                reason=tr.reason,
                duration_s=tr.duration_s,
                log_path=tr.log_path,
            )
            self._finished(tid)
            return
        planned = self.plan.tasks[tid]
        if self._stopping is None and tr.attempt <= planned.retries:
            delay = backoff_delay(
                tr.attempt, base=planned.retry_delay, factor=planned.backoff, cap=planned.max_delay, rand=self.rand
            )
            self._emit(
                TaskRetry,
                task_id=tid,
                attempt=tr.attempt,
                delay_s=round(delay, 3),
                error=tr.error,
                status=result.status,
            )
            tr.status = "retrying"
            heapq.heappush(self._retries, (self.clock.monotonic() + delay, tid))
            return
        tr.status = "failed"
        self._emit(
            TaskFail,
            task_id=tid,
            attempt=tr.attempt,
            status=result.status,
            duration_s=tr.duration_s,
            exit_code=result.exit_code,
            error=tr.error,
            log_path=tr.log_path,
            worker=result.worker,
        )
        self._after_failure(tid)

    def _after_failure(self, tid: str) -> None:
        self.tasks[tid].status = "failed"
        if self.fail_fast and self._stopping is None:
            self._failed_run_error = f"stopped after task '{tid}' failed (--fail-fast)"
            self._stop(self._failed_run_error)
        self._finished(tid)

    def _check_deadlines(self, now: float) -> None:
        for tid, tr in list(self._active.items()):
            if self._abandon_at is not None and now >= self._abandon_at:
                self._on_result(
                    tid,
                    AttemptResult(
                        status="cancelled", duration_s=now - tr.started, error="did not stop when killed; abandoned"
                    ),
                )
                continue
            if tr.deadline is not None and now >= tr.deadline and tr.token is not None:
                tr.token.cancel(reason="timeout")
                tr.deadline = None
            if tr.hard_deadline is not None and now >= tr.hard_deadline:
                timeout = self.plan.tasks[tid].timeout or 0.0
                self._on_result(
                    tid,
                    AttemptResult(
                        status="timeout",
                        duration_s=now - tr.started,
                        error=f"timed out after {timeout:g}s and did not stop (an in-process Python task stops only "
                        "when it checks ctx.cancelled; use isolation: process to kill it)",
                    ),
                )

    # ------------------------------------------------------------------ deciding
    def _finished(self, tid: str) -> None:
        status = self.tasks[tid].status
        for child in self.plan.tasks[tid].downstream:
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
            scope = {
                "params": self.factory.params,
                "outputs": self._outputs,
                "env": dict(os.environ),
                "run_id": self.run_id,
                "logical_date": self.options.logical_date,
            }
            try:
                ok = condition.evaluate(scope)
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
        self._push_ready(tid)

    def _skip(self, tid: str, reason: str) -> None:
        tr = self.tasks[tid]
        tr.status, tr.reason = "skipped", reason
        self._emit(TaskSkip, task_id=tid, reason=reason)
        self._finished(tid)

    # ------------------------------------------------------------------ stopping
    def _stop(self, reason: str) -> None:
        self._stopping = reason
        for tr in self._active.values():
            if tr.token is not None:
                tr.token.cancel(now=self.control.kill_now, reason="cancelled")
        self._ready.clear()
        self._retries.clear()

    def _finish(self, start: float) -> RunResult:
        for tid, tr in self.tasks.items():
            if tr.status not in FINAL:
                tr.status, tr.reason = "cancelled", f"not started: {self._stopping or self._halted or 'run ended'}"
                self._emit(TaskCancel, task_id=tid, attempt=tr.attempt or None, reason=tr.reason)
        duration = self.clock.monotonic() - start
        if self._halted is not None:
            self._failed_run_error = self._halted
        if self.control.cancelled:
            status = "cancelled"
        elif self._failed_run_error or any(t.status == "failed" for t in self.tasks.values()):
            status = "failed"
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
        )
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
        return result
