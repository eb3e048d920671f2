"""Problems name what the user wrote, where they wrote it, and what to write instead: never a regular expression,
a Python class name or Python's spelling of a YAML value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_DAGS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "params: {n: {type: integer, default: 1}}\ntasks: [{id: a, run: echo}]",
            "2:20: param 'n': type 'integer' is not one of str, int, float, bool, date, datetime, list, dict"
            " — did you mean 'int'?",
        ),
        (
            "params: {n: {type: int, default: x}}\ntasks: [{id: a, run: echo}]",
            "2:34: param 'n': its default must be a whole number, got 'x' — fix the default, or leave it out",
        ),
        (
            "params: {n: {enum: []}}\ntasks: [{id: a, run: echo}]",
            "2:20: param 'n': enum must be a non-empty list — write e.g. enum: [small, large]",
        ),
        ("tasks: [{id: a, dag: {}}]", "2:22: missing required key 'tasks' in task 'a' dag — add tasks:"),
        (
            'tasks: [{id: a, run: echo, matrix: {"bad-key": [1]}}]',
            "2:37: task 'a' matrix: key 'bad-key' is not a valid key"
            " — use 1-64 letters, digits and '_', not starting with a digit",
        ),
        (
            'tasks: [{id: a, run: echo, secrets: {A: {from_env: "bad name"}}}]',
            "2:52: task 'a' secrets.A.from_env: 'bad name' is not an environment variable name"
            " — use letters, digits and '_', not starting with a digit",
        ),
        (
            'tasks: [{id: a, run: echo, depends_on: "tâche"}]',
            "2:40: task 'a' depends_on: 'tâche' is not a valid name — use 1-64 letters, digits, '_', '.' or '-'",
        ),
        (
            "notify: {urls: []}\ntasks: [{id: a, run: echo}]",
            '2:16: notify.urls: is empty — write an apprise URL such as "slack://T000/B000/XXX" or "${env.SLACK_URL}"',
        ),
        ("tasks: [{id: a, run: echo, timeout: true}]", "2:37: task 'a' timeout: true is not a duration — write"),
        ("tasks: []", "2:8: tasks: is empty — add a task: - {id: hello, run: echo hello}"),
    ],
    ids=[
        "param type",
        "param default",
        "param enum",
        "empty inline dag",
        "matrix key",
        "secret env name",
        "depends_on name",
        "no notify urls",
        "timeout true",
        "no tasks",
    ],
)
def test_each_problem_in_its_own_words(cli, tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(f"name: m\n{body}\n")
    result = cli("validate", str(path))
    assert result.code == 2
    assert result.err.startswith(f"{path}:{expected}"), result.err
    assert result.err.count(f"{path}:") == 1, result.err  # one problem, said once
    assert not {"InlineDag", "pattern", "True", "pydantic", "after validation"} & set(result.err.split()), result.err


def test_exec_task_names_the_key_a_dag_file_writes(cli) -> None:
    result = cli("exec-task", str(EXAMPLE_DAGS / "nightly_report.yaml"), "prep")
    assert result.code == 2
    assert result.err.startswith("dagctl: error: task 'prep' is a dag: task, which runs a whole sub-DAG"), result.err
    assert "subdag" not in result.err
