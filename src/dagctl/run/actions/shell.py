"""Run one shell task attempt: own process group, output appended to a log file, tree kill on the way out.

Contract of :func:`run_shell`, the part an operator relies on:

* The command runs as the leader of a new session and process group, stdin from /dev/null, stdout and
  stderr appended straight to the log file (no Python buffering; the log holds only the command's output).
* It never raises for a task problem. A command that is not found, not executable or cannot enter its
  cwd comes back as ``failed`` with a one-line reason (exit code 127 / 126 like a shell; ``None`` when it
  never started, e.g. a bad cwd). It raises :class:`~dagctl.errors.ExecutorError` only when dagctl itself
  cannot work (the log file cannot be opened).
* Timeout or cancel: SIGTERM to the whole group, ``grace`` seconds, then SIGKILL to the group. A set
  ``kill_now`` (second Ctrl+C) sends SIGKILL at once. An exception in the waiting thread (KeyboardInterrupt)
  SIGKILLs the group before it propagates.
* Nothing outlives the attempt: when the leader exits normally, whatever it left in its group (``sleep 9 &``,
  a daemon-ish grandchild) gets the same SIGTERM → grace → SIGKILL. The attempt's status still comes from
  the leader's exit code. Processes that leave the group (setsid, double fork) are out of reach; see
  :mod:`dagctl.run.actions.proc`.
* Durations and deadlines are read from the injected clock. With a ``FakeClock``, timeout and grace
  elapse only when the test advances it.
* A process killed by signal N gets ``exit_code`` 128+N (the shell convention) and ``signal`` N.

Direct exec versus ``/bin/sh -c``: like make, a command string is exec'd directly only when it is trivially
simple (plain words); anything the shell would interpret goes through ``/bin/sh -c``. A list is an argv and
never touches a shell. Direct exec saves a shell per task and gives the same result.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from dagctl.errors import ExecutorError, UsageError
from dagctl.records import Record

from .proc import POLL_INTERVAL, ProcessGroup, signal_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    import threading
    from collections.abc import Mapping
    from typing import Literal

    from dagctl.protocols import Clock
    from dagctl.run.keeper import Keeper

    from .proc import StopResult

    ShellStatus = Literal["success", "failed", "timeout", "cancelled"]


def _log() -> logging.Logger:
    """This module's logger; logging is imported on first use (it costs ~2 ms of every start-up)."""
    import logging

    return logging.getLogger(__name__)


SHELL = "/bin/sh"

SHELL_METACHARS: frozenset[str] = frozenset("|&;<>()$`\\\"'*?[]#~=%!{}^\n\r")
"""Characters that make a command string shell syntax: pipes, lists, redirections, subshells, expansions,
quoting, globs, comments, tilde, assignments, job specs, history/negation, braces, old-style ``^`` pipes,
and line breaks (``\\r`` too: the shell does not split words on it, shlex does)."""

_SHELL_WORDS: frozenset[str] = frozenset(
    {
        # keywords
        "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select",
        "then", "time", "until", "while",
        # builtins with no equivalent program (or one that may be missing, like kill in slim images)
        ".", ":", "alias", "bg", "break", "builtin", "cd", "command", "continue", "declare", "eval", "exec",
        "exit", "export", "fc", "fg", "getopts", "hash", "jobs", "kill", "let", "local", "logout", "read",
        "readonly", "return", "set", "shift", "source", "times", "trap", "type", "typeset", "ulimit",
        "umask", "unalias", "unset", "wait",
    }
)  # fmt: skip


class ShellOutcome(Record):
    """How one attempt ended.

    ``exit_code``: the leader's exit code; 128+N if killed by signal N; None when it never started.
    ``error``: one line for a human: ``exit code 3``, ``timed out after 2s``, ``command not found: foo (...)``.
    ``signal``: the signal that killed the leader, if one did.
    """

    exit_code: int | None
    status: ShellStatus
    duration_s: float
    error: str | None
    signal: int | None


