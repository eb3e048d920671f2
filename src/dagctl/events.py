"""Events: the facts a run leaves behind. Typed, versioned, one JSON object per line.

Names and keys keep the source note's vocabulary (``event``, ``dag_start``, ``task_ok`` ...). Every record
carries ``v`` (schema version), ``ts`` (UTC, milliseconds, ``Z``), ``event``, ``run_id``, ``dag_name`` and
``tenant_id``. Readers use :func:`parse_event`; unknown kinds and newer versions are kept as plain dicts
so an old reader never crashes on a newer log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Protocol

SCHEMA_VERSION = 1


def format_ts(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and Z: ``2026-11-21T19:45:12.123Z``."""
    if when.utcoffset():
        when = when.astimezone(timezone.utc)
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    ts: str
    run_id: str
    dag_name: str
    tenant_id: str

    def to_record(self) -> dict[str, Any]:
        """The JSONL line: version, time and kind first, then every field that is set."""
        record: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": self.ts, "event": self.kind}
        for key, value in self.__dict__.items():  # not asdict(): it deep-copies, 3x slower per event
            if value is not None and key != "ts":
                record[key] = value
        return record


@dataclass(frozen=True)
class DagStart(Event):
    kind: ClassVar[str] = "dag_start"
    params: dict[str, Any] = field(default_factory=dict)
    trigger: str = "manual"
    host: str = ""
    pid: int = 0
    pid_start: float | None = None
    dag_file: str | None = None
    run_dir: str | None = None
    tasks: int = 0
    executor: str = "threads"
    parent_run_id: str | None = None
    schedule_id: str | None = None
    logical_date: str | None = None


@dataclass(frozen=True)
class TaskEvent(Event):
    task_id: str = ""
    attempt: int | None = None


@dataclass(frozen=True)
class TaskStart(TaskEvent):
    kind: ClassVar[str] = "task_start"
    log_path: str | None = None
    worker: str | None = None


@dataclass(frozen=True)
class TaskOk(TaskEvent):
    kind: ClassVar[str] = "task_ok"
    status: str = "success"
    duration_s: float = 0.0
    exit_code: int | None = None
    log_path: str | None = None
    outputs: list[str] | None = None
    worker: str | None = None


@dataclass(frozen=True)
class TaskFail(TaskEvent):
    kind: ClassVar[str] = "task_fail"
    status: str = "failed"  # failed | timeout
    duration_s: float = 0.0
    exit_code: int | None = None
    error: str | None = None
    log_path: str | None = None
    worker: str | None = None


@dataclass(frozen=True)
class TaskRetry(TaskEvent):
    kind: ClassVar[str] = "task_retry"
    delay_s: float = 0.0
    error: str | None = None
    status: str = "failed"


@dataclass(frozen=True)
class TaskSkip(TaskEvent):
    kind: ClassVar[str] = "task_skip"
    status: str = "skipped"
    reason: str = ""


@dataclass(frozen=True)
class TaskCancel(TaskEvent):
    kind: ClassVar[str] = "task_cancel"
    status: str = "cancelled"
    reason: str = ""
    duration_s: float | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class DagDone(Event):
    kind: ClassVar[str] = "dag_done"
    status: str = "success"  # success | failed | cancelled | timeout
    duration_s: float = 0.0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    tasks_skipped: int = 0
    tasks_cancelled: int = 0
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (DagStart, TaskStart, TaskOk, TaskFail, TaskRetry, TaskSkip, TaskCancel, DagDone)
}


def parse_event(record: dict[str, Any]) -> Event | dict[str, Any]:
    """A typed event for known kinds of this schema version; the plain dict otherwise."""
    cls = EVENT_TYPES.get(record.get("event", ""))
    if cls is None or record.get("v", SCHEMA_VERSION) > SCHEMA_VERSION:
        return record
    names = cls.__dataclass_fields__
    try:
        return cls(**{k: v for k, v in record.items() if k in names})
    except TypeError:
        return record


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


class MemorySink:
    """Keeps events in a list: for tests and library callers."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def close(self) -> None:
        pass

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str, task_id: str | None = None) -> list[Event]:
        return [e for e in self.events
                if e.kind == kind and (task_id is None or getattr(e, "task_id", None) == task_id)]


class JsonlSink:
    """Appends events as lines to JSONL files, shared safely with other processes.

    ``mirrors`` are further files that get the very same lines (a run's own events file next to the
    global log): each event is encoded once. With ``buffered=True`` events are held until :meth:`flush`,
    which writes them with one lock and one write per file. The runner flushes before every wait, so
    events reach the files within the same loop turn that produced them, at a fraction of the cost of
    one locked write per event.
    """

    def __init__(self, path: Any, *, buffered: bool = False, mirrors: Iterable[Any] = ()) -> None:
        from .jsonl import JsonlWriter

        self.path = path
        self._writers = [JsonlWriter(p) for p in (path, *mirrors)]
        self._buffered = buffered
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if not self._buffered:
            self._write([event.to_record()])
            return
        with self._lock:
            self._pending.append(event.to_record())

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self._write(pending)

    def _write(self, records: list[dict[str, Any]]) -> None:
        from .jsonl import encode_record

        data = b"".join(encode_record(r) for r in records)
        for writer in self._writers:
            writer.append_encoded(data)

    def close(self) -> None:
        self.flush()
        for writer in self._writers:
            writer.close()


class FanOut:
    """Sends each event to several sinks, in order. A failing sink does not stop the others."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # keep the run going; report after
                errors.append(exc)
        if errors:
            raise errors[0]

    def flush(self) -> None:
        for sink in self.sinks:
            flush = getattr(sink, "flush", None)
            if flush is not None:
                flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
