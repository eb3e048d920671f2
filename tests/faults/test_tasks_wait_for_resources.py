"""Too few file descriptors or processes for a run (``ulimit -n``, ``ulimit -u``) make its tasks wait, never fail for
good: the run runs fewer at once (``ulimit -n`` is known at its start), tasks that cannot start wait for others to
end, and the run says once which limit is too low. Only when nothing could ever start do they fail, naming the limit;
no thread to spare is a one-line environment error (exit 3)."""

from __future__ import annotations

import errno
import os
import re
import resource
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagctl.run.executors import threads
from dagctl.store.sinks import MemorySink

from .helpers import dagctl, records


def _limit_open_files(n: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _wide(project: Path, count: int, run: str = "sleep 0.2", extra: str = "") -> None:
    lines = [f"  - {{id: t{i:03d}, run: '{run}'{extra}}}" for i in range(count)]
    (project / "wide.yaml").write_text("name: wide\ntasks:\n" + "\n".join(lines) + "\n")


def test_the_open_files_a_run_may_use_cap_how_many_tasks_run_at_once() -> None:
    from dagctl.run.runner import fd_parallelism

    assert fd_parallelism(None, 10, 64) is None  # no limit
    assert fd_parallelism(1024, 15, 64) is None  # fits
    assert fd_parallelism(64, 15, 64) == 41  # one descriptor per running task, 8 kept free
    assert fd_parallelism(16, 15, 64) == 1  # never none
    assert fd_parallelism(64, 15, 1) is None


def test_a_low_open_files_limit_runs_fewer_tasks_at_once_and_none_fails(project: Path) -> None:
    _wide(project, 100)
    proc = dagctl(project, "run", "wide.yaml", "-j", "64", "-q", preexec_fn=_limit_open_files(64))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    [run_dir] = (project / "logs" / "runs").iterdir()
    events = records(run_dir / "events.jsonl")
    assert sum(1 for r in events if r["event"] == "task_ok") == 100
    warnings = [str(r["message"]) for r in events if r["event"] == "run_warning"]
    assert re.fullmatch(
        r"ulimit -n 64 is too low for 64 tasks at once: at most \d+ run at once \(raise it to \d+ or more with "
        r"ulimit -n, or lower -j\)",
        warnings[0],
    ), warnings
    assert all("Too many open files" in w for w in warnings[1:]) and len(warnings) <= 2  # each said once


def test_a_run_with_almost_no_file_descriptors_still_records_its_end(project: Path) -> None:
    # it died importing logging (`cannot use .../logging/__init__.py: Too many open files`) and left no dag_done
    _wide(project, 3, run="true")
    proc = dagctl(project, "run", "wide.yaml", "-q", preexec_fn=_limit_open_files(8))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "Too many open files" in err and "logging" not in err
    [run_dir] = (project / "logs" / "runs").iterdir()
    done = records(run_dir / "events.jsonl")[-1]
    assert done["event"] == "dag_done" and done["status"] == "failed" and "Too many open files" in done["error"]


class _NoProcesses:
    """Every start of a process (posix_spawn, and subprocess's fork) in ``refused`` fails with EAGAIN, as it does
    when the user's processes are at ``ulimit -u``. Counts the starts: keeper_program is not counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refused: Callable[[int], bool]) -> None:
        self.starts = 0
        self.refused = refused
        real_spawn, real_fork_exec = os.posix_spawn, subprocess._fork_exec  # type: ignore[attr-defined]

        def spawn(path: str, argv: Any, *args: Any, **kwargs: Any) -> int:
            if "keeper_program.py" not in " ".join(map(str, argv)):
                self._start()
            return real_spawn(path, argv, *args, **kwargs)

        def fork_exec(*args: Any) -> int:
            self._start()
            return int(real_fork_exec(*args))

        monkeypatch.setattr(os, "posix_spawn", spawn)
        monkeypatch.setattr(subprocess, "_fork_exec", fork_exec)

    def _start(self) -> None:
        self.starts += 1
        if self.refused(self.starts):
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))


@pytest.mark.parametrize("cwd", [False, True], ids=["spawned-by-the-runner", "started-by-a-worker"])
def test_tasks_that_cannot_start_for_lack_of_processes_wait_for_others_to_end(
    proj: Any, monkeypatch: pytest.MonkeyPatch, cwd: bool
) -> None:
    # the first two start, the next eight starts are refused: those tasks wait until one of the first two ends
    refusals = _NoProcesses(monkeypatch, lambda n: 3 <= n <= 10)
    _wide(proj.folder, 6, extra=", cwd: '.'" if cwd else "")
    result, sink = proj.run("wide.yaml", parallelism=4)
    assert isinstance(sink, MemorySink)
    assert result.status == "success", {t.id: t.error for t in result.tasks.values() if t.error}
    assert refusals.starts > 10  # it was refused, and tried again
    warnings = [e.message for e in sink.of("run_warning")]  # type: ignore[attr-defined]
    assert len(warnings) == 1 and re.fullmatch(
        r"ulimit -u \d+ \(processes and threads of this user\) is too low for 4 tasks at once: tasks wait for "
        r"others to end before they start \(Resource temporarily unavailable\); raise it, or lower -j",
        warnings[0],
    ), warnings


def test_tasks_that_can_never_start_fail_naming_the_limit_instead_of_waiting_forever(
    proj: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads, "GIVE_UP_S", 0.3)
    _NoProcesses(monkeypatch, lambda n: True)
    _wide(proj.folder, 3, run="true")
    result, _ = proj.run("wide.yaml", parallelism=2)
    assert result.status == "failed"
    for task in result.tasks.values():
        assert task.status == "failed"
        assert re.fullmatch(
            r"could not start true: Resource temporarily unavailable \(ulimit -u \d+ \(processes and threads of "
            r"this user\) is too low for this run: raise it\)",
            task.error or "",
        ), task.error


def test_no_thread_to_spare_is_a_one_line_environment_error(
    cli: Any, write: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it was `dagctl: internal error: RuntimeError: can't start new thread — ... report it`
    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name.startswith("dagctl-worker"):
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse)
    dag = write("one.yaml", "name: one\ntasks:\n  - {id: a, run: 'true'}\n")
    result = cli("run", str(dag), "-q")
    assert result.code == 3, result
    assert re.fullmatch(
        r"dagctl: error: cannot start a thread: this user has no process left under ulimit -u \d+ — raise it "
        r"\(ulimit -u\), lower -j, or stop some of this user's processes\n",
        result.err,
    ), result.err


class _DiskFullOnce(MemorySink):
    """A sink whose first flush fails (the disk is full): the run stops there and records what it can."""

    infallible = True  # handed the events directly: its failure reaches the runner, as the event log's does

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def flush(self) -> None:
        if not self.failed:
            self.failed = True
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _NoDescriptorForLogging:
    """A module finder under which ``import logging`` fails as it does with no descriptor left (ulimit -n)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "logging":
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), "/usr/lib/python3/logging/__init__.py")


def test_a_run_stopped_when_no_descriptor_is_left_records_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run died in a lazy `import logging` (`cannot use .../logging/__init__.py: Too many open files`) and left no
    # dag_done: nothing it needs to finish may be imported at the moment things fail
    import sys

    from dagctl.run.api import run_dag
    from dagctl.settings import Settings

    dag = tmp_path / "two.yaml"
    dag.write_text("name: two\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: a}\n")
    settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl")
    assert run_dag(dag, settings=settings, write_events=False).status == "success"  # what a run imports: loaded
    sink = _DiskFullOnce()
    monkeypatch.delitem(sys.modules, "logging")
    monkeypatch.setattr(sys, "meta_path", [_NoDescriptorForLogging(), *sys.meta_path])
    result = run_dag(dag, sinks=[sink], settings=settings, write_events=False)
    assert result.status == "failed" and result.halted and "No space left on device" in result.halted
    assert sink.kinds()[0] == "dag_start" and sink.kinds()[-1] == "dag_done"
