"""Load-time checks of templates, conditions and workflow names, reported at their positions."""

from __future__ import annotations

import pytest

from dagctl import load_dag
from dagctl.errors import SpecError
from dagctl.schedule.validation import validate_paths


def problems(path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_dag(path)
    return [str(p) for p in info.value.problems]


def test_template_references_are_checked_against_params_and_upstream(write):
    path = write(
        "t.yaml",
        """
        name: t
        params: {rows: 1}
        tasks:
          - id: a
            run: echo ${params.rwos} ${outputs.b.k}
          - id: b
            run: "true"
            depends_on: a
            env: {X: "${outputs.a.k}"}
        """,
    )
    found = problems(path)
    assert len(found) == 2, found
    assert f"{path}:5:10: task 'a' run: ${{outputs.b.k}}" in found[0]
    assert "not upstream of this task — add 'b' to depends_on" in found[0]
    assert "unknown param 'rwos'" in found[1] and "rows" in found[1]


def test_when_conditions_are_checked_at_load_time(write):
    path = write(
        "w.yaml",
        """
        name: w
        tasks:
          - id: a
            run: "true"
            when: __import__('os').system('x')
        """,
    )
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:5:11: task 'a' when: ")


def test_unknown_workflow_is_reported_with_what_is_registered(write):
    path = write(
        "wf.yaml",
        """
        name: wf
        workflows: {build: steps:build}
        tasks:
          - id: a
            workflow_ref: biuld
        """,
    )
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:5:19: task 'a': unknown workflow 'biuld'")
    assert "build" in found[0]


def test_project_config_is_validated_with_the_dags(write, tmp_path):
    write("proj/dagctl.yaml", "workflow:\n  x: m:f\n")
    write("proj/d.yaml", "name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    found = validate_paths([tmp_path / "proj"])
    assert found.checked == 2 and found.warnings == []
    assert [str(p) for p in found.problems] == [
        f"{tmp_path / 'proj' / 'dagctl.yaml'}:1:1: unknown key 'workflow' — did you mean 'workflows'?"
    ]


def test_python_target_next_to_the_dag_must_define_the_function(write):
    write("steps.py", "import os\n\n\ndef extract(rows):\n    return {}\n\n\nclass Loader:\n    pass\n")
    path = write(
        "p.yaml",
        """
        name: p
        tasks:
          - {id: a, python: "steps:extract"}
          - {id: b, python: "steps:Loader"}
          - {id: c, python: "steps:extarct"}
          - {id: d, python: "json:dumps"}
        """,
    )
    found = problems(path)
    assert found == [f"{path}:5:21: task 'c': steps.py has no function 'extarct' — did you mean 'extract'?"]


def test_an_aggregate_function_next_to_the_dag_must_be_defined_too(write):
    # a typo here used to pass validation and fail the matrix task after every cell had run
    write("gather.py", "def pick(cells):\n    return {}\n")
    path = write(
        "g.yaml",
        """
        name: g
        tasks:
          - {id: a, run: 'true', matrix: {n: [1, 2]}, aggregate: {strategy: python, python: "gather:pick"}}
          - {id: b, run: 'true', matrix: {n: [1, 2]}, aggregate: {strategy: python, python: "gather:pik"}}
        """,
    )
    assert problems(path) == [
        f"{path}:4:85: task 'b' aggregate: gather.py has no function 'pik' — did you mean 'pick'?"
    ]


def test_python_target_check_never_imports_the_module(write, tmp_path):
    marker = tmp_path / "imported"
    write("side.py", f"open({str(marker)!r}, 'w').close()\n\n\ndef f():\n    pass\n")
    load_dag(write("s.yaml", "name: s\ntasks:\n  - {id: a, python: 'side:f'}\n"))
    assert not marker.exists()
