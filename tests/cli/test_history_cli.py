"""runs / show / logs / cancel / retry / run --only --from / prune, and dead owners, as an operator uses them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagctl.clock import FakeClock
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.history import History
from tests.cli.test_run_cli import _alive, dagctl, events, wait_for
from tests.support import DOOMED

# Every test runs in the shared `project` fixture (tests/conftest.py): a temporary project folder that is the
# working directory, with its logs under project/logs, where the `dagctl` child processes write theirs too.


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def stop(*procs: subprocess.Popen) -> None:
    """End the dagctl processes this test started that still run (SIGTERM: dagctl stops its tasks), and reap them."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def kill_group(pgid: int) -> None:
    """SIGKILL the process group of a task this test started (a task leads its own group) and wait it out."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    wait_for(lambda: not _alive(pgid), timeout=5)


def pid_in(path: Path) -> int | None:
    """The pid a task wrote to ``path`` with ``echo $$ > path``; None until the whole line is there."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


FLAKY = """
    name: pipeline
    params: {n: 3}
    tasks:
      - id: extract
        run: echo "rows=${params.n}" > "$DAGCTL_OUTPUT"; echo extracted
      - id: transform
        depends_on: extract
        run: test -e fixed && echo "got ${outputs.extract.rows}" || (echo "boom" >&2; exit 7)
      - id: load
        depends_on: transform
        run: echo loaded
    """


def test_runs_and_show_tell_what_ran_and_why_it_failed(project, cli):
    write(project / "dag.yaml", FLAKY)
    first = cli("run", "dag.yaml", "-q")
    assert first.code == 1
    result = cli("runs")
    assert result.code == 0
    row = result.out.splitlines()[1]
    assert "pipeline" in row and "failed" in row and "1/1/1" in row and "manual" in row
    shown = cli("show", "latest")
    assert shown.code == 0, shown
    assert "Status:   failed" in shown.out
    lines = {line.split()[0]: line for line in shown.out.splitlines()[9:]}
    assert "exit code 7" in lines["transform"] and " 7 " in lines["transform"]
    assert "upstream 'transform' failed" in lines["load"]
    data = json.loads(cli("show", "latest", "--json").out)
    assert data["tasks"]["transform"]["status"] == "failed" and data["tasks"]["transform"]["exit_code"] == 7
    assert data["params"] == {"n": 3}


def test_runs_says_where_it_looked_and_wants_a_unit_for_since(project, cli):
    """An empty list names the folder it looked in (it depends on the working folder and DAGCTL_LOGS_DIR), and a
    bare --since 24 is refused: the dashboard reads it as hours, a duration as seconds."""
    empty = cli("runs")
    assert empty.code == 0
    assert empty.err.strip() == f"no runs found in {Settings.from_env().runs_dir} (DAGCTL_LOGS_DIR moves it)"
    bare = cli("runs", "--since", "24")
    assert bare.code == 2
    assert bare.err.strip() == "dagctl: error: --since 24 has no unit — write --since 24h (or m, s, d)"
    assert cli("runs", "--since", "24h").code == 0


