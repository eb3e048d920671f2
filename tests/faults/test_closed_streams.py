"""A closed or full output stream never stops a run: its outcome depends only on its tasks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .helpers import dagctl, records

DAG = """\
name: pipe
tasks:
  - {id: first, run: "echo one"}
  - {id: slow, run: "sleep 0.3", depends_on: first}
  - {id: last, run: "echo done > last.out", depends_on: slow}
"""
FAILING = DAG.replace('"echo done > last.out"', '"echo done > last.out; exit 4"')


@pytest.fixture(autouse=True)
def _dags(project: Path) -> None:
    (project / "pipe.yaml").write_text(DAG)
    (project / "fail.yaml").write_text(FAILING.replace("name: pipe", "name: fail"))


def _warnings(project: Path) -> list[dict[str, object]]:
    return [r for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == "run_warning"]


@pytest.mark.parametrize(("dag", "code"), [("pipe.yaml", 0), ("fail.yaml", 1)])
def test_a_reader_that_quits_does_not_stop_the_run(project: Path, dag: str, code: int) -> None:
    """`dagctl run dag.yaml 2>&1 | head -1`: the pipe closes after the first line."""
    proc = dagctl(project, "run", dag, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader is gone: every later write gets EPIPE
    assert proc.wait(timeout=30) == code, first
    assert (project / "last.out").read_text() == "done\n"  # the task after the closed pipe ran
    [warning] = _warnings(project)
    assert "progress output stopped" in str(warning["message"]) and "Broken pipe" in str(warning["message"])
    done = [r for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == "dag_done"]
    assert [d["status"] for d in done] == ["success" if code == 0 else "failed"]


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_full_output_device_does_not_stop_the_run(project: Path, stream: str) -> None:
    with open("/dev/full", "w") as full:
        proc = dagctl(project, "run", "pipe.yaml", **{stream: full})
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert (project / "last.out").exists()
    if stream == "stderr":  # the progress lines go to stderr; the summary at the end goes to stdout
        assert "No space left" in str(_warnings(project)[0]["message"])


def test_a_closed_pipe_on_a_listing_command_ends_it_quietly(project: Path) -> None:
    """`dagctl runs | head -0`: no traceback, no "internal error" (click exits 1 on EPIPE, as its tools do)."""
    dagctl(project, "run", "pipe.yaml", "-q").wait(timeout=30)
    proc = dagctl(project, "runs", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.wait(timeout=30) in (0, 1)
    assert proc.stderr is not None and proc.stderr.read() == ""


def _with_closed(project: Path, redirect: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``dagctl ARGS <redirect>`` from a shell, e.g. ``>&-``: the descriptor is closed when dagctl starts.
    Whatever dagctl can still say goes to ``err.txt`` (stderr, unless it is the one closed)."""
    import shlex
    import sys

    from .helpers import env_for

    line = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "dagctl", *args))
    return subprocess.run(
        ["sh", "-c", f"{line} {redirect}"],
        cwd=project,
        env=env_for(project),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("redirect", [">&-", "2>&-", ">&- 2>&-", "<&-"])
def test_a_run_with_a_closed_standard_stream_runs_and_says_its_outcome(project: Path, redirect: str) -> None:
    """`dagctl run dag.yaml >&-` (cron lines, daemons): no AttributeError on the missing stream, and no file
    of the run takes the free descriptor; the exit code is the run's, as with >/dev/full."""
    for dag, code in (("pipe.yaml", 0), ("fail.yaml", 1)):
        done = _with_closed(project, redirect, "run", dag)
        assert done.returncode == code, done
        assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    statuses = [
        r["status"] for r in records(project / "logs" / "orchestrator_events.jsonl") if r["event"] == "dag_done"
    ]
    assert statuses == ["success", "failed"]
    assert (project / "last.out").read_text() == "done\n"


@pytest.mark.parametrize("args", [("--version",), ("runs",)])
def test_a_command_whose_answer_cannot_be_written_says_so_in_one_line(project: Path, args: tuple[str, ...]) -> None:
    """`dagctl --version >&-`, `dagctl runs >/dev/full`: exit 3 and one line on stderr, never a traceback."""
    dagctl(project, "run", "pipe.yaml", "-q").wait(timeout=30)
    for redirect, reason in ((">&-", "Bad file descriptor"), (">/dev/full", "No space left on device")):
        done = _with_closed(project, redirect, *args)
        assert done.returncode == 3, done
        assert done.stderr == f"dagctl: error: cannot use its output: {reason}\n", done.stderr
    if args == ("runs",):  # --debug: the same line after the traceback that led to it
        done = _with_closed(project, ">/dev/full", "--debug", *args)
        assert done.returncode == 3 and "Traceback" in done.stderr, done.stderr
        assert done.stderr.endswith("dagctl: error: cannot use its output: No space left on device\n")
