"""The end of a run writes to two streams: the summary on stdout, the failed tasks' log tails (and with ``-q`` or
``--json``, why it failed) on stderr. A stream that fails costs only its own lines."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.faults.helpers import dagctl

FAILS = """\
name: fail2
tasks:
  - {id: a, run: "echo out; exit 4"}
  - {id: b, run: "echo b"}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "fail2.yaml").write_text(FAILS)
    return tmp_path


def _broken_pipe() -> int:
    """The write end of a pipe whose reader is gone: every write to it fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


@pytest.mark.parametrize("args", [(), ("--json",)], ids=["summary", "json"])
def test_a_failed_run_with_a_broken_stderr_still_writes_its_summary(folder: Path, args: tuple[str, ...]) -> None:
    """`dagctl run fail2.yaml 2> >(head -1 >/dev/null) > out.txt`: out.txt had nothing."""
    broken = _broken_pipe()
    with open(folder / "out.txt", "w") as out:
        proc = dagctl(folder, "run", "fail2.yaml", *args, stdout=out, stderr=broken)
        os.close(broken)
        proc.wait(timeout=60)
    assert proc.returncode == 1
    text = (folder / "out.txt").read_text()
    if args:
        summary = json.loads(text)
        assert summary["status"] == "failed" and summary["tasks_failed"] == 1
    else:
        assert text.startswith("DAG EXECUTION FAILED\n") and "Failed: a: exit code 4" in text, text


def test_a_failed_run_with_a_broken_stdout_still_shows_the_log_tail(folder: Path) -> None:
    broken = _broken_pipe()
    proc = dagctl(folder, "run", "fail2.yaml", stdout=broken, stderr=subprocess.PIPE)
    os.close(broken)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--- last lines of a (" in err and "\n  out\n" in err, err
