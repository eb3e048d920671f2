"""One run's events folded into a :class:`RunSummary`, plus the small value helpers reports share. Pure.

A run's status comes from its events alone: the ``dag_done`` status, else ``running``. Whether a running
run's owner is dead (``abandoned``) is a fact about processes; callers pass ``owner_alive``. Nothing here
raises on an odd record: a missing or mistyped field is treated as absent, unknown kinds are ignored.

Everything returned is strict JSON data, whatever the records say: a duration that is negative, not finite
or over :data:`MAX_SECONDS` is treated as absent (so an average of them cannot overflow to infinity), and a
NaN or infinite number in a run's params (written by an older dagctl) reads as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from .events import finite_number, format_ts, parse_ts

RUN_STATUSES = ("success", "failed", "cancelled", "abandoned", "running", "waiting", "paused")
"""What :func:`summarize_dags` reports (a ``dag_done`` written by a newer dagctl may say something else)."""


def check_run_status(value: str | None, name: str = "--status") -> str | None:
    """A run status filter (``dagctl runs --status``, ``GET /api/runs?status=``): one of :data:`RUN_STATUSES`, or
    None for any; else a UsageError naming ``name``, with a guess and the statuses."""
    if value is None or value in RUN_STATUSES:
        return value
    import difflib

    from dagctl.errors import UsageError

    close = difflib.get_close_matches(value.strip().lower(), RUN_STATUSES, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    raise UsageError(f"{name} {value!r} is not a run status", hint=f"{guess}use one of: {', '.join(RUN_STATUSES)}")


TASK_KINDS = frozenset({"task_start", "task_ok", "task_fail", "task_retry", "task_skip", "task_cancel"})
APPROVAL_KINDS = frozenset({"approval_requested", "approval_granted", "approval_rejected"})
LIVE_STATUSES = frozenset({"running", "waiting"})
"""A run in one of these has a process working on it (or had: see ``abandoned``)."""
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MIN_TIME = datetime.min.replace(tzinfo=timezone.utc)
MAX_SECONDS = 1e9
"""The longest duration a report believes (~31 years); anything longer in a record is garbage."""


# --------------------------------------------------------------------------------------------- values


def ts_key(value: object) -> str | None:
    """A record's ``ts`` as a canonical string (``2026-11-21T19:45:12.123Z``) that sorts as time does.

    The writer's own format passes through untouched (no parsing: this is the hot path of every window
    test); other ISO-8601 forms are normalised; anything else is None.
    """
    if isinstance(value, str):
        if len(value) == 24 and value[23] == "Z" and value[10] == "T" and value[4] == "-":
            return value
        try:
            return format_ts(parse_ts(value))
        except (ValueError, TypeError, OverflowError):
            return None
    return None


def _when(key: str | None) -> datetime | None:
    if key is None:
        return None
    try:
        return parse_ts(key)
    except (ValueError, TypeError):
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _seconds(value: object) -> float | None:
    """A duration from a record: a number from 0 to :data:`MAX_SECONDS`, else None."""
    number = finite_number(value)
    return number if number is not None and 0 <= number <= MAX_SECONDS else None


def _json_data(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as strict JSON data: NaN and infinite numbers become None (one round trip, only when needed)."""
    try:
        json.dumps(value, allow_nan=False, default=str)
        return dict(value)
    except ValueError:
        cleaned = json.loads(json.dumps(value, default=str), parse_constant=lambda _name: None)
        return cleaned if isinstance(cleaned, dict) else {}
    except (TypeError, RecursionError):
        return {}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = finite_number(value)
    return int(number) if number is not None and number.is_integer() else None


def _window(now: datetime, window_hours: float) -> tuple[str, str]:
    """``(since_key, now_key)`` of the window ending at ``now``."""
    hours = finite_number(window_hours)
    try:
        since = now - timedelta(hours=hours if hours is not None and hours > 0 else 0.0)
    except OverflowError:  # a window reaching back before year 1: everything
        since = _MIN_TIME
    return format_ts(since), format_ts(now)


def p95(samples: list[float]) -> float | None:
    """Nearest-rank 95th percentile of ``samples`` (None when empty). Sorts ``samples`` in place."""
    if not samples:
        return None
    samples.sort()
    return samples[max(0, math.ceil(0.95 * len(samples)) - 1)]