def test_run_ids_resolve_by_prefix_and_unknown_ids_are_one_line_errors(project, cli):
    write(project / "dag.yaml", "name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    cli("run", "dag.yaml", "-q")
    run_id = History(Settings.from_env()).run_ids()[0]
    assert cli("show", run_id[:17]).code == 0
    missing = cli("show", "19990101")
    assert missing.code == 2
    assert (
        missing.err == "dagctl: error: unknown run '19990101' — see `dagctl runs` for run ids (a unique prefix, "
        "or the last characters, is enough)\n"
    )


def test_logs_print_each_attempt(project, cli):
    write(
        project / "dag.yaml",
        """
        name: d
        tasks:
          - id: flaky
            run: echo "try $DAGCTL_ATTEMPT"; test "$DAGCTL_ATTEMPT" = 2
            retries: 1
            retry_delay: 0
        """,
    )
    assert cli("run", "dag.yaml", "-q").code == 0
    assert cli("logs", "latest", "flaky").out == "try 2\n"
    assert cli("logs", "latest", "flaky", "--attempt", "1").out == "try 1\n"
    everything = cli("logs", "latest").out
    assert everything.startswith("==> flaky (attempt 2, success)")
    bad = cli("logs", "latest", "nope")
    assert bad.code == 2 and "task 'nope' has no attempts" in bad.err


def test_retry_reruns_only_what_failed_and_reuses_outputs(project, cli):
    write(project / "dag.yaml", FLAKY)
    assert cli("run", "dag.yaml", "-q").code == 1
    parent = History(Settings.from_env()).run_ids()[0]
    (project / "fixed").touch()
    write(project / "dag.yaml", FLAKY.replace("echo loaded", "echo CHANGED"))  # the snapshot is used
    retried = cli("retry", "latest", "-q")
    assert retried.code == 0, retried
    history = History(Settings.from_env())
    child = history.run_ids()[0]
    summary = history.summary(child)
    assert summary.trigger == "retry" and summary.parent_run_id == parent
    assert {t: s.status for t, s in summary.tasks.items()} == {
        "extract": "success",
        "transform": "success",
        "load": "success",
    }
    assert "reused" in (summary.tasks["extract"].reason or "")
    log_dir = history.run_dir(child)
    assert not (log_dir / "extract.log").exists()  # not run again
    assert (log_dir / "transform.log").read_text() == "got 3\n"  # its upstream output was reused
    assert (log_dir / "load.log").read_text() == "loaded\n"  # the run's snapshot, not the edited file
    nothing = cli("retry", "latest")
    assert nothing.code == 2 and "nothing to retry" in nothing.err
    again = cli("retry", "latest", "--from", "transform", "-q")
    assert again.code == 0


def test_run_only_and_from_take_upstream_outputs_from_the_latest_run(project, cli):
    write(project / "dag.yaml", FLAKY)
    (project / "fixed").touch()
    missing = cli("run", "dag.yaml", "--only", "load")
    assert missing.code == 2
    assert "no earlier run of 'pipeline' has succeeded at: extract, transform" in missing.err
    assert cli("run", "dag.yaml", "-q").code == 0
    only = cli("run", "dag.yaml", "--only", "transform", "--json")
    data = json.loads(only.out)
    assert {t: v["status"] for t, v in data["tasks"].items()} == {
        "extract": "success",
        "transform": "success",
        "load": "skipped",
    }
    assert data["tasks"]["load"]["reason"] == "not selected"
    frm = json.loads(cli("run", "dag.yaml", "--from", "transform", "--json").out)
    assert [frm["tasks"][t]["status"] for t in ("extract", "transform", "load")] == ["success"] * 3
    assert cli("run", "dag.yaml", "--only", "nope").code == 2


def test_cancel_from_another_process_stops_the_run(project):
    pidfile = project / "pid"
    write(
        project / "dag.yaml",
        f"""
        name: slow
        tasks:
          - id: work
            run: sleep 300 & echo $! > {pidfile}; wait
        """,
    )
    run = dagctl("run", "dag.yaml", cwd=project, env={"DAGCTL_GRACE": "1"})
    started = [run]
    sleeper = None
    try:
        sleeper = wait_for(lambda: pid_in(pidfile))
        cancel = dagctl("cancel", "latest", cwd=project)
        started.append(cancel)
        out, err = cancel.communicate(timeout=30)
        assert cancel.returncode == 0, err
        assert "cancel requested" in err and "cancelled" in out
        run_out, _ = run.communicate(timeout=30)
        assert run.returncode == 130
        assert "Reason: cancelled by dagctl cancel" in run_out
        wait_for(lambda: not _alive(sleeper), timeout=5)
        again = dagctl("cancel", "latest", cwd=project)
        started.append(again)
        _, err = again.communicate(timeout=30)
        assert again.returncode == 2 and "already finished (cancelled)" in err
    finally:
        stop(*started)
        if sleeper is not None and _alive(sleeper):  # the cancel did not reach it: the test failed
            os.kill(sleeper, signal.SIGKILL)


@contextlib.contextmanager
def working(project: Path) -> Iterator[subprocess.Popen]:
    """``dagctl run`` of DOOMED, once its task ``work`` is running and recorded so (``after`` waits on it); then
    the run is stopped, and the task's process group too (it outlives a dagctl killed with SIGKILL)."""
    pidfile = project / "task.pid"
    write(project / "dag.yaml", DOOMED.format(pidfile=pidfile))
    run = dagctl("run", "dag.yaml", "-q", cwd=project)
    task_group = None  # the task's shell leads its own process group, which outlives the killed dagctl
    try:
        task_group = wait_for(lambda: pid_in(pidfile))
        wait_for(lambda: History(Settings.from_env()).run_ids() != [])
        # the task's own pid file can come before its task_start reaches the events file (flushed each loop turn)
        log = project / "logs" / "orchestrator_events.jsonl"
        wait_for(lambda: log.exists() and any(e["event"] == "task_start" for e in events(project)))
        yield run
    finally:
        stop(run)
        if task_group is not None:
            kill_group(task_group)


def sigkill(run: subprocess.Popen) -> None:
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)


