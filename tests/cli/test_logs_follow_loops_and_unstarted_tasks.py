"""`dagctl logs RUN TASK --follow` follows a loop (`repeat:`) from iteration to iteration, as it follows a task from
attempt to attempt, and waits for a task of the run's DAG that has not started yet while the run is live; a task
the DAG does not have, or a run that has ended, is still an error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dagctl.settings import Settings
from dagctl.store.history import History
from tests.cli.test_run_cli import dagctl
from tests.support import wait_until

# Every test runs in the shared `project` fixture (tests/conftest.py): the working directory, logs under logs/.

LOOP = """\
name: looping
tasks:
  - {{id: first, run: 'while [ ! -e {go} ]; do sleep 0.02; done'}}
  - id: fit
    depends_on: first
    run: >-
      echo "iter $DAGCTL_ITERATION";
      if [ "$DAGCTL_ITERATION" = 2 ]; then while [ ! -e {go2} ]; do sleep 0.02; done; fi;
      echo "n=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"
    repeat: {{until: "outputs.fit.n >= 3", max_iterations: 5}}
    timeout: 60s
"""


def started(project: Path, task: str, iteration: int | None = None) -> bool:
    """Has the live run recorded the start of ``task`` (its ``iteration``)?"""
    history = History(Settings.from_env())
    ids = history.run_ids()
    if not ids:
        return False
    return any(
        e.get("event") == "task_start" and e.get("task_id") == task and iteration in (None, e.get("iteration"))
        for e in history.events_of(ids[0])
    )


def finish(*procs: subprocess.Popen) -> list[tuple[str, str]]:
    out = []
    try:
        for proc in procs:
            out.append(proc.communicate(timeout=60))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return out


def test_following_a_task_that_has_not_started_waits_for_it_then_follows_every_iteration(project, cli) -> None:
    (project / "dag.yaml").write_text(LOOP.format(go=project / "go", go2=project / "go"))
    run = dagctl("run", "dag.yaml", "-q", cwd=project)
    procs = [run]
    try:
        wait_until(lambda: started(project, "first"), 30, "the run's first task")
        run_id = History(Settings.from_env()).run_ids()[0]
        assert not started(project, "fit")
        nosuch = cli("logs", run_id, "nosuch", "--follow")  # not in the DAG: an error, live run or not
        assert nosuch.code == 2 and f"task 'nosuch' has no attempts in run {run_id}" in nosuch.err
        follower = dagctl("logs", run_id, "fit", "--follow", cwd=project)
        procs.append(follower)
        assert follower.stderr is not None
        waiting = follower.stderr.readline()
        assert waiting == f"dagctl: task 'fit' has not started in run {run_id} yet; waiting for it\n"
        (project / "go").touch()
        (_, _), (out, err) = finish(*procs)
    finally:
        finish(*procs)
    assert run.returncode == 0 and follower.returncode == 0, err
    assert out == "iter 1\niter 2\niter 3\n"
    assert f"dagctl: fit iteration 3, attempt 1: {project / 'logs' / 'runs' / run_id / 'fit~3.log'}" in err
    assert err.rstrip().endswith(f"dagctl: run {run_id} success")
    ended = cli("logs", run_id, "later", "--follow")  # the run has ended: nothing can start any more
    assert ended.code == 2 and "has no attempts" in ended.err


def test_following_a_loop_begun_at_iteration_2_goes_on_to_the_next_iterations(project) -> None:
    (project / "go").touch()
    (project / "dag.yaml").write_text(LOOP.format(go=project / "go", go2=project / "go2"))
    run = dagctl("run", "dag.yaml", "-q", cwd=project)
    procs = [run]
    try:
        wait_until(lambda: started(project, "fit", 2), 30, "iteration 2")
        follower = dagctl("logs", "latest", "fit", "--follow", cwd=project)
        procs.append(follower)
        assert follower.stdout is not None
        first = follower.stdout.readline()
        (project / "go2").touch()
        (_, _), (out, err) = finish(*procs)
    finally:
        finish(*procs)
    assert first + out == "iter 2\niter 3\n", err  # from the iteration it is in, then on (not iteration 1)


def test_following_one_iteration_prints_only_that_one(project, cli) -> None:
    (project / "go").touch()
    (project / "go2").touch()
    (project / "dag.yaml").write_text(LOOP.format(go=project / "go", go2=project / "go2"))
    assert cli("run", "dag.yaml", "-q").code == 0
    run_id = json.loads(cli("show", "latest", "--json").out)["run_id"]
    follower = dagctl("logs", run_id, "fit", "--iteration", "2", "--follow", cwd=project)
    ((out, err),) = finish(follower)
    assert follower.returncode == 0 and out == "iter 2\n", err
    missing = cli("logs", run_id, "fit", "--iteration", "7", "--follow")
    assert missing.code == 2 and "ran no iteration 7" in missing.err


def test_following_a_matrix_cell_prints_its_log(cli, tmp_path: Path) -> None:
    (tmp_path / "mx.yaml").write_text(
        "name: mx\ntasks:\n  - {id: t, matrix: {x: [1, 2]}, run: 'echo cell ${matrix.x}'}\n"
    )
    assert cli("run", str(tmp_path / "mx.yaml"), "-q").code == 0
    followed = cli("logs", "latest", "t:1", "--follow")  # its events name the cell apart from its task
    assert followed.code == 0 and followed.out == "cell 2\n"
