"""An exported Workflow run by a local stand-in for Argo (tests/export/argo_sim.py): every step's container
command runs as a local process with the parameters Argo would pass, and the result is what ``dagctl run``
gives on the same DAG — the same task outcomes and the same outputs."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import build_plan
from dagctl.export.argo import ArgoOptions, export_plan
from tests.conftest import EXAMPLE_DAGS, ROOT
from tests.export.argo_sim import Simulation, eval_depends, eval_when, simulate
from tests.export.dags import BRANCHES

PHASES = {"Succeeded": "success", "Failed": "failed", "Errored": "failed", "Skipped": "skipped", "Omitted": "skipped"}


def dagctl_run(project: Path, dag: str, *params: str) -> tuple[dict[str, str], dict[str, dict], str]:
    """``dagctl run`` as a process: (task statuses, outputs of the tasks that have some, run folder)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(project / "logs-run")}
    env.pop("ORCH_EVENTS_PATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", dag, "--json", *[a for p in params for a in ("-p", p)]],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip(), f"dagctl run printed no summary (exit {done.returncode}): {done.stderr}"
    summary = json.loads(done.stdout)
    run_dir = Path(summary["run_dir"])
    run_dir = run_dir if run_dir.is_absolute() else project / run_dir
    statuses = {tid: task["status"] for tid, task in summary["tasks"].items()}
    outputs = {p.stem: json.loads(p.read_text()) for p in (run_dir / "outputs").glob("*.json")}
    return statuses, outputs, str(run_dir.resolve())


def run_exported(project: Path, dag: str, **arguments: str) -> tuple[Simulation, dict[str, dict], str]:
    """Export ``dag`` and simulate it: (the simulation, outputs by dagctl task id, the run folder the steps shared)."""
    plan = build_plan(load_dag(project / dag))
    manifest = export_plan(plan, ArgoOptions(dag_path=dag)).manifest
    if importlib.util.find_spec("hera") is not None:  # run what Hera's models of the Argo schema give back
        from dagctl.export.hera_models import checked

        manifest = checked(manifest).to_dict()
    sim = simulate(
        manifest,
        workdir=project,
        steps_dir=project / "steps",
        env={"DAGCTL_LOGS_DIR": str(project / "logs-argo")},
        workflow_name="sim-wf-1",
        arguments=arguments,
    )
    outputs = {
        sim.task_ids[name]: json.loads(values["dagctl-outputs"])
        for name, values in sim.outputs.items()
        if sim.phases[name] == "Succeeded" and values["dagctl-outputs"] != "{}"
    }
    return sim, outputs, str((project / "logs-argo" / "runs" / "sim-wf-1").resolve())


def normalized(outputs: dict[str, dict], *places: tuple[str, str]) -> dict[str, dict]:
    text = json.dumps(outputs, sort_keys=True)
    for place, name in places:
        text = text.replace(place, name)
    return json.loads(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("diamond_pipeline.yaml", "pipeline_steps.py"):
        shutil.copy(EXAMPLE_DAGS / name, tmp_path / name)
    (tmp_path / "branches.yaml").write_text(BRANCHES)
    return tmp_path


def test_the_diamond_run_as_an_argo_workflow_gives_the_outputs_of_dagctl_run(project: Path) -> None:
    statuses, expected, run_dir = dagctl_run(project, "diamond_pipeline.yaml", "rows=300", f"out_dir={project}/out-run")
    sim, outputs, sim_dir = run_exported(project, "diamond_pipeline.yaml", rows="300", out_dir=f"{project}/out-argo")
    assert statuses == dict.fromkeys(("extract", "by_region", "by_product", "report"), "success")
    assert {sim.task_ids[n]: PHASES[p] for n, p in sim.phases.items()} == statuses
    assert expected["extract"]["rows"] == 300 and expected["report"]["sections"] == 2
    assert normalized(outputs, (sim_dir, "<run>"), (f"{project}/out-argo", "<out>")) == normalized(
        expected, (run_dir, "<run>"), (f"{project}/out-run", "<out>")
    )
    report = "sales_report.md"
    assert (project / "out-argo" / report).read_text() == (project / "out-run" / report).read_text()
    # the steps shared one run folder, as the tasks of a local run do
    assert sorted(p.name for p in Path(sim_dir).iterdir()) == ["by_product.log", "outputs", "sales.csv"]


def test_trigger_rules_when_and_retries_behave_in_argo_as_in_dagctl_run(project: Path) -> None:
    statuses, expected, _ = dagctl_run(project, "branches.yaml")
    sim, outputs, _ = run_exported(project, "branches.yaml")
    assert {sim.task_ids[n]: PHASES[p] for n, p in sim.phases.items()} == statuses
    assert statuses == {
        "check": "success",
        "flaky": "success",
        "when_yes": "success",
        "when_no": "skipped",
        "after_no": "skipped",
        "boom": "failed",
        "cleanup": "success",
        "on_failure": "success",
        "join": "success",
        "all_failed_t": "success",
        "one_success_t": "success",
        "none_failed_skip": "skipped",
    }
    assert outputs == expected
    assert outputs["flaky"] == {"attempt": "2"} and outputs["join"] == {"joined": "1"}
    retries = [argv[argv.index("--retry") + 1] for argv in sim.commands["flaky"]]
    assert retries == ["0", "1"]


def test_a_param_given_to_the_workflow_reaches_the_when_of_a_task(project: Path) -> None:
    statuses, expected, _ = dagctl_run(project, "branches.yaml", "mode=none")
    sim, outputs, _ = run_exported(project, "branches.yaml", mode="none")
    phases = {sim.task_ids[n]: PHASES[p] for n, p in sim.phases.items()}
    assert phases == statuses
    assert phases["when_yes"] == "skipped" and phases["join"] == "success"
    assert outputs["join"] == expected["join"] == {"joined": "none"}  # a skipped upstream task has no outputs


def test_the_stand_in_evaluates_argo_expressions_as_argo_does() -> None:
    phases = {"a": "Succeeded", "b-1": "Failed"}
    assert eval_depends("a.Succeeded && (b-1.Failed || b-1.Errored)", phases)
    assert not eval_depends("a.Succeeded && b-1.Succeeded", phases)
    assert eval_when("'yes' == 'yes' && !('' != '')")
    assert eval_when("5 > 3 && odd != even")  # bare words are strings, as Argo's govaluate call reads them
    assert not eval_when("'5' == '5.0' || -1.5 > 2")
