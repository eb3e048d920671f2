"""`dagctl cancel RUN --wait N` of a run waiting for approval waits until it has stopped: its process goes on while
the gate is open, so it is not stopped until it has seen the request (`stopped` was true at once)."""

from __future__ import annotations

import json

from dagctl.errors import DagctlError
from dagctl.settings import Settings
from dagctl.store.history import History
from tests.cli.test_run_cli import dagctl
from tests.support import wait_until

GATED = """\
name: gated
tasks:
  - {id: gate, approval: {message: "go?"}}
  - {id: after, depends_on: gate, run: echo after}
"""


def status(history: History) -> str | None:
    ids = history.run_ids()
    try:
        return history.summary(ids[0]).status if ids else None
    except DagctlError:  # its folder made, its first event not written yet
        return None


def test_cancel_of_a_run_waiting_for_approval_waits_until_it_is_cancelled(project, cli) -> None:
    (project / "gate.yaml").write_text(GATED)
    run = dagctl("run", "gate.yaml", "-q", cwd=project)
    try:
        history = History(Settings.from_env())
        wait_until(lambda: status(history) == "waiting", 30, "the run waiting for approval")
        result = cli("cancel", "latest", "--wait", "30", "--json")
        assert result.code == 0, result.err
        run_id = history.run_ids()[0]
        assert json.loads(result.out) == {"run_id": run_id, "requested": True, "status": "cancelled", "stopped": True}
        assert run.wait(timeout=30) == 130
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
