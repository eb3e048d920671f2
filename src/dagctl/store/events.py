"""Events: the facts a run leaves behind. Typed, versioned, one JSON object per line.

Names and keys keep the source note's vocabulary (``event``, ``dag_start``, ``task_ok`` ...). Every record
carries ``v`` (schema version), ``ts`` (UTC, milliseconds, ``Z``), ``event``, ``timestamp`` (the same instant
as ``ts``: the design note's name for it, for tools written against the note), ``run_id``, ``dag_name`` and
``tenant_id``. Readers go by ``ts`` and accept records without ``timestamp`` (files written before it was
added). Readers use :func:`parse_event`; unknown kinds and newer versions are kept as plain dicts so an old
reader never crashes on a newer log.
"""

from __future__ import annotations

from datetime import datetime, timezone
from operator import attrgetter

from dagctl.records import KwRecord, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

SCHEMA_VERSION = 1
KEEPER_NOTE = "the keeper of this run"
"""How a ``run_warning`` about the run's keeper begins (:mod:`dagctl.run.keeper`)."""
KEEPER_GONE = KEEPER_NOTE + " is gone"
"""How it begins when the run has no keeper: if its process dies, nothing stops its tasks."""


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


def finite_number(value: object) -> float | None:
    """A number a record holds (an int, a float, or text that reads as one), None unless it is finite.
    Booleans are not numbers here."""
    import math

    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


class Event(KwRecord):
    """One fact, immutable once made, built with keyword arguments. Subclasses declare the fields they add.

    A :class:`~dagctl.records.KwRecord` (not a dataclass: ``dagctl run`` imports this module on every start).
    Equality and ``repr`` go by :attr:`FIELDS`, whose order is also the order of the keys in
    :meth:`to_record`.
    """

    kind: ClassVar[str] = "event"
    _REST: ClassVar[tuple[str, ...]]
    """Every field after ``ts`` (always the first), in record order."""
    _rest: ClassVar[attrgetter[Any]]
    """Reads the :attr:`_REST` fields of an event in one C call."""

    ts: str
    run_id: str
    dag_name: str
    tenant_id: str

    def __hash__(self) -> int:  # by repr: events carry dicts (params, outputs)
        return hash((type(self), *(repr(v) for v in self._values())))

    def to_record(self) -> dict[str, Any]:
        """The JSONL line: version, time, kind and the note's ``timestamp`` first, then every field that is set."""
        record: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": self.ts, "event": self.kind, "timestamp": self.ts}
        for key, value in zip(self._REST, self._rest(self), strict=True):
            if value is not None:
                record[key] = value
        return record

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _after_ts(cls)


def _after_ts(cls: type[Event]) -> None:
    cls._REST = cls.FIELDS[1:]
    cls._rest = attrgetter(*cls._REST)  # not a function: reading it from an event binds nothing


_after_ts(Event)


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
    parent_task: str | None = None
    """For a sub-DAG's run: the ``dag:`` task of ``parent_run_id`` that started it."""


class TaskEvent(Event):
    task_id: str = ""
    attempt: int | None = None
    cell: str | None = None
    """A matrix cell's id (``train:3``); ``task_id`` stays the matrix task's."""
    cell_index: int | None = None
    matrix: dict[str, Any] | None = None
    """The cell's values (on ``task_start``)."""
    iteration: int | None = None
    """A ``repeat:`` task's iteration, from 1."""


class TaskStart(TaskEvent):
    kind: ClassVar[str] = "task_start"

    log_path: str | None = None
    worker: str | None = None
    child_run_id: str | None = None
    """A ``dag:`` task's child run."""
    cells: int | None = None
    """A matrix task fanning out: how many cells."""


class TaskOk(TaskEvent):
    kind: ClassVar[str] = "task_ok"

    status: str = "success"
    duration_s: float = 0.0
    exit_code: int | None = None
    log_path: str | None = None
    outputs: list[str] | None = None
    worker: str | None = None
    child_run_id: str | None = None
    reason: str | None = None
    """Why a loop or a matrix task ended as it did (``until`` met, ``5 of 6 cells succeeded`` ...)."""
    cached: bool | None = None
    """True when the outputs came from the task cache: nothing ran."""
    cache_key: str | None = None


class TaskFail(TaskEvent):
    kind: ClassVar[str] = "task_fail"

    status: str = "failed"  # failed | timeout
    duration_s: float = 0.0
    exit_code: int | None = None
    error: str | None = None
    log_path: str | None = None
    worker: str | None = None
    child_run_id: str | None = None


class TaskRetry(TaskEvent):
    kind: ClassVar[str] = "task_retry"

    delay_s: float = 0.0
    error: str | None = None
    status: str = "failed"


class TaskSkip(TaskEvent):
    kind: ClassVar[str] = "task_skip"

    status: str = "skipped"
    reason: str = ""


class TaskCancel(TaskEvent):
    kind: ClassVar[str] = "task_cancel"

    status: str = "cancelled"
    reason: str = ""
    duration_s: float | None = None
    log_path: str | None = None


class DagDone(Event):
    kind: ClassVar[str] = "dag_done"

    status: str = "success"  # success | failed | cancelled | paused
    duration_s: float = 0.0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    tasks_skipped: int = 0
    tasks_cancelled: int = 0
    error: str | None = None


class DagResume(Event):
    """A paused or abandoned run goes on, in a new process (``dagctl resume``): its new owner."""

    kind: ClassVar[str] = "dag_resume"

    host: str = ""
    pid: int = 0
    pid_start: float | None = None
    reused: int = 0
    """How many tasks it did not run again."""


class ApprovalRequested(TaskEvent):
    kind: ClassVar[str] = "approval_requested"

    message: str = ""
    approvers: list[str] = field(default_factory=list)
    policy: str = "any"
    timeout_s: float | None = None


class ApprovalGranted(TaskEvent):
    kind: ClassVar[str] = "approval_granted"

    by: list[str] = field(default_factory=list)
    comment: str | None = None


class ApprovalRejected(TaskEvent):
    kind: ClassVar[str] = "approval_rejected"

    by: list[str] = field(default_factory=list)
    reason: str | None = None


class RunWarning(Event):
    """Something about the run went wrong that did not change its outcome (its terminal output failed ...)."""

    kind: ClassVar[str] = "run_warning"

    message: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        DagStart,
        TaskStart,
        TaskOk,
        TaskFail,
        TaskRetry,
        TaskSkip,
        TaskCancel,
        DagDone,
        RunWarning,
        DagResume,
        ApprovalRequested,
        ApprovalGranted,
        ApprovalRejected,
    )
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
