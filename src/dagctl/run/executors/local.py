"""Run one attempt on this machine: the shared body of the thread and inline executors (and workers)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from dagctl.errors import DagctlError, TaskError
from dagctl.run.actions.outputs import read_output_file
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.keeper import Keeper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.protocols import Clock
    from dagctl.run.actions.python import CallableCache
    from dagctl.run.actions.shell import ShellOutcome


class LocalRunner:
    """Executes attempts in the current process. Owns the cache of imported task callables."""

    def __init__(
        self,
        clock: Clock,
        *,
        base_env: Mapping[str, str] | None = None,
        worker: str | None = None,
        keeper: Keeper | None = None,
    ) -> None:
        self.clock = clock
        # a snapshot: copying os.environ per task (decoding every entry) cost ~30 us a task
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.worker = worker
        self._cache: CallableCache | None = None
        self._owns_keeper = keeper is None
        self.keeper = keeper or Keeper()  # stops this process's task groups if it is killed (dagctl.run.keeper)

    def close(self) -> None:
        if self._owns_keeper:
            self.keeper.close()

    def execute(self, attempt: Attempt, cancel: CancelToken) -> AttemptResult:
        try:
            if attempt.kind == "run":
                return self._shell(attempt, cancel)
            from dagctl.run.actions.python import CallableCache, run_python_attempt, run_python_isolated

            if attempt.isolation == "process":
                return run_python_isolated(attempt, cancel, clock=self.clock, keeper=self.keeper)
            if self._cache is None:
                self._cache = CallableCache()
            return run_python_attempt(attempt, cancel, clock=self.clock, cache=self._cache)
        except DagctlError as exc:
            return AttemptResult(status="failed", duration_s=0.0, error=str(exc), worker=self.worker)

    def _shell(self, attempt: Attempt, cancel: CancelToken) -> AttemptResult:
        from pathlib import Path

        from dagctl.run.actions.shell import run_shell

        env = {**self.base_env, **attempt.env}
        assert attempt.command is not None
        outcome = run_shell(
            attempt.command,
            env=env,
            cwd=attempt.cwd,
            log_path=Path(attempt.log_path),
            timeout=attempt.timeout,
            cancel=cancel.requested,
            kill_now=cancel.now,
            grace=attempt.grace,
            clock=self.clock,
            keeper=self.keeper,
        )
        return shell_result(outcome, attempt, cancel, self.worker)


def shell_result(outcome: ShellOutcome, attempt: Attempt, cancel: CancelToken, worker: str | None) -> AttemptResult:
    """The attempt's result from how its process ended: outputs read on success (and, as far as they can be, on a
    failure: ``continue_on:`` may count it as a success), a timeout named as such."""
    outputs = None
    status, error = outcome.status, outcome.error
    if status == "success" and attempt.output_path:
        try:
            outputs = read_output_file(attempt.output_path)
        except TaskError as exc:
            status, error = "failed", str(exc)
    elif status == "failed" and attempt.output_path:
        with contextlib.suppress(TaskError, OSError):
            outputs = read_output_file(attempt.output_path) or None
    if status == "cancelled" and cancel.reason == "timeout":
        status, error = "timeout", f"timed out after {attempt.timeout:g}s" if attempt.timeout else "timed out"
    return AttemptResult(
        status=status,
        duration_s=outcome.duration_s,
        exit_code=outcome.exit_code,
        error=error,
        outputs=outputs,
        worker=worker,
    )
