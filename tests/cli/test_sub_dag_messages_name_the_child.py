"""What a failed `dag:` task says: a value the task passes that does not fit a param of its sub-DAG names the
sub-DAG and where the value comes from (it gave a hint about the parent's command line: `pass e.g. -p n=1`), and
`show` names a failed sub-DAG run once (it named it twice: in the error, then again as the task's note)."""

from __future__ import annotations

from pathlib import Path

CHILD = """\
name: child
params: {n: {type: int, default: 1}}
tasks:
  - id: work
    env: {N: "${params.n}"}
    run: 'test "$N" -ne 13 || exit 1; echo "doubled=$(( N * 2 ))" > $DAGCTL_OUTPUT'
outputs: {doubled: "${outputs.work.doubled}"}
"""


def _child(project: Path) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "child.yaml").write_text(CHILD)


def test_a_param_of_the_sub_dag_that_does_not_fit_names_the_sub_dag_and_the_tasks_params(project: Path, cli) -> None:
    _child(project)
    (project / "sp.yaml").write_text(
        'name: sp\nparams: {n: "abc"}\ntasks:\n  - {id: k, dag: sub/child.yaml, params: {n: "${params.n}"}}\n'
    )
    run = cli("run", "sp.yaml", "-q")
    assert run.code == 1
    assert run.err.splitlines()[0] == (
        "dagctl: task k failed: param 'n' of the sub-DAG sub/child.yaml must be a whole number, got 'abc' — its "
        "value comes from params: of task 'k' (n: ${params.n}); give one that fits there, e.g. n: 1"
    )


def test_show_names_a_failed_sub_dag_run_of_a_matrix_cell_once(project: Path, cli) -> None:
    _child(project)
    (project / "parent.yaml").write_text(
        "name: parent\ntasks:\n  - {id: kids, matrix: {n: [1, 13]}, dag: sub/child.yaml, params: {n: '${matrix.n}'}}\n"
    )
    assert cli("run", "parent.yaml", "-q").code == 1
    [row] = [line for line in cli("show", "latest").out.splitlines() if line.lstrip().startswith("kids:1")]
    child = row.split("sub-DAG run ")[1].split(":")[0]
    assert row.count(child) == 1, row
    assert f"sub-DAG run {child}: task(s) failed: work" in row
