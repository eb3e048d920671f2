"""In a Python task running in a thread of dagctl, ``sys.stdout`` and ``sys.stderr`` are the task's log: closing them,
writing bytes to their ``.buffer`` or to their ``fileno()`` never reaches dagctl's own output (its summary, ``--json``'s
document, the progress lines)."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import pytest

from dagctl.run.actions.taskstreams import routed, to_log
from tests.cli.test_run_cli import dagctl

STEPS = """\
import subprocess
import sys


def close_stdout():
    sys.stdout.close()


def close_stderr():
    print("to the log before", file=sys.stderr)
    sys.stderr.close()


def raw_bytes():
    sys.stdout.buffer.write(b"RAW\\n")
    sys.stdout.flush()


def child_process():
    assert not sys.stdout.isatty()
    subprocess.run([sys.executable, "-c", "print('from the child')"], stdout=sys.stdout, check=True)
"""

DAG = """\
name: streams
options: {parallelism: 1}
tasks:
  - {id: close_stdout, python: "steps:close_stdout"}
  - {id: close_stderr, python: "steps:close_stderr", depends_on: close_stdout}
  - {id: raw_bytes, python: "steps:raw_bytes", depends_on: close_stderr}
  - {id: child_process, python: "steps:child_process", depends_on: raw_bytes}
  - {id: last, run: "echo done", depends_on: child_process}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "steps.py").write_text(STEPS)
    (tmp_path / "streams.yaml").write_text(DAG)
    return tmp_path


def _log(folder: Path, task: str) -> str:
    (log,) = (folder / "logs" / "runs").glob(f"*/{task}.log")
    return log.read_text()


def test_json_output_stays_one_document_and_the_logs_get_what_the_tasks_wrote(folder: Path) -> None:
    proc = dagctl("run", "streams.yaml", "--json", cwd=folder)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    summary = json.loads(out)  # nothing before or after the document
    assert summary["status"] == "success" and summary["tasks_succeeded"] == 5
    assert err == ""
    assert _log(folder, "raw_bytes") == "RAW\n"
    assert _log(folder, "child_process") == "from the child\n"
    assert _log(folder, "close_stderr") == "to the log before\n"


def test_a_task_that_closes_the_streams_leaves_the_summary_and_the_progress_lines(folder: Path) -> None:
    proc = dagctl("run", "streams.yaml", cwd=folder)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert out.startswith("DAG EXECUTION COMPLETE\n") and "Tasks Succeeded: 5" in out
    assert "internal error" not in err and "ok     last" in err  # stderr went on after close_stderr closed "it"
    assert " success in " in err.rstrip().splitlines()[-1]


def test_inside_a_task_the_streams_are_its_log_and_outside_they_are_dagctls(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    real = io.StringIO()
    seen: dict[str, object] = {}

    def task() -> None:
        with to_log(str(log)):
            out = sys.stdout
            seen["fileno_is_the_log"] = out.fileno() not in (0, 1, 2)
            out.write("text\n")
            out.buffer.write(b"bytes\n")
            out.close()
            seen["closed"] = out.closed
            try:
                print("after close")
            except ValueError as exc:  # as on any closed file: the task's own stream is closed
                seen["after"] = str(exc)

    saved = sys.stdout
    sys.stdout = real  # type: ignore[assignment]
    try:
        with routed():
            worker = threading.Thread(target=task)
            worker.start()
            worker.join(10)
            print("dagctl's own line")  # this thread: the real stream, still open
        assert sys.stdout is real
    finally:
        sys.stdout = saved
    assert seen == {"fileno_is_the_log": True, "closed": True, "after": "I/O operation on closed file."}
    assert log.read_text() == "text\nbytes\n"
    assert not real.closed and real.getvalue() == "dagctl's own line\n"
