"""Process groups: wait on a child promptly and take its whole tree down when it has to go.

A task is started as the leader of its own session and process group (``start_new_session=True``), so
everything it forks — shells, pipelines, background jobs, grandchildren — shares one process group id,
the leader's pid. Stopping a task means signalling that group, never just the leader.

Waiting. On Linux (5.3+) a pidfd becomes readable the instant the child exits, so :meth:`ProcessGroup.wait`
polls it and the child is reaped within a millisecond of exiting, however long the poll slice. Elsewhere it
falls back to ``Popen.wait(timeout)``, which polls with a 0.5 ms → 50 ms backoff. Callers wait in short
slices (:data:`POLL_INTERVAL`) so they can notice a cancel event between slices without a thread per task.

Zombies. Orphaned group members are reparented to init (or a subreaper), which may reap them late — some
container inits take seconds. A zombie still counts for ``kill(2)``, so on Linux "is anything of the group
still alive" reads ``/proc`` and ignores zombies; elsewhere it trusts ``killpg(pgid, 0)``. The fast path
(the group is empty, as after almost every task) is a single ``killpg(pgid, 0)`` that fails with ESRCH.

Limits, on purpose. A process that leaves the group (``setsid``, ``setpgid``, a double-forking daemon) is
out of reach; contain those with a cgroup (``systemd-run --scope``) instead. The group id is the leader's
pid and stays reserved while any member (zombies included) exists; once the group is empty the kernel could
hand the number out again, but pids are allocated cyclically, so that needs ``pid_max`` forks in between.
"""

from __future__ import annotations

import math
import os
import select
import signal
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    import subprocess
    from typing import Literal

    from dagctl.protocols import Clock

    StopResult = Literal["stopped", "killed_after_grace", "killed_at_once"]


def _log() -> logging.Logger:
    """This module's logger; logging is imported on first use (it costs ~2 ms of every start-up)."""
    import logging

    return logging.getLogger(__name__)


POLL_INTERVAL = 0.05
"""Longest single wait, in seconds: how late a cancel event or a deadline can be noticed."""

REAP_AFTER_KILL = 10.0
"""How long to wait for the leader after SIGKILL before giving up (a process stuck in uninterruptible IO)."""

_ZOMBIE_STATES = (b"Z", b"X")


class SpawnedProcess:
    """The bits of ``subprocess.Popen`` a :class:`ProcessGroup` needs, for a child started with posix_spawn."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Like ``Popen.wait``: reap the child, or raise ``subprocess.TimeoutExpired`` after ``timeout``."""
        if timeout is not None and self.poll() is None:
            pidfd = os.pidfd_open(self.pid)  # only used where pidfds exist (see executors.spawner)
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if not poller.poll(max(0, math.ceil(timeout * 1000))):
                    import subprocess  # for its exception only: subprocess is not needed to run tasks

                    raise subprocess.TimeoutExpired(str(self.pid), timeout)
            finally:
                os.close(pidfd)
        while self.returncode is None:
            self._reap(0)
        return self.returncode

    def _reap(self, flags: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): like Popen, call it a clean exit
            self.returncode = 0
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


