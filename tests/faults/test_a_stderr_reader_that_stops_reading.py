"""A reader of dagctl's stderr that stops reading (a stopped `tee`, a stalled log shipper, `| (sleep 30; cat)`)
neither slows the run nor delays a signal, and cannot hang dagctl's exit: the exit code stays the run's."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import small_tmpfs, wait_until

from .helpers import dagctl, records

ENDS_WITHIN_S = 5 + 10
"""dagctl waits 5 s at most for a reader that does not read (dagctl.cli.plain.END_WAIT_S), then exits: a margin."""

QUICK = 150
"""Quick tasks: ~300 plain lines, ~15 KB, none of which the full pipe the tests give stderr takes."""


def _dag(name: str, *extra: str) -> str:
    tasks = "".join(f"  - {{id: q{i:03d}, run: 'true'}}\n" for i in range(QUICK))
    return f"name: {name}\noptions: {{parallelism: 4}}\ntasks:\n{tasks}" + "".join(extra)


@pytest.fixture
def stalled_pipe() -> Iterator[int]:
    """The write end of a pipe whose reader never reads (it stays open: no EPIPE), full from the start: its one
    page holds 4 KB written before dagctl starts, so every write of dagctl's to it waits."""
    read_end, write_end = os.pipe()
    assert fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096) == 4096
    os.set_blocking(write_end, False)
    assert os.write(write_end, b"#" * 4096) == 4096
    with pytest.raises(BlockingIOError):
        os.write(write_end, b"#")
    os.set_blocking(write_end, True)
    try:
        yield write_end
    finally:
        os.close(write_end)
        os.close(read_end)


def _events(project: Path, kind: str) -> list[dict[str, object]]:
    return [r for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == kind]


def test_a_run_whose_stderr_is_not_read_runs_every_task_and_exits_with_its_code(
    project: Path, stalled_pipe: int
) -> None:
    (project / "fails.yaml").write_text(_dag("fails", "  - {id: bad, run: 'exit 4'}\n"))
    proc = dagctl(project, "run", "fails.yaml", stdout=subprocess.DEVNULL, stderr=stalled_pipe)
    try:
        # the plain lines filled the pipe long before the end: the run went on, and its end waited a few seconds
        code = proc.wait(timeout=ENDS_WITHIN_S + 20)
    finally:
        proc.kill()
    assert code == 1  # the run's: bad failed
    [done] = _events(project, "dag_done")
    assert done["status"] == "failed"
    assert len(_events(project, "task_ok")) == QUICK


IGNORES_TERM = "  - {id: slow, run: \"trap 'echo asked >> asked.txt' TERM; while :; do sleep 1; done\"}\n"
"""A task that notes SIGTERM and goes on: only the second signal (SIGKILL at once) ends it."""


