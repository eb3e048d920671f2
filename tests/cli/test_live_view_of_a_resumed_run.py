"""``dagctl resume`` on a terminal: the live view knows the run it goes on with (its id, the tasks it kept, its
start), and the summary says how long the run took as ``runs`` and ``show`` do, pauses included.

The run resumed here was abandoned (its process killed), not paused: that can be made to happen at a chosen point
without racing the runner's quarter-second check for a pause request, and ``dagctl resume`` goes on with both
alike (``dag_resume``, the succeeded tasks kept without an event)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pyte

from tests.conftest import ROOT
from tests.support import wait_until

DAG = """\
name: pausable
tasks:
  - {id: first, run: "while [ ! -f go ]; do sleep 0.02; done"}
  - {id: kept, run: "true"}
  - {id: second, run: "true", depends_on: [first]}
  - {id: third, run: "true", depends_on: [second]}
"""


def environment(folder: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(folder / "logs")}
    env["TERM"] = "xterm-256color"
    for name in ("NO_COLOR", "ORCH_EVENTS_PATH", "STATE_STORE_PATH", "LC_ALL", "LANG"):
        env.pop(name, None)
    return env


def events(folder: Path) -> list[dict]:
    found = list((folder / "logs" / "runs").glob("*/events.jsonl"))
    if not found:
        return []
    return [json.loads(line) for line in found[0].read_text().splitlines() if line.endswith("}")]


def test_a_resumed_run_shows_its_kept_tasks_done_and_its_whole_time(tmp_path: Path):
    (tmp_path / "dag.yaml").write_text(DAG)
    env = environment(tmp_path)
    dagctl = [sys.executable, "-m", "dagctl"]
    first = subprocess.Popen([*dagctl, "run", "dag.yaml", "-q"], cwd=tmp_path, env=env)
    try:
        wait_until(
            lambda: (
                {("task_ok", "kept"), ("task_start", "first")}
                <= {(e["event"], e.get("task_id")) for e in events(tmp_path)}
            ),
            timeout=30,
            what="`kept` done, `first` running",
        )
    finally:  # its process dies (kill -9) while `first` runs: an abandoned run, which resume goes on with too
        first.send_signal(signal.SIGKILL)
        first.wait()
    (tmp_path / "go").touch()
    run_id = events(tmp_path)[0]["run_id"]

    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    child = pexpect.spawn(
        sys.executable, ["-m", "dagctl", "resume", "latest"], cwd=str(tmp_path), env=env, dimensions=(24, 80)
    )
    raw = b""
    try:
        while True:
            try:
                data = child.read_nonblocking(65536, timeout=60)
            except pexpect.EOF:
                break
            raw += data
            stream.feed(data)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, raw[-2000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode(errors="replace"))
    frame = plain[plain.rfind(f"pausable  run {run_id}") :]  # the last frame names the run it goes on with
    assert frame, plain
    head = frame.split("\n", 1)[0]
    assert "4/4" in frame and "success in" in head and "since resumed" not in head
    assert re.search(r"✓ kept +\d", frame) and re.search(r"✓ first +\d", frame)  # kept from before the pause
    summary = "\n".join(line.rstrip() for line in screen.display)
    assert re.search(r"Duration: \d+\.\d\ds, pauses included \(\d+\.\d\ds since resumed\)", summary), summary