class ProcessGroup:
    """The process group led by ``proc``, which must have been started with ``start_new_session=True``."""

    def __init__(self, proc: subprocess.Popen[bytes] | SpawnedProcess) -> None:
        self.proc = proc
        self.pgid = proc.pid
        self._pidfd = -1
        self._poller: select.poll | None = None
        if hasattr(os, "pidfd_open") and hasattr(select, "poll"):
            try:
                self._pidfd = os.pidfd_open(proc.pid)
            except OSError:  # old kernel, seccomp, or already reaped by someone else: fall back
                self._pidfd = -1
            else:
                self._poller = select.poll()
                self._poller.register(self._pidfd, select.POLLIN)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
            self._poller = None

    # -- waiting -------------------------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the leader to exit; reap it and return True if it did."""
        if self.proc.returncode is not None:
            return True
        if self._poller is not None:
            if not self._poller.poll(max(0, math.ceil(timeout * 1000))):
                return False
            self.proc.wait()  # readable pidfd: the leader is a zombie, so this returns at once
            return True
        import subprocess  # only where there are no pidfds

        try:
            self.proc.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def members_alive(self) -> bool:
        """Whether any process of the group other than zombies is still running (the leader included)."""
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a member changed uid (setuid program): it exists, we cannot touch it
            return True
        if self.proc.returncode is None:
            return True
        return _live_member_in_proc(self.pgid)

    # -- signalling ----------------------------------------------------------------------------------------

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process in the group; a group that is already gone is fine."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            _log().warning("cannot send %s to process group %d: %s", signal_name(sig), self.pgid, exc)

    def stop(self, *, grace: float, clock: Clock, kill_now: threading.Event | None = None) -> StopResult:
        """SIGTERM the group, wait up to ``grace`` seconds for it to go, then SIGKILL whatever is left.

        ``kill_now`` (a second Ctrl+C) skips or cuts short the grace period. Returns how it ended. The
        leader is reaped on return (unless it is stuck even after SIGKILL, which is logged).
        """
        if kill_now is not None and kill_now.is_set():
            self.kill(clock)
            return "killed_at_once"
        self.signal(signal.SIGTERM)
        deadline = clock.monotonic() + grace
        idle = threading.Event()  # never set: a pause between /proc checks that is not a sleep
        pause = 0.001
        while True:
            leader_running = self.proc.returncode is None
            if not leader_running and not self.members_alive():
                return "stopped"
            if kill_now is not None and kill_now.is_set():
                self.kill(clock)
                return "killed_at_once"
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            if leader_running:
                self.wait(min(POLL_INTERVAL, remaining))
            else:
                idle.wait(min(pause, remaining))
                pause = min(pause * 2, POLL_INTERVAL)
        # the attempt's outcome says it (`…; still running 5s after SIGTERM, sent SIGKILL`): not dagctl's stderr
        _log().debug("process group %d still running %gs after SIGTERM; sending SIGKILL", self.pgid, grace)
        self.kill(clock)
        return "killed_after_grace"

    def kill(self, clock: Clock) -> None:
        """SIGKILL the whole group, reap the leader and wait (bounded) until no member is still running."""
        self.signal(signal.SIGKILL)
        deadline = clock.monotonic() + REAP_AFTER_KILL
        while not self.wait(POLL_INTERVAL):
            if clock.monotonic() >= deadline:
                _log().error(
                    "pid %d did not exit %gs after SIGKILL (stuck in uninterruptible IO?); leaving it",
                    self.pgid,
                    REAP_AFTER_KILL,
                )
                return
        idle = threading.Event()  # never set: a pause between /proc checks that is not a sleep
        pause = 0.001
        while self.members_alive():  # SIGKILLed members take a moment to die
            if clock.monotonic() >= deadline:
                _log().error("process group %d still running %gs after SIGKILL", self.pgid, REAP_AFTER_KILL)
                return
            idle.wait(pause)
            pause = min(pause * 2, POLL_INTERVAL)


def _live_member_in_proc(pgid: int) -> bool:
    """Scan /proc for a non-zombie process whose process group is ``pgid``; True if /proc is unusable."""
    try:
        entries = os.scandir("/proc")
    except OSError:
        return True
    with entries:
        for entry in entries:
            name = entry.name
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    data = fh.read()
            except OSError:  # exited while we looked
                continue
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and ")", so split after the last ")"
            fields = data[data.rfind(b")") + 2 :].split(b" ", 3)
            if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in _ZOMBIE_STATES:
                return True
    return False


def signal_name(sig: int) -> str:
    """``SIGSEGV`` for 11; ``signal 77`` for a number with no name."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
