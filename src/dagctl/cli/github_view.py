"""What a run prints under GitHub Actions (``GITHUB_ACTIONS=true``, stderr not a terminal): the plain lines of
:class:`dagctl.cli.view.PlainView`, with each finished attempt's log folded under its line in a ``::group::``.

The log is printed between ``::stop-commands::`` markers, so nothing a task wrote can act as a workflow command
(end the group, set an output or an environment variable). A long log is cut to its last :data:`MAX_LOG_BYTES`
(the whole log stays in the run folder, and ``dagctl logs`` prints it). Failed tasks become ``::error``
annotations and the step summary is written after the run (:mod:`dagctl.cli.ci_outputs`).
"""

from __future__ import annotations

import secrets
import sys
import threading

from dagctl.report.github import GROUP_END, group, resume_commands, stop_commands
from dagctl.store.events import Event, TaskCancel, TaskEvent, TaskFail, TaskOk, TaskRetry, TaskStart

from .view import describe, local_time

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


class GithubView:
    """An event sink: PlainView's lines on ``stream`` (stderr), each finished attempt's log folded in a group."""

    def __init__(self, stream: TextIO | None = None, *, limit: int = MAX_LOG_BYTES) -> None:
        self.stream = stream or sys.stderr
        self.limit = limit
        self._token = secrets.token_hex(12)
        self._logs: dict[str, str] = {}
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        unit = ""
        if isinstance(event, TaskEvent):
            unit = event.cell or event.task_id
            if event.cell:  # a matrix cell's lines name the cell, not its matrix task
                event = event.replace(task_id=event.cell)
        if isinstance(event, TaskStart) and event.log_path:
            self._logs[unit] = event.log_path
        line = describe(event)
        if line is None:
            return
        text = f"{local_time(event.ts)} {line}"
        body: list[str] = []
        if isinstance(event, _ENDS):
            path = getattr(event, "log_path", None) or self._logs.get(unit)
            body = read_log(path, self.limit)
        if body:
            out = [group(text), stop_commands(self._token), *body, resume_commands(self._token), GROUP_END]
        else:
            out = [text.replace("\r", " ").replace("\n", " ")]
        with self._lock:
            self.stream.write("\n".join(out) + "\n")
            self.stream.flush()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
