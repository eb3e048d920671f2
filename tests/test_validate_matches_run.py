"""What `dagctl validate` accepts, `dagctl run` accepts: the files and settings a run reads that used to pass
validation and fail the run (the project's dagctl.yaml, a precondition's condition, the DAG's own outputs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag_text
from dagctl.errors import SpecError

OK_DAG = "name: {name}\ntasks:\n  - {{id: a, run: 'true'}}\n"


def test_validate_reports_a_broken_project_file_once_for_the_dags_under_it(cli, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "dags" / "more").mkdir(parents=True)
    config = project / "dagctl.yaml"
    config.write_text("notify: {events: [bogus], urls: ['json://hooks.example.com/x']}\n")
    (project / "dags" / "x.yaml").write_text(OK_DAG.format(name="x"))
    (project / "dags" / "more" / "y.yaml").write_text(OK_DAG.format(name="y"))

    run = cli("run", str(project / "dags" / "x.yaml"), "-q")
    assert run.code == 2 and "notify events: ['bogus']" in run.err

    problem = (
        f"{config.resolve()}:1:18: notify events: ['bogus'] is not a list of failure, success, retry, approval "
        "— write e.g. events: [failure, approval]"
    )
    result = cli("validate", str(project / "dags"))  # the project file is not named: it applies all the same
    assert result.code == 2, result
    assert result.err.splitlines() == [problem, "1 problem in 1 file (2 checked)"]
    named_too = cli("validate", str(project / "dags"), str(config))
    assert named_too.code == 2, named_too
    assert named_too.err.splitlines() == [problem, "1 problem in 1 file (3 checked)"]


def test_validate_checks_the_project_file_of_a_schedule_and_of_its_dag(cli, tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "schedules").mkdir()
    (tmp_path / "dags" / "x.yaml").write_text(OK_DAG.format(name="x"))
    (tmp_path / "dags" / "dagctl.yaml").write_text("retention: {keep_days: 0}\n")
    (tmp_path / "schedules" / "s.yaml").write_text("- {id: s, cron: '@daily', dag: ../dags/x.yaml}\n")
    result = cli("validate", str(tmp_path / "schedules"))
    assert result.code == 2, result
    assert f"{(tmp_path / 'dags' / 'dagctl.yaml').resolve()}:1:24: retention keep_days: 0 is not" in result.err


def test_a_sound_project_file_keeps_validate_quiet(cli, tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dagctl.yaml").write_text("notify: {events: [failure], urls: ['json://hooks.example.com/x']}\n")
    (tmp_path / "dags" / "x.yaml").write_text(OK_DAG.format(name="x"))
    result = cli("validate", str(tmp_path / "dags"))
    assert (result.code, result.err) == (0, "")


def test_a_precondition_condition_is_checked_as_a_when_condition(cli, tmp_path: Path) -> None:
    dag = tmp_path / "pre.yaml"
    dag.write_text(
        "name: pre\nparams: {limit: 3}\ntasks:\n"
        "  - id: a\n    run: 'true'\n    precondition: {when: 'nope'}\n"
        "  - id: b\n    run: 'true'\n    precondition: {when: 'params.limt > 1 and outputs.c.ok'}\n"
        "  - id: c\n    run: 'true'\n    depends_on: [b]\n"
    )
    result = cli("validate", str(dag))
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[0] == (
        f"{dag}:6:26: task 'a' precondition: when: unknown name 'nope' at column 1 — read data as params.x, "
        'outputs.<task>.<key>, outputs["task-id"]["key"], env.NAME; quote text: "nope"'
    )
    at_b = f"{dag}:9:26: task 'b' precondition: when: "
    assert sorted(line.split(" — ")[0] for line in lines[1:3]) == [
        f"{at_b}reads outputs of task 'c' at column 21, which is not upstream of this task",
        f"{at_b}unknown param 'limt' at column 1 (known: limit)",
    ]
    assert cli("run", str(dag), "-q").code == 2  # the loader refuses it too: nothing runs


def test_a_sound_precondition_condition_passes() -> None:
    load_dag_text(
        "name: ok\nparams: {limit: 3}\ntasks:\n  - {id: up, run: 'true'}\n"
        "  - {id: a, run: 'true', depends_on: [up], precondition: {when: 'params.limit > 1 and outputs.up.x'}}\n"
    )


def test_dag_outputs_naming_a_task_that_does_not_exist_are_refused(cli, tmp_path: Path) -> None:
    dag = tmp_path / "outs.yaml"
    dag.write_text(
        "name: outs\ntasks:\n  - {id: load, run: 'true'}\n  - {id: report, run: 'true'}\n"
        "outputs:\n  x: '${outputs.zz.k}'\n  y: 'rows: ${outputs.lod.rows}'\n"
    )
    result = cli("validate", str(dag))
    assert result.code == 2, result
    assert result.err.splitlines()[:2] == [
        f"{dag}:6:6: outputs x: unknown task 'zz' in ${{outputs.zz.k}} at column 1 — name a task of this DAG: "
        "load, report",
        f"{dag}:7:6: outputs y: unknown task 'lod' in ${{outputs.lod.rows}} at column 7 — did you mean 'load'?",
    ]
    assert "depends_on" not in result.err
    run = cli("run", str(dag), "-q")
    assert run.code == 2 and not (tmp_path / "logs" / "runs").exists()  # refused before any task ran


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("${dag.name}", "outputs x: ${dag.name} at column 1 has no value in a DAG's outputs"),
        ("${params.nope}", "outputs x: unknown param 'nope' in ${params.nope} at column 1; known: (none)"),
        ("${matrix.k}", "outputs x: ${matrix.k} at column 1 is only known in a task with matrix:"),
    ],
)
def test_dag_outputs_may_read_only_what_a_finished_run_has(value: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_dag_text(f"name: o\ntasks:\n  - {{id: a, run: 'true'}}\noutputs:\n  x: '{value}'\n")
    assert [p.message for p in caught.value.problems] == [problem]


def test_dag_outputs_of_any_task_params_env_and_run_id_pass() -> None:
    spec = load_dag_text(
        "name: o\nparams: {day: x}\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: a}\n"
        "outputs:\n  rows: ${outputs.a.rows}\n  all: {day: '${params.day}', run: '${run_id}', home: '${env.HOME}'}\n"
        "  stamp: '${logical_date:-none}'\n"
    )
    assert set(spec.outputs) == {"rows", "all", "stamp"}
