"""What a person sees while a DAG runs: a live table on a terminal, plain lines elsewhere (cron, CI)."""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from pathlib import Path

from dagctl.dag.durations import format_duration
from dagctl.store.events import (
    DagDone,
    DagStart,
    Event,
    TaskCancel,
    TaskFail,
    TaskOk,
    TaskRetry,
    TaskSkip,
    TaskStart,
    parse_ts,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


def local_time(ts: str) -> str:
    return parse_ts(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def describe(event: Event) -> str | None:
    """One plain line for a state change (None for events not worth a line)."""
    tid = getattr(event, "task_id", "")
    if isinstance(event, DagStart):
        return f"run {event.run_id} of {event.dag_name} started ({event.tasks} tasks, trigger {event.trigger})"
    if isinstance(event, TaskStart):
        return f"start  {tid}" + (f" (attempt {event.attempt})" if event.attempt and event.attempt > 1 else "")
    if isinstance(event, TaskOk):
        return f"ok     {tid} in {format_duration(event.duration_s)}"
    if isinstance(event, TaskRetry):
        return (
            f"retry  {tid}: attempt {event.attempt} {event.status}: {event.error}; next try in "
            f"{format_duration(event.delay_s)}"
        )
    if isinstance(event, TaskFail):
        word = "TIMEOUT" if event.status == "timeout" else "FAILED"
        tail = f" (log: {event.log_path})" if event.log_path else ""
        return f"{word} {tid} after {event.attempt} attempt{'s' if event.attempt != 1 else ''}: {event.error}{tail}"
    if isinstance(event, TaskSkip):
        return f"skip   {tid}: {event.reason}"
    if isinstance(event, TaskCancel):
        return f"cancel {tid}: {event.reason}"
    if isinstance(event, DagDone):
        return f"run {event.run_id} {event.status} in {format_duration(event.duration_s)}"
    return None


class PlainView:
    """Timestamped lines, one per state change; for logs, cron mail and journald."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        line = describe(event)
        if line is not None:
            with self._lock:
                self.stream.write(f"{local_time(event.ts)} {line}\n")
                self.stream.flush()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def log_tail(path: str | None, lines: int = 15) -> list[str]:
    if not path:
        return []
    p = Path(path)
    try:
        with p.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


def started_at(ts: str) -> datetime:
    return parse_ts(ts)
