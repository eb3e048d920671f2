"""Hand-built event records for the report tests: a run that starts at T0, times given as seconds after it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from dagctl.report.graph import TaskGraph, topological
from dagctl.store.events import format_ts

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, task: str | None = None, *, run: str = "r1", dag: str = "etl", **fields: Any) -> dict:
    record: dict[str, Any] = {
        "v": 1,
        "ts": format_ts(at(seconds)),
        "event": kind,
        "run_id": run,
        "dag_name": dag,
        "tenant_id": "default",
    }
    if task is not None:
        record["task_id"] = task
    record.update(fields)
    return record


def graph(deps: dict[str, list[str]], retries: dict[str, int] | None = None) -> TaskGraph:
    """A TaskGraph of ``deps`` (task -> upstream), in the mapping's order (which must be topological)."""
    order = topological({t: tuple(d) for t, d in deps.items()})
    assert order is not None
    downstream: dict[str, list[str]] = {t: [] for t in deps}
    for t in order:
        for d in deps[t]:
            downstream[d].append(t)
    return TaskGraph(
        order=order,
        depends_on={t: tuple(deps[t]) for t in order},
        downstream={t: tuple(downstream[t]) for t in order},
        max_attempts={t: (retries or {}).get(t, 0) + 1 for t in order},
    )


DIAMOND = {"extract": [], "by_region": ["extract"], "by_product": ["extract"], "report": ["by_region", "by_product"]}
