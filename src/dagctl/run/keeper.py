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

A keeper that dies before its coordinator (``kill -9`` of it, the OOM killer) is replaced at once by a new one,
told of every group still listed; one that cannot be started (no process left under ``ulimit -u``) is tried again
when a task ends. The runs using it record both as a ``run_warning`` (:meth:`Keeper.listen`): until a keeper runs
again, killing the coordinator would leave its tasks running.

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

from dagctl.store.events import KEEPER_GONE, KEEPER_NOTE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MARKER_ENV = "DAGCTL_COORDINATOR"
KEEPER_GRACE_S = 1.0
"""Seconds between SIGTERM and SIGKILL for the groups of a dead coordinator (they are gone within ~1.2 s)."""

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keeper_program.py")
"""The keeper itself: a standalone script (``python -I -S``: no site, no dagctl import, ~10 ms to start)."""


class Keeper:
    """The coordinator's end of the keeper: started on the first :meth:`track`, thread-safe, fork-aware.

    It keeps the groups it listed, so that a keeper that died (``kill -9``, the OOM killer) is replaced at once by a
    new one told of them all: a thread waits for the keeper's exit (and a write to its pipe that fails says so
    too). A keeper that cannot be started (``ulimit -u``: no process left for this user) is tried again once a
    task has ended. Either way the runs using it are told (:meth:`listen`): they record a ``run_warning``, since
    their tasks would outlive this process if it were killed meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()
        self.keeper_pid: int | None = None
        self._groups: set[int] = set()  # listed: a new keeper is told of them if this one dies
        self._gone: str | None = None  # why no keeper runs, when one could not be started
        self._retry = False  # a task ended since: a process may be free for a keeper now
        self._listeners: list[Callable[[str], None]] = []

    def marker(self) -> tuple[str, str]:
        """The environment variable every task started here carries, naming this process (pid, start time)."""
        from dagctl.host import process_start_ticks

        pid = os.getpid()
        return MARKER_ENV, f"{pid}:{process_start_ticks(pid) or 0:.0f}"

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(message)`` (from any thread) when the keeper died or cannot start, and when it runs
        again: what a run records as a ``run_warning``. Told at once if no keeper runs now."""
        with self._lock:
            self._listeners.append(listener)
            gone = self._gone
        if gone is not None:
            listener(gone)

    def unlisten(self, listener: Callable[[str], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def track(self, pgid: int) -> None:
        """A task's process group started: stop it if this process dies before :meth:`untrack`."""
        self._send(pgid, b"+%d\n" % pgid)

    def untrack(self, pgid: int) -> None:
        """The group is gone (its leader reaped, its members stopped)."""
        self._send(-pgid, b"-%d\n" % pgid)

    def close(self) -> None:
        """No more tasks from here: the keeper exits (killing nothing, as every group was untracked)."""
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                with contextlib.suppress(OSError):
                    os.write(self._fd, b".\n")  # a goodbye: nothing to look for
                os.close(self._fd)
            self._fd = None
            self.keeper_pid = None  # its watcher reaps it once it has read the end of its pipe, and starts no other

    def _send(self, change: int, data: bytes) -> None:
        told: tuple[list[Callable[[str], None]], str] | None = None
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not write into its parent's keeper
                self._pid, self._fd, self.keeper_pid, self._groups = os.getpid(), None, None, set()
                self._gone, self._retry, self._listeners = None, False, []
            if change > 0:
                self._groups.add(change)
            else:
                self._groups.discard(-change)
                self._retry = self._gone is not None
            if self._fd is not None:
                try:
                    os.write(self._fd, data)
                except OSError:  # the keeper is gone (killed): a new one, told of every group
                    told = self._replace(self.keeper_pid, "stopped reading its pipe")
            elif change > 0 and (self._gone is None or self._retry):
                told = self._replace(None, "")
        if told is not None:
            for listener in told[0]:  # outside the lock: a listener may take time
                listener(told[1])

    def _replace(self, dead: int | None, how: str) -> tuple[list[Callable[[str], None]], str] | None:
        """Start a keeper (a new one when the keeper ``dead`` died ``how``) and list every group to it. Lock held.
        Returns the listeners to tell and what, if there is something to say."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self.keeper_pid = None, None
        was_gone, self._retry = self._gone, False
        why = self._start()
        if why is None:
            assert self._fd is not None
            _write_all(self._fd, b"".join(b"+%d\n" % g for g in sorted(self._groups)))
            self._gone = None
            if dead is not None:
                said = f"{KEEPER_NOTE} (pid {dead}) {how}; a new one (pid {self.keeper_pid}) stops its tasks"
            elif was_gone is not None:
                said = f"{KEEPER_NOTE} started after all (pid {self.keeper_pid}): it stops its tasks"
            else:
                return None
            return list(self._listeners), said + " if this process is killed"
        what = (
            f"pid {dead} {how}; a new one could not start: {why}" if dead is not None else f"it could not start: {why}"
        )
        self._gone = (
            f"{KEEPER_GONE} ({what}): if this process is killed, its tasks will not be stopped "
            "(a new keeper is tried when a task ends)"
        )
        if was_gone is not None and dead is None:
            return None  # said already
        return list(self._listeners), self._gone

    def _start(self) -> str | None:
        """Spawn the keeper and a thread that waits for its end. Lock held. Why it could not start, or None."""
        try:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
        except OSError as exc:
            return exc.strerror or str(exc)
        try:
            pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", PROGRAM, str(os.getpid()), str(KEEPER_GRACE_S), self.marker()[1]],
                {"PATH": os.environ.get("PATH", os.defpath)},
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
                setsid=True,
            )
        except OSError as exc:
            os.close(write_end)
            return exc.strerror or str(exc)
        finally:
            os.close(read_end)
        self._fd, self.keeper_pid = write_end, pid
        watcher = threading.Thread(target=self._watch, args=(pid,), name="dagctl-keeper-watch", daemon=True)
        with contextlib.suppress(RuntimeError):  # no thread to spare (ulimit -u): a death is seen at the next write
            watcher.start()
        return None

    def _watch(self, pid: int) -> None:
        """Reap the keeper ``pid`` when it exits; if this process had not closed it, start a new one."""
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return
        with self._lock:
            if self.keeper_pid != pid or self._pid != os.getpid():
                return  # closed (it exited after the goodbye), or replaced already
            how = f"was killed by {_signal_name(status)}" if os.WIFSIGNALED(status) else "exited"
            told = self._replace(pid, how)
        if told is not None:
            for listener in told[0]:
                listener(told[1])


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except OSError:
            return  # that keeper died too: its watcher starts the next one


def _signal_name(status: int) -> str:
    import signal

    try:
        return signal.Signals(os.WTERMSIG(status)).name
    except ValueError:
        return f"signal {os.WTERMSIG(status)}"


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
