"""Run one attempt on this machine: the shared body of the thread and inline executors (and workers)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Mapping

from dagctl.errors import DagctlError, EnvironmentProblem, TaskError
from dagctl.run.actions.outputs import read_output_file
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.keeper import Keeper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.protocols import Clock
    from dagctl.run.actions.python import CallableCache
    from dagctl.run.actions.shell import ShellOutcome


SHORTAGES = (errno.EMFILE, errno.ENFILE, errno.EAGAIN)
"""What a process that cannot start for lack of resources fails with (open files, the system's file table,
processes): nothing of it ran, and it can start once a task ends."""
_NOT_STARTED = tuple((f": {os.strerror(number)}", number) for number in SHORTAGES)
"""How :func:`dagctl.run.actions.shell.run_shell` ends the reason of such a start (``could not start sh: ...``)."""


def not_started_for_lack_of(error: str | None) -> int | None:
    """The errno of :data:`SHORTAGES` a failed start reports in ``error`` (``could not start /bin/sh: Too many open
    files``, also inside an isolated Python task's ``python process ended ... (could not start ...)``), or None."""
    if not error or "could not start " not in error:
        return None
    tail = error.split("could not start ", 1)[1]
    for text, number in _NOT_STARTED:
        if text in tail:
            return number
    return None


def limit_of(shortage: int) -> str:
    """The limit a start that failed with ``shortage`` met, as the shell names it: ``ulimit -n 64``. Read with
    ``sysconf`` (no file to open: there may be none left)."""
    if shortage == errno.EMFILE:
        return f"ulimit -n {_sysconf('SC_OPEN_MAX') or '(open files)'}"
    if shortage == errno.ENFILE:
        return "the system's table of open files (fs.file-max)"
    processes = _sysconf("SC_CHILD_MAX")
    if processes:
        return f"ulimit -u {processes} (processes and threads of this user)"
    return "the processes the system allows (kernel.threads-max, or the cgroup's pids.max)"


def describe_shortage(shortage: int, tasks: int) -> str:
    """The run's warning when tasks wait to start for lack of ``shortage``: ``ulimit -n 64 is too low for 64 tasks
    at once: ...``."""
    return (
        f"{limit_of(shortage)} is too low for {tasks} task{'' if tasks == 1 else 's'} at once: tasks wait for "
        f"others to end before they start ({os.strerror(shortage)}); raise it, or lower -j"
    )


def no_thread() -> EnvironmentProblem:
    """The error when a thread cannot be started: the processes (and threads) of this user are at their limit."""
    processes = _sysconf("SC_CHILD_MAX")
    if processes:
        return EnvironmentProblem(
            f"cannot start a thread: this user has no process left under ulimit -u {processes}",
            hint="raise it (ulimit -u), lower -j, or stop some of this user's processes",
        )
    return EnvironmentProblem(
        "cannot start a thread: the system has none to spare",
        hint="check kernel.threads-max and the cgroup's pids.max, or stop some processes",
    )


def _sysconf(name: str) -> int | None:
    """A limit ``sysconf`` reports (glibc: the soft ``RLIMIT_*``), None when there is none."""
    try:
        value = os.sysconf(name)
    except (OSError, ValueError):
        return None
    return value if value > 0 else None


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
        return self.execute_or_short(attempt, cancel)[0]

    def execute_or_short(self, attempt: Attempt, cancel: CancelToken) -> tuple[AttemptResult, int | None]:
        """Run the attempt: its result, and the errno when it did not start for lack of resources (EMFILE,
        ENFILE, EAGAIN: :data:`SHORTAGES`) — then nothing of it ran, and it may be started again once something
        is freed. Only a shell attempt, or a Python one in a process of its own, is started here."""
        starts_a_process = attempt.kind == "run" or attempt.isolation == "process"
        try:
            if attempt.kind == "run":
                result = self._shell(attempt, cancel)
            else:
                from dagctl.run.actions.python import CallableCache, run_python_attempt, run_python_isolated

                if attempt.isolation == "process":
                    result = run_python_isolated(attempt, cancel, clock=self.clock, keeper=self.keeper)
                else:
                    if self._cache is None:
                        self._cache = CallableCache()
                    result = run_python_attempt(attempt, cancel, clock=self.clock, cache=self._cache)
        except DagctlError as exc:  # the log or the request file could not be opened: nothing started
            cause = exc.__cause__
            short = cause.errno if isinstance(cause, OSError) and cause.errno in SHORTAGES else None
            short = short if starts_a_process else None
            # a lack of resources is no disk problem: without the hint about the disk (the waiting says what to do)
            error = exc.message if short is not None else str(exc)
            return AttemptResult(status="failed", duration_s=0.0, error=error, worker=self.worker), short
        except OSError as exc:  # before the process started (a module it imports first could not be opened)
            if not (starts_a_process and exc.errno in SHORTAGES):
                raise
            error = f"could not start the task: {exc.strerror}"
            return AttemptResult(status="failed", duration_s=0.0, error=error, worker=self.worker), exc.errno
        if not starts_a_process or result.status != "failed" or result.exit_code is not None:
            return result, None
        return result, not_started_for_lack_of(result.error)

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