def needs_shell(command: str) -> bool:
    """Whether ``command`` needs ``/bin/sh -c``: any shell syntax, or a first word that is a shell builtin."""
    if not SHELL_METACHARS.isdisjoint(command):
        return True
    words = command.split(None, 1)
    return bool(words) and words[0] in _SHELL_WORDS


def split_command(command: str | list[str]) -> tuple[list[str], bool]:
    """``(argv, uses_shell)``: a list as given; a simple string split into words; anything else via sh -c."""
    if isinstance(command, str):
        if needs_shell(command):
            return [SHELL, "-c", command], True
        argv = _words(command)
        if not argv:
            raise UsageError("empty command", hint="give the task a non-empty run: command")
        return argv, False
    argv = list(command)
    if not argv:
        raise UsageError("empty command", hint="give the task a non-empty argv list")
    return argv, False


_BLANKS = str.maketrans("\t\n", "  ")


def _words(command: str) -> list[str]:
    """The words of a command string without shell syntax (see :func:`needs_shell`).

    Such a string has no quotes, escapes or comments, so POSIX word splitting is splitting on blanks, which
    ``str.split`` does when blanks are the only whitespace in it. Anything else it would split on (other
    control characters, non-ASCII spaces) goes through :func:`shlex.split`.
    """
    if command.isascii() and command.translate(_BLANKS).isprintable():
        return command.split()
    import shlex

    return shlex.split(command)


def run_shell(
    command: str | list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    log_path: Path,
    timeout: float | None,
    cancel: threading.Event,
    kill_now: threading.Event | None = None,
    grace: float = 5.0,
    clock: Clock,
    keeper: Keeper | None = None,
) -> ShellOutcome:
    """Run ``command`` once and report how it ended; see the module docstring for the guarantees.

    ``env`` is the complete environment of the process (nothing is inherited implicitly) and its PATH is
    used to find the program. ``timeout`` is in seconds from the start; None means no limit. ``keeper``
    stops the process group if this process dies first (:mod:`dagctl.run.keeper`).
    """
    start = clock.monotonic()
    if cancel.is_set() or (kill_now is not None and kill_now.is_set()):
        return ShellOutcome(None, "cancelled", 0.0, "cancelled before start", None)
    argv, uses_shell = split_command(command)
    log_fd = open_log(Path(log_path))
    import subprocess  # the portable path; the runner's own shell tasks go through executors.spawner

    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            cwd=cwd,
            env=dict(env) if keeper is None else {**env, keeper.marker()[0]: keeper.marker()[1]},
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        exit_code, reason = _spawn_failure(exc, argv[0], cwd)
        return ShellOutcome(exit_code, "failed", clock.monotonic() - start, reason, None)
    finally:
        os.close(log_fd)

    if keeper is not None:
        keeper.track(proc.pid)
    try:
        with ProcessGroup(proc) as group:
            try:
                ended_by, how = supervise(group, start, timeout, cancel, kill_now, grace, clock, log_path)
            except BaseException:
                group.kill(clock)
                raise
    finally:
        if keeper is not None:
            keeper.untrack(proc.pid)
    return shell_outcome(proc.returncode, ended_by, how, uses_shell, timeout, grace, clock.monotonic() - start)


