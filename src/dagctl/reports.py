"""Reports: pure folds over event records (dicts as read from the JSONL logs). No IO, no clock.

Every function takes the records and, where a window matters, ``now``; it returns plain values (dicts of
str/int/float/None, ISO-8601 UTC times) ready for a table or ``json.dumps``. Nothing here raises on an
odd record: a missing or mistyped field is treated as absent, an unknown ``event`` kind is ignored.

* :func:`fold_run` — one run's events → :class:`RunSummary` (the run, and each task's last state).
* :func:`summarize_tasks` — task KPIs in a window: ok, failed, retries, average/p95 duration, error rate,
  overall and per (dag, task).
* :func:`summarize_dags` — the most recent runs, newest first, with their status and task counts.
* :func:`summarize_schedules` — per schedule id, from the scheduler's state events: last run, last status,
  counts in the window.
* :func:`per_tenant_load` — per tenant in a window: runs, tasks, error rate, average task latency.
* :func:`stats_report` — the four together, as ``dagctl stats --json`` prints them.

Definitions used throughout:

* **error rate** = failed / (ok + failed) over finished task executions (``task_ok``/``task_fail``); 0.0
  when there are none. Retried attempts are counted under ``retries``, not as failures.
* **p95** is the nearest-rank 95th percentile: the smallest sample with at least 95 % of samples ≤ it.
* A **window** is ``now - window_hours <= ts <= now``; records stamped after ``now`` are left out, so a
  report is the same whenever it is computed for the same ``now``.
* A run's **status** comes from its events alone: the ``dag_done`` status, else ``running``. Whether a
  running run's owner is dead (``abandoned``) is a fact about processes; callers pass ``owner_alive``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from .events import format_ts, parse_ts

__all__ = [
    "RUN_STATUSES",
    "RunSummary",
    "TaskSummary",
    "fold_run",
    "group_runs",
    "p95",
    "per_tenant_load",
    "resolve_status",
    "schedules_of",
    "stats_report",
    "summarize_dags",
    "summarize_schedules",
    "summarize_tasks",
    "ts_key",
]

RUN_STATUSES = ("success", "failed", "cancelled", "abandoned", "running")
"""What :func:`summarize_dags` reports (a ``dag_done`` written by a newer dagctl may say something else)."""

TASK_KINDS = frozenset({"task_start", "task_ok", "task_fail", "task_retry", "task_skip", "task_cancel"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MIN_TIME = datetime.min.replace(tzinfo=timezone.utc)


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


def _num(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = _num(value)
    return int(number) if number is not None and number.is_integer() else None


def _window(now: datetime, window_hours: float) -> tuple[str, str]:
    """``(since_key, now_key)`` of the window ending at ``now``."""
    hours = _num(window_hours)
    since = now - timedelta(hours=hours if hours is not None and hours > 0 else 0.0)
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

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def elapsed(self, now: datetime) -> float | None:
        """``duration_s`` when finished, else seconds from ``started`` to ``now``."""
        if self.duration_s is not None or self.started is None:
            return self.duration_s
        return max(0.0, (now - self.started).total_seconds())


def resolve_status(run: RunSummary, owner_alive: bool | None) -> str:
    """A running run whose owner is known to be dead is ``abandoned``; anything else keeps its status."""
    if run.status == "running" and owner_alive is False:
        return "abandoned"
    return run.status


class _Task:
    __slots__ = ("attempts", "duration", "ended", "error", "exit_code", "log_path", "outputs", "reason",
                 "retries", "started", "status")

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

    def finish(self, status: str, rec: Mapping[str, Any], key: str | None) -> None:
        self.status = status
        self.ended = key
        self.duration = _num(rec.get("duration_s"))
        self.exit_code = _int(rec.get("exit_code"))
        self.error = _str(rec.get("error"))
        self.reason = _str(rec.get("reason")) or None
        self.log_path = _str(rec.get("log_path")) or self.log_path


_COUNT_KEYS = (("success", "tasks_succeeded"), ("failed", "tasks_failed"), ("skipped", "tasks_skipped"),
               ("cancelled", "tasks_cancelled"))


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
        if kind in TASK_KINDS:
            tid = rec.get("task_id")
            if not isinstance(tid, str) or not tid:
                continue
            t = tasks.get(tid)
            if t is None:
                t = tasks[tid] = _Task()
            attempt = _int(rec.get("attempt"))
            if kind == "task_start":
                t.attempts = max(t.attempts + 1 if attempt is None else attempt, t.attempts)
                t.status = "running"
                t.started = t.started or key
                t.ended = t.duration = t.exit_code = t.error = t.reason = None
                t.log_path = _str(rec.get("log_path")) or t.log_path
            elif kind == "task_ok":
                t.attempts = max(t.attempts, attempt or 1)
                t.finish("success", rec, key)
                outputs = rec.get("outputs")
                t.outputs = tuple(o for o in outputs if isinstance(o, str)) if isinstance(outputs, list) else ()
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
        elif kind == "dag_done":
            done = rec
            done_key = key or done_key

    duration = _num(done.get("duration_s")) if done else None
    started = _when(start_key)
    ended = _when(done_key)
    if started is None and ended is not None and duration is not None:
        try:
            started = ended - timedelta(seconds=duration)
        except OverflowError:  # an absurd duration_s
            started = None
    if started is None:
        started = _when(first_key)
    if done and duration is None and started is not None and ended is not None:
        duration = max(0.0, (ended - started).total_seconds())

    summaries = {
        tid: TaskSummary(task_id=tid, status=t.status, attempts=t.attempts, started=_when(t.started),
                         ended=_when(t.ended), duration_s=t.duration, exit_code=t.exit_code, error=t.error,
                         reason=t.reason, log_path=t.log_path, outputs=t.outputs, retries=t.retries)
        for tid, t in tasks.items()
    }
    counts: dict[str, int] = {}
    if done and any(isinstance(done.get(k), int) for _, k in _COUNT_KEYS):
        counts = {name: _int(done.get(k)) or 0 for name, k in _COUNT_KEYS}
    else:
        counts = {name: 0 for name, _ in _COUNT_KEYS}
        for t in tasks.values():
            counts[t.status] = counts.get(t.status, 0) + 1
    params = start.get("params")
    status = (_str(done.get("status")) or "failed") if done else "running"
    return RunSummary(
        run_id=run_id or "",
        dag_name=dag_name or "",
        tenant_id=tenant or "",
        status=status,
        started=started,
        ended=ended,
        duration_s=duration,
        trigger=_str(start.get("trigger")),
        params=dict(params) if isinstance(params, Mapping) else {},
        parent_run_id=_str(start.get("parent_run_id")),
        host=_str(start.get("host")),
        pid=_int(start.get("pid")),
        pid_start=_num(start.get("pid_start")),
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


class _Kpi:
    __slots__ = ("cancelled", "durations", "failed", "last_key", "last_status", "ok", "retries", "runs",
                 "skipped")

    def __init__(self) -> None:
        self.ok = self.failed = self.retries = self.skipped = self.cancelled = 0
        self.durations: list[float] = []
        self.runs: set[str] = set()
        self.last_key: str | None = None
        self.last_status: str | None = None

    def add(self, kind: str, rec: Mapping[str, Any]) -> None:
        if kind == "task_ok":
            self.ok += 1
        elif kind == "task_fail":
            self.failed += 1
        elif kind == "task_retry":
            self.retries += 1
            return
        elif kind == "task_skip":
            if rec.get("status") != "success":
                self.skipped += 1
            return
        elif kind == "task_cancel":
            self.cancelled += 1
            return
        else:
            return
        duration = _num(rec.get("duration_s"))
        if duration is not None:
            self.durations.append(duration)

    def as_dict(self) -> dict[str, Any]:
        finished = self.ok + self.failed
        avg = round(sum(self.durations) / len(self.durations), 6) if self.durations else None
        return {
            "ok": self.ok,
            "failed": self.failed,
            "retries": self.retries,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "error_rate": self.failed / finished if finished else 0.0,
            "avg_duration_s": avg,
            "p95_duration_s": p95(self.durations),
        }


def _in_window(
    events: Iterable[Mapping[str, Any]], since_key: str, now_key: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for rec in events:
        if isinstance(rec, Mapping):
            key = ts_key(rec.get("ts"))
            if key is not None and since_key <= key <= now_key:
                yield key, rec


def summarize_tasks(events: Iterable[Mapping[str, Any]], *, now: datetime, window_hours: float = 24) -> dict[str, Any]:
    """Task KPIs over the window ending at ``now``: ``overall`` and per (dag, task) in ``tasks``.

    Returns ``{"window_hours", "since", "until", "overall": {ok, failed, retries, skipped, cancelled,
    error_rate, avg_duration_s, p95_duration_s}, "tasks": [{"dag_name", "task_id", <same keys>,
    "last_status", "last_ts"}, ...]}``; tasks with the most failures first, then the busiest.
    Durations are of finished executions (``task_ok``/``task_fail``).
    """
    since_key, now_key = _window(now, window_hours)
    overall = _Kpi()
    per: dict[tuple[str, str], _Kpi] = {}
    for key, rec in _in_window(events, since_key, now_key):
        kind = _str(rec.get("event"))
        if kind is None or kind not in TASK_KINDS or kind == "task_start":
            continue
        tid = rec.get("task_id")
        if not isinstance(tid, str) or not tid:
            continue
        dag = _str(rec.get("dag_name")) or ""
        acc = per.get((dag, tid))
        if acc is None:
            acc = per[(dag, tid)] = _Kpi()
        acc.add(kind, rec)
        overall.add(kind, rec)
        if kind != "task_retry" and (acc.last_key is None or key >= acc.last_key):
            acc.last_key = key
            acc.last_status = _task_status(kind, rec)
    rows = []
    for (dag, tid), acc in per.items():
        row = {"dag_name": dag, "task_id": tid, **acc.as_dict(), "last_status": acc.last_status,
               "last_ts": acc.last_key}
        rows.append(row)
    rows.sort(key=lambda r: (-r["failed"], -(r["ok"] + r["failed"]), r["dag_name"], r["task_id"]))
    return {"window_hours": float(window_hours), "since": since_key, "until": now_key,
            "overall": overall.as_dict(), "tasks": rows}


def _task_status(kind: str, rec: Mapping[str, Any]) -> str:
    if kind == "task_ok":
        return "success"
    if kind == "task_fail":
        return "failed"
    if kind == "task_skip":
        return "success" if rec.get("status") == "success" else "skipped"
    return "cancelled"


# --------------------------------------------------------------------------------------------- runs


def summarize_dags(
    events: Iterable[Mapping[str, Any]],
    *,
    limit: int = 15,
    now: datetime | None = None,
    owner_alive: Callable[[RunSummary], bool | None] | None = None,
) -> list[dict[str, Any]]:
    """The ``limit`` most recent runs in ``events``, newest first.

    Each: ``run_id, dag_name, tenant, status, start, end, duration, tasks_ok, tasks_failed, tasks_skipped,
    tasks_cancelled, trigger, schedule_id, error``. ``status`` is one of :data:`RUN_STATUSES`: a run without
    ``dag_done`` is ``running``, or ``abandoned`` when ``owner_alive(run)`` returns False (None: unknown).
    ``duration`` is seconds; for a running run it is the time since start when ``now`` is given, else None.
    """
    limit = max(0, limit)
    folded = [fold_run(evs) for evs in _newest_runs(group_runs(events), limit)]
    folded.sort(key=lambda r: (r.started is not None, r.started or _MIN_TIME, r.run_id), reverse=True)
    out = []
    for run in folded[:limit]:
        alive = owner_alive(run) if owner_alive is not None and run.status == "running" else None
        status = resolve_status(run, alive)
        duration = run.duration_s
        if duration is None and now is not None and status == "running":
            duration = run.elapsed(now)
        out.append({
            "run_id": run.run_id,
            "dag_name": run.dag_name,
            "tenant": run.tenant_id,
            "status": status,
            "start": format_ts(run.started) if run.started else None,
            "end": format_ts(run.ended) if run.ended else None,
            "duration": duration,
            "tasks_ok": run.counts.get("success", 0),
            "tasks_failed": run.counts.get("failed", 0),
            "tasks_skipped": run.counts.get("skipped", 0),
            "tasks_cancelled": run.counts.get("cancelled", 0),
            "trigger": run.trigger,
            "schedule_id": run.schedule_id,
            "error": run.error,
        })
    return out


def _newest_runs(runs: dict[str, list[Mapping[str, Any]]], limit: int) -> list[list[Mapping[str, Any]]]:
    """The runs that can be among the ``limit`` newest, without folding them all.

    A run with a readable ``dag_start`` starts exactly then (as :func:`fold_run` says), so only the
    ``limit`` newest of those can qualify; a run without one (begun before the window) is always kept,
    since its start is only known after folding. There are few of those: the runs spanning the window edge.
    """
    if len(runs) <= limit:
        return list(runs.values())
    dated: list[tuple[str, str, list[Mapping[str, Any]]]] = []
    undated: list[list[Mapping[str, Any]]] = []
    for run_id, evs in runs.items():
        start = None
        for rec in evs:
            if rec.get("event") == "dag_start" and (key := ts_key(rec.get("ts"))) is not None:
                start = key  # the last dag_start wins, as in fold_run
        if start is None:
            undated.append(evs)
        else:
            dated.append((start, run_id, evs))
    dated.sort(reverse=True)
    return [evs for _, _, evs in dated[:limit]] + undated


# --------------------------------------------------------------------------------------------- schedules

_FINISHED_AS = {"success": "success", "failed": "failed", "timeout": "failed", "error": "failed",
                "lost": "failed", "abandoned": "failed", "cancelled": "cancelled"}


def summarize_schedules(
    state_events: Iterable[Mapping[str, Any]], *, now: datetime, window_hours: float = 24
) -> list[dict[str, Any]]:
    """Per schedule id, from the scheduler's state events, sorted by id.

    Each: ``schedule_id, last_run, last_run_id, last_status, enqueued, started, success, failed, cancelled,
    skipped``. ``last_run`` (the newest ``run_started``, or ``run_finished`` when its start is not in the
    records) and ``last_status`` (``running`` until a ``run_finished`` with the same ``run_id`` or ``slot``)
    look at every record up to ``now``; the counts only at the window. ``failed`` counts every finish that
    is not success or cancelled (failed, timeout, lost). A schedule with only other records (e.g.
    ``schedule_registered``) is listed with zero counts.
    """
    since_key, now_key = _window(now, window_hours)
    rows: dict[str, dict[str, Any]] = {}
    finished: dict[str, str] = {}  # status by run id and by slot key
    last: dict[str, tuple[str, frozenset[str]]] = {}  # schedule -> (ts key, run id/slot) of its newest run
    for rec in state_events:
        if not isinstance(rec, Mapping):
            continue
        sid = rec.get("schedule_id")
        key = ts_key(rec.get("ts"))
        if not isinstance(sid, str) or not sid or key is None or key > now_key:
            continue
        row = rows.get(sid)
        if row is None:
            row = rows[sid] = {"schedule_id": sid, "last_run": None, "last_run_id": None, "last_status": None,
                               "enqueued": 0, "started": 0, "success": 0, "failed": 0, "cancelled": 0,
                               "skipped": 0}
        counted = 1 if key >= since_key else 0
        kind = rec.get("event")
        if kind == "schedule_enqueued":
            row["enqueued"] += counted
        elif kind == "schedule_skipped":
            row["skipped"] += counted
        elif kind in ("run_started", "run_finished"):
            run_id = _str(rec.get("run_id")) or None
            links = frozenset(x for x in (run_id, _str(rec.get("slot"))) if x)
            newest = last.get(sid)
            if kind == "run_started":
                row["started"] += counted
                if newest is None or key >= newest[0]:
                    last[sid] = (key, links)
                    row["last_run"], row["last_run_id"] = key, run_id
                    row["last_status"] = next((finished[x] for x in links if x in finished), "running")
                continue
            status = _str(rec.get("status")) or "failed"
            bucket = _FINISHED_AS.get(status)
            if bucket is not None:
                row[bucket] += counted
            for x in links:
                finished[x] = status
            if newest is not None and links & newest[1]:
                row["last_status"] = status
            elif newest is None or (not newest[1] and key >= newest[0]):
                last[sid] = (key, frozenset())
                row["last_run"], row["last_run_id"], row["last_status"] = key, run_id, status
    return [rows[sid] for sid in sorted(rows)]


def schedules_of(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """The schedule ids that started the runs in ``events`` (``dag_start``'s ``schedule_id``): how a
    ``--dag``/``--tenant`` filter finds its schedules, since state records name neither reliably."""
    return {sid for rec in events if isinstance(rec, Mapping) and rec.get("event") == "dag_start"
            and isinstance(sid := rec.get("schedule_id"), str) and sid}


# --------------------------------------------------------------------------------------------- tenants


def per_tenant_load(
    events: Iterable[Mapping[str, Any]], *, now: datetime, window_hours: float = 24
) -> list[dict[str, Any]]:
    """Per tenant in the window: ``tenant, runs, tasks, ok, failed, retries, error_rate, avg_latency_s,
    p95_latency_s``; busiest first. ``runs`` counts runs with any event in the window; ``tasks`` finished
    task executions; latency is task duration.
    """
    since_key, now_key = _window(now, window_hours)
    per: dict[str, _Kpi] = {}
    for _key, rec in _in_window(events, since_key, now_key):
        tenant = _str(rec.get("tenant_id")) or ""
        acc = per.get(tenant)
        if acc is None:
            acc = per[tenant] = _Kpi()
        rid = rec.get("run_id")
        if isinstance(rid, str) and rid:
            acc.runs.add(rid)
        kind = rec.get("event")
        if isinstance(kind, str):
            acc.add(kind, rec)
    rows = []
    for tenant, acc in per.items():
        kpi = acc.as_dict()
        rows.append({"tenant": tenant, "runs": len(acc.runs), "tasks": acc.ok + acc.failed, "ok": acc.ok,
                     "failed": acc.failed, "retries": acc.retries, "error_rate": kpi["error_rate"],
                     "avg_latency_s": kpi["avg_duration_s"], "p95_latency_s": kpi["p95_duration_s"]})
    rows.sort(key=lambda r: (-r["runs"], -r["tasks"], r["tenant"]))
    return rows


# --------------------------------------------------------------------------------------------- all four


def stats_report(
    events: Iterable[Mapping[str, Any]],
    state_events: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    window_hours: float = 24,
    limit: int = 15,
    owner_alive: Callable[[RunSummary], bool | None] | None = None,
) -> dict[str, Any]:
    """``{"window": {hours, since, until}, "tasks", "runs", "schedules", "tenants"}`` for one window.

    Recent runs are those with an event in the window (newest ``limit``); schedules' ``last_run`` looks at
    every state record given, their counts at the window.
    """
    since_key, now_key = _window(now, window_hours)
    in_window = [rec for _key, rec in _in_window(events, since_key, now_key)]
    return {
        "window": {"hours": float(window_hours), "since": since_key, "until": now_key},
        "tasks": summarize_tasks(in_window, now=now, window_hours=window_hours),
        "runs": summarize_dags(in_window, limit=limit, now=now, owner_alive=owner_alive),
        "schedules": summarize_schedules(state_events, now=now, window_hours=window_hours),
        "tenants": per_tenant_load(in_window, now=now, window_hours=window_hours),
    }