def test_a_killed_run_is_recorded_abandoned_exactly_once(project, cli):
    with working(project) as run:
        run_dir = next((project / "logs" / "runs").iterdir())
        assert (run_dir / ".space-reserve").exists()  # room set aside for its last lines while it runs
        sigkill(run)
        listing = cli("runs")
        assert not (run_dir / ".space-reserve").exists()  # freed when its death is recorded
        assert "abandoned" in listing.out
        cli("runs")
        cli("show", "latest")
        done = [e for e in events(project) if e["event"] == "dag_done"]
        assert len(done) == 1 and done[0]["status"] == "abandoned"
        assert "died without finishing" in done[0]["error"]
        work = json.loads(cli("show", "latest", "--json").out)["tasks"]["work"]
        assert work["status"] == "cancelled" and "died (last seen alive" in work["reason"]  # not left "running"
        after = next(line for line in cli("show", "latest").out.splitlines() if line.startswith("after "))
        assert "not started" in after and "died before it started; dagctl resume runs it" in after


def test_show_json_lists_the_tasks_a_run_has_not_started_as_show_does(project, cli):
    with working(project) as run:
        live = json.loads(cli("show", "latest", "--json").out)
        assert live["status"] == "running"
        assert live["unstarted_tasks"] == [
            {
                "task_id": "after",
                "status": "pending",
                "note": "not started yet: waits for its upstream tasks or a free slot",
            }
        ]
        sigkill(run)
        killed = json.loads(cli("show", "latest", "--json").out)
        text = cli("show", "latest").out
    assert killed["status"] == "abandoned"
    never = {
        "task_id": "after",
        "status": "not started",
        "note": "its run's process died before it started; dagctl resume runs it",
    }
    assert killed["unstarted_tasks"] == [never]
    assert set(killed["tasks"]) == {"work"}  # additive: ``tasks`` still holds the tasks with events only
    after = next(line for line in text.splitlines() if line.startswith("after "))
    assert after.split(None, 1)[1].startswith(never["status"]) and never["note"] in after  # the same words
    write(project / "ok.yaml", "name: ok\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: a}\n")
    assert cli("run", "ok.yaml", "-q").code == 0
    assert json.loads(cli("show", "latest", "--json").out)["unstarted_tasks"] == []  # always there; empty here


