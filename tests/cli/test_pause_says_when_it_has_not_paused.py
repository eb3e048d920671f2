"""`dagctl pause` that has not taken effect within --wait exits 1 and says what the run still waits for, so
`dagctl pause RUN && do-maintenance` does not go ahead while tasks run; `show` tells that a pause is pending. It
exited 0 and said nothing. `--wait 0` only asks (exit 0), as before."""

from __future__ import annotations

import json

from dagctl.store.history import History
from tests.support import wait_until

HELD = """
    name: held
    tasks:
      - {id: slow, run: 'touch started; while [ ! -f go ]; do sleep 0.02; done'}
      - {id: next, depends_on: slow, run: 'echo next >> trace'}
"""


def _running(history: History, run_id: str, task: str) -> bool:
    found = history.summary(run_id).tasks.get(task)
    return found is not None and found.status == "running"


def test_a_pause_still_pending_after_its_wait_exits_1_and_show_says_it_is_pending(proj, cli) -> None:
    proj.write("held.yaml", HELD)
    run = proj.dagctl("run", "held.yaml", "-q")
    try:
        wait_until((proj.folder / "started").exists, 30, "the task started")
        history = History(proj.settings)
        run_id = history.resolve("latest")
        wait_until(lambda: _running(history, run_id, "slow"), 30, "its start recorded")
        pending = cli("pause", run_id, "--wait", "0.3")
        assert pending.code == 1, pending
        assert pending.out == ""
        assert pending.err.splitlines()[-1] == (
            f"dagctl: run {run_id} has not paused within 0.3s: it waits for its running tasks to finish (slow); "
            f"the pause stays requested (see dagctl show {run_id})"
        )
        as_json = cli("pause", run_id, "--wait", "0.2", "--json")
        assert as_json.code == 1 and as_json.err == ""
        assert json.loads(as_json.out) == {"run_id": run_id, "requested": True, "status": "running", "paused": False}
        assert cli("pause", run_id, "--wait", "0").code == 0  # only asked: not a failure
        shown = cli("show", run_id).out.splitlines()
        assert shown[2] == "Status:   running"
        assert shown[3].startswith("Pausing:  requested ") and shown[3].endswith(
            "; it pauses once its running tasks finish (slow)"
        )
        (proj.folder / "go").touch()
        assert run.wait(timeout=30) == 0
    finally:
        (proj.folder / "go").touch()
        run.kill()
    shown = cli("show", run_id).out.splitlines()
    assert shown[2].startswith("Status:   paused") and not any(line.startswith("Pausing:") for line in shown)
    assert not (proj.folder / "trace").exists()
