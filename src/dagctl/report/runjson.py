"""Run summaries as the JSON ``dagctl show --json``, ``dagctl runs --json`` and the web API give. Pure.

One serializer for all of them, so a script reading the CLI's JSON reads the API's alike: every field of the
summary, times as ISO-8601 text, ``pauses`` as ``[{"paused", "resumed"}]``.

``show --json`` (and ``GET /api/runs/{id}``) adds ``unstarted_tasks`` to the summary's fields: the tasks of the
run's DAG it has not started (:mod:`dagctl.report.notstarted`); lists of runs leave it out (it needs the run's
DAG snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dagctl.report.notstarted import Unstarted, unstarted_json
from dagctl.store.runsummary import RunSummary, TaskSummary

_RUN_FIELDS = tuple(RunSummary.__dataclass_fields__)
_TASK_FIELDS = tuple(TaskSummary.__dataclass_fields__)


def _value(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None or kind is bool:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    return value


def task_dict(task: TaskSummary) -> dict[str, Any]:
    return {name: _value(getattr(task, name)) for name in _TASK_FIELDS}


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """The fields of ``dagctl show --json``: every field of the summary, times as ISO-8601 text."""
    data = {name: _value(getattr(summary, name)) for name in _RUN_FIELDS}
    data["tasks"] = {tid: task_dict(t) for tid, t in summary.tasks.items()}
    data["pauses"] = [{"paused": _value(a), "resumed": _value(b)} for a, b in summary.pauses]
    return data


def show_dict(fields: dict[str, Any], never: Iterable[Unstarted]) -> dict[str, Any]:
    """``dagctl show --json`` of a run: its summary's ``fields`` (:func:`summary_dict`) and ``unstarted_tasks``,
    the tasks of its DAG it has not started (``never``: :func:`dagctl.report.notstarted.unstarted_tasks`)."""
    return {**fields, "unstarted_tasks": unstarted_json(never)}
