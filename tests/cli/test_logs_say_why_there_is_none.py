"""`dagctl logs RUN TASK` for a task without a log says why, truly for its kind: a matrix task's logs are its
cells' (and how to ask for one), a task that failed before it started says what stopped it, a gate runs nothing;
only Python tasks are said to write a log only when they log. "Tasks with logs" lists only tasks that have one."""

from __future__ import annotations

from pathlib import Path

from dagctl.cli.logs_cmd import task_kind, why_no_log
from dagctl.store.runsummary import TaskSummary

DAG = """\
name: mx
tasks:
  - id: m
    run: "echo cell ${matrix.x}"
    matrix: {x: [1, 2]}
  - {id: a, run: "true"}
  - {id: bad, run: "echo ${outputs.a.nope}", depends_on: [a]}
"""


def run_it(cli, tmp_path: Path) -> str:
    (tmp_path / "mx.yaml").write_text(DAG)
    assert cli("run", str(tmp_path / "mx.yaml"), "-q").code == 1
    return cli("show", "latest", "--json").out.split('"run_id": "')[1].split('"')[0]


def test_a_matrix_task_points_at_its_cells_logs(cli, tmp_path: Path) -> None:
    run_id = run_it(cli, tmp_path)
    result = cli("logs", run_id, "m")
    assert result.code != 0 and result.err.count("\n") == 1
    assert "it is a matrix task; each of its cells has a log of its own (m:0 [x=1]; m:1 [x=2])" in result.err
    assert result.err.rstrip().endswith(f"ask for a cell's log: dagctl logs {run_id[-6:]} m:0")
    assert "Python" not in result.err
    assert cli("logs", run_id[-6:], "m:1").out == "cell 2\n"  # the command the hint gives works


def test_a_shell_task_that_failed_before_it_started_says_what_stopped_it(cli, tmp_path: Path) -> None:
    run_id = run_it(cli, tmp_path)
    result = cli("logs", run_id, "bad")
    assert result.code != 0 and "Python" not in result.err
    assert "it failed before it started: no outputs from task 'a' in ${outputs.a.nope}" in result.err


def test_tasks_with_logs_are_the_tasks_that_have_one(cli, tmp_path: Path) -> None:
    run_id = run_it(cli, tmp_path)
    result = cli("logs", run_id, "nosuch")
    assert result.err.rstrip().endswith("tasks with logs: a, m:0, m:1")  # not m, not bad


def test_every_tasks_log_with_the_cells_under_their_task_and_why_one_has_none(cli, tmp_path: Path) -> None:
    run_id = run_it(cli, tmp_path)
    out = cli("logs", run_id).out
    headers = [line for line in out.splitlines() if line.startswith("==> ")]
    assert [h.split()[1] for h in headers] == ["m", "m:0", "m:1", "a", "bad"]
    assert headers[0].endswith("no log: it is a matrix task; each of its cells has a log of its own "
                               "(m:0 [x=1]; m:1 [x=2]) <==")  # fmt: skip
    assert "no log: it failed before it started: no outputs from task 'a'" in headers[4]
    assert out.splitlines()[2] == "cell 1"


def task(**fields: object) -> TaskSummary:
    return TaskSummary(**{"task_id": "t", "status": "success", "attempts": 1, **fields})  # type: ignore[arg-type]


def test_why_each_kind_of_task_has_no_log() -> None:
    from datetime import datetime, timezone

    began = datetime(2026, 12, 7, tzinfo=timezone.utc)
    gate = task(approval={"decision": "approved", "by": ["ana"]}, started=began)
    assert why_no_log(gate, [], None) == "it is an approval gate, which runs nothing and writes no log"
    skipped = task(status="skipped", attempts=0, reason="upstream 'a' failed")
    assert why_no_log(skipped, [], None) == "it never started (skipped: upstream 'a' failed)"
    assert why_no_log(task(cached=True), [], None) == "its outputs came from the task cache, whose entry kept no log"
    ran = task(started=began)
    assert why_no_log(ran, [], "python") == "Python tasks write a log only when they log"
    assert "a shell task always writes one" in why_no_log(ran, [], "run")
    assert why_no_log(task(child_run_id="r2", started=began), [], "dag").startswith("it ran as sub-DAG run r2")


def test_the_kind_of_a_task_or_of_a_cells_task_from_the_dag_snapshot() -> None:
    data = {"tasks": [{"id": "m", "run": "x", "matrix": {}}, {"id": "p", "python": "m:f"}, {"id": "g", "approval": {}}]}
    assert [task_kind(data, t) for t in ("m", "m:3", "p", "g", "nope")] == ["run", "run", "python", "approval", None]
    assert task_kind(None, "m") is None


def test_a_celery_task_of_a_run_whose_coordinator_died_says_where_the_worker_keeps_its_log() -> None:
    """The worker keeps the log of an attempt it stopped for a dead coordinator (docs/scaling-out.md): `dagctl logs`
    says where, not "was it deleted?"."""
    from datetime import datetime, timezone

    from dagctl.cli.logs_cmd import _why_no_log
    from dagctl.store.runsummary import RunSummary

    began = datetime(2026, 12, 7, tzinfo=timezone.utc)
    ran = task(status="cancelled", started=began)
    run = RunSummary(run_id="r1", dag_name="d", tenant_id="default", status="abandoned", executor="celery")
    why = _why_no_log(None, run, ran)  # type: ignore[arg-type]  # the history is not read for such a task
    assert why.startswith("it ran on a celery worker, and this run's coordinator died")
    assert "<DAGCTL_WORKER_DIR>/runs/r1/" in why


def test_a_python_task_that_printed_nothing_has_an_empty_log_as_a_quiet_shell_task_has(cli, tmp_path: Path) -> None:
    """`dagctl logs RUN TASK` of a Python task that succeeded quietly was exit 2 ("bad input") while a shell task
    that printed nothing was exit 0: a script reading every task's log failed on the quiet Python ones."""
    (tmp_path / "steps_q.py").write_text("def quiet():\n    return {'n': 1}\n")
    dag = "name: q\ntasks:\n  - {id: py, python: 'steps_q:quiet'}\n  - {id: sh, run: 'true'}\n"
    (tmp_path / "q.yaml").write_text(dag)
    assert cli("run", str(tmp_path / "q.yaml"), "-q").code == 0
    python, shell = cli("logs", "latest", "py"), cli("logs", "latest", "sh")
    assert (python.code, python.out, shell.code, shell.out) == (0, "", 0, "")
    assert python.err == (
        "dagctl: task 'py' (attempt 1, success) wrote nothing: a Python task's log file is made when it first prints "
        "or logs\n"
    )
    rows = {
        line.split()[0]: line.split()[-1]
        for line in cli("show", "latest").out.splitlines()
        if line[:3] in ("py ", "sh ")
    }
    assert rows["py"] == "-" and rows["sh"].endswith("/sh.log")  # show names no file that is not there
