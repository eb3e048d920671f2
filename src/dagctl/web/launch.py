"""Starting runs from the server: each one is ``python -m dagctl run ...`` in a session of its own.

A run started here is recorded exactly like any other (its own process writes its events, owns its tasks and
answers ``dagctl cancel``), keeps going if the server stops, and its id is chosen here first (``--run-id``) so
the caller gets it at once. A thread per child waits for it (no zombies) and keeps the end of its stderr: a
run that could not start says why in ``GET /api/runs/{id}``.

Params never go on a child's command line (every local user can read ``/proc/PID/cmdline``, the server logs it,
and the kernel caps one argument at 128 KiB): they are written to an unnamed file readable by the server's user
only, which the child reads as ``--params-file /dev/fd/N`` and which is gone with the last descriptor to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dagctl.clock import SystemClock
from dagctl.errors import EXIT_FAILED, EXIT_OK, DagctlError, EnvironmentProblem, cannot
from dagctl.protocols import Clock
from dagctl.run.state import new_run_id

from .errors import Conflict

log = logging.getLogger(__name__)

KEEP = 256
"""Launches remembered (newest); older ones are forgotten, their runs are on disk anyway."""
STDERR_TAIL = 4096


@dataclass
class Launch:
    """One child started by the server."""

    kind: str  # run | retry | resume
    argv: list[str]
    pid: int
    run_id: str | None
    parent_run_id: str | None = None
    dag_file: Path | None = None
    """The DAG file a ``run`` launch runs (its tasks are known before the run writes its snapshot)."""
    exit_code: int | None = None
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def failure(self) -> tuple[str, str | None]:
        """``(message, hint)``: what the ended child said, as the CLI printed it (``dagctl: error: WHAT — HINT``),
        or the last line of its stderr, or its exit code."""
        return failure_of(self.error, self.exit_code, self.kind)

    def ran_its_run(self) -> bool:
        """Whether its process ended as one that ran its run does (success, or a task failed): then the run wrote
        events, and a run without them now was deleted since (``dagctl prune``), not one that never started."""
        return self.done.is_set() and self.exit_code in (EXIT_OK, EXIT_FAILED)

    def stands_for_run(self) -> bool:
        """Whether it speaks for its run while the run has no events: a ``dagctl run`` started here that has not
        written any yet, or never will (it ended first)."""
        return self.kind == "run" and not self.ran_its_run()

    def as_run(self) -> dict[str, object]:
        """What ``GET /api/runs/{id}`` says of a run that has not written its first event: ``starting``, or
        ``not_started`` with the error when its process ended first."""
        failed = self.done.is_set()
        return {
            "run_id": self.run_id,
            "dag_file": str(self.dag_file) if self.dag_file is not None else None,
            "status": "not_started" if failed else "starting",
            "trigger": "manual",
            "error": (self.error or f"dagctl exited {self.exit_code}") if failed else None,
            "launch": self.to_dict(),
            "tasks": {},
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "pid": self.pid,
            "run_id": self.run_id,
            "parent_run_id": self.parent_run_id,
            "exit_code": self.exit_code,
            "error": self.error or None,
        }


ERROR_PREFIX = "dagctl: error: "


def failure_of(stderr: str, exit_code: int | None, kind: str = "run") -> tuple[str, str | None]:
    """``(message, hint)`` of a ``dagctl`` child that failed, from the end of its stderr (pure)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = next((line for line in reversed(lines) if line.startswith(ERROR_PREFIX)), None)
    if said is not None:
        message, _, hint = said[len(ERROR_PREFIX) :].partition(" — ")
        return message, hint or None
    if lines:
        return lines[-1], None
    return f"dagctl {kind} exited {exit_code}", None


def launch_error(launch: Launch, refused: type[DagctlError]) -> DagctlError:
    """The error of a launch whose process ended before its run started: ``refused`` when the command refused
    (exit 2: bad input, or a run that does not fit), an :class:`EnvironmentProblem` for anything else."""
    message, hint = launch.failure()
    return (refused if launch.exit_code == 2 else EnvironmentProblem)(message, hint=hint)


_NOT_PLAIN = re.compile("[^\x20-\x7e\U00010000-\U0010ffff]")


def params_text(params: Mapping[str, str]) -> bytes:
    """The ``--params-file`` of ``params`` (the texts ``-p key=value`` would give), pure: one line of JSON, which
    ``dagctl run`` reads as YAML and checks as it checks ``-p``. Every character of the Basic Multilingual Plane
    that is not printable ASCII is written as a ``\\uXXXX`` escape: YAML reads some of them raw as line breaks
    (``\\x85``, ``\\u2028``) or refuses them (``\\x7f``); the others (emoji) are plain UTF-8, since YAML refuses
    the surrogate pairs JSON would escape them as."""
    text = json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))
    return _NOT_PLAIN.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8") + b"\n"


