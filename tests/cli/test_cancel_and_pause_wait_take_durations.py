"""`dagctl cancel --wait` and `dagctl pause --wait` take durations (`5s`, `2m`) as every other duration option does,
and `cancel` exits 1 when the run has not stopped within --wait, as `pause` does, so `dagctl cancel RUN && next`
goes on only once the run is over."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from tests.cli.test_run_cli import dagctl, events, wait_for

STUBBORN = """\
name: stubborn
tasks:
  - id: work
    run: "trap 'echo asked >> {asked}' TERM; echo $$ > {pidfile}; while :; do sleep 0.2; done"
"""
"""A task that notes SIGTERM and goes on: with a long grace period the run stays up after a cancel."""


@contextlib.contextmanager
def stubborn_run(project: Path) -> Iterator[Path]:
    pidfile, asked = project / "task.pid", project / "asked.txt"
    (project / "dag.yaml").write_text(STUBBORN.format(pidfile=pidfile, asked=asked))
    run = dagctl("run", "dag.yaml", "-q", cwd=project, env={"DAGCTL_GRACE": "60"})
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
        wait_for(lambda: any(e["event"] == "task_start" for e in events(project)))
        yield asked
    finally:
        run.kill()
        run.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pidfile.read_text().strip()), signal.SIGKILL)


def test_cancel_waits_for_a_duration_and_exits_1_while_the_run_still_stops(project: Path) -> None:
    with stubborn_run(project) as asked:
        cancel = dagctl("cancel", "latest", "--wait", "1s", cwd=project)
        out, err = cancel.communicate(timeout=60)
        assert cancel.returncode == 1, (out, err)
        assert "is still stopping after 1s" in err
        wait_for(asked.exists)  # the task was asked to stop: the cancel stays requested
        again = dagctl("cancel", "latest", "--wait", "0", "--json", cwd=project)
        out, _ = again.communicate(timeout=60)
        assert again.returncode == 0  # only asked: nothing to wait for


def test_pause_takes_a_duration_too(project: Path) -> None:
    with stubborn_run(project):
        pause = dagctl("pause", "latest", "--wait", "500ms", cwd=project)
        _, err = pause.communicate(timeout=60)
        assert pause.returncode == 1, err  # its running task goes on: not paused within half a second
        assert "not a valid float" not in err


def test_a_wait_that_is_no_duration_is_one_line_and_exit_2(project: Path) -> None:
    bad = dagctl("cancel", "latest", "--wait", "soon", cwd=project)
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2
    [line] = err.strip().splitlines()
    assert line.startswith("dagctl: error: --wait: ")