# --------------------------------------------------------------------------------------------- one run


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One task's state in a run: the last event about it wins; ``attempts`` counts attempts started."""

    task_id: str
    status: str  # running | retrying | success | failed | skipped | cancelled
    attempts: int = 0
    started: datetime | None = None  # first attempt's start
    ended: datetime | None = None
    duration_s: float | None = None  # the last attempt's
    exit_code: int | None = None
    error: str | None = None
    reason: str | None = None  # why skipped/cancelled; "timeout" for a task that failed by timing out
    log_path: str | None = None
    outputs: tuple[str, ...] = ()
    retries: int = 0
    parent: str | None = None
    """For a matrix cell (whose ``task_id`` is the cell id, ``train:3``): the matrix task."""
    cell_index: int | None = None
    matrix: Mapping[str, Any] | None = None
    """A cell's values; a matrix task's value lists."""
    cells: int | None = None
    """A matrix task: how many cells it fanned out to."""
    iteration: int | None = None
    """A ``repeat:`` task: the iteration it reached."""
    child_run_id: str | None = None
    """A ``dag:`` task: its (latest) child run."""
    iterations_done: int | None = None
    """A ``repeat:`` task: the last iteration that succeeded."""
    approval: Mapping[str, Any] | None = None
    """An approval gate: ``message``, ``approvers``, ``policy``, and once decided ``decision`` and ``by``."""
    cached: bool = False


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run as its events tell it. ``status`` is ``dag_done``'s, or ``running`` without one."""

    run_id: str
    dag_name: str
    tenant_id: str
    status: str
    started: datetime | None = None
    ended: datetime | None = None
    duration_s: float | None = None
    trigger: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    parent_task: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_start: float | None = None
    run_dir: str | None = None
    dag_file: str | None = None
    schedule_id: str | None = None
    logical_date: str | None = None
    executor: str | None = None
    error: str | None = None
    tasks_total: int | None = None  # as planned (dag_start), when known
    tasks: Mapping[str, TaskSummary] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # success/failed/skipped/cancelled (+ unfinished)
    last_event: datetime | None = None
    pauses: tuple[tuple[datetime | None, datetime | None], ...] = ()
    """When the run was paused, and resumed (None: not yet); a resumed run's ``duration_s`` is its wall time
    from start to end, pauses included, as its timeline draws it."""

    @property
    def paused_s(self) -> float:
        """Seconds spent paused (an unfinished pause is not counted)."""
        return sum((b - a).total_seconds() for a, b in self.pauses if a is not None and b is not None)

    @property
    def finished(self) -> bool:
        return self.status not in LIVE_STATUSES

    def elapsed(self, now: datetime) -> float | None:
        """``duration_s`` when finished, else seconds from ``started`` to ``now``."""
        if self.duration_s is not None or self.started is None:
            return self.duration_s
        return max(0.0, (now - self.started).total_seconds())


def resolve_status(run: RunSummary, owner_alive: bool | None) -> str:
    """A running run whose owner is known to be dead is ``abandoned``; anything else keeps its status."""
    if run.status in LIVE_STATUSES and owner_alive is False:
        return "abandoned"
    return run.status


class _Task:
    __slots__ = (
        "approval",
        "attempts",
        "cached",
        "cell_index",
        "cells",
        "child_run_id",
        "duration",
        "ended",
        "error",
        "exit_code",
        "iteration",
        "iterations_done",
        "log_path",
        "matrix",
        "outputs",
        "parent",
        "reason",
        "retries",
        "started",
        "status",
    )

    def __init__(self) -> None:
        self.status = "pending"
        self.attempts = 0
        self.retries = 0
        self.started: str | None = None
        self.ended: str | None = None
        self.duration: float | None = None
        self.exit_code: int | None = None
        self.error: str | None = None
        self.reason: str | None = None
        self.log_path: str | None = None
        self.outputs: tuple[str, ...] = ()
        self.parent: str | None = None
        self.cell_index: int | None = None
        self.matrix: Mapping[str, Any] | None = None
        self.cells: int | None = None
        self.iteration: int | None = None
        self.child_run_id: str | None = None
        self.approval: dict[str, Any] | None = None
        self.cached = False
        self.iterations_done: int | None = None

    def finish(self, status: str, rec: Mapping[str, Any], key: str | None) -> None:
        self.status = status
        self.ended = key
        self.duration = _seconds(rec.get("duration_s"))
        self.exit_code = _int(rec.get("exit_code"))
        self.error = _str(rec.get("error"))
        self.reason = _str(rec.get("reason")) or None
        self.log_path = _str(rec.get("log_path")) or self.log_path


