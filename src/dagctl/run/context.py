"""The :class:`TaskContext` a Python task receives when it declares a parameter named ``ctx`` or ``context``.

It tells the task who and where it is (run id, DAG, task, attempt, run folder), gives it the task log
(:meth:`TaskContext.log`, :meth:`TaskContext.progress`), its upstream outputs (:meth:`TaskContext.output_of`)
and the cancel signal. Long tasks should poll :attr:`TaskContext.cancelled` (or call
:meth:`TaskContext.raise_if_cancelled`) between steps: a task running in a thread cannot be stopped from the
outside, so a timeout or a cancel only *asks* it to stop.

Everything here is per attempt: no globals, the clock is injected, and the log file is created on the first
line written, with appends that are safe from several threads and processes.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dagctl.errors import TaskError
from dagctl.protocols import Clock

from .attempts import Attempt, CancelToken

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def append_to_log(path: str | Path, text: str) -> None:
    """Append ``text`` to the log at ``path`` in one ``write(2)`` (O_APPEND), creating folders as needed.

    One write per call keeps lines whole when a task's threads, its child process and dagctl append to the
    same file at once.
    """
    data = text.encode("utf-8", "replace")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class TaskContext:
    """What a running Python task may know and do. Built by the action for one attempt."""

    def __init__(
        self,
        *,
        run_id: str,
        dag_name: str,
        task_id: str,
        attempt: int,
        params: Mapping[str, Any],
        run_dir: str | Path,
        log_path: str | Path,
        clock: Clock,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        cancel: CancelToken | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.run_id = run_id
        self.dag_name = dag_name
        self.task_id = task_id
        self.attempt = attempt
        self.params: dict[str, Any] = dict(params)
        """Task params plus upstream payload keys ``<upstream>__<key>``."""
        self.run_dir = str(run_dir)
        """This run's folder: write files here and return their paths as outputs."""
        self.log_path = str(log_path)
        self.env: dict[str, str] = dict(env or {})
        """The task's ``env:`` and ``secrets:`` (and ``DAGCTL_*`` variables). In thread isolation ``os.environ``
        shows them too, in the task's own thread only (:mod:`dagctl.run.actions.taskenv`); a process the task
        starts inherits them only with ``env=os.environ.copy()``."""
        self._logger: logging.Logger | None = None
        self._inputs = {k: dict(v) for k, v in (inputs or {}).items()}
        self._clock = clock
        self._cancel = cancel or CancelToken()
        self._on_progress = on_progress
        self._lock = threading.Lock()

    @property
    def logger(self) -> logging.Logger:
        """``dagctl.task.<task id>``: what it logs goes to the task's log. Made on first use (most tasks
        never log, and each logger is kept by the logging module for good)."""
        if self._logger is None:
            self._logger = logging.getLogger(f"dagctl.task.{self.task_id}")
        return self._logger

    @classmethod
    def from_attempt(
        cls,
        attempt: Attempt,
        *,
        clock: Clock,
        cancel: CancelToken | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> TaskContext:
        return cls(
            run_id=attempt.run_id,
            dag_name=attempt.dag_name,
            task_id=attempt.task_id,
            attempt=attempt.attempt,
            params=attempt.params,
            run_dir=attempt.run_dir,
            log_path=attempt.log_path,
            clock=clock,
            inputs=attempt.inputs,
            env=attempt.env,
            cancel=cancel,
            on_progress=on_progress,
        )

    def __repr__(self) -> str:
        return f"TaskContext(run_id={self.run_id!r}, task_id={self.task_id!r}, attempt={self.attempt})"

    # -- the task log ----------------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        """Append ``<UTC time> message`` to the task log (one line per line of ``message``)."""
        stamp = self._clock.now().strftime(TIMESTAMP_FORMAT)
        lines = str(message).splitlines() or [""]
        text = "".join(f"{stamp} {line}\n" for line in lines)
        self.logger.debug("%s", message)
        if not self.log_path:
            return
        with self._lock:
            append_to_log(self.log_path, text)

    def progress(self, pct: float, message: str = "") -> None:
        """Log ``progress 50% message`` and tell the runner (``pct`` is clamped to 0-100)."""
        value = float(pct)
        if not math.isfinite(value):
            raise ValueError(f"progress needs a number from 0 to 100, got {pct!r}")
        value = min(100.0, max(0.0, value))
        self.log(f"progress {value:.3g}% {message}".rstrip())
        if self._on_progress is not None:
            try:
                self._on_progress(value, message)
            except Exception:  # the runner's display must never fail the task
                logger.exception("progress callback failed for task %s", self.task_id)

    # -- upstream outputs ------------------------------------------------------------------------------------

    @property
    def upstream(self) -> list[str]:
        """Ids of the tasks this one depends on."""
        return sorted(self._inputs)

    def output_of(self, task_id: str) -> dict[str, Any]:
        """The outputs of upstream task ``task_id`` (a copy; ``{}`` if it produced none)."""
        if task_id not in self._inputs:
            known = ", ".join(self.upstream) or "none"
            raise KeyError(
                f"task '{task_id}' is not an upstream of '{self.task_id}' (upstream tasks: {known}) — "
                f"add it to depends_on: of '{self.task_id}' to read its outputs"
            )
        return dict(self._inputs[task_id])

    # -- cancellation ----------------------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once the runner asked this attempt to stop (timeout or cancel). Poll it in long loops."""
        return self._cancel.is_cancelled

    @property
    def cancel_reason(self) -> str | None:
        """``"timeout"`` or ``"cancelled"`` once :attr:`cancelled` is true, else None."""
        return self._cancel.reason if self._cancel.is_cancelled else None

    def raise_if_cancelled(self) -> None:
        """Raise ``TaskError("cancelled")`` if the runner asked this attempt to stop."""
        if self._cancel.is_cancelled:
            raise TaskError("cancelled")