def test_logs_follow_streams_until_the_run_ends(project):
    gate = project / "gate"
    write(
        project / "dag.yaml",
        f"""
        name: chatty
        tasks:
          - id: talk
            run: echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second
            timeout: 60s
        """,
    )
    run = dagctl("run", "dag.yaml", "-q", cwd=project)
    started = [run]
    try:
        wait_for(lambda: History(Settings.from_env()).run_ids() != [])
        follower = dagctl("logs", "latest", "talk", "--follow", cwd=project)
        started.append(follower)
        wait_for(lambda: (project / "logs").exists())
        gate.touch()
        out, err = follower.communicate(timeout=30)
        run.communicate(timeout=30)
    finally:
        stop(*started)
    assert out == "first\nsecond\n"
    assert "run " in err and "success" in err


def test_logs_follow_ends_when_its_reader_goes_away_while_the_run_is_quiet(project):
    """`dagctl logs --follow RUN | head -1`: once head has its line, the follower ends at once (exit 0, as a
    broken pipe), not when the run next writes something; the run goes on unharmed."""
    gate = project / "gate"
    write(
        project / "dag.yaml",
        f"""
        name: quiet
        tasks:
          - id: wait
            run: echo first; while [ ! -e {gate} ]; do sleep 0.05; done
            timeout: 60s
        """,
    )
    run = dagctl("run", "dag.yaml", "-q", cwd=project)
    started = [run]
    try:
        wait_for(lambda: (project / "logs" / "runs").exists() and History(Settings.from_env()).run_ids() != [])
        run_id = History(Settings.from_env()).run_ids()[0]
        for task in ((), ("wait",)):
            follower = dagctl("logs", run_id, *task, "--follow", cwd=project)
            started.append(follower)
            assert follower.stdout is not None and follower.stdout.readline()  # head's one line
            follower.stdout.close()  # head exits
            assert follower.wait(timeout=10) == 0
            assert follower.stderr is not None and follower.stderr.read() == ""
        assert run.poll() is None  # the run was quiet all along: nothing told the follower but the pipe
        gate.touch()
        assert run.wait(timeout=30) == 0
    finally:
        stop(*started)


def test_prune_removes_old_runs_and_their_events_but_keeps_the_newest(project, cli):
    write(project / "dag.yaml", "name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    settings = Settings.from_env()
    old = FakeClock(datetime.now(timezone.utc) - timedelta(days=60))
    for _ in range(3):
        run_dag("dag.yaml", settings=settings, clock=old)
        old.advance(3600)
    run_dag("dag.yaml", settings=settings)
    history = History(settings)
    assert len(history.run_ids()) == 4
    dry = cli("prune", "--older-than", "30d", "--keep-last", "2", "--dry-run")
    assert dry.code == 0 and dry.out.startswith("would remove 2 run(s)")
    assert len(history.run_ids()) == 4
    done = cli("prune", "--older-than", "30d", "--keep-last", "2", "--json")
    report = json.loads(done.out)
    assert len(report["removed"]) == 2 and report["events_dropped"] == 2 * 4
    remaining = history.run_ids()
    assert len(remaining) == 2
    assert {e["run_id"] for e in events(project)} == set(remaining)
    assert cli("prune", "--older-than", "soon").code == 2


def test_a_reader_that_went_away_is_not_an_error(project, cli):
    """``dagctl runs | head -1`` under ``set -o pipefail``: a closed pipe ends the listing with exit 0, not 1
    (which means a task failed) and not a traceback."""
    write(project / "dag.yaml", "name: d\ntasks:\n  - {id: a, run: echo hello}\n")
    assert cli("run", "dag.yaml", "-q").code == 0
    for command in (("runs",), ("show", "latest"), ("stats",), ("logs", "latest", "a")):
        read, written = os.pipe()
        os.close(read)  # the reader is gone before anything is written: every write meets a closed pipe
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "dagctl", *command],
                cwd=project,
                stdout=written,
                stderr=subprocess.PIPE,
                timeout=60,
                env={**os.environ, "COLUMNS": "120"},
            )
        finally:
            os.close(written)
        assert proc.returncode == 0, (command, proc.stderr)
        assert b"Traceback" not in proc.stderr
