"""The executor slot: one task attempt in, one result out, as plain JSON-serialisable data.

The runner never looks inside an executor. It builds an :class:`Attempt` (what to run, with everything
resolved: command, env, params, upstream inputs, timeout, paths), calls :meth:`Executor.submit`, and is
told the :class:`AttemptResult` through the callback. A distributed executor ships the same dict to a
worker (``Attempt.to_dict`` / ``from_dict``), so nothing in the runner changes when tasks leave the host.
"""

from __future__ import annotations

import threading

from dagctl.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Literal

    AttemptKind = Literal["run", "python", "workflow_ref", "dag"]
    AttemptStatus = Literal["success", "failed", "timeout", "cancelled"]


class Attempt(Record):
    """One try of one task, fully resolved. JSON-serialisable."""

    attempt_id: str
    """``<run_id>/<task_id>/<attempt>``: idempotency key for at-least-once executors."""
    run_id: str
    dag_name: str
    task_id: str
    attempt: int
    kind: AttemptKind
    command: str | list[str] | None = None
    """For ``kind == "run"``."""
    callable: str | None = None
    """For ``kind`` ``python`` and ``workflow_ref``: ``module:function``."""
    search_path: list[str] = field(default_factory=list)
    """Folders tried before ``sys.path`` for :attr:`callable`."""
    params: dict[str, Any] = field(default_factory=dict)
    """Task params + upstream payload (``up__key``)."""
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Upstream outputs by task id."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra env on top of the executor's environment."""
    cwd: str | None = None
    timeout: float | None = None
    isolation: Literal["thread", "process"] = "thread"
    log_path: str = ""
    output_path: str = ""
    """``$DAGCTL_OUTPUT`` for shell tasks."""
    run_dir: str = ""
    queue: str | None = None
    grace: float = 5.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(**data)


class AttemptResult(Record):
    """How one attempt ended."""

    status: AttemptStatus
    duration_s: float
    exit_code: int | None = None
    error: str | None = None
    outputs: dict[str, Any] | None = None
    worker: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttemptResult:
        return cls(**data)


def allowed_failure(continue_on: Mapping[str, Any] | None, result: AttemptResult) -> str | None:
    """The reason a failed attempt counts as a success under the task's ``continue_on:`` (None: it does not).

    Only a failure (not a timeout or a cancel): any failure with ``failure: true``, else one whose exit code is
    listed in ``exit_codes``. A run and ``dagctl exec-task`` (a step of an exported workflow) both ask this."""
    if not continue_on or result.status != "failed":
        return None
    if not (continue_on.get("failure") or result.exit_code in (continue_on.get("exit_codes") or [])):
        return None
    why = f"exit code {result.exit_code}" if result.exit_code is not None else "failure"
    return f"continue_on: {why} allowed ({result.error})"


_TOKEN_LOCK = threading.Lock()
"""Guards every token's state. Held only for a few assignments; tokens are cancelled rarely."""


class CancelToken:
    """Set once to ask an attempt to stop; ``now`` asks it to stop without a grace period.

    :attr:`requested` and :attr:`now` are :class:`threading.Event` objects for code that waits on them,
    made the first time they are asked for: most attempts finish without anyone waiting, and two Events
    per attempt were a measurable part of what a short task costs.
    """

    __slots__ = ("_cancelled", "_kill_now", "_listeners", "_now", "_requested", "reason")

    def __init__(self) -> None:
        self._cancelled = False
        self._kill_now = False
        self._requested: threading.Event | None = None
        self._now: threading.Event | None = None
        self._listeners: list[Callable[[], None]] = []
        self.reason = "cancelled"

    @property
    def requested(self) -> threading.Event:
        """Set once cancel is requested."""
        return self._requested or self._make_event("_requested")

    @property
    def now(self) -> threading.Event:
        """Set once a stop without grace period is requested."""
        return self._now or self._make_event("_now")

    def _make_event(self, slot: str) -> threading.Event:
        with _TOKEN_LOCK:
            event: threading.Event | None = getattr(self, slot)
            if event is None:
                event = threading.Event()
                if self._cancelled if slot == "_requested" else self._kill_now:
                    event.set()
                setattr(self, slot, event)
        return event

    def cancel(self, *, now: bool = False, reason: str = "cancelled") -> None:
        with _TOKEN_LOCK:
            first = not self._cancelled
            if first:
                self.reason = reason
                self._cancelled = True
            if now:
                self._kill_now = True
            requested, kill_now = self._requested, self._now
            listeners = list(self._listeners) if first else []
        if requested is not None:
            requested.set()
        if now and kill_now is not None:
            kill_now.set()
        for listener in listeners:
            listener()

    def on_cancel(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (in the cancelling thread) when cancel is first requested; at once if it was."""
        with _TOKEN_LOCK:
            self._listeners.append(listener)
            cancelled = self._cancelled
        if cancelled:
            listener()

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled
