"""A keeper killed under a running run (``kill -9``, the OOM killer) is replaced at once, and the run says so: a
later SIGKILL of the run still stops its tasks. A keeper that cannot start at all (no process left under
``ulimit -u``) is recorded once as a ``run_warning``, and tried again when a task ends. Real processes; everything a
test starts is stopped by PID."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from pathlib import Path

import pytest

from dagctl.run import keeper as keeper_module
from dagctl.run.keeper import Keeper
from dagctl.store.sinks import MemorySink
from tests.support import process_alive, wait_until

from .helpers import dagctl, records

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the keeper scans /proc (Linux)")

THREE = """\
name: three
tasks:
  - {id: a, run: "echo $$ > a.pid; exec sleep 60"}
  - {id: b, run: "echo $$ > b.pid; exec sleep 60"}
  - {id: c, run: "echo $$ > c.pid; exec sleep 60"}
"""


def _children(pid: int, program: str) -> list[int]:
    """The processes whose parent is ``pid`` and whose command line names ``program``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(") ", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and program.encode() in cmdline:
            found.append(int(entry))
    return found


def _task_pids(project: Path) -> list[int]:
    files = [project / f"{name}.pid" for name in "abc"]
    return [int(f.read_text()) for f in files if f.exists() and f.read_text().strip()]


def test_a_killed_keeper_is_replaced_and_the_tasks_still_die_with_the_run(project: Path) -> None:
    (project / "three.yaml").write_text(THREE)
    proc = dagctl(project, "run", "three.yaml", "-q", "-j", "3")
    pids: list[int] = []
    try:
        wait_until(lambda: len(_task_pids(project)) == 3, timeout=20, what="every task started")
        pids = _task_pids(project)
        [first] = wait_until(lambda: _children(proc.pid, "keeper_program.py"), timeout=10, what="the keeper")
        os.kill(first, signal.SIGKILL)
        [run_dir] = (project / "logs" / "runs").iterdir()

        def said() -> list[str]:
            return [str(r["message"]) for r in records(run_dir / "events.jsonl") if r["event"] == "run_warning"]

        wait_until(said, timeout=10, what="the run recording that its keeper died")
        [message] = said()
        assert message.startswith(f"the keeper of this run (pid {first}) was killed by SIGKILL; a new one (pid ")
        assert message.endswith(") stops its tasks if this process is killed")
        [second] = _children(proc.pid, "keeper_program.py")
        assert second != first and f"(pid {second})" in message
        proc.kill()  # the run dies too: its new keeper stops the tasks
        proc.wait(timeout=10)
        wait_until(lambda: not any(process_alive(p) for p in pids), timeout=5.0, what="the tasks stopped")
    finally:
        proc.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_keeper_that_cannot_start_is_said_once_and_tried_again_when_a_task_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_spawn = os.posix_spawn
    refuse = [True]

    def spawn(path: str, argv: list[str], *args: object, **kwargs: object) -> int:
        if refuse[0] and keeper_module.PROGRAM in argv:
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))  # as under ulimit -u
        return real_spawn(path, argv, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "posix_spawn", spawn)
    task = subprocess.Popen(["sleep", "30"], start_new_session=True)
    keeper = Keeper()
    heard: list[str] = []
    keeper.listen(heard.append)
    try:
        keeper.track(task.pid)
        keeper.track(task.pid + 1_000_000)  # (a group that does not exist: only listed)
        assert keeper.keeper_pid is None
        assert heard == [
            "the keeper of this run is gone (it could not start: Resource temporarily unavailable): if this process "
            "is killed, its tasks will not be stopped (a new keeper is tried when a task ends)"
        ]
        late: list[str] = []
        keeper.listen(late.append)  # a run that begins meanwhile is told at once
        assert late == heard
        refuse[0] = False
        keeper.untrack(task.pid + 1_000_000)  # a task ended: a process may be free now
        keeper.track(task.pid + 2_000_000)
        assert keeper.keeper_pid is not None
        assert heard[1:] == [
            f"the keeper of this run started after all (pid {keeper.keeper_pid}): it stops its tasks if this "
            "process is killed"
        ]
    finally:
        keeper.untrack(task.pid)
        keeper.untrack(task.pid + 2_000_000)
        keeper.close()
        task.kill()
        task.wait(timeout=10)


def test_a_run_whose_keeper_cannot_start_records_it_once(
    monkeypatch: pytest.MonkeyPatch, proj: object, tmp_path: Path
) -> None:
    real_spawn = os.posix_spawn

    def spawn(path: str, argv: list[str], *args: object, **kwargs: object) -> int:
        if keeper_module.PROGRAM in argv:
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        return real_spawn(path, argv, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "posix_spawn", spawn)
    text = "name: four\ntasks:\n" + "".join(f"  - {{id: t{i}, run: 'true'}}\n" for i in range(4))
    result, sink = proj.run("four.yaml", text, parallelism=2)  # type: ignore[attr-defined]
    assert isinstance(sink, MemorySink) and result.status == "success"
    warnings = [e.message for e in sink.of("run_warning")]  # type: ignore[attr-defined]
    assert warnings == [
        "the keeper of this run is gone (it could not start: Resource temporarily unavailable): if this process is "
        "killed, its tasks will not be stopped (a new keeper is tried when a task ends)"
    ]
