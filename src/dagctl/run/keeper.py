"""No task outlives the process that started it: a keeper process stops the tasks of a coordinator that died.

Tasks run in process groups of their own (so a cancel can stop a whole tree), which also means the kernel does
not stop them when the dagctl process that started them is killed (``kill -9``, the OOM killer): they would be
reparented to init and run on, writing into a run already judged ``abandoned``. So the first time a process
starts a task it also starts a *keeper*: a tiny Python program in a session of its own, which ignores the
usual stop signals and reads one pipe from its coordinator. The coordinator writes ``+PGID`` after starting a
task's process group and ``-PGID`` once the group is gone. When the pipe reaches its end while groups are
still listed, the coordinator is gone (the kernel closes the pipe however it died): the keeper sends each
group SIGTERM, waits up to :data:`KEEPER_GRACE_S`, sends SIGKILL to what is left, and exits. A coordinator
that ends normally has no group listed, and its keeper just exits.

A group started in the instant before its ``+PGID`` is written (a loaded machine can stretch that instant long
enough for the task to run) is caught another way: every task process gets ``DAGCTL_COORDINATOR`` (the
coordinator's pid and start time, :meth:`Keeper.marker`), and a keeper whose coordinator died without saying
goodbye (``.``, written by :meth:`Keeper.close`) also stops the groups of every process that carries it.
Limits (docs/operating.md): a task that drops that variable from its environment and was not yet listed
escapes; processes a Python task starts from inside the coordinator (``subprocess`` in a ``python:`` task
running in a thread) are not tracked. ``dagctl retry`` and ``resume`` also refuse to start a task while a
process of the earlier run still runs (:func:`processes_of_run`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

MARKER_ENV = "DAGCTL_COORDINATOR"
KEEPER_GRACE_S = 1.0
"""Seconds between SIGTERM and SIGKILL for the groups of a dead coordinator (they are gone within ~1.2 s)."""

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keeper_program.py")
"""The keeper itself: a standalone script (``python -I -S``: no site, no dagctl import, ~10 ms to start)."""


class Keeper:
    """The coordinator's end of the keeper: started on the first :meth:`track`, thread-safe, fork-aware."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()
        self.keeper_pid: int | None = None
        self._broken = False

    def marker(self) -> tuple[str, str]:
        """The environment variable every task started here carries, naming this process (pid, start time)."""
        from dagctl.host import process_start_ticks

        pid = os.getpid()
        return MARKER_ENV, f"{pid}:{process_start_ticks(pid) or 0:.0f}"

    def track(self, pgid: int) -> None:
        """A task's process group started: stop it if this process dies before :meth:`untrack`."""
        self._send(b"+%d\n" % pgid, start=True)

    def untrack(self, pgid: int) -> None:
        """The group is gone (its leader reaped, its members stopped)."""
        self._send(b"-%d\n" % pgid, start=False)

    def close(self) -> None:
        """No more tasks from here: the keeper exits (killing nothing, as every group was untracked)."""
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                with contextlib.suppress(OSError):
                    os.write(self._fd, b".\n")  # a goodbye: nothing to look for
                os.close(self._fd)
            self._fd = None
            if self.keeper_pid is not None and self._pid == os.getpid():
                _reap_later(self.keeper_pid)
            self.keeper_pid = None

    def _send(self, data: bytes, *, start: bool) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not write into its parent's keeper
                self._pid, self._fd, self.keeper_pid, self._broken = os.getpid(), None, None, False
            if self._fd is None:
                if not start or self._broken:
                    return
                self._start()
                if self._fd is None:
                    return
            try:
                os.write(self._fd, data)
            except OSError:  # the keeper is gone (killed by hand): tasks run unguarded, as before it existed
                os.close(self._fd)
                self._fd, self._broken = None, True

    def _start(self) -> None:
        try:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
        except OSError:
            self._broken = True
            return
        try:
            pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", PROGRAM, str(os.getpid()), str(KEEPER_GRACE_S), self.marker()[1]],
                {"PATH": os.environ.get("PATH", os.defpath)},
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
                setsid=True,
            )
        except OSError:
            os.close(write_end)
            self._broken = True
            return
        finally:
            os.close(read_end)
        self._fd, self.keeper_pid = write_end, pid


def _reap_later(pid: int) -> None:
    """Collect the keeper's exit status once it has read the end of its pipe, without waiting here."""

    def reap() -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    threading.Thread(target=reap, name="dagctl-keeper-reap", daemon=True).start()


def processes_of_run(run_id: str) -> list[tuple[int, str]]:
    """``(pid, task id)`` of every live process of this user whose environment says it belongs to ``run_id``
    (every task gets ``DAGCTL_RUN_ID``). Linux ``/proc``; empty elsewhere."""
    wanted = b"DAGCTL_RUN_ID=" + run_id.encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                variables = fh.read().split(b"\0")
        except OSError:  # gone, or another user's
            continue
        if wanted in variables:
            task = next((v[len(b"DAGCTL_TASK_ID=") :] for v in variables if v.startswith(b"DAGCTL_TASK_ID=")), b"")
            found.append((int(entry), task.decode(errors="replace")))
    return sorted(found)
