"""The params of a run started through the API reach its ``dagctl run`` through an unnamed file only its user can
read: never its command line (which every local user can read in ``/proc/PID/cmdline``, the server logs, and the
kernel caps at 128 KiB an argument), and never the server's log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tests.support import wait_until

SECRETIVE = """name: secretive
params: {token: none, note: none}
tasks:
  - id: hold
    run: sleep 30
"""


def test_params_reach_the_run_but_not_its_command_line_or_the_log(live, web_project: Path, caplog) -> None:
    (web_project / "configs" / "dags" / "secretive.yaml").write_text(SECRETIVE)
    server = live()
    secret = "s3cret-" + "x" * 200_000  # longer than one argument may be
    note = "😀 é \x85 -p x=1"
    with caplog.at_level(logging.DEBUG, logger="dagctl"):
        answer = server.client.post("/api/runs", json={"dag": "secretive", "params": {"token": secret, "note": note}})
    assert answer.status_code == 202, answer.text[:500]
    run_id, pid = answer.json()["run_id"], answer.json()["pid"]
    wait_until(lambda: server.client.get(f"/api/runs/{run_id}").json()["status"] == "running", 30, "running")
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert not any(b"s3cret" in word for word in argv)
    given = argv[argv.index(b"--params-file") + 1].decode()
    held = os.stat(f"/proc/{pid}/fd/{given.rsplit('/', 1)[1]}")  # the file, as the run holds it
    assert held.st_mode & 0o777 == 0o600 and held.st_nlink == 0  # its user's only, and no name to open it by
    assert "s3cret" not in caplog.text and "started dagctl run" in caplog.text
    run = server.client.get(f"/api/runs/{run_id}").json()
    assert run["params"] == {"token": secret, "note": note}  # what the run got, exactly
    assert server.client.post(f"/api/runs/{run_id}/cancel").status_code == 202


def test_runs_without_params_are_started_as_before(live) -> None:
    server = live()
    answer = server.client.post("/api/runs", json={"dag": "quick"})
    launch = server.ctx.launcher.by_run_id(answer.json()["run_id"])
    assert launch is not None and "--params-file" not in launch.argv
    assert server.wait_for_run(answer.json()["run_id"])["params"] == {"who": "world", "n": 2}
