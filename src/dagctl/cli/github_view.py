"""What a run prints under GitHub Actions (``GITHUB_ACTIONS=true``, stderr not a terminal): the plain lines of
:class:`dagctl.cli.plain.PlainView`, with each finished attempt's log folded under its line in a ``::group::``.

The log is printed between ``::stop-commands::`` markers, so nothing a task wrote can act as a workflow command
(end the group, set an output or an environment variable). A long log is cut to its last :data:`MAX_LOG_BYTES`
(the whole log stays in the run folder, and ``dagctl logs`` prints it). A ``dag:`` task's group holds the logs
of its child run's attempts (and theirs, for sub-DAGs of sub-DAGs), each under a line naming it, read from the
child run's events file (GitHub has no nested groups), within the same :data:`MAX_LOG_BYTES` in all. Failed
tasks become ``::error`` annotations and the step summary is written after the run (:mod:`dagctl.cli.ci_outputs`).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from dagctl.report.github import GROUP_END, group, resume_commands, stop_commands
from dagctl.store.events import Event, TaskCancel, TaskEvent, TaskFail, TaskOk, TaskRetry, TaskStart

from .plain import LineWriter, PlainView, describe, local_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

MAX_LOG_BYTES = 256 * 1024
"""The end of an attempt's log that goes into the job log."""

_ENDS = (TaskOk, TaskFail, TaskRetry, TaskCancel)


def read_log(path: str | None, limit: int = MAX_LOG_BYTES) -> list[str]:
    """The lines of a log (its last ``limit`` bytes, with a note of what was left out); [] when there is none."""
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read(limit)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > limit:  # the first line read is likely cut: it gives way to a note
        lines[:1] = [f"[... {size - limit:,} earlier bytes left out; the whole log: {path}]"]
    return lines


def child_logs(runs_dir: Path, child_run_id: str, limit: int = MAX_LOG_BYTES, *, depth: int = 0) -> list[str]:
    """The logs of a child run's attempts in the order its tasks started, each under a line naming the task (a cell,
    an attempt after the first; a sub-DAG of the child's indented under it), within ``limit`` bytes in all. The
    child run is read as every report reads a run (:func:`~dagctl.store.runsummary.fold_run`)."""
    from dagctl.errors import DagctlError
    from dagctl.report.cases import MAX_DEPTH
    from dagctl.store.jsonl import iter_records
    from dagctl.store.layout import events_file, log_path, run_dir
    from dagctl.store.runsummary import fold_run

    folder = run_dir(runs_dir, child_run_id)
    try:
        summary = fold_run(iter_records(events_file(folder)))
    except (DagctlError, OSError):
        return []
    attempts = [
        (uid, n, task) for uid, task in summary.tasks.items() if task.attempts for n in range(1, task.attempts + 1)
    ]
    pad = "  " * depth
    lines: list[str] = []
    left = limit
    for shown, (uid, attempt, task) in enumerate(attempts):
        if left <= 0:
            rest = len(attempts) - shown
            lines.append(f"{pad}[{rest} more logs of run {child_run_id} left out: dagctl logs {child_run_id}]")
            break
        last = attempt == task.attempts
        outcome = ("ok" if task.status == "success" else task.status) if last else "retried"
        again = f", attempt {attempt}" if attempt > 1 else ""
        lines.append(f"{pad}--- {uid}{again} ({outcome}) of run {child_run_id} ---")
        body = read_log(task.log_path if last else log_path(folder, uid, attempt), left)
        if last and task.child_run_id and depth < MAX_DEPTH:
            body += child_logs(runs_dir, task.child_run_id, left, depth=depth + 1)
        left -= sum(len(line) + 1 for line in body)
        lines.extend(body)
    return lines


class GithubView(PlainView):
    """An event sink: PlainView's lines on ``stream`` (stderr), each finished attempt's log folded in a group.

    As :class:`~dagctl.cli.plain.PlainView`, it writes through a :class:`~dagctl.cli.plain.LineWriter` (``writer``, or
    one of its own on ``stream``): :meth:`emit` only queues the event, and the writer's thread reads the logs and
    writes the groups, so neither a slow reader of the job log nor a long log slows the run."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        limit: int = MAX_LOG_BYTES,
        runs_dir: Path | None = None,
        writer: LineWriter | None = None,
    ) -> None:
        super().__init__(stream, writer=writer)
        self.limit = limit
        self.runs_dir = runs_dir
        """Where child runs' folders are (``dag:`` tasks' logs); None: those tasks show their own log only."""
        self._token = secrets.token_hex(12)
        self._logs: dict[str, str] = {}
        self._children: dict[str, str] = {}

    def render(self, event: Event) -> str | None:
        """The event's line, and for the end of an attempt its log in a group (on the writer's thread)."""
        unit = ""
        if isinstance(event, TaskEvent):
            unit = event.cell or event.task_id
            if event.cell:  # a matrix cell's lines name the cell, not its matrix task
                event = event.replace(task_id=event.cell)
        if isinstance(event, TaskStart):
            if event.log_path:
                self._logs[unit] = event.log_path
            if event.child_run_id:
                self._children[unit] = event.child_run_id
        line = describe(event)
        if line is None:
            return None
        text = f"{local_time(event.ts)} {line}"
        body: list[str] = []
        if isinstance(event, _ENDS):
            path = getattr(event, "log_path", None) or self._logs.get(unit)
            body = read_log(path, self.limit)
            child = getattr(event, "child_run_id", None) or self._children.get(unit)
            if child and self.runs_dir is not None:
                body += child_logs(self.runs_dir, child, self.limit)
        if body:
            out = [group(text), stop_commands(self._token), *body, resume_commands(self._token), GROUP_END]
        else:
            out = [text.replace("\r", " ").replace("\n", " ")]
        return "\n".join(out) + "\n"