_COUNT_KEYS = (
    ("success", "tasks_succeeded"),
    ("failed", "tasks_failed"),
    ("skipped", "tasks_skipped"),
    ("cancelled", "tasks_cancelled"),
)


def fold_run(events: Iterable[Mapping[str, Any]]) -> RunSummary:
    """Fold the events of one run (in the order written) into a :class:`RunSummary`. Total: never raises.

    Events of another run id than the first one seen are ignored. Without ``dag_start`` (a window that
    cut the run's beginning) the start is ``dag_done``'s time minus its duration, else the first event's.
    Task counts are ``dag_done``'s when there is one, else counted from the task states.
    """
    run_id: str | None = None
    dag_name = tenant = None
    start: Mapping[str, Any] = _EMPTY
    start_key = done_key = first_key = last_key = None
    done: Mapping[str, Any] = _EMPTY
    pauses: list[tuple[str | None, str | None]] = []
    resumed = False
    tasks: dict[str, _Task] = {}
    for rec in events:
        if not isinstance(rec, Mapping):
            continue
        rid = rec.get("run_id")
        if isinstance(rid, str) and rid:
            if run_id is None:
                run_id = rid
            elif rid != run_id:
                continue
        key = ts_key(rec.get("ts"))
        if key is not None:
            if first_key is None:
                first_key = key
            if last_key is None or key > last_key:
                last_key = key
        dag_name = dag_name or _str(rec.get("dag_name"))
        tenant = tenant or _str(rec.get("tenant_id"))
        kind = _str(rec.get("event"))
        if kind in TASK_KINDS or kind in APPROVAL_KINDS:
            tid = rec.get("task_id")
            if not isinstance(tid, str) or not tid:
                continue
            cell = rec.get("cell")
            unit = cell if isinstance(cell, str) and cell else tid
            t = tasks.get(unit)
            if t is None:
                t = tasks[unit] = _Task()
                if unit != tid:
                    t.parent, t.cell_index = tid, _int(rec.get("cell_index"))
            matrix = rec.get("matrix")
            if isinstance(matrix, Mapping):
                t.matrix = dict(matrix)
            iteration = _int(rec.get("iteration"))
            if iteration is not None:
                t.iteration = iteration
            child = _str(rec.get("child_run_id"))
            if child:
                t.child_run_id = child
            if kind == "task_start" and rec.get("attempt") is None and _int(rec.get("cells")) is not None:
                t.cells = _int(rec.get("cells"))  # a matrix task fanning out: not an attempt
                t.status = "running"
                t.started = t.started or key
                continue
            attempt = _int(rec.get("attempt"))
            if kind in APPROVAL_KINDS:
                if kind == "approval_requested":
                    t.status, t.started = "waiting", t.started or key
                    t.attempts = max(t.attempts, attempt or 1)
                    t.approval = {k: rec.get(k) for k in ("message", "approvers", "policy", "timeout_s")}
                else:
                    t.approval = {
                        **(t.approval or {}),
                        "decision": "approved" if kind == "approval_granted" else "rejected",
                        "by": rec.get("by"),
                        "note": rec.get("comment") or rec.get("reason"),
                    }
                continue
            if kind == "task_start":
                t.attempts = max(t.attempts + 1 if attempt is None else attempt, t.attempts)
                t.status = "running"
                t.started = t.started or key
                t.ended = t.duration = t.exit_code = t.error = t.reason = None
                t.log_path = _str(rec.get("log_path")) or t.log_path
            elif kind == "task_ok":
                t.attempts = max(t.attempts, attempt or 1)
                t.iterations_done = iteration if iteration is not None else t.iterations_done
                t.finish("retrying" if rec.get("status") == "iterated" else "success", rec, key)
                outputs = rec.get("outputs")
                t.outputs = tuple(o for o in outputs if isinstance(o, str)) if isinstance(outputs, list) else ()
                t.cached = rec.get("cached") is True
            elif kind == "task_fail":
                t.attempts = max(t.attempts, attempt or 1)
                t.finish("failed", rec, key)
                if rec.get("status") == "timeout":
                    t.reason = "timeout"
            elif kind == "task_retry":
                t.attempts = max(t.attempts, attempt or 1)
                t.retries += 1
                t.status = "retrying"
                t.error = _str(rec.get("error"))
            elif kind == "task_skip":
                t.finish("success" if rec.get("status") == "success" else "skipped", rec, key)
            else:  # task_cancel
                t.attempts = max(t.attempts, attempt or 0)
                t.finish("cancelled", rec, key)
        elif kind == "dag_start":
            start = rec
            start_key = key or start_key
        elif kind == "dag_resume":  # a paused or abandoned run goes on, owned by another process
            if done.get("status") == "paused":
                pauses.append((done_key, key))
            resumed = True
            done, done_key = _EMPTY, None
            start = {**start, **{k: rec[k] for k in ("host", "pid", "pid_start") if k in rec}}
        elif kind == "dag_done":
            done = rec
            done_key = key or done_key

    duration = _seconds(done.get("duration_s")) if done else None
    started = _when(start_key)
    ended = _when(done_key)
    if started is None and ended is not None and duration is not None:
        try:
            started = ended - timedelta(seconds=duration)
        except OverflowError:  # an absurd duration_s
            started = None
    if started is None:
        started = _when(first_key)
    if done and (duration is None or resumed) and started is not None and ended is not None:
        duration = max(0.0, (ended - started).total_seconds())  # a resumed run's dag_done has its last part's
    if done.get("status") == "paused":
        pauses.append((done_key, None))

    summaries = {
        tid: TaskSummary(
            task_id=tid,
            status=t.status,
            attempts=t.attempts,
            started=_when(t.started),
            ended=_when(t.ended),
            duration_s=t.duration,
            exit_code=t.exit_code,
            error=t.error,
            reason=t.reason,
            log_path=t.log_path,
            outputs=t.outputs,
            retries=t.retries,
            parent=t.parent,
            cell_index=t.cell_index,
            matrix=t.matrix,
            cells=t.cells,
            iteration=t.iteration,
            child_run_id=t.child_run_id,
            approval=t.approval,
            cached=t.cached,
            iterations_done=t.iterations_done,
        )
        for tid, t in tasks.items()
    }
    counts: dict[str, int] = {}
    if done and any(isinstance(done.get(k), int) for _, k in _COUNT_KEYS):
        counts = {name: _int(done.get(k)) or 0 for name, k in _COUNT_KEYS}
    else:
        counts = {name: 0 for name, _ in _COUNT_KEYS}
        for t in tasks.values():
            if t.parent is None:  # tasks, not matrix cells (as dag_done counts them)
                counts[t.status] = counts.get(t.status, 0) + 1
    params = start.get("params")
    status = (_str(done.get("status")) or "failed") if done else "running"
    if not done and any(t.status == "waiting" for t in tasks.values()):
        status = "waiting"
    return RunSummary(
        run_id=run_id or "",
        dag_name=dag_name or "",
        tenant_id=tenant or "",
        status=status,
        started=started,
        ended=ended,
        duration_s=duration,
        trigger=_str(start.get("trigger")),
        params=_json_data(params) if isinstance(params, Mapping) else {},
        parent_run_id=_str(start.get("parent_run_id")),
        parent_task=_str(start.get("parent_task")),
        host=_str(start.get("host")),
        pid=_int(start.get("pid")),
        pid_start=finite_number(start.get("pid_start")),
        run_dir=_str(start.get("run_dir")),
        dag_file=_str(start.get("dag_file")),
        schedule_id=_str(start.get("schedule_id")),
        logical_date=_str(start.get("logical_date")),
        executor=_str(start.get("executor")),
        error=_str(done.get("error")),
        tasks_total=_int(start.get("tasks")),
        tasks=summaries,
        counts=counts,
        last_event=_when(last_key),
        pauses=tuple((_when(a), _when(b)) for a, b in pauses),
    )


def group_runs(events: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Records by ``run_id``, in first-seen order; records without a run id are dropped."""
    runs: dict[str, list[Mapping[str, Any]]] = {}
    for rec in events:
        if isinstance(rec, Mapping):
            rid = rec.get("run_id")
            if isinstance(rid, str) and rid:
                bucket = runs.get(rid)
                if bucket is None:
                    runs[rid] = [rec]
                else:
                    bucket.append(rec)
    return runs


# --------------------------------------------------------------------------------------------- tasks
