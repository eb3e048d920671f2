"""Runs that never started: a run id was given out (a scheduled slot, a queued job) but the run failed before
its runner began, e.g. its DAG file no longer loads. Without a record, the id in the scheduler's log would
name a run that ``dagctl runs`` / ``show`` / ``stats`` do not know.

:func:`record_unstarted_run` writes the smallest record a run can have, ``dag_start`` (no tasks) and
``dag_done`` (``failed``, with the error), to the run's own folder and to the event log, exactly as a
runner would (one :class:`~dagctl.store.sinks.JsonlSink`, the run's file first). A run whose folder already
has events started for real: it is left alone, its runner records its end.
"""

from __future__ import annotations

import os
from typing import Any

from dagctl.clock import SystemClock
from dagctl.host import hostname
from dagctl.protocols import Clock
from dagctl.settings import Settings

from . import layout
from .events import DagDone, DagStart, format_ts
from .jsonl import iter_records
from .sinks import JsonlSink

__all__ = ["record_unstarted_run"]


def record_unstarted_run(
    settings: Settings,
    *,
    run_id: str,
    dag_name: str,
    error: str,
    tenant_id: str = "",
    trigger: str = "schedule",
    params: dict[str, Any] | None = None,
    dag_file: str | None = None,
    schedule_id: str | None = None,
    logical_date: str | None = None,
    clock: Clock | None = None,
) -> bool:
    """Record ``run_id`` as a run that failed before it started, with ``error``; False if it had started.

    Raises :class:`~dagctl.errors.EnvironmentProblem` (exit 3) when the files cannot be written.
    """
    folder = layout.run_dir(settings.runs_dir, run_id)
    own = layout.events_file(folder)
    if next(iter_records(own), None) is not None:
        return False
    ts = format_ts((clock or SystemClock()).now())
    start = DagStart(
        ts=ts,
        run_id=run_id,
        dag_name=dag_name,
        tenant_id=tenant_id,
        params=dict(params or {}),
        trigger=trigger,
        host=hostname(),
        pid=os.getpid(),
        dag_file=dag_file,
        run_dir=str(folder),
        tasks=0,
        executor="none",
        schedule_id=schedule_id,
        logical_date=logical_date,
    )
    sink = JsonlSink(settings.events_path, mirrors=[own])
    try:
        sink.emit(start)
        sink.emit(
            DagDone(
                ts=ts,
                run_id=run_id,
                dag_name=dag_name,
                tenant_id=tenant_id,
                status="failed",
                duration_s=0.0,
                error=error,
            )
        )
    finally:
        sink.close()
    return True
