"""`dagctl run` as a real process: output, exit codes, signals, concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import process_alive as _alive
from tests.support import wait_until as wait_for


def dagctl(*args: str, cwd: Path, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DAGCTL_LOGS_DIR": str(cwd / "logs"),
        "NO_COLOR": "1",
        **(env or {}),
    }
    full_env.pop("ORCH_EVENTS_PATH", None)
    return subprocess.Popen(
        [sys.executable, "-m", "dagctl", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def events(cwd: Path) -> list[dict]:
    path = cwd / "logs" / "orchestrator_events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_dag(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dag.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_plain_lines_and_summary_when_not_a_terminal(tmp_path):
    write_dag(
        tmp_path,
        """
        name: hello
        tasks:
          - {id: a, run: "echo hi"}
          - {id: b, run: "exit 4", depends_on: a}
        """,
    )
    proc = dagctl("run", "dag.yaml", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "DAG EXECUTION FAILED" in out and "Tasks Succeeded: 1" in out and "Tasks Failed: 1" in out
    assert "Failed: b: exit code 4" in out
    lines = [line for line in err.splitlines() if line[:2] == "20"]
    assert any(line.endswith("start  a") for line in lines)
    assert any("FAILED b after 1 attempt: exit code 4" in line for line in lines)


def test_json_summary(tmp_path):
    write_dag(tmp_path, "name: j\ntasks:\n  - {id: a, run: 'true'}\n")
    proc = dagctl("run", "dag.yaml", "--json", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["status"] == "success" and data["tasks"]["a"]["status"] == "success"


def test_unknown_param_is_one_line_and_exit_2(tmp_path):
    write_dag(tmp_path, "name: j\nparams: {rows: 1}\ntasks:\n  - {id: a, run: 'true'}\n")
    proc = dagctl("run", "dag.yaml", "-p", "rws=3", cwd=tmp_path)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == "dagctl: error: unknown param 'rws' — did you mean 'rows'?"
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_stops_the_run_kills_the_tree_and_records_cancelled(tmp_path, signum, code):
    pidfile = tmp_path / "pid"
    write_dag(
        tmp_path,
        f"""
        name: sig
        tasks:
          - id: work
            run: sleep 300 & echo $! > {pidfile}; wait
          - {{id: next, run: "true", depends_on: work}}
        """,
    )
    proc = dagctl("run", "dag.yaml", cwd=tmp_path, env={"DAGCTL_GRACE": "1"})
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "DAG EXECUTION CANCELLED" in out
    recorded = events(tmp_path)
    assert [(e["event"], e.get("task_id")) for e in recorded[-3:]] == [
        ("task_cancel", "work"),
        ("task_cancel", "next"),
        ("dag_done", None),
    ]
    assert recorded[-1]["status"] == "cancelled"
    grandchild = int(pidfile.read_text())
    wait_for(lambda: not _alive(grandchild), timeout=5)


def test_under_nohup_a_hangup_leaves_the_run_going(tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    write_dag(
        tmp_path,
        f"""
        name: nohup
        tasks:
          - id: work
            run: touch {started}; while [ ! -e {go} ]; do sleep 0.05; done
          - {{id: next, run: "true", depends_on: work}}
        """,
    )

    def ignore_hangups() -> None:  # what nohup does before it starts the command
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = dagctl("run", "dag.yaml", "-q", cwd=tmp_path, preexec_fn=ignore_hangups)
    try:
        wait_for(started.exists)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(e["event"] == "task_start" for e in events(tmp_path)))
        go.touch()
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert events(tmp_path)[-1]["status"] == "success"


def test_concurrent_runs_append_whole_lines_to_one_event_log(tmp_path):
    tasks = "".join(f"  - {{id: t{i}, run: 'true'}}\n" for i in range(40))
    write_dag(tmp_path, "name: many\noptions: {parallelism: 4}\ntasks:\n" + tasks)
    procs = [dagctl("run", "dag.yaml", "-q", cwd=tmp_path) for _ in range(4)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    recorded = events(tmp_path)  # every line parses
    assert len(recorded) == 4 * (2 + 40 * 2)
    assert len({e["run_id"] for e in recorded}) == 4


def test_second_interrupt_kills_at_once_without_waiting_for_the_grace_period(tmp_path):
    pidfile = tmp_path / "pid"
    write_dag(
        tmp_path,
        f"""
        name: stubborn
        tasks:
          - id: work
            run: trap '' TERM; echo $$ > {pidfile}; while true; do sleep 0.05; done
        """,
    )
    proc = dagctl("run", "dag.yaml", cwd=tmp_path, env={"DAGCTL_GRACE": "120"})
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    proc.send_signal(signal.SIGINT)
    seen = []
    while not any("SIGINT: stopping" in line for line in seen):  # the first one has been handled
        seen.append(proc.stderr.readline())
        assert seen[-1], seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)  # far below the 120 s grace period
    assert proc.returncode == 130, err
    assert "second interrupt: killing running tasks now" in err
    wait_for(lambda: not _alive(int(pidfile.read_text())), timeout=5)


def test_params_file_overrides_and_is_checked(tmp_path):
    write_dag(
        tmp_path,
        "name: p\nparams: {rows: 1, name: x}\ntasks:\n  - {id: a, run: 'echo ${params.rows} ${params.name}'}\n",
    )
    (tmp_path / "params.yaml").write_text("rows: 42\nname: from-file\n")
    proc = dagctl("run", "dag.yaml", "--params-file", "params.yaml", "-p", "name=cli", "--json", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    run_dir = Path(json.loads(out)["run_dir"])
    assert (tmp_path / run_dir / "a.log").read_text() == "42 cli\n"
    (tmp_path / "bad.yaml").write_text("rowz: 1\n")
    proc = dagctl("run", "dag.yaml", "--params-file", "bad.yaml", cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "unknown param 'rowz'" in err


def test_a_task_that_leaves_processes_behind_is_noted_in_its_log_not_on_dagctls_stderr(tmp_path):
    """`-q` printed `pid 1909 exited but left processes in its group; terminated them (stopped)`, naming no task."""
    (tmp_path / "bg.yaml").write_text("name: bg\ntasks:\n  - {id: t, run: '(sleep 77 &); echo forked'}\n")
    proc = dagctl("run", "bg.yaml", "-q", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == "" and err == "", (out, err)
    (log,) = (tmp_path / "logs" / "runs").glob("*/t.log")
    assert (
        log.read_text()
        == "forked\ndagctl: the command exited but left processes behind; they were stopped with SIGTERM\n"
    )


def test_what_a_python_task_prints_goes_to_its_log_not_to_dagctls_output(tmp_path):
    """print() in a task running in a thread of dagctl went to dagctl's stdout: text before `--json`'s document,
    lines under `-q`, and nothing in `dagctl logs`."""
    (tmp_path / "steps.py").write_text(
        "import sys\n\ndef talk(ctx):\n    print('hello from', ctx.task_id)\n    print('oops', file=sys.stderr)\n"
        "    return {'x': 1}\n"
    )
    tasks = "".join(f"  - {{id: t{i}, python: 'steps:talk'}}\n" for i in range(4))
    (tmp_path / "talk.yaml").write_text(f"name: talk\noptions: {{parallelism: 4}}\ntasks:\n{tasks}")
    proc = dagctl("run", "talk.yaml", "--json", cwd=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "success" and "hello" not in err + out.split("{", 1)[0]
    quiet = dagctl("run", "talk.yaml", "-q", cwd=tmp_path)
    assert quiet.communicate(timeout=60) == ("", "")
    for i in range(4):  # each task's lines in its own log, not its neighbour's
        for log in (tmp_path / "logs" / "runs").glob(f"*/t{i}.log"):
            assert log.read_text() == f"hello from t{i}\noops\n"
