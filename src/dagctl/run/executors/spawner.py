"""Shell attempts started and reaped on the runner's own thread: the local executor's fast path (Linux).

A short shell task is mostly overhead: with a worker thread per attempt, every task crosses between
threads twice (runner → worker → runner) and each crossing waits for the GIL. Here the runner's thread
spawns the child itself (``posix_spawn``: a vfork-style start, as make does) and watches its pidfd on the
runner's :class:`~dagctl.run.waker.Waker`; when the runner sleeps and the child exits, the same thread reaps
it and reports the result. Nothing waits per task.

The guarantees are those of :func:`dagctl.run.actions.shell.run_shell` (own session and process group, stdin
from /dev/null, stdout and stderr appended to the log, SIGPIPE/SIGXFSZ back to their defaults, no fds
inherited, the same one-line errors). Anything slow or unusual leaves the fast path:

* a cancel or timeout, or a leader that exited but left processes in its group, hands the child to a
  short-lived thread that runs the blocking SIGTERM → grace → SIGKILL sequence of ``run_shell``;
* an attempt with a ``cwd:``, a program not found on PATH, or a spawn that fails is not started here at
  all (:meth:`ShellSpawner.try_start` returns False) and goes the ordinary way, through a worker thread,
  so its error reads exactly as before.

PATH lookups are cached per run (program, PATH): a program that disappears afterwards makes the spawn fail,
which falls back to the ordinary way and its fresh lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping

from dagctl.errors import DagctlError
from dagctl.run import childsignal
from dagctl.run.actions.proc import ProcessGroup, SpawnedProcess
from dagctl.run.actions.shell import LOG_FLAGS, shell_outcome, split_command, supervise
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.waker import Waker

from .local import shell_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.protocols import Clock
    from dagctl.run.keeper import Keeper

_DEFAULT_SIGNALS = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None)
"""Python ignores these; a child gets them back at their defaults (as ``subprocess`` restores them)."""

Done = Callable[[AttemptResult], None]
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()  # os.fsencode's, inlined


ENABLED = True
"""Start and reap shell attempts on the runner's own thread (fan1000: ~10% faster, docs/benchmarks.md);
False runs them on the worker threads, like Python tasks."""


def supported() -> bool:
    """Enabled, and posix_spawn with setsid, pidfds and epoll: Linux with Python 3.9+ and kernel 5.3+."""
    from dagctl.run.waker import supported as waker_supported

    if not ENABLED or not (hasattr(os, "posix_spawn") and hasattr(os, "pidfd_open") and waker_supported()):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # old kernel or a seccomp filter
        return False
    return True


class _Child:
    __slots__ = ("attempt", "done", "pidfd", "proc", "start", "state", "token", "uses_shell")

    def __init__(
        self,
        attempt: Attempt,
        token: CancelToken,
        done: Done,
        proc: SpawnedProcess,
        pidfd: int,
        start: float,
        uses_shell: bool,
    ) -> None:
        self.attempt, self.token, self.done, self.proc = attempt, token, done, proc
        self.pidfd, self.start, self.uses_shell = pidfd, start, uses_shell
        self.state = "running"  # -> "reaping" (its exit is being handled) | "stopping" (a thread owns it)


class ShellSpawner:
    """Starts shell attempts from the thread that waits on ``waker`` and reaps them in that thread."""

    def __init__(self, waker: Waker, clock: Clock, base_env: Mapping[str, str], keeper: Keeper | None = None) -> None:
        self.waker = waker
        self.clock = clock
        self.keeper = keeper
        # encoded once: posix_spawn would otherwise encode every variable of every task's environment
        self._env = {os.fsencode(k): os.fsencode(v) for k, v in base_env.items()}
        if keeper is not None:  # every task names this process: a keeper finds what was not listed yet
            name, value = keeper.marker()
            self._env[os.fsencode(name)] = os.fsencode(value)
        self._keys: dict[str, bytes] = {}  # the names of the per-task variables, encoded once
        self._paths: dict[tuple[str, bytes], str | None] = {}
        self._commands: dict[str, tuple[list[str], bool]] = {}  # shlex is slow; commands repeat across attempts
        self._children: dict[int, _Child] = {}  # by pidfd
        self._lock = threading.Lock()
        self._file_actions_tail = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]

    # ------------------------------------------------------------------ starting
    def try_start(self, attempt: Attempt, token: CancelToken, done: Done) -> bool:
        """Start ``attempt`` here and return True, or return False to have it run the ordinary way."""
        if attempt.cwd is not None or attempt.command is None or token.is_cancelled:
            return False
        command = attempt.command
        key = command if isinstance(command, str) else None
        split = self._commands.get(key) if key is not None else None
        if split is None:
            try:
                split = split_command(command)
            except DagctlError:
                return False
            if key is not None:
                self._commands[key] = split
        argv, uses_shell = split
        env = self._env.copy()
        encode = self._encode
        for key, value in attempt.env.items():
            env[encode(key)] = value.encode(_FS_ENCODING, _FS_ERRORS)
        program = self._resolve(argv[0], env.get(b"PATH", os.defpath.encode()))
        if program is None:
            return False
        start = self.clock.monotonic()
        # The child opens its log itself (stdout, then stderr as a copy): two fewer system calls here, on
        # the runner's thread, for every task. A log that cannot be opened fails the spawn, and the attempt
        # then runs the ordinary way, which reports why.
        file_actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, attempt.log_path, LOG_FLAGS, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            *self._file_actions_tail,
        ]
        try:
            try:
                pid = os.posix_spawn(
                    program, argv, env, file_actions=file_actions, setsid=True, setsigdef=_DEFAULT_SIGNALS
                )
            except FileNotFoundError:  # the log's folder may be missing: make it, and try once more
                os.makedirs(os.path.dirname(attempt.log_path) or ".", exist_ok=True)
                pid = os.posix_spawn(
                    program, argv, env, file_actions=file_actions, setsid=True, setsigdef=_DEFAULT_SIGNALS
                )
        except OSError:
            return False
        if self.keeper is not None:
            self.keeper.track(pid)
        proc = SpawnedProcess(pid)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # out of fds: supervise it from a thread instead
            pidfd = -1
        child = _Child(attempt, token, done, proc, pidfd, start, uses_shell)
        if pidfd < 0:
            child.state = "stopping"
            self._hand_over(child)
            return True
        self._children[pidfd] = child
        self.waker.watch(pidfd, lambda: self._exited(child))
        token.on_cancel(lambda: self._cancelled(child))
        return True

    def _encode(self, key: str) -> bytes:
        encoded = self._keys.get(key)
        if encoded is None:
            encoded = self._keys[key] = key.encode(_FS_ENCODING, _FS_ERRORS)
        return encoded

    def _resolve(self, name: str, path: bytes) -> str | None:
        if "/" in name:
            return name
        key = (name, path)
        if key not in self._paths:
            self._paths[key] = find_program(name, os.fsdecode(path))
        return self._paths[key]

    # ------------------------------------------------------------------ ending
    def _exited(self, child: _Child) -> None:
        """The leader exited (its pidfd is readable); runs in the waiting thread."""
        self._forget(child)
        with self._lock:
            if child.state != "running":
                return  # a stopping thread owns it and reaps it
            child.state = "reaping"
        child.proc.wait()
        if _group_alive(child.proc.pid):
            child.state = "stopping"  # leftovers (`sleep 9 &`): stop them like run_shell does, off this thread
            self._hand_over(child)
            return
        if self.keeper is not None:
            self.keeper.untrack(child.proc.pid)
        outcome = shell_outcome(
            child.proc.returncode,
            "exit",
            None,
            child.uses_shell,
            child.attempt.timeout,
            child.attempt.grace,
            self.clock.monotonic() - child.start,
        )
        child.done(shell_result(outcome, child.attempt, child.token, None))

    def _cancelled(self, child: _Child) -> None:
        """Cancel or timeout requested, from any thread: stop the group from a thread of its own."""
        with self._lock:
            if child.state != "running":
                return
            child.state = "stopping"
        self._hand_over(child)

    def _hand_over(self, child: _Child) -> None:
        threading.Thread(target=self._stop, args=(child,), name=f"dagctl-stop-{child.proc.pid}", daemon=True).start()

    def _stop(self, child: _Child) -> None:
        childsignal.block()  # this thread signals and waits, never starts a process (see dagctl.run.childsignal)
        attempt, token = child.attempt, child.token
        try:
            with ProcessGroup(child.proc) as group:
                ended_by, how = supervise(
                    group,
                    child.start,
                    attempt.timeout,
                    token.requested,
                    token.now,
                    attempt.grace,
                    self.clock,
                    attempt.log_path,
                )
            outcome = shell_outcome(
                child.proc.returncode,
                ended_by,
                how,
                child.uses_shell,
                attempt.timeout,
                attempt.grace,
                self.clock.monotonic() - child.start,
            )
            result = shell_result(outcome, attempt, token, None)
        except BaseException as exc:  # never lose a result: the runner waits for it
            result = AttemptResult(
                status="failed", duration_s=self.clock.monotonic() - child.start, error=f"{type(exc).__name__}: {exc}"
            )
        if self.keeper is not None:
            self.keeper.untrack(child.proc.pid)
        child.done(result)

    def _forget(self, child: _Child) -> None:
        if self._children.pop(child.pidfd, None) is not None:
            self.waker.forget(child.pidfd)  # closing the pidfd takes it out of the epoll set
            os.close(child.pidfd)

    def close(self) -> None:
        """Stop watching. Children still running (a run given up on) are killed, group and all."""
        for child in list(self._children.values()):
            self._forget(child)
            with self._lock:
                running, child.state = child.state == "running", "stopping"
            if running:
                child.token.cancel(now=True)
                self._hand_over(child)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inheritable_fds() -> list[int]:
    """Descriptors above stderr that a child would inherit (``subprocess`` closes them with close_fds)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    found = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:  # the listing's own descriptor, closed by now
                continue
    return found


def find_program(name: str, path: str) -> str | None:
    """``shutil.which(name, path=path)`` on POSIX: the first ``folder/name`` along ``path`` that is an
    executable file (an empty entry is the current folder). Written out because :mod:`shutil` and what it
    imports cost ~1.5 ms of every start."""
    for folder in path.split(os.pathsep) if path else ():
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None