def supervise(
    group: ProcessGroup,
    start: float,
    timeout: float | None,
    cancel: threading.Event,
    kill_now: threading.Event | None,
    grace: float,
    clock: Clock,
    log_path: str | Path | None = None,
) -> tuple[Literal["exit", "timeout", "cancelled"], StopResult | None]:
    """Wait for the leader, a deadline or a cancel, whichever comes first, and clean up the group. Processes the
    leader left behind are noted in the task's log at ``log_path`` (on dagctl's stderr they broke ``-q`` and
    named no task)."""
    deadline = None if timeout is None else start + timeout
    while True:
        if cancel.is_set() or (kill_now is not None and kill_now.is_set()):
            return "cancelled", group.stop(grace=grace, clock=clock, kill_now=kill_now)
        step = POLL_INTERVAL
        if deadline is not None:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return "timeout", group.stop(grace=grace, clock=clock, kill_now=kill_now)
            step = min(step, remaining)
        if group.wait(step):
            break
    if not group.members_alive():
        return "exit", None
    how = group.stop(grace=grace, clock=clock, kill_now=kill_now)
    words = "with SIGKILL" if how == "killed_after_grace" else "with SIGTERM"
    note = f"dagctl: the command exited but left processes behind; they were stopped {words}\n"
    if log_path is None:
        _log().warning("pid %d: %s", group.pgid, note.strip())
    else:
        try:
            fd = open_log(log_path)
            try:
                os.write(fd, note.encode())
            finally:
                os.close(fd)
        except OSError:
            _log().warning("pid %d: %s", group.pgid, note.strip())
    return "exit", how


def shell_outcome(
    returncode: int | None,
    ended_by: str,
    how: StopResult | None,
    uses_shell: bool,
    timeout: float | None,
    grace: float,
    duration: float,
) -> ShellOutcome:
    sig = -returncode if returncode is not None and returncode < 0 else None
    exit_code = 128 + sig if sig is not None else returncode
    if ended_by in ("timeout", "cancelled"):
        reason = f"timed out after {timeout:g}s" if ended_by == "timeout" else "cancelled"
        if how == "killed_after_grace":
            reason += f"; still running {grace:g}s after SIGTERM, sent SIGKILL"
        elif how == "killed_at_once":
            reason += "; sent SIGKILL at once"
        if returncode is None:
            reason += "; did not exit after SIGKILL"
        status: ShellStatus = "timeout" if ended_by == "timeout" else "cancelled"
        return ShellOutcome(exit_code, status, duration, reason, sig)
    if returncode == 0:
        return ShellOutcome(0, "success", duration, None, None)
    if sig is not None:
        return ShellOutcome(exit_code, "failed", duration, f"killed by signal {signal_name(sig)}", sig)
    reason = f"exit code {returncode}"
    if uses_shell and returncode == 127:
        reason += " (the shell could not find a command; see the log)"
    elif uses_shell and returncode == 126:
        reason += " (the shell could not execute a command; see the log)"
    return ShellOutcome(exit_code, "failed", duration, reason, None)


LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND
"""How a task log is opened: appends from many processes interleave by whole writes, never overwrite."""


def open_log(log_path: Path | str) -> int:
    """An O_APPEND fd for the task log (:data:`LOG_FLAGS`), creating parent directories."""
    flags = LOG_FLAGS | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            return os.open(log_path, flags, 0o644)
        except FileNotFoundError:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            return os.open(log_path, flags, 0o644)
    except OSError as exc:
        raise ExecutorError(
            f"cannot open task log {log_path}: {exc.strerror or exc}",
            hint="check that the log directory is writable and the disk is not full",
        ) from exc


def _spawn_failure(exc: OSError, program: str, cwd: str | None) -> tuple[int | None, str]:
    """Exit code (shell convention) and a one-line reason for a process that could not be started."""
    if cwd is not None and exc.filename == cwd:  # subprocess reports a failed chdir with the cwd as filename
        return None, f"cannot enter working directory {cwd}: {exc.strerror} (check the task's cwd:)"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if "/" in program and os.path.isfile(os.path.join(cwd or "", program)):
            return 127, f"cannot run {program}: its #! interpreter was not found (check its first line)"
        return 127, f"command not found: {program} (check PATH or the task's run:)"
    if exc.errno == errno.EACCES:
        return 126, f"permission denied: {program} (is it executable? chmod +x, or check PATH)"
    if exc.errno == errno.ENOEXEC:
        return 126, f"cannot execute {program}: not a program and no #! line (add one, e.g. #!/bin/sh)"
    return None, f"could not start {program}: {exc.strerror or exc}"