@pytest.mark.parametrize(
    "first",
    [pytest.param(signal.SIGTERM, id="SIGTERM-then-SIGINT"), pytest.param(signal.SIGINT, id="SIGINT-then-SIGTERM")],
)
def test_signals_stop_a_run_whose_stderr_is_not_read(project: Path, stalled_pipe: int, first: signal.Signals) -> None:
    """SIGTERM then SIGINT (or the other way round) stop the run at once, not when the reader reads again: the
    first asks the tasks to stop (this one goes on, and the grace period is a minute), the second kills them."""
    (project / "stuck.yaml").write_text(_dag("stuck", IGNORES_TERM))
    proc = dagctl(
        project, "run", "stuck.yaml", stdout=subprocess.DEVNULL, stderr=stalled_pipe, env={"DAGCTL_GRACE": "60"}
    )
    try:
        wait_until(
            lambda: (
                len(_events(project, "task_ok")) == QUICK
                and any(r["task_id"] == "slow" for r in _events(project, "task_start"))
            ),
            timeout=60,
            what="every quick task done while the pipe is full, and the slow one started",
        )
        proc.send_signal(first)
        wait_until((project / "asked.txt").exists, timeout=20, what="the first signal passed on to the task")
        proc.send_signal(signal.SIGINT if first == signal.SIGTERM else signal.SIGTERM)
        wait_until(lambda: _events(project, "dag_done"), timeout=20, what="the run ended before the grace period")
        code = proc.wait(timeout=ENDS_WITHIN_S)
    finally:
        proc.kill()
    assert code == 128 + first
    [done] = _events(project, "dag_done")
    assert done["status"] == "cancelled"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_the_end_waits_for_the_reader_ends_the_wait(
    project: Path, stalled_pipe: int, sig: signal.Signals
) -> None:
    """The run is over and dagctl gives the reader a few seconds: a signal ends that wait, and the exit code stays
    the run's (not death by SIGTERM, nor a hang writing `dagctl: interrupted` to the full pipe)."""
    (project / "fails.yaml").write_text(_dag("fails", "  - {id: bad, run: 'exit 4'}\n"))
    proc = dagctl(project, "run", "fails.yaml", stdout=subprocess.DEVNULL, stderr=stalled_pipe)
    try:
        wait_until(lambda: _events(project, "dag_done"), timeout=60, what="the run's end")
        proc.send_signal(sig)
        code = proc.wait(timeout=ENDS_WITHIN_S)
    finally:
        proc.kill()
    assert code == 1


@pytest.fixture
def full_cache_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A task cache folder on a disk with no room left: every entry a run stores fails, and the runner warns."""
    for where in small_tmpfs(tmp_path_factory.mktemp("full-cache"), "256k"):
        with contextlib.suppress(OSError), (where / "filler").open("wb") as fh:  # ENOSPC ends it
            while True:
                fh.write(b"x" * 65536)
                fh.flush()
        yield where


def test_warnings_logged_during_a_run_whose_stderr_is_not_read_do_not_hold_it(
    project: Path, stalled_pipe: int, full_cache_disk: Path
) -> None:
    """Logging's warnings (here: a task's cache entry that cannot be stored) go through the writer's thread as the
    plain lines do: the runner's thread, which logs them, never waits for the reader, so the run goes on."""
    cached = "".join(f"  - {{id: c{i}, cache: true, run: 'echo {i}'}}\n" for i in range(5))
    (project / "cached.yaml").write_text(_dag("cached", cached))
    proc = dagctl(
        project,
        "run",
        "cached.yaml",
        stdout=subprocess.DEVNULL,
        stderr=stalled_pipe,
        env={"DAGCTL_CACHE_DIR": str(full_cache_disk)},
    )
    try:
        code = proc.wait(timeout=ENDS_WITHIN_S + 20)
    finally:
        proc.kill()
    assert code == 0
    [done] = _events(project, "dag_done")
    assert done["status"] == "success"
    assert len(_events(project, "task_ok")) == QUICK + 5


@pytest.mark.parametrize("command", ["run", "retry"])
def test_ci_annotations_after_a_run_whose_stderr_is_not_read_cannot_hang_the_exit(
    project: Path, stalled_pipe: int, command: str
) -> None:
    """Under GitHub Actions a failed run ends with annotations on stderr, written after the run: they go through
    the same writer, so the end waits for the reader a few seconds at most, once, for `run` and `retry` alike."""
    (project / "fails.yaml").write_text(_dag("fails", "  - {id: bad, run: 'exit 4'}\n"))
    if command == "retry":
        first = dagctl(project, "run", "fails.yaml", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert first.wait(timeout=60) == 1
    args = ("run", "fails.yaml") if command == "run" else ("retry", "latest")
    proc = dagctl(project, *args, stdout=subprocess.DEVNULL, stderr=stalled_pipe, env={"GITHUB_ACTIONS": "true"})
    try:
        wait_until(lambda: len(_events(project, "dag_done")) == (1 if command == "run" else 2), timeout=60, what="end")
        code = proc.wait(timeout=ENDS_WITHIN_S)
    finally:
        proc.kill()
    assert code == 1
