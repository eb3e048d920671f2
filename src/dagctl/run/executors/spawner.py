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
  so its error reads exactly as before;
* a spawn that fails for lack of resources (``ulimit -n``, ``ulimit -u``) while children of this spawner run
  waits here, and is spawned when one of them ends (see :class:`ShellSpawner`). Each spawn holds the
  descriptor its pidfd will take from before it starts, so that a child is never started without one.

PATH lookups are cached per run (program, PATH): a program that disappears afterwards makes the spawn fail,
which falls back to the ordinary way and its fresh lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping

from dagctl.errors import DagctlError
from dagctl.run import childsignal
from dagctl.run.actions.proc import ProcessGroup, SpawnedProcess
from dagctl.run.actions.shell import LOG_FLAGS, shell_outcome, split_command, supervise
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken
from dagctl.run.waker import Waker

from .local import SHORTAGES, shell_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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


class _Short(Exception):
    """A spawn failed for lack of resources (an errno of :data:`~.local.SHORTAGES`)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.errno = number


class ShellSpawner:
    """Starts shell attempts from the thread that waits on ``waker`` and reaps them in that thread.

    An attempt that cannot be spawned for lack of resources (``ulimit -n``, ``ulimit -u``: EMFILE, ENFILE, EAGAIN)
    while children of this spawner run is not failed: it waits here, without a thread, and is spawned when one of
    them ends (as are the attempts submitted after it, in order). With none running, nothing here will free
    resources: it goes to ``fallback``, the ordinary way, which waits with a backoff. ``on_short(errno)`` is told
    each time one waits.
    """

    def __init__(
        self,
        waker: Waker,
        clock: Clock,
        base_env: Mapping[str, str],
        keeper: Keeper | None = None,
        *,
        fallback: Callable[[Attempt, CancelToken, Done], None] | None = None,
        on_short: Callable[[int], None] | None = None,
    ) -> None:
        self.waker = waker
        self.clock = clock
        self.keeper = keeper
        self.fallback = fallback
        self.on_short = on_short
        self._parked: deque[list[Any]] = deque()  # [attempt, token, done] waiting for resources, in order
        self.running = 0  # children started here that have not reported yet
        self.started = 0  # children started here
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
        try:  # dup'ed to hold a descriptor for a while (see _start)
            self._null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._null = -1

    # ------------------------------------------------------------------ starting
    def try_start(self, attempt: Attempt, token: CancelToken, done: Done) -> bool:
        """Start ``attempt`` here (or have it wait here for resources) and return True, or return False to have it
        run the ordinary way."""
        if attempt.cwd is not None or attempt.command is None or token.is_cancelled:
            return False
        if self._parked and self.fallback is not None:  # others wait for resources already: behind them
            self._park([attempt, token, done])
            return True
        try:
            return self._start(attempt, token, done)
        except _Short as short:
            if not self.running or self.fallback is None:
                return False
            self._park([attempt, token, done])
            if self.on_short is not None:
                self.on_short(short.errno)
            return True

    def _start(self, attempt: Attempt, token: CancelToken, done: Done) -> bool:
        """Spawn it, or False (the ordinary way says why it cannot be); _Short when resources are lacking."""
        command = attempt.command
        assert command is not None
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
        # the descriptors its pidfd will take (and, the first time, the waker's epoll and pipe), held from before the
        # spawn: out of descriptors, nothing starts (a child without a pidfd needs a thread, and more, to be watched)
        room: list[int] = []
        try:
            for _ in range(1 if self.started else 4):
                room.append(os.dup(self._null) if self._null >= 0 else -1)
        except OSError as exc:
            _close_all(room)
            raise _Short(exc.errno or errno.EMFILE) from None
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
        except OSError as exc:
            if exc.errno in SHORTAGES:
                raise _Short(exc.errno) from None
            return False
        finally:
            _close_all(room)
        with self._lock:
            self.running += 1
            self.started += 1
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
        try:
            self.waker.watch(pidfd, lambda: self._exited(child))
        except OSError:  # its first watch makes an epoll and a pipe: out of fds, supervise it from a thread
            os.close(pidfd)
            child.pidfd, child.state = -1, "stopping"
            self._hand_over(child)
            return True
        self._children[pidfd] = child
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

    # ------------------------------------------------------------------ waiting for resources
    def _park(self, entry: list[Any]) -> None:
        with self._lock:
            self._parked.append(entry)
        token: CancelToken = entry[1]
        token.on_cancel(lambda: self._unpark(entry))

    def _unpark(self, entry: list[Any]) -> None:
        """A waiting attempt was cancelled (from any thread): it ends without having started."""
        with self._lock:
            if not any(e is entry for e in self._parked):
                return  # started meanwhile, or handed on
            self._parked.remove(entry)
        entry[2](AttemptResult(status="cancelled", duration_s=0.0, error="cancelled before start"))

    def _take_parked(self) -> list[Any] | None:
        with self._lock:
            return self._parked.popleft() if self._parked else None

    def _retry_parked(self) -> None:
        """A child ended (in the waiting thread): spawn the attempts waiting for resources, in order, until one
        still cannot start; it waits for the next end, or, with nothing left running, goes the ordinary way."""
        while (entry := self._take_parked()) is not None:
            attempt, token, done = entry
            try:
                if not self._start(attempt, token, done) and self.fallback is not None:
                    self.fallback(attempt, token, done)  # cannot start here at all: the ordinary way says why
            except _Short:
                if not self.running:
                    with self._lock:
                        self._parked.appendleft(entry)
                    self._hand_on_parked()
                    return
                with self._lock:  # (its cancel listener, set when it was parked, still applies)
                    self._parked.appendleft(entry)
                return

    def _hand_on_parked(self) -> None:
        """Nothing of this spawner runs any more: what waits here goes the ordinary way (from any thread)."""
        while self.fallback is not None and (entry := self._take_parked()) is not None:
            self.fallback(*entry)

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
        with self._lock:
            self.running -= 1
        child.done(shell_result(outcome, child.attempt, child.token, None))
        if self._parked:  # what it held is free
            self._retry_parked()

    def _cancelled(self, child: _Child) -> None:
        """Cancel or timeout requested, from any thread: stop the group from a thread of its own."""
        with self._lock:
            if child.state != "running":
                return
            child.state = "stopping"
        self._hand_over(child)

    def _hand_over(self, child: _Child) -> None:
        thread = threading.Thread(target=self._stop, args=(child,), name=f"dagctl-stop-{child.proc.pid}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread to spare (ulimit -u): stop it here rather than lose its result
            self._stop(child)

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
        with self._lock:
            self.running -= 1
            alone = not self.running
        child.done(result)
        if alone:  # (not the waiting thread: it cannot spawn here) nothing else will end to free resources
            self._hand_on_parked()

    def _forget(self, child: _Child) -> None:
        if self._children.pop(child.pidfd, None) is not None:
            self.waker.forget(child.pidfd)  # closing the pidfd takes it out of the epoll set
            os.close(child.pidfd)

    def close(self) -> None:
        """Stop watching. Children still running (a run given up on) are killed, group and all; attempts waiting
        for resources end without having started."""
        while (entry := self._take_parked()) is not None:
            entry[2](AttemptResult(status="cancelled", duration_s=0.0, error="cancelled before start"))
        for child in list(self._children.values()):
            self._forget(child)
            with self._lock:
                running, child.state = child.state == "running", "stopping"
            if running:
                child.token.cancel(now=True)
                self._hand_over(child)
        if self._null >= 0:
            os.close(self._null)
            self._null = -1


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inheritable_fds() -> list[int]:
    """Descriptors above stderr that a child would inherit (``subprocess`` closes them with close_fds).

    One at or above ``ulimit -n`` (a shell's fd 255 when the limit was lowered after it opened it) cannot be named
    in a spawn's file actions (every spawn would fail with EBADF): it is made close-on-exec instead, which keeps it
    from the tasks all the same (no task inherits dagctl's descriptors on any path)."""
    try:
        names = os.listdir("/proc/self/fd")
        limit = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return []
    found = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if not os.get_inheritable(fd):
                    continue
                if 0 < limit <= fd:
                    os.set_inheritable(fd, False)
                else:
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
