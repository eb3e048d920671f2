"""The state of one run, as plain values: what it was asked to do (:class:`RunOptions`), how to stop it from
outside (:class:`RunControl`), each task's progress (:class:`TaskRun`) and how it ended (:class:`RunResult`).
"""

from __future__ import annotations

import os

from dagctl.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, exit_code_of_signal
from dagctl.records import PlainData, field

from .attempts import CancelToken
from .waker import Waker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from dagctl.protocols import Clock

FINAL = frozenset({"success", "failed", "skipped", "cancelled"})


def default_parallelism() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


def new_run_id(clock: Clock, rand: Callable[[int], int] | None = None) -> str:
    """Sorts by start time, safe as a file name: ``20261121-194512.123-3f9a2c``."""
    now = clock.now()
    bits = rand(24) if rand is not None else int.from_bytes(os.urandom(3), "big")
    return now.strftime("%Y%m%d-%H%M%S.") + f"{now.microsecond // 1000:03d}-{bits:06x}"


class RunControl:
    """Asks a run to stop, from any thread or a signal handler: ``cancel()`` then ``cancel(now=True)``; or to
    pause as ``dagctl pause`` does (``pause()``: a sub-DAG's run, when its parent run pauses)."""

    def __init__(self) -> None:
        self.wake = Waker()
        self.reason: str | None = None
        self.kill_now = False
        self.signal: int | None = None
        self.pausing: str | None = None
        self.skip_notifications: Callable[[], None] | None = None
        """Set once the tasks are over and the run waits to send notifications: a stop then ends that wait."""
        """Why the run was asked to pause (its running tasks finish, nothing new starts, it ends paused)."""

    def pause(self, reason: str) -> None:
        if self.pausing is None:
            self.pausing = reason
        self.wake.set()

    def cancel(self, reason: str = "cancelled", *, now: bool = False, signal: int | None = None) -> None:
        if self.reason is None:
            self.reason = reason
            self.signal = signal
        if now:
            self.kill_now = True
        self.wake.set()

    @property
    def cancelled(self) -> bool:
        return self.reason is not None


class RunOptions(PlainData):
    """How to run a plan, on top of what the DAG file says (``dagctl run`` flags, ``run_dag`` keywords).

    ``reuse_outputs``: tasks already done (e.g. by the run being retried): not run again, their outputs
    reused. ``select``: run only these tasks (plan order kept); the others must be in ``reuse_outputs`` or
    are skipped. ``reuse_cells``: matrix cells already done, by cell id: ``{"matrix": values, "outputs":
    ...}`` (reused when the cell has the same values again). ``resume_loops``: a loop task's last completed
    iteration, by task id: ``{"iteration": n, "outputs": ...}`` (the loop goes on from there).
    ``parent_task``: for a sub-DAG's run, the parent's ``dag:`` task.
    """

    params: dict[str, Any] = field(default_factory=dict)
    parallelism: int | None = None
    fail_fast: bool | None = None
    timeout: float | None = None
    trigger: str = "manual"
    run_id: str | None = None
    parent_run_id: str | None = None
    schedule_id: str | None = None
    logical_date: str | None = None
    reuse_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    select: list[str] | None = None
    reuse_cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    resume_loops: dict[str, dict[str, Any]] = field(default_factory=dict)
    reuse_children: dict[str, str] = field(default_factory=dict)
    """A ``dag:`` task's child run of an earlier run, by task id (a retry reuses what the child finished)."""
    parent_task: str | None = None
    cache: str = "use"
    """The task cache: ``use`` (read and write), ``refresh`` (write only), ``off`` (neither)."""
    env_files: list[str] = field(default_factory=list)
    """``dagctl run --env-file``: ``.env`` files read on top of the DAG's ``env_file:``."""
    resume: bool = False
    """Go on with the run ``run_id`` (paused or abandoned) instead of starting one: ``dagctl resume``."""
    attempts_done: dict[str, int] = field(default_factory=dict)
    """Attempts a resumed run's units had already started (numbering goes on from there)."""
    cache_dir: Path | None = None
    """Where the task cache lives (default: ``<logs>/cache/tasks``)."""


class TaskRun(PlainData):
    """One task's state during a run (owned by the runner's thread). A matrix cell is one too: its ``id``
    is the cell's (``train:3``) and ``task_id`` the matrix task's."""

    id: str
    status: str = "pending"
    attempt: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    reason: str | None = None
    log_path: str | None = None
    queued: bool = False
    token: CancelToken | None = None
    started: float = 0.0
    deadline: float | None = None
    hard_deadline: float | None = None
    task_id: str = ""
    """The plan's task (the matrix task for a cell); ``id`` when empty."""
    cell_index: int | None = None
    matrix: dict[str, Any] | None = None
    iteration: int = 1
    previous: dict[str, Any] | None = None
    """A loop's outputs of its last iteration."""
    cells: list[str] = field(default_factory=list)
    """A matrix task's cell ids, in cell order."""
    child_run_id: str | None = None
    child_control: RunControl | None = None
    """A running ``dag:`` unit's hold on its child run: pausing this run pauses that one."""
    cache_key: str | None = None
    tolerated: bool = False
    """A failure ``continue_on:`` let pass made it a success: its result is not stored in the task cache."""
    holds_slot: bool = False
    """A cell counted against its matrix task's ``max_parallel``: from its start until its attempt ends."""

    @property
    def plan_id(self) -> str:
        return self.task_id or self.id


class RunResult(PlainData):
    """How a run ended: ``status`` is ``success``, ``failed`` or ``cancelled``."""

    run_id: str
    dag_name: str
    status: str
    tasks: dict[str, TaskRun]
    duration_s: float
    run_dir: Path
    error: str | None = None
    signal: int | None = None
    halted: str | None = None
    """Why the run stopped starting tasks although nothing asked it to (its events could not be written)."""
    cells: dict[str, TaskRun] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The DAG's declared ``outputs:``, rendered (what a sub-DAG returns to its parent task)."""
    failed_handlers: dict[str, str] = field(default_factory=dict)
    """``handlers:`` that failed (``handler:failure`` -> its error): they never change the run's outcome."""
    resumed: bool = False
    """The run went on from a pause or an abandonment (``dagctl resume``): ``duration_s`` is this part's only."""

    def count(self, status: str) -> int:
        return sum(1 for t in self.tasks.values() if t.status == status)

    @property
    def exit_code(self) -> int:
        if self.halted is not None:
            return EXIT_ENVIRONMENT
        if self.status in ("success", "paused"):
            return EXIT_OK
        if self.status == "cancelled":
            return exit_code_of_signal(self.signal)
        return EXIT_FAILED

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dag": self.dag_name,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "tasks_succeeded": self.count("success"),
            "tasks_failed": self.count("failed"),
            "tasks_skipped": self.count("skipped"),
            "tasks_cancelled": self.count("cancelled"),
            "run_dir": str(self.run_dir),
            "error": self.error,
            **({"outputs": self.outputs} if self.outputs else {}),
            "tasks": {
                t.id: {
                    k: v
                    for k, v in {
                        "status": t.status,
                        "attempts": t.attempt,
                        "duration_s": t.duration_s,
                        "exit_code": t.exit_code,
                        "error": t.error,
                        "reason": t.reason,
                        "log": t.log_path,
                    }.items()
                    if v is not None
                }
                for t in self.tasks.values()
            },
        }
