"""Exported manifests through Hera's models of the Argo schema: they load, round-trip, match the golden files,
and hold the DAG's own dependency graph.

Golden files: tests/golden/argo/. After an intended change of the mapping, regenerate them with
``DAGCTL_UPDATE_GOLDEN=1 pytest tests/export/test_argo_hera.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml

pytest.importorskip("hera", reason="the argo extra is not installed: pip install 'dagctl[argo]' (CI installs it)")

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import Plan, build_plan
from dagctl.export.argo import ArgoOptions, ExportError, export_plan
from dagctl.export.hera_models import ManifestError, checked, load, to_yaml
from tests.conftest import EXAMPLE_DAGS, ROOT
from tests.export.dags import BRANCHES

GOLDEN = ROOT / "tests" / "golden" / "argo"
UPDATE = os.environ.get("DAGCTL_UPDATE_GOLDEN", "") not in ("", "0")

CASES = {
    # golden file: dagctl export argo arguments, run from the repository root
    "diamond_pipeline.workflow.yaml": ["configs/dags/diamond_pipeline.yaml"],
    "diamond_pipeline.workflow-template.yaml": [
        "configs/dags/diamond_pipeline.yaml", "--kind", "workflow-template", "--image",
        "registry.example.com/etl:1.4", "--namespace", "etl", "--pvc", "dagctl-runs", "-p", "rows=1000",
    ],
    "weekly_ops_chain.workflow.yaml": ["configs/dags/weekly_ops_chain.yaml", "--name-prefix", "ops-"],
    "hyperparameter_search.workflow.yaml": ["configs/dags/hyperparameter_search.yaml"],
    "nightly_report.workflow.yaml": ["configs/dags/nightly_report.yaml", "--pvc", "dagctl-runs"],
    "diamond_nightly.cron-workflow.yaml": ["--schedule", "diamond_nightly", "--dir", "configs/schedules"],
}  # fmt: skip


def branches_plan(tmp_path: Path) -> Plan:
    (tmp_path / "branches.yaml").write_text(BRANCHES)
    return build_plan(load_dag(tmp_path / "branches.yaml"))


def example_plans() -> dict[str, Plan]:
    """The example DAGs that can be exported (others use keys the exporter refuses: checked below)."""
    plans = {}
    for path in sorted(EXAMPLE_DAGS.glob("*.yaml")):
        plan = build_plan(load_dag(path))
        try:
            export_plan(plan, ArgoOptions())
        except ExportError:
            continue
        plans[path.stem] = plan
    assert {"diamond_pipeline", "weekly_ops_chain", "hyperparameter_search", "nightly_report"} <= set(plans)
    return plans


def test_an_example_dag_that_cannot_be_exported_is_refused_naming_each_task_and_key() -> None:
    for path in sorted(EXAMPLE_DAGS.glob("*.yaml")):
        try:
            export_plan(build_plan(load_dag(path)), ArgoOptions())
        except ExportError as exc:
            for line in exc.problems:
                assert re.match(r"(task|DAG) '[^']+' key '\w+': cannot be exported to Argo yet — .+", line), line


def all_manifests(tmp_path: Path) -> dict[str, dict]:
    plans = example_plans()
    plans["branches"] = branches_plan(tmp_path)
    manifests = {}
    for name, plan in plans.items():
        for kind in ("Workflow", "WorkflowTemplate"):
            manifests[f"{name}/{kind}"] = export_plan(plan, ArgoOptions(kind=kind)).manifest
    return manifests


def test_every_exported_manifest_loads_through_hera_and_round_trips(tmp_path: Path) -> None:
    from hera.workflows import Workflow, WorkflowTemplate

    for name, manifest in all_manifests(tmp_path).items():
        obj = checked(manifest)
        assert obj.to_dict() == manifest, name
        cls = Workflow if manifest["kind"] == "Workflow" else WorkflowTemplate
        text = to_yaml(manifest)
        assert cls.from_yaml(text).to_dict() == manifest == yaml.safe_load(text), name


@pytest.mark.parametrize("golden", sorted(CASES))
def test_the_example_dags_export_as_the_golden_files(cli, monkeypatch: pytest.MonkeyPatch, golden: str) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("export", "argo", *CASES[golden])
    assert result.code == 0, result
    path = GOLDEN / golden
    if UPDATE:
        path.write_text(result.out)
    assert path.exists(), f"no golden file {path}: run DAGCTL_UPDATE_GOLDEN=1 pytest {__file__}"
    expected = yaml.safe_load(path.read_text())
    assert yaml.safe_load(result.out) == expected, f"{golden} changed: review, then DAGCTL_UPDATE_GOLDEN=1"
    assert load(expected).to_dict() == expected


def test_every_golden_file_is_checked() -> None:
    assert sorted(p.name for p in GOLDEN.glob("*.yaml")) == sorted(CASES)


def _graph(manifest: dict) -> dict[str, set[str]]:
    """dagctl task id -> the ids its DAG task's ``depends`` names (through the templates' task annotation)."""
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = templates[spec["entrypoint"]]["dag"]["tasks"]
    ids = {t["name"]: templates[t["template"]]["metadata"]["annotations"]["dagctl.io/task"] for t in tasks}
    return {
        ids[t["name"]]: {ids[n] for n in re.findall(r"([a-z][a-z0-9-]*)\.[A-Z]", t.get("depends", ""))} for t in tasks
    }


def test_the_dependency_graph_in_the_manifest_is_the_dags(tmp_path: Path) -> None:
    plans = example_plans()
    plans["branches"] = branches_plan(tmp_path)
    for name, plan in plans.items():
        manifest = load(export_plan(plan, ArgoOptions()).manifest).to_dict()
        assert _graph(manifest) == {tid: set(t.depends_on) for tid, t in plan.tasks.items()}, name


def test_the_golden_files_hold_the_example_dags_graphs() -> None:
    for golden in CASES:
        manifest = yaml.safe_load((GOLDEN / golden).read_text())
        dag_file = manifest["metadata"]["annotations"]["dagctl.io/dag-file"]
        plan = build_plan(load_dag(ROOT / dag_file))
        assert _graph(manifest) == {tid: set(t.depends_on) for tid, t in plan.tasks.items()}, golden


def test_a_key_the_argo_schema_does_not_know_is_caught_by_the_round_trip(tmp_path: Path) -> None:
    manifest = export_plan(branches_plan(tmp_path), ArgoOptions()).manifest
    manifest["spec"]["templates"][1]["container"]["imagePullPolice"] = "Always"
    with pytest.raises(ManifestError, match=r"at spec\.templates\.1\.container\.imagePullPolice") as caught:
        checked(manifest)
    assert caught.value.exit_code == 3
    manifest["spec"]["templates"][1]["container"].pop("imagePullPolice")
    manifest["spec"]["templates"][1]["activeDeadlineSeconds"] = {"seconds": 3}
    with pytest.raises(ManifestError, match="refuse the manifest at"):
        checked(manifest)


def test_a_cron_workflow_round_trips_with_its_runs_labelled(tmp_path: Path) -> None:
    from dagctl.export.cron import cron_settings
    from dagctl.schedule.files import load_schedule_file

    (tmp_path / "b.yaml").write_text(BRANCHES)
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent(
            """
            - {id: b-hourly, cron: "0 * * * *", dag: b.yaml, overlap: allow, enabled: false}
            """
        )
    )
    (schedule,) = load_schedule_file(tmp_path / "s.yaml")
    manifest = export_plan(branches_plan(tmp_path), ArgoOptions(), cron_settings(schedule)).manifest
    obj = checked(manifest)
    assert obj.to_dict()["spec"]["workflowSpec"]["workflowMetadata"]["labels"]["dagctl.io/dag"] == "branches"
    assert manifest["spec"]["suspend"] is True


def test_a_retry_expression_continue_on_a_precondition_and_handlers_load_through_hera(tmp_path: Path) -> None:
    (tmp_path / "codes.yaml").write_text(
        textwrap.dedent(
            """
            name: codes
            handlers: {failure: {run: ./page.sh}, exit: {run: ./cleanup.sh}}
            tasks:
              - {id: fetch, run: ./fetch.sh, retries: 4, retry_on_exit_codes: [75], continue_on: {exit_codes: [3]}}
              - {id: load, run: ./load.sh, depends_on: fetch, precondition: "test -s data.csv"}
            """
        )
    )
    manifest = export_plan(build_plan(load_dag(tmp_path / "codes.yaml")), ArgoOptions()).manifest
    obj = checked(manifest)
    assert obj.to_dict() == manifest
    (fetch,) = [t for t in manifest["spec"]["templates"] if t["name"] == "fetch"]
    assert fetch["retryStrategy"]["expression"] == "lastRetry.exitCode in ['75']"
    assert obj.to_dict()["spec"]["onExit"] == "exit-handler"
