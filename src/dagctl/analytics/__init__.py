"""The design note's analytics API, for code written against it: the same names, arguments and result keys.

    from dagctl.analytics import load_events, per_tenant_load, summarize_dags, summarize_tasks

    events = load_events("logs/orchestrator_events.jsonl", limit=5000)
    stats = summarize_tasks(events, window_hours=24)
    print(f"Error rate: {stats['last_24h']['error_rate'] * 100:.1f}%")
    for run in summarize_dags(events, limit=10):
        print(f"{run['dag_name']}: {run['status']} ({run['duration']:.1f}s)")
    for tenant in per_tenant_load(events, window_hours=24):
        print(f"{tenant['tenant']}: {tenant['runs']} runs, {tenant['error_rate'] * 100:.1f}% errors")

Thin wrappers over :mod:`dagctl.store.eventlog` (reading the logs backwards) and :mod:`dagctl.store.reports`
(pure folds, documented there), which ``dagctl stats`` uses too. What they add:

* ``now`` is optional and defaults to the current time (read through :mod:`dagctl.clock`); pass it to get
  the same answer whenever it is computed;
* :func:`summarize_tasks` also puts its window's KPIs under the note's key ``last_<N>h`` (``last_24h``);
* records carry both ``ts`` and the note's ``timestamp`` (the same instant): records written before dagctl
  wrote ``timestamp`` get it from ``ts``, and records that only have a ``timestamp`` (written by the note's
  own orchestrator, naive times read as UTC) get a ``ts``, so every report counts them;
* ``path`` defaults to the event log (``ORCH_EVENTS_PATH``) or the state store (``STATE_STORE_PATH``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dagctl.store import reports
from dagctl.store.runsummary import RunSummary, ts_key

__all__ = [
    "load_events",
    "load_state_events",
    "per_tenant_load",
    "summarize_dags",
    "summarize_schedules",
    "summarize_tasks",
]


def load_events(
    path: Path | str | None = None,
    limit: int | None = None,
    *,
    since: datetime | None = None,
    dag: str | None = None,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` event records (all without it) with ``ts >= since``, oldest first, each with
    ``ts`` and ``timestamp``. ``path`` defaults to ``ORCH_EVENTS_PATH``; a missing file has no events."""
    from dagctl.store.eventlog import load_events as read

    return [_with_times(r) for r in read(_path(path, "events"), since=since, limit=limit, dag=dag, tenant=tenant)]


def load_state_events(
    path: Path | str | None = None, limit: int | None = None, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The scheduler's state records for :func:`summarize_schedules`, like :func:`load_events`
    (``path`` defaults to ``STATE_STORE_PATH``)."""
    from dagctl.store.eventlog import load_state_events as read

    return [_with_times(r) for r in read(_path(path, "state"), since, limit=limit)]


def summarize_tasks(
    events: Iterable[Mapping[str, Any]], window_hours: float = 24, *, now: datetime | None = None
) -> dict[str, Any]:
    """Task KPIs over the window: ``last_<N>h`` (= ``overall``: ok, failed, retries, skipped, cancelled,
    error_rate, avg_duration_s, p95_duration_s), ``tasks`` per (dag, task), ``window_hours``, ``since``, ``until``."""
    result = reports.summarize_tasks(_timed(events), now=_now(now), window_hours=window_hours)
    result[f"last_{window_hours:g}h"] = result["overall"]
    return result


def summarize_dags(
    events: Iterable[Mapping[str, Any]],
    limit: int = 15,
    *,
    now: datetime | None = None,
    owner_alive: Callable[[RunSummary], bool | None] | None = None,
) -> list[dict[str, Any]]:
    """The ``limit`` most recent runs, newest first: ``run_id, dag_name, tenant, status, start, end, duration``
    (seconds; a running run's so far), ``tasks_ok, tasks_failed, tasks_skipped, tasks_cancelled, trigger,
    schedule_id, error``."""
    return reports.summarize_dags(_timed(events), limit=limit, now=_now(now), owner_alive=owner_alive)


def summarize_schedules(
    state_events: Iterable[Mapping[str, Any]], window_hours: float = 24, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per schedule id: ``schedule_id, last_run, last_run_id, last_status, enqueued, started, success, failed,
    cancelled, skipped`` (the counts in the window)."""
    return reports.summarize_schedules(_timed(state_events), now=_now(now), window_hours=window_hours)


def per_tenant_load(
    events: Iterable[Mapping[str, Any]], window_hours: float = 24, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per tenant in the window, busiest first: ``tenant, runs, tasks, ok, failed, retries, error_rate,
    avg_latency_s, p95_latency_s``."""
    return reports.per_tenant_load(_timed(events), now=_now(now), window_hours=window_hours)


# ------------------------------------------------------------------------------------------ helpers


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now
    from dagctl.clock import SystemClock

    return SystemClock().now()


def _path(path: Path | str | None, which: str) -> Path | str:
    if path is not None:
        return path
    from dagctl.settings import Settings

    settings = Settings.from_env()
    return settings.events_path if which == "events" else settings.state_path


def _with_times(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with both ``ts`` and ``timestamp`` when it has either (in place: records are fresh dicts)."""
    if "timestamp" not in record:
        if "ts" in record:
            record["timestamp"] = record["ts"]
    elif "ts" not in record:
        key = ts_key(record["timestamp"])
        if key is not None:
            record["ts"] = key
    return record


def _timed(records: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Records as the reports read them: one with only the note's ``timestamp`` gets a ``ts`` (a copy)."""
    for record in records:
        if isinstance(record, Mapping) and "ts" not in record and "timestamp" in record:
            key = ts_key(record["timestamp"])
            yield {**record, "ts": key} if key is not None else record
        else:
            yield record
