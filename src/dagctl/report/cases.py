"""A finished run as the flat list of results that CI reports show: one :class:`Case` per task. Pure.

JUnit (:mod:`~dagctl.report.junit`), the GitHub Actions step summary and annotations
(:mod:`~dagctl.report.github`) all draw from :func:`cases`, so they agree on what passed, failed or was skipped.

What becomes a case:

- every task of the run, every matrix cell (``train:3``), and every task of a ``dag:`` task's child run, named
  with the path of ``dag:`` tasks above it (``prep/fetch``; deeper levels nest the same way);
- a *container* (a matrix task, or a ``dag:`` task whose child run is known) is represented by what it holds.
  It is a case of its own only when it failed and nothing inside it did (a matrix task whose aggregate failed,
  a child run that could not start), so that one problem is counted once.

Outcomes: ``success`` passes; ``failed`` fails (``timeout`` when the attempt timed out); ``cancelled`` fails when
the task was interrupted while running (it did not complete: the run's timeout, ``--fail-fast``, Ctrl+C) and is
skipped when it never started, or was an approval gate still waiting for people; ``skipped`` is skipped;
anything unfinished (a run still going, paused or abandoned) is skipped as not finished.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dagctl.store.runsummary import RunSummary, TaskSummary

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

MAX_DEPTH = 8
"""Child runs deeper than this are not followed (a guard; dagctl refuses sub-DAG cycles when it plans)."""


@dataclass(frozen=True)
class RunTree:
    """A run with what the reports need besides its summary, as read by the caller (the CLI)."""

    run: RunSummary
    tails: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """The last lines of the last attempt's log, by unit id (``extract``, ``train:3``), for the tasks that failed."""
    children: Mapping[str, RunTree] = field(default_factory=dict)
    """The child run of each ``dag:`` task (by unit id) that could be read."""


@dataclass(frozen=True)
class Case:
    """One task's result, ready for a report."""

    name: str
    """``extract``, a matrix cell ``train:3 [lr=0.1]``, a sub-DAG task ``prep/fetch``."""
    unit: str
    """The unit id in its own run (``extract``, ``train:3``, ``fetch``)."""
    run: RunSummary
    """The run the task belongs to (a child run for sub-DAG tasks): its DAG name, file and id."""
    task: TaskSummary
    outcome: str
    """:data:`PASSED`, :data:`FAILED` or :data:`SKIPPED`."""
    kind: str
    """Why: ``success``, ``failed``, ``timeout``, ``cancelled``, ``skipped``, or the unfinished status."""
    message: str
    """One line: the error, the skip reason, or empty for a pass."""
    tail: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    """The ``dag:`` tasks above it (empty for the run's own tasks)."""

    @property
    def plan_task(self) -> str:
        """The task id as written in its DAG file (a cell's matrix task)."""
        return self.task.parent or self.unit

    @property
    def seconds(self) -> float:
        """The last attempt's duration, else first start to end, else 0."""
        t = self.task
        if t.duration_s is not None:
            return t.duration_s
        if t.started is not None and t.ended is not None:
            return max(0.0, (t.ended - t.started).total_seconds())
        return 0.0


def classify(task: TaskSummary) -> tuple[str, str, str]:
    """``(outcome, kind, message)`` of one task (see the module docstring)."""
    status = task.status
    if status == "success":
        return PASSED, "success", ""
    if status == "failed":
        kind = "timeout" if task.reason == "timeout" else "failed"
        return FAILED, kind, one_line(task.error or task.reason or _approval_note(task) or kind)
    if status == "cancelled":
        why = one_line(task.reason or task.error or "cancelled")
        if task.approval is not None and not task.approval.get("decision"):  # a gate: it waited for people
            return SKIPPED, "cancelled", "cancelled while waiting for approval" + _cause(why)
        if task.attempts > 0:
            return FAILED, "cancelled", f"cancelled while running: {why}"
        return SKIPPED, "cancelled", f"cancelled before it started: {why}"
    if status == "skipped":
        return SKIPPED, "skipped", one_line(task.reason or "skipped")
    return SKIPPED, status, f"not finished ({status})"


def _cause(why: str) -> str:
    """``: <why>`` without the runner's own words for the same thing (``stopped while waiting for approval:``)."""
    for said in ("stopped while waiting for approval: ", "not started: ", "stopped: "):
        if why.startswith(said):
            why = why[len(said) :]
            break
    return f": {why}" if why else ""


def _approval_note(task: TaskSummary) -> str:
    approval = task.approval or {}
    if approval.get("decision") != "rejected":
        return ""
    by = approval.get("by")
    who = ", ".join(str(b) for b in by) if isinstance(by, list) else str(by or "someone")
    note = approval.get("note")
    return f"rejected by {who}" + (f": {note}" if note else "")


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
"""Terminal escape sequences (colours, cursor moves, titles) as tasks write them to their logs."""
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """A log line without terminal escape sequences and control characters (for Markdown and annotations)."""
    return _CONTROL.sub("", ANSI.sub("", text))


def one_line(text: str) -> str:
    """``text`` on one line (line breaks become spaces, runs of blanks shrink)."""
    return " ".join(str(text).split())


def cell_name(task: TaskSummary) -> str:
    """``train:3 [lr=0.1, depth=4]`` for a matrix cell with its values; the unit id otherwise."""
    if task.parent is None or not task.matrix:
        return task.task_id
    values = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in task.matrix.items())
    return f"{task.task_id} [{values}]"


def cases(tree: RunTree) -> list[Case]:
    """The cases of ``tree`` in the order the run met its tasks, each container's contents in its place."""
    return _cases(tree, (), 0)


def _cases(tree: RunTree, prefix: tuple[str, ...], depth: int) -> list[Case]:
    run = tree.run
    cells: dict[str, list[str]] = {}
    for uid, t in run.tasks.items():
        if t.parent is not None and t.parent in run.tasks:
            cells.setdefault(t.parent, []).append(uid)

    def of_unit(uid: str) -> list[Case]:
        task = run.tasks[uid]
        inner = [case for cell in cells.get(uid, ()) for case in of_unit(cell)]
        child = tree.children.get(uid) if depth < MAX_DEPTH else None
        if child is not None:
            inner.extend(_cases(child, (*prefix, uid), depth + 1))
        outcome, kind, message = classify(task)
        container = uid in cells or child is not None
        if container and (outcome != FAILED or any(c.outcome == FAILED for c in inner)):
            return inner
        own = Case(
            name="/".join((*prefix, cell_name(task))),
            unit=uid,
            run=run,
            task=task,
            outcome=outcome,
            kind=kind,
            message=message,
            tail=tuple(tree.tails.get(uid, ())),
            prefix=prefix,
        )
        return [own, *inner]

    return [
        case for uid, t in run.tasks.items() if t.parent is None or t.parent not in run.tasks for case in of_unit(uid)
    ]


def counts(found: Sequence[Case]) -> dict[str, int]:
    """``{"tests", "passed", "failed", "skipped"}`` of a list of cases."""
    result = {"tests": len(found), PASSED: 0, FAILED: 0, SKIPPED: 0}
    for case in found:
        result[case.outcome] += 1
    return result
