"""`dagctl export argo` and `dagctl exec-task` as a user sees them: output, files, help, errors, exit codes."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLE_DAGS, ROOT

needs_hera = pytest.mark.skipif(
    importlib.util.find_spec("hera") is None,
    reason="the argo extra is not installed: pip install 'dagctl[argo]' (CI installs it)",
)


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


# -- dagctl export argo -----------------------------------------------------------------------------------------


@needs_hera
def test_export_argo_prints_a_valid_workflow_of_the_diamond(cli, at_root: Path) -> None:
    from hera.workflows import Workflow

    result = cli("export", "argo", "configs/dags/diamond_pipeline.yaml")
    assert result.code == 0, result
    assert result.err == ""  # the diamond maps exactly: no notes
    manifest = yaml.safe_load(result.out)
    assert manifest["kind"] == "Workflow"
    assert Workflow.from_yaml(result.out).to_dict() == manifest
    assert [t["name"] for t in manifest["spec"]["templates"][0]["dag"]["tasks"]] == [
        "extract",
        "by-region",
        "by-product",
        "report",
    ]


@needs_hera
def test_export_argo_writes_a_file_and_prints_notes_on_stderr(cli, at_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "nightly.yaml"
    result = cli("export", "argo", "--schedule", "diamond_nightly", "-o", str(out), "--name-prefix", "etl-")
    assert result.code == 0, result
    assert result.out == ""
    manifest = yaml.safe_load(out.read_text())
    assert manifest["kind"] == "CronWorkflow" and manifest["metadata"]["name"] == "etl-diamond-nightly"
    lines = result.err.splitlines()
    assert lines[-1] == f"wrote CronWorkflow to {out}"
    assert [line.split(" ")[3] for line in lines[:-1]] == ["overlap:", "catchup:", "jitter:"]
    assert all(line.startswith("note: schedule 'diamond_nightly'") for line in lines[:-1])


def test_export_argo_makes_the_folder_of_its_output_and_replaces_a_manifest_whole(
    cli, at_root: Path, tmp_path: Path
) -> None:
    """``-o`` makes a missing folder (as ``--junit`` does), and writes through a temporary file: what was there is
    replaced at once, and nothing else is left in the folder."""
    out = tmp_path / "manifests" / "argo" / "diamond.yaml"
    result = cli("export", "argo", "configs/dags/diamond_pipeline.yaml", "-o", str(out))
    assert result.code == 0, result
    assert yaml.safe_load(out.read_text())["kind"] == "Workflow"
    out.write_text("old\n")
    assert cli("export", "argo", "configs/dags/diamond_pipeline.yaml", "-o", str(out)).code == 0
    assert yaml.safe_load(out.read_text())["kind"] == "Workflow"
    assert sorted(p.name for p in out.parent.iterdir()) == ["diamond.yaml"]


def test_export_argo_to_a_place_that_cannot_hold_a_file_is_one_line_and_exit_3(
    cli, at_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file where the folder should be\n")
    result = cli("export", "argo", "configs/dags/diamond_pipeline.yaml", "-o", str(tmp_path / "taken" / "x.yaml"))
    assert result.code == 3, result
    [line] = result.err.splitlines()
    assert line.startswith("dagctl: error: ") and "--output" in line and " — " in line, line


@needs_hera
def test_export_argo_refuses_what_it_cannot_map_in_one_line_per_problem(cli, write) -> None:
    dag = write(
        "dags/d.yaml",
        """
        name: d
        tasks:
          - {id: a, run: "true"}
          - {id: b, run: "true", depends_on: a, when: 'env.STAGE == "prod"'}
        """,
    )
    result = cli("export", "argo", str(dag))
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("dagctl: error: task 'b' when: env.STAGE == \"prod\": ")
    assert "environment variable" in result.err and "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "argo"], "which DAG?"),
        (["export", "argo", "configs/dags/diamond_pipeline.yaml", "-p", "rowz=1"], "unknown param 'rowz'"),
        (["export", "argo", "configs/dags/diamond_pipeline.yaml", "-p", "rows"], "is not key=value"),
        (["export", "argo", "--schedule", "diamond_nightly", "--kind", "workflow-template"], "exports a CronWorkflow"),
        (["export", "argo", "--schedule", "nope"], "no schedule 'nope'"),
        (["export", "argo", "configs/dags/weekly_ops_chain.yaml", "--schedule", "diamond_nightly"], "runs "),
        (["export", "argo", "configs/dags/missing.yaml"], "missing.yaml"),
    ],
)
@needs_hera
def test_export_argo_bad_input_is_one_line_and_exit_2(cli, at_root: Path, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2, result
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_export_argo_without_hera_says_how_to_install_it(cli, at_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hera.workflows", None)  # as if the argo extra were not installed
    result = cli("export", "argo", "configs/dags/diamond_pipeline.yaml")
    assert result.code == 3
    assert result.err == "dagctl: error: exporting to Argo needs the hera package — pip install 'dagctl[argo]' " \
        "(it installs hera)\n"  # fmt: skip


def test_the_new_commands_have_help_with_examples(cli) -> None:
    top = cli("--help")
    assert "export" in top.out and "exec-task" in top.out
    for command in (["export"], ["export", "argo"], ["exec-task"]):
        result = cli(*command, "--help")
        assert result.code == 0, command
        assert "Example" in result.out, command


# -- dagctl exec-task -------------------------------------------------------------------------------------------


@pytest.fixture
def diamond(tmp_path: Path) -> Path:
    for name in ("diamond_pipeline.yaml", "pipeline_steps.py"):
        shutil.copy(EXAMPLE_DAGS / name, tmp_path / name)
    return tmp_path / "diamond_pipeline.yaml"


def test_exec_task_runs_one_task_and_writes_its_outputs_where_a_workflow_reads_them(cli, diamond: Path) -> None:
    out = diamond.parent / "out"
    result = cli("exec-task", str(diamond), "extract", "-p", "rows=12", "--outputs-dir", str(out), "--run-id", "wf-1")
    assert result.code == 0, result
    outputs = json.loads((out / "outputs.json").read_text())
    assert outputs["rows"] == 12 and outputs["path"].endswith("/runs/wf-1/sales.csv")
    assert (out / "values" / "rows").read_text() == "12"
    assert result.err.startswith("dagctl exec-task: extract success in ")
    assert "(exit 0); outputs: path, rows; log " in result.err
    downstream = cli(
        "exec-task", str(diamond), "by_product", "--input", f"extract=@{out / 'outputs.json'}", "--run-id", "wf-1"
    )
    assert downstream.code == 0, downstream
    assert "outputs: doohickey, gadget, gizmo, widget" in downstream.err


def test_exec_task_copies_the_task_log_to_stdout_and_exits_with_the_tasks_code(cli, write) -> None:
    dag = write("d.yaml", "name: d\ntasks:\n  - {id: a, run: 'echo hello from a; exit 7'}\n")
    result = cli("exec-task", str(dag), "a")
    assert result.code == 7
    assert result.out == "hello from a\n"
    assert "a failed in" in result.err and "(exit 7): exit code 7" in result.err
    quiet = cli("exec-task", str(dag), "a", "-q")
    assert quiet.code == 7 and quiet.out == ""


def test_exec_task_masks_a_secret_in_what_it_copies_and_in_the_log(cli, write, monkeypatch) -> None:
    monkeypatch.setenv("PROD_DB_PASS", "hunter2-long")
    dag = write(
        "s.yaml",
        "name: s\ntasks:\n  - {id: a, run: 'echo pass=$DB_PASS; echo bye',"
        " secrets: {DB_PASS: {from_env: PROD_DB_PASS}}}\n",
    )
    result = cli("exec-task", str(dag), "a")
    assert result.code == 0 and result.out == "pass=***\nbye\n"
    log = result.err.rsplit("log ", 1)[1].strip()
    assert Path(log).read_text() == "pass=***\nbye\n"
    monkeypatch.delenv("PROD_DB_PASS")
    missing = cli("exec-task", str(dag), "a")
    assert missing.code == 2 and "PROD_DB_PASS" in missing.err


def test_exec_task_runs_a_step_from_its_spec_without_the_dag_file(cli, diamond: Path, tmp_path: Path) -> None:
    from dagctl.dag.loader import load_dag
    from dagctl.dag.plan import build_plan
    from dagctl.export.argo import spec_text
    from dagctl.run.single import task_spec

    plan = build_plan(load_dag(diamond))
    spec = spec_text(task_spec(plan, "extract", params=["rows"]))
    result = cli("exec-task", "--spec", spec, "-p", "rows=4", "--outputs-dir", str(tmp_path / "o"), "--retry", "1")
    assert result.code == 0, result
    assert json.loads((tmp_path / "o" / "outputs.json").read_text())["rows"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["exec-task"], "which task?"),
        (["exec-task", "DAG", "extract", "--spec", "{}"], "either --spec or DAG TASK"),
        (["exec-task", "--spec", "{nope"], "--spec is not JSON"),
        (["exec-task", "--spec", "[]"], "not a dagctl task spec"),
        (["exec-task", "DAG", "extrct"], "did you mean 'extract'"),
        (["exec-task", "DAG", "by_region", "--input", "extract"], "is not TASK=JSON"),
        (["exec-task", "DAG", "by_region", "--input", "report={}"], "is not upstream of 'by_region'"),
        (["exec-task", "DAG", "extract", "--run-id", "a/b"], "cannot name a run folder"),
    ],
)
def test_exec_task_bad_input_is_one_line_and_exit_2(cli, diamond: Path, args: list[str], message: str) -> None:
    result = cli(*[str(diamond) if a == "DAG" else a for a in args])
    assert result.code == 2, result
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


@needs_hera
@pytest.mark.parametrize(
    ("dag", "notes"),
    [
        ("hyperparameter_search", ["note: task 'train' matrix: its 6 cells are fixed at export"]),
        ("nightly_report", []),
    ],
)
def test_export_argo_maps_the_example_dags_with_a_matrix_a_sub_dag_and_a_loop(
    cli, at_root: Path, dag: str, notes: list[str]
) -> None:
    from hera.workflows import Workflow

    result = cli("export", "argo", f"configs/dags/{dag}.yaml")
    assert result.code == 0, result
    manifest = yaml.safe_load(result.out)
    assert Workflow.from_yaml(result.out).to_dict() == manifest
    lines = result.err.splitlines()
    assert len(lines) == len(notes) and all(line.startswith(note) for line, note in zip(lines, notes, strict=True))


def test_exec_task_runs_a_cell_gathers_cells_and_refuses_two_steps_at_once(cli, tmp_path: Path) -> None:
    for name in ("hyperparameter_search.yaml", "ml_steps.py"):
        shutil.copy(EXAMPLE_DAGS / name, tmp_path / name)
    dag = str(tmp_path / "hyperparameter_search.yaml")
    out = tmp_path / "cell"
    cell = cli(
        "exec-task", dag, "train", "--cell", '{"batch_size":32,"lr":0.01}', "--run-id", "wf", "--outputs-dir", str(out)
    )
    assert cell.code == 0, cell
    assert json.loads((out / "outputs.json").read_text()) == {"accuracy": 0.916, "loss": 0.084}
    assert (out / "cell").read_text().startswith('dagctl-cell:{"index": 3,')
    records = json.dumps([(out / "cell").read_text()])
    gathered = cli("exec-task", dag, "train", "--gather", records, "--run-id", "wf")
    assert gathered.code == 1 and "exec-task --gather: train failed" in gathered.err
    assert "1 of 6 cells succeeded, 6 needed (min_success)" in gathered.err
    both = cli("exec-task", dag, "train", "--gather", records, "--cache-key")
    assert both.code == 2 and "give one of --gather, --cache-key" in both.err
    until = cli("exec-task", dag, "train", "--until", "{}")
    assert until.code == 2 and "--until needs --iteration" in until.err
    not_a_dag = cli("exec-task", dag, "train", "--dag-params")
    assert not_a_dag.code == 2 and "is not a dag: task" in not_a_dag.err
