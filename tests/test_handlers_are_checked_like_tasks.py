"""``handlers:`` are checked as tasks are, each problem at its own line and column: keys, types, kinds, what does
not apply to a handler, ``${...}`` references and ``python:`` targets. A failure handler that cannot work is found
by ``dagctl validate``, not when the run has failed and the handler was needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import build_plan
from dagctl.errors import SpecError

HEAD = "name: h\nparams: {x: 1}\ntasks:\n  - {id: a, run: echo}\nhandlers:\n"


def problems(tmp_path: Path, handlers: str) -> list[str]:
    path = tmp_path / "h.yaml"
    path.write_text(HEAD + handlers)
    with pytest.raises(SpecError) as caught:
        load_dag(path)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


@pytest.mark.parametrize(
    ("handlers", "expected"),
    [
        ("  failure: {runn: echo}\n", ["6:13: unknown key 'runn' in handler failure — did you mean 'run'?"]),
        (
            "  failure: {run: echo, timeout: yes}\n",
            [
                '6:33: handler failure timeout: true is not a duration — write seconds (30) or a duration like "30s",'
                ' "10m", "1h30m", "500ms", "2d" (at most 365d)'
            ],
        ),
        (
            "  failure: {python: nope}\n",
            ["6:21: handler failure python: 'nope' is not module:function — write it as package.module:function"],
        ),
        (
            '  failure: {run: "echo ${params.y}"}\n',
            [
                "6:18: handler failure run: unknown param 'y' in ${params.y} at column 6; known: x"
                + " — declare it under params:"
            ],
        ),
        (
            '  exit: {run: "echo ${outputs.b.k}"}\n',
            ["6:15: handler exit run: unknown task 'b' in ${outputs.b.k} at column 6 — name a task of this DAG: a"],
        ),
        ("  exitt: {run: echo}\n", ["6:3: unknown key 'exitt' in handlers — did you mean 'exit'?"]),
        ("  cancel: {}\n", ["6:11: handler cancel: has nothing to do — add one of run:, python: or workflow_ref:"]),
        (
            "  success: {run: echo, python: 'm:f'}\n",
            ["6:12: handler success: sets run and python — keep exactly one of run:, python:, workflow_ref:"],
        ),
    ],
    ids=["unknown key", "type", "python shape", "template", "unknown task", "unknown kind", "no kind", "two kinds"],
)
def test_a_handler_problem_is_reported_where_it_is(tmp_path: Path, handlers: str, expected: list[str]) -> None:
    assert problems(tmp_path, handlers) == expected


def test_every_handler_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "  failure: {run: echo, depends_on: a, retriez: 1}\n  success: echo\n  exit: {matrix: {v: [1]}}\n"
    )
    assert found == [
        "6:24: handler failure: depends_on: does not apply to a handler — a handler runs once, after the DAG's tasks "
        "have ended; remove it",
        "6:39: unknown key 'retriez' in handler failure — did you mean 'retries'?",
        "7:12: handler success: must be a mapping such as {run: ./notify.sh}, got 'echo'"
        " — write the value in that form",
        "8:10: handler exit: matrix: does not apply to a handler — a handler runs once, after the DAG's tasks have "
        "ended; remove it",
    ]


def test_a_python_handler_whose_function_is_missing_is_reported(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text("def notify():\n    pass\n")
    assert problems(tmp_path, "  failure: {python: 'steps:notfy'}\n") == [
        "6:21: handler failure: steps.py has no function 'notfy' — did you mean 'notify'?"
    ]


def test_a_valid_handler_is_planned_as_before(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(HEAD + '  failure: {run: "echo ${params.x} ${outputs.a.k} $DAGCTL_RUN_STATUS", timeout: 5m}\n')
    handler = build_plan(load_dag(path)).handlers["failure"]
    assert (handler.id, handler.kind, handler.timeout) == ("handler:failure", "run", 300)


def test_what_decides_whether_or_how_often_a_task_runs_is_refused_on_a_handler(tmp_path: Path) -> None:
    """A handler runs when the run ends: `when:`, `precondition:`, `cache:` … were accepted and then ignored."""
    found = problems(tmp_path, "  failure: {run: echo, when: 'params.x == 1', precondition: 'true', cache: true}\n")
    assert [p.split(" — ")[0] for p in found] == [
        "6:24: handler failure: when: does not apply to a handler",
        "6:47: handler failure: precondition: does not apply to a handler",
        "6:69: handler failure: cache: does not apply to a handler",
    ]
