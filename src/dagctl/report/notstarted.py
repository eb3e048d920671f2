"""The tasks a run never started, with what ``dagctl show``, ``show --json`` and the dashboard say of them. Pure.

A run's events name only the tasks that began (or were skipped); a run still going, paused, or whose process
died (``abandoned``) has tasks without a single event. Its DAG snapshot names them. :func:`unstarted` is the one
rule for what each of them is called, given the run's status::

    running    pending      not started yet: waits for its upstream tasks or a free slot
    waiting    pending      not started yet: waits for its upstream tasks
    paused     not started  the run was paused before it started; dagctl resume runs it (a sub-DAG
                            run's note names its parent: only the parent's resume goes on with it)
    abandoned  not started  its run's process died before it started; dagctl resume runs it
    (other)    not started  it never started

:func:`unstarted_tasks` is what the CLI and the web call: it asks for the snapshot's task ids (the caller reads
the file) only when some task the run planned has no event, and takes them in the DAG's order
(:attr:`dagctl.report.graph.TaskGraph.order`), so both list the same tasks in the same order.
:func:`unstarted_json` is the ``unstarted_tasks`` list of ``show --json`` and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from dagctl.store.runsummary import RunSummary


class Unstarted(NamedTuple):
    """A task of the run's DAG without an event in the run: its id, the status and the note ``show`` gives it."""

    task_id: str
    status: str
    note: str


_BY_RUN_STATUS = {
    "running": ("pending", "not started yet: waits for its upstream tasks or a free slot"),
    "waiting": ("pending", "not started yet: waits for its upstream tasks"),
    "paused": ("not started", "the run was paused before it started; dagctl resume runs it"),
    "abandoned": ("not started", "its run's process died before it started; dagctl resume runs it"),
}
_OTHERWISE = ("not started", "it never started")


def incomplete(summary: RunSummary) -> bool:
    """Whether some task the run planned has no event (fewer top-level tasks than ``dag_start`` counted): only
    then is the run's DAG snapshot worth reading. False when the plan's size is unknown (an old run)."""
    if summary.tasks_total is None:
        return False
    return sum(1 for t in summary.tasks.values() if t.parent is None) < summary.tasks_total


def unstarted(summary: RunSummary, task_ids: Iterable[str]) -> list[Unstarted]:
    """Each of ``task_ids`` (the run's DAG, in its order) that has no event in the run, as the run left it."""
    status, note = _BY_RUN_STATUS.get(summary.status, _OTHERWISE)
    if summary.status == "paused" and summary.parent_run_id:  # a sub-DAG run paused with its parent
        note = f"the run was paused before it started; dagctl resume {summary.parent_run_id} (its parent) runs it"
    return [Unstarted(tid, status, note) for tid in dict.fromkeys(task_ids) if tid not in summary.tasks]


def unstarted_tasks(summary: RunSummary, dag_task_ids: Callable[[], Iterable[str]]) -> list[Unstarted]:
    """The tasks of the run's DAG it has not started, as ``show`` lists them after the others; none when every
    task it planned has an event. ``dag_task_ids`` gives the task ids of the run's DAG snapshot in the DAG's
    order (none when the snapshot is gone); it is called only when some task has no event."""
    return unstarted(summary, dag_task_ids()) if incomplete(summary) else []


def unstarted_json(rows: Iterable[Unstarted]) -> list[dict[str, str]]:
    """``unstarted_tasks`` of ``show --json`` and the API: ``[{"task_id", "status", "note"}]``."""
    return [{"task_id": r.task_id, "status": r.status, "note": r.note} for r in rows]
