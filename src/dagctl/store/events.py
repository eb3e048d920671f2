"""Events: the facts a run leaves behind. Typed, versioned, one JSON object per line.

Names and keys keep the source note's vocabulary (``event``, ``dag_start``, ``task_ok`` ...). Every record
carries ``v`` (schema version), ``ts`` (UTC, milliseconds, ``Z``), ``event``, ``run_id``, ``dag_name`` and
``tenant_id``. Readers use :func:`parse_event`; unknown kinds and newer versions are kept as plain dicts
so an old reader never crashes on a newer log.
"""

from __future__ import annotations

from datetime import datetime, timezone
from operator import attrgetter

from dagctl.records import Record, init_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar

SCHEMA_VERSION = 1


def format_ts(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and Z: ``2026-11-21T19:45:12.123Z``."""
    if when.tzinfo is timezone.utc:  # what the clock gives: "...+00:00" becomes "Z"
        return when.isoformat(timespec="milliseconds")[:-6] + "Z"
    if when.utcoffset():
        when = when.astimezone(timezone.utc)
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Event(Record):
    """One fact, immutable once made. Subclasses list the fields they add in ``OWN_FIELDS``.

    A :class:`~dagctl.records.Record` (not a dataclass: ``dagctl run`` imports this module on every start).
    Equality and ``repr`` go by :attr:`FIELDS`, whose order is also the order of the keys in
    :meth:`to_record`.
    """

    kind: ClassVar[str] = "event"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("ts", "run_id", "dag_name", "tenant_id")
    __slots__ = OWN_FIELDS
    _REST: ClassVar[tuple[str, ...]]
    """Every field after ``ts`` (always the first), in record order."""
    _rest: ClassVar[Callable[[Event], tuple[Any, ...]]]
    """Reads the :attr:`_REST` fields of an event in one C call."""

    if TYPE_CHECKING:
        ts: str
        run_id: str
        dag_name: str
        tenant_id: str

    def __init__(self, *, ts: str, run_id: str, dag_name: str, tenant_id: str) -> None:
        _set(self, "ts", ts)
        _set(self, "run_id", run_id)
        _set(self, "dag_name", dag_name)
        _set(self, "tenant_id", tenant_id)

    def __hash__(self) -> int:  # type: ignore[override]  # by repr: events carry dicts (params, outputs)
        return hash((type(self), *(repr(v) for v in self._values())))

    def to_record(self) -> dict[str, Any]:
        """The JSONL line: version, time and kind first, then every field that is set."""
        record: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": self.ts, "event": self.kind}
        for key, value in zip(self._REST, self._rest(self), strict=True):
            if value is not None:
                record[key] = value
        return record

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _after_ts(cls)


def _after_ts(cls: type[Event]) -> None:
    cls._REST = cls.FIELDS[1:]
    cls._rest = staticmethod(attrgetter(*cls._REST))


_after_ts(Event)

_set = init_field


def _task_fields(
    event: Event, ts: str, run_id: str, dag_name: str, tenant_id: str, task_id: str, attempt: int | None
) -> None:
    _set(event, "ts", ts)
    _set(event, "run_id", run_id)
    _set(event, "dag_name", dag_name)
    _set(event, "tenant_id", tenant_id)
    _set(event, "task_id", task_id)
    _set(event, "attempt", attempt)


class DagStart(Event):
    kind: ClassVar[str] = "dag_start"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = (
        "params",
        "trigger",
        "host",
        "pid",
        "pid_start",
        "dag_file",
        "run_dir",
        "tasks",
        "executor",
        "parent_run_id",
        "schedule_id",
        "logical_date",
    )
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        params: dict[str, Any]
        trigger: str
        host: str
        pid: int
        pid_start: float | None
        dag_file: str | None
        run_dir: str | None
        tasks: int
        executor: str
        parent_run_id: str | None
        schedule_id: str | None
        logical_date: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        params: dict[str, Any] | None = None,
        trigger: str = "manual",
        host: str = "",
        pid: int = 0,
        pid_start: float | None = None,
        dag_file: str | None = None,
        run_dir: str | None = None,
        tasks: int = 0,
        executor: str = "threads",
        parent_run_id: str | None = None,
        schedule_id: str | None = None,
        logical_date: str | None = None,
    ) -> None:
        Event.__init__(self, ts=ts, run_id=run_id, dag_name=dag_name, tenant_id=tenant_id)
        _set(self, "params", {} if params is None else params)
        _set(self, "trigger", trigger)
        _set(self, "host", host)
        _set(self, "pid", pid)
        _set(self, "pid_start", pid_start)
        _set(self, "dag_file", dag_file)
        _set(self, "run_dir", run_dir)
        _set(self, "tasks", tasks)
        _set(self, "executor", executor)
        _set(self, "parent_run_id", parent_run_id)
        _set(self, "schedule_id", schedule_id)
        _set(self, "logical_date", logical_date)


class TaskEvent(Event):
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("task_id", "attempt")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        task_id: str
        attempt: int | None


class TaskStart(TaskEvent):
    kind: ClassVar[str] = "task_start"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("log_path", "worker")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        log_path: str | None
        worker: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        log_path: str | None = None,
        worker: str | None = None,
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "log_path", log_path)
        _set(self, "worker", worker)


class TaskOk(TaskEvent):
    kind: ClassVar[str] = "task_ok"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("status", "duration_s", "exit_code", "log_path", "outputs", "worker")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        status: str
        duration_s: float
        exit_code: int | None
        log_path: str | None
        outputs: list[str] | None
        worker: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        status: str = "success",
        duration_s: float = 0.0,
        exit_code: int | None = None,
        log_path: str | None = None,
        outputs: list[str] | None = None,
        worker: str | None = None,
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "status", status)
        _set(self, "duration_s", duration_s)
        _set(self, "exit_code", exit_code)
        _set(self, "log_path", log_path)
        _set(self, "outputs", outputs)
        _set(self, "worker", worker)


class TaskFail(TaskEvent):
    kind: ClassVar[str] = "task_fail"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("status", "duration_s", "exit_code", "error", "log_path", "worker")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        status: str  # failed | timeout
        duration_s: float
        exit_code: int | None
        error: str | None
        log_path: str | None
        worker: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        status: str = "failed",
        duration_s: float = 0.0,
        exit_code: int | None = None,
        error: str | None = None,
        log_path: str | None = None,
        worker: str | None = None,
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "status", status)
        _set(self, "duration_s", duration_s)
        _set(self, "exit_code", exit_code)
        _set(self, "error", error)
        _set(self, "log_path", log_path)
        _set(self, "worker", worker)


class TaskRetry(TaskEvent):
    kind: ClassVar[str] = "task_retry"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("delay_s", "error", "status")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        delay_s: float
        error: str | None
        status: str

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        delay_s: float = 0.0,
        error: str | None = None,
        status: str = "failed",
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "delay_s", delay_s)
        _set(self, "error", error)
        _set(self, "status", status)


class TaskSkip(TaskEvent):
    kind: ClassVar[str] = "task_skip"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("status", "reason")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        status: str
        reason: str

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        status: str = "skipped",
        reason: str = "",
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "status", status)
        _set(self, "reason", reason)


class TaskCancel(TaskEvent):
    kind: ClassVar[str] = "task_cancel"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = ("status", "reason", "duration_s", "log_path")
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        status: str
        reason: str
        duration_s: float | None
        log_path: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        task_id: str = "",
        attempt: int | None = None,
        status: str = "cancelled",
        reason: str = "",
        duration_s: float | None = None,
        log_path: str | None = None,
    ) -> None:
        _task_fields(self, ts, run_id, dag_name, tenant_id, task_id, attempt)
        _set(self, "status", status)
        _set(self, "reason", reason)
        _set(self, "duration_s", duration_s)
        _set(self, "log_path", log_path)


class DagDone(Event):
    kind: ClassVar[str] = "dag_done"
    OWN_FIELDS: ClassVar[tuple[str, ...]] = (
        "status",
        "duration_s",
        "tasks_succeeded",
        "tasks_failed",
        "tasks_skipped",
        "tasks_cancelled",
        "error",
    )
    __slots__ = OWN_FIELDS

    if TYPE_CHECKING:
        status: str  # success | failed | cancelled | timeout
        duration_s: float
        tasks_succeeded: int
        tasks_failed: int
        tasks_skipped: int
        tasks_cancelled: int
        error: str | None

    def __init__(
        self,
        *,
        ts: str,
        run_id: str,
        dag_name: str,
        tenant_id: str,
        status: str = "success",
        duration_s: float = 0.0,
        tasks_succeeded: int = 0,
        tasks_failed: int = 0,
        tasks_skipped: int = 0,
        tasks_cancelled: int = 0,
        error: str | None = None,
    ) -> None:
        Event.__init__(self, ts=ts, run_id=run_id, dag_name=dag_name, tenant_id=tenant_id)
        _set(self, "status", status)
        _set(self, "duration_s", duration_s)
        _set(self, "tasks_succeeded", tasks_succeeded)
        _set(self, "tasks_failed", tasks_failed)
        _set(self, "tasks_skipped", tasks_skipped)
        _set(self, "tasks_cancelled", tasks_cancelled)
        _set(self, "error", error)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (DagStart, TaskStart, TaskOk, TaskFail, TaskRetry, TaskSkip, TaskCancel, DagDone)
}


def parse_event(record: dict[str, Any]) -> Event | dict[str, Any]:
    """A typed event for known kinds of this schema version; the plain dict otherwise."""
    cls = EVENT_TYPES.get(record.get("event", ""))
    if cls is None or record.get("v", SCHEMA_VERSION) > SCHEMA_VERSION:
        return record
    names = cls.FIELDS
    try:
        return cls(**{k: v for k, v in record.items() if k in names})
    except TypeError:
        return record
