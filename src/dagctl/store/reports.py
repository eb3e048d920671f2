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
* **Durations** are the records' ``duration_s``; one that is negative, not finite or absurdly long (see
  :data:`~dagctl.store.runsummary.MAX_SECONDS`) is left out, so every number returned is finite JSON.
* A **window** is ``now - window_hours <= ts <= now``; records stamped after ``now`` are left out, so a
  report is the same whenever it is computed for the same ``now``.
* A run's **status** comes from its events alone: the ``dag_done`` status, else ``running``. Whether a
  running run's owner is dead (``abandoned``) is a fact about processes; callers pass ``owner_alive``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from .events import format_ts
from .runsummary import (
    _MIN_TIME,
    RUN_STATUSES,
    TASK_KINDS,
    RunSummary,
    TaskSummary,
    _seconds,
    _str,
    _window,
    fold_run,
    group_runs,
    p95,
    resolve_status,
    ts_key,
)

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


class _Kpi:
    __slots__ = (
        "cache_hits",
        "cache_lookups",
        "cancelled",
        "durations",
        "failed",
        "last_key",
        "last_status",
        "ok",
        "retries",
        "runs",
        "skipped",
    )

    def __init__(self) -> None:
        self.ok = self.failed = self.retries = self.skipped = self.cancelled = 0
        self.cache_hits = self.cache_lookups = 0
        self.durations: list[float] = []
        self.runs: set[str] = set()
        self.last_key: str | None = None
        self.last_status: str | None = None

    def add(self, kind: str, rec: Mapping[str, Any]) -> None:
        if kind == "task_ok":
            self.ok += 1
            if rec.get("cache_key"):  # a task with cache: a hit (cached) or a miss that ran and stored its entry
                self.cache_lookups += 1
                if rec.get("cached") is True:
                    self.cache_hits += 1
                    return  # nothing ran: no duration to count
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
        duration = _seconds(rec.get("duration_s"))  # odd values are left out: the average stays finite
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
            "cache_hits": self.cache_hits,
            "cache_hit_rate": self.cache_hits / self.cache_lookups if self.cache_lookups else None,
        }


class _MatrixTotals:
    """Tells a matrix task's own outcome (``2 of 3 cells succeeded``) from its cells' executions: the cells ran,
    and counting the task too counted one execution more per matrix task (and its time again)."""

    __slots__ = ("_with_cells",)

    def __init__(self) -> None:
        self._with_cells: set[tuple[str, str]] = set()

    def is_total(self, rec: Mapping[str, Any]) -> bool:
        """``rec`` is the outcome of a task whose cells were seen in its run (they come first)."""
        run_id, task_id = rec.get("run_id"), rec.get("task_id")
        if not isinstance(run_id, str) or not isinstance(task_id, str):
            return False
        key = (run_id, task_id)
        if rec.get("cell"):
            self._with_cells.add(key)
            return False
        return key in self._with_cells


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
    error_rate, avg_duration_s, p95_duration_s, cache_hits, cache_hit_rate}, "tasks": [{"dag_name",
    "task_id", <same keys>, "last_status", "last_ts"}, ...]}``; tasks with the most failures first, then the
    busiest. Durations are of finished executions (``task_ok``/``task_fail``), not of cache hits.
    ``cache_hit_rate``: hits over the successes of tasks with ``cache:`` (None when there were none).
    """
    since_key, now_key = _window(now, window_hours)
    overall = _Kpi()
    per: dict[tuple[str, str], _Kpi] = {}
    totals = _MatrixTotals()
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
        if not totals.is_total(rec):  # a matrix task's outcome: its status counts below, its cells ran
            acc.add(kind, rec)
            overall.add(kind, rec)
        if kind != "task_retry" and (acc.last_key is None or key >= acc.last_key):
            acc.last_key = key
            acc.last_status = _task_status(kind, rec)
    rows = []
    for (dag, tid), acc in per.items():
        row = {
            "dag_name": dag,
            "task_id": tid,
            **acc.as_dict(),
            "last_status": acc.last_status,
            "last_ts": acc.last_key,
        }
        rows.append(row)
    rows.sort(key=lambda r: (-r["failed"], -(r["ok"] + r["failed"]), r["dag_name"], r["task_id"]))
    return {
        "window_hours": float(window_hours),
        "since": since_key,
        "until": now_key,
        "overall": overall.as_dict(),
        "tasks": rows,
    }


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
        out.append(
            {
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
            }
        )
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

_FINISHED_AS = {
    "success": "success",
    "failed": "failed",
    "timeout": "failed",
    "error": "failed",
    "lost": "failed",
    "abandoned": "failed",
    "cancelled": "cancelled",
}


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
            row = rows[sid] = {
                "schedule_id": sid,
                "last_run": None,
                "last_run_id": None,
                "last_status": None,
                "enqueued": 0,
                "started": 0,
                "success": 0,
                "failed": 0,
                "cancelled": 0,
                "skipped": 0,
            }
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
    return {
        sid
        for rec in events
        if isinstance(rec, Mapping)
        and rec.get("event") == "dag_start"
        and isinstance(sid := rec.get("schedule_id"), str)
        and sid
    }


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
    totals = _MatrixTotals()
    for _key, rec in _in_window(events, since_key, now_key):
        tenant = _str(rec.get("tenant_id")) or ""
        acc = per.get(tenant)
        if acc is None:
            acc = per[tenant] = _Kpi()
        rid = rec.get("run_id")
        if isinstance(rid, str) and rid:
            acc.runs.add(rid)
        kind = rec.get("event")
        if isinstance(kind, str) and not totals.is_total(rec):
            acc.add(kind, rec)
    rows = []
    for tenant, acc in per.items():
        kpi = acc.as_dict()
        rows.append(
            {
                "tenant": tenant,
                "runs": len(acc.runs),
                "tasks": acc.ok + acc.failed,
                "ok": acc.ok,
                "failed": acc.failed,
                "retries": acc.retries,
                "error_rate": kpi["error_rate"],
                "avg_latency_s": kpi["avg_duration_s"],
                "p95_latency_s": kpi["p95_duration_s"],
            }
        )
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