def _params_file(params: Mapping[str, str]) -> IO[bytes]:
    """An unnamed file (``O_TMPFILE`` where there is one; else removed at once) holding :func:`params_text`,
    mode 0600, at its start: the child opens it again through ``/dev/fd/N``."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        handle.write(params_text(params))
        handle.flush()
        handle.seek(0)
    except OSError:
        handle.close()
        raise
    return handle


class Launcher:
    """Starts ``dagctl run`` / ``dagctl retry`` processes and remembers the newest :data:`KEEP` of them."""

    def __init__(
        self,
        python: str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.python = python
        self.cwd = cwd
        self.env = dict(os.environ if env is None else env)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        """Held while a retry or resume is checked and started."""
        self._launches: OrderedDict[int, Launch] = OrderedDict()

    def new_run_id(self) -> str:
        return new_run_id(self.clock)

    def start_run(self, dag_file: Path, params: Mapping[str, str], run_id: str) -> Launch:
        argv = [self.python, "-m", "dagctl", "run", str(dag_file), "-q", "--run-id", run_id]
        return self._spawn("run", argv, run_id, dag_file=dag_file, params=params)

    def start_retry(self, parent_run_id: str, from_task: str | None = None) -> Launch:
        """``dagctl retry PARENT``; a :class:`~dagctl.web.errors.Conflict` while a retry of ``parent_run_id``
        started here has not ended (a client retrying its request after a timeout starts no second run)."""
        argv = [self.python, "-m", "dagctl", "retry", parent_run_id, "-q"]
        if from_task:
            argv += ["--from", from_task]
        with self._starting:  # checked and started as one step: of requests at once, one starts it
            going = self._going("retry", parent_run_id=parent_run_id)
            if going is not None:
                which = f"run {going.run_id}" if going.run_id else "a run that is starting"
                raise Conflict(
                    f"run {parent_run_id} is being retried already: {which} (dagctl retry, pid {going.pid})",
                    hint="wait for that retry to end, then retry again if it is still needed",
                )
            return self._spawn("retry", argv, None, parent_run_id)

    def start_resume(self, run_id: str) -> Launch:
        """``dagctl resume RUN``: a paused or abandoned run goes on, in the same run id; a
        :class:`~dagctl.web.errors.Conflict` while a resume of it started here has not ended."""
        with self._starting:
            going = self._going("resume", run_id=run_id)
            if going is not None:
                raise Conflict(
                    f"run {run_id} is being resumed already (dagctl resume, pid {going.pid})",
                    hint=f"follow it: GET /api/runs/{run_id}",
                )
            return self._spawn("resume", [self.python, "-m", "dagctl", "resume", run_id, "-q"], run_id)

    def _going(self, kind: str, *, run_id: str | None = None, parent_run_id: str | None = None) -> Launch | None:
        """A launch of ``kind`` for that run whose process has not ended."""
        for launch in self.launches():
            if launch.kind != kind or launch.done.is_set():
                continue
            if (run_id is not None and launch.run_id == run_id) or (
                parent_run_id is not None and launch.parent_run_id == parent_run_id
            ):
                return launch
        return None

    def _spawn(
        self,
        kind: str,
        argv: Sequence[str],
        run_id: str | None,
        parent_run_id: str | None = None,
        *,
        dag_file: Path | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Launch:
        # not a pipe: the child must never block or break on it if we go away; closed by the reaper
        err = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            given = _params_file(params) if params else None
        except OSError as exc:
            err.close()
            raise cannot("write the params of the run in", tempfile.gettempdir(), exc) from None
        if given is not None:
            argv = [*argv, "--params-file", f"/dev/fd/{given.fileno()}"]
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,  # its own session: our signals (and a Ctrl+C) are not its
                close_fds=True,
                pass_fds=() if given is None else (given.fileno(),),
            )
        except OSError as exc:
            err.close()
            raise EnvironmentProblem(
                f"cannot start {' '.join(argv[:5])}: {exc.strerror or exc}",
                hint="check that the server's Python can run dagctl (python -m dagctl --version)",
            ) from None
        finally:
            if given is not None:
                given.close()  # the child has its own descriptor of it
        launch = Launch(
            kind=kind, argv=list(argv), pid=proc.pid, run_id=run_id, parent_run_id=parent_run_id, dag_file=dag_file
        )
        with self._lock:
            self._launches[proc.pid] = launch
            while len(self._launches) > KEEP:
                self._launches.popitem(last=False)
        reaper = threading.Thread(target=self._reap, args=(proc, err, launch), name=f"reap-{proc.pid}", daemon=True)
        reaper.start()
        log.info("started %s (pid %d)", " ".join(argv[2:]), proc.pid)
        return launch

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes], err: tempfile._TemporaryFileWrapper[bytes], launch: Launch) -> None:
        code = proc.wait()
        try:
            err.seek(max(0, err.seek(0, os.SEEK_END) - STDERR_TAIL))
            launch.error = err.read().decode("utf-8", "replace").strip()
        except OSError:
            pass
        finally:
            err.close()
        launch.exit_code = code
        launch.done.set()
        if code not in (0, 1):
            log.warning("%s exited %d: %s", " ".join(launch.argv[2:5]), code, launch.error[-500:])

    def by_run_id(self, run_id: str) -> Launch | None:
        with self._lock:
            return next((la for la in reversed(self._launches.values()) if la.run_id == run_id), None)

    def launches(self) -> list[Launch]:
        with self._lock:
            return list(self._launches.values())

    def running(self) -> int:
        return sum(1 for la in self.launches() if not la.done.is_set())

    def terminate_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child still running, by process group, and wait for them (tests; never on shutdown)."""
        for launch in self.launches():
            if launch.done.is_set():
                continue
            try:
                os.killpg(launch.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
        for launch in self.launches():
            if not launch.done.wait(timeout):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(launch.pid, signal.SIGKILL)
                launch.done.wait(timeout)
