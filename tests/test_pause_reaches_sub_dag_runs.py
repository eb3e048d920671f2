"""Pausing a run pauses the sub-DAG runs of its running `dag:` tasks: their running tasks finish, nothing new starts
there, and a gate waiting there does not hold the pause. The parent's resume goes on from what the child finished.

It used to wait for the child run to end: the child kept starting tasks after the pause was asked for, and a child
waiting at an approval gate kept the parent running until someone decided the gate. Real processes."""

from __future__ import annotations

from typing import Any

from dagctl.errors import StateError
from dagctl.store.history import History
from tests.support import wait_until

SLOW_CHILD = """
    name: slowchild
    tasks:
      - {id: s1, run: 'echo s1 >> trace; touch s1.started; while [ ! -f go ]; do sleep 0.02; done; sleep 1'}
      - {id: s2, depends_on: s1, run: 'echo s2 >> trace; echo "v=2" > $DAGCTL_OUTPUT'}
      - {id: s3, depends_on: s2, run: 'echo s3 >> trace'}
    outputs: {v: "${outputs.s2.v}"}
"""
PARENT = """
    name: ps
    tasks:
      - {id: child, dag: sub/slow.yaml}
      - {id: after, depends_on: child, run: 'echo "got=${outputs.child.v}" > $DAGCTL_OUTPUT'}
"""


def _child_of(history: History, run_id: str) -> str:
    def started() -> str | None:
        task = history.summary(run_id).tasks.get("child")
        return task.child_run_id if task is not None else None

    return str(wait_until(started, 30, "the child run started"))


def _status(history: History, run_id: str) -> str | None:
    """The run's status, None while it has recorded nothing yet."""
    try:
        return history.summary(run_id).status
    except StateError:
        return None


def _finish(process: Any) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, err


def _paused_with_its_child(proj: Any, cli: Any) -> tuple[History, str, str]:
    """Run PARENT, pause it while its sub-DAG run's first task runs, and let that task finish: the history, the
    parent's run id and the child's, both paused (asserted by the caller)."""
    (proj.folder / "sub").mkdir()
    proj.write("sub/slow.yaml", SLOW_CHILD)
    proj.write("ps.yaml", PARENT)
    history = History(proj.settings)
    run = proj.dagctl("run", "ps.yaml", "-q")
    try:
        wait_until((proj.folder / "s1.started").exists, 30, "s1 started")
        parent = history.resolve("latest")
        child = _child_of(history, parent)
        assert cli("pause", parent, "--wait", "0").code == 0
        (proj.folder / "go").touch()  # s1, the running task, finishes a second later (the run looks 4 times a second)
        code, err = _finish(run)
    finally:
        run.kill()
    assert code == 0, err
    return history, parent, child


def test_pausing_a_parent_pauses_its_sub_dag_run_and_its_resume_goes_on_from_there(proj, cli) -> None:
    history, parent, child = _paused_with_its_child(proj, cli)
    assert (proj.folder / "trace").read_text().split() == ["s1"]  # s2 and s3 started after the pause was asked for
    assert history.summary(child).status == "paused"
    summary = history.summary(parent)
    assert summary.status == "paused"
    assert summary.tasks["child"].reason.startswith(f"paused with the run: its sub-DAG run {child} is paused")
    assert f"(with its parent run: dagctl resume {parent} goes on with it)" in cli("show", child).out
    resumed = cli("resume", parent, "-q")
    assert resumed.code == 0, resumed.err
    assert (proj.folder / "trace").read_text().split() == ["s1", "s2", "s3"]  # s1 was not run again
    done = history.summary(parent)
    assert done.status == "success" and history.outputs_of(parent, "after") == {"got": "2"}
    successor = done.tasks["child"].child_run_id
    assert successor != child and history.summary(successor).status == "success"
    old = history.summary(child)  # ended, not left paused for good
    assert old.status == "cancelled" and f"when its parent run {parent} was resumed" in (old.error or "")


def test_a_child_waiting_at_a_gate_does_not_hold_its_parents_pause(proj, cli) -> None:
    (proj.folder / "sub").mkdir()
    proj.write(
        "sub/gated.yaml",
        """
        name: gatedchild
        tasks:
          - {id: g, approval: {message: "child ok?", timeout: 1h}}
          - {id: w, depends_on: g, run: 'echo w >> trace'}
        """,
    )
    proj.write("pgc.yaml", "name: pgc\ntasks:\n  - {id: child, dag: sub/gated.yaml}\n")
    history = History(proj.settings)
    run = proj.dagctl("run", "pgc.yaml", "-q")
    try:
        wait_until(lambda: "pgc" in cli("runs", "--status", "running").out, 30, "the parent runs")
        parent = history.resolve("latest")
        child = _child_of(history, parent)
        wait_until(lambda: _status(history, child) == "waiting", 30, "the child waits at its gate")
        paused = cli("pause", parent, "--wait", "20")
        assert paused.code == 0, paused.err  # it waited for the gate (its --wait), and exited 0 still running
        assert paused.out == f"run {parent} paused\n"
        code, err = _finish(run)
    finally:
        run.kill()
    assert code == 0, err
    assert history.summary(child).status == "paused"
    # a decision made while the run is paused counts when it goes on, as for a gate of the run itself
    assert cli("approve", child, "g", "--as", "ana").code == 0
    resumed = cli("resume", parent, "-q")
    assert resumed.code == 0, resumed.err
    assert (proj.folder / "trace").read_text().split() == ["w"]
    successor = history.summary(parent).tasks["child"].child_run_id
    assert history.summary(successor).tasks["g"].approval["by"] == ["ana"]


def test_cancelling_a_paused_parent_ends_its_paused_sub_dag_run_too(proj, cli) -> None:
    """A paused child has no process and only its parent's resume would go on with it: cancelling the parent ends
    it as well, or it would stay paused for good (prune keeps paused runs)."""
    history, parent, child = _paused_with_its_child(proj, cli)
    assert history.summary(child).status == "paused"
    assert cli("cancel", parent).code == 0
    assert history.summary(parent).status == "cancelled"
    ended = history.summary(child)
    assert ended.status == "cancelled" and f"its parent run {parent} was cancelled" in (ended.error or "")
