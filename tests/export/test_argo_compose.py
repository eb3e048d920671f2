"""Matrices, loops, sub-DAGs, the task cache and approval gates in an Argo manifest (plain dicts, no Hera needed):
what each becomes, what is refused and why, and that every reference in a manifest resolves as Argo requires."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import Plan, build_plan
from dagctl.export.argo import OUTPUTS_DIR, ArgoOptions, ExportError, export_plan
from dagctl.export.names import OUTPUTS_PARAM
from tests.conftest import EXAMPLE_DAGS
from tests.export.dags import BRANCHES, CACHED, GATE, LOOPS, MATRICES, MATRIX_STEPS, NESTED, SUBDAGS


def plan_of(tmp_path: Path, text: str, name: str = "dag.yaml") -> Plan:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return build_plan(load_dag(path))


def export(plan: Plan, **options: Any) -> tuple[dict[str, Any], list[str]]:
    result = export_plan(plan, ArgoOptions(dag_path="dags/dag.yaml", **options))
    return result.manifest, result.notes


def templates(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifest["spec"]["templates"]}


def dag_tasks(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in template["dag"]["tasks"]}


def args(task: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}


def refused(plan: Plan) -> list[str]:
    with pytest.raises(ExportError) as caught:
        export(plan)
    assert caught.value.exit_code == 2
    return caught.value.problems


# -- every reference resolves ------------------------------------------------------------------------------------

_INPUT = re.compile(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}")
_TASK_OUTPUT = re.compile(r"\{\{tasks\.([a-z0-9-]+)\.outputs\.parameters\.([A-Za-z0-9_-]+)\}\}")
_EXPRESSION_OUTPUT = re.compile(r"tasks\['([a-z0-9-]+)'\]\.outputs\.parameters\['([A-Za-z0-9_-]+)'\]")
_DEPENDS = re.compile(r"([a-z][a-z0-9-]*)\.(?:Succeeded|Failed|Errored|Skipped|Omitted)")


def check_references(manifest: dict[str, Any]) -> None:
    """What Argo checks when a workflow is submitted: template names are unique and every called template exists;
    a DAG task gives exactly the inputs its template declares; ``{{inputs.parameters.X}}`` is an input of the
    template using it; ``{{tasks.T.outputs.parameters.P}}`` names an output P of T's template, T an ancestor of
    the task reading it (any task of the DAG for the DAG's own outputs); ``depends`` names tasks of the same DAG;
    ``{{item}}`` appears only in a task that loops over items."""
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    names = [t["name"] for t in spec["templates"]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    by_name = {t["name"]: t for t in spec["templates"]}
    declared_outputs = {n: {p["name"] for p in t.get("outputs", {}).get("parameters", [])} for n, t in by_name.items()}
    for template in spec["templates"]:
        inputs = {p["name"] for p in template.get("inputs", {}).get("parameters", [])}
        text = json.dumps({k: v for k, v in template.items() if k != "dag"})
        if "dag" in template:
            text += json.dumps([args(t) for t in template["dag"]["tasks"]])
            text += json.dumps([t.get("when", "") + t.get("withParam", "") for t in template["dag"]["tasks"]])
        assert set(_INPUT.findall(text)) <= inputs, (template["name"], set(_INPUT.findall(text)) - inputs)
        if "dag" not in template:
            continue
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        deps = {n: set(_DEPENDS.findall(t.get("depends", ""))) for n, t in tasks.items()}
        for name, task in tasks.items():
            assert task["template"] in by_name, task["template"]
            called = by_name[task["template"]]
            wanted = {p["name"] for p in called.get("inputs", {}).get("parameters", [])}
            assert set(args(task)) == wanted, (template["name"], name, set(args(task)) ^ wanted)
            assert deps[name] <= set(tasks), (name, deps[name])
            ancestors, stack = set(), list(deps[name])
            while stack:
                ancestor = stack.pop()
                if ancestor not in ancestors:
                    ancestors.add(ancestor)
                    stack.extend(deps[ancestor])
            reads = json.dumps(args(task)) + task.get("when", "") + task.get("withParam", "")
            for source, output in _TASK_OUTPUT.findall(reads):
                assert source in ancestors, (template["name"], name, source)
                assert output in declared_outputs[tasks[source]["template"]], (name, source, output)
            if "{{item}}" in reads:
                assert "withItems" in task or "withParam" in task, name
        own = json.dumps(template.get("outputs", {}))
        for source, output in [*_TASK_OUTPUT.findall(own), *_EXPRESSION_OUTPUT.findall(own)]:
            assert source in tasks and output in declared_outputs[tasks[source]["template"]], (source, output)


def composed_plans(tmp_path: Path) -> dict[str, Plan]:
    for name, text in (("nested.yaml", NESTED), ("steps.py", MATRIX_STEPS)):
        (tmp_path / name).write_text(text)
    plans = {
        name: plan_of(tmp_path, text, f"{name}.yaml")
        for name, text in (
            ("branches", BRANCHES), ("matrices", MATRICES), ("loops", LOOPS), ("subdags", SUBDAGS),
            ("cached", CACHED), ("gate", GATE),
        )
    }  # fmt: skip
    for path in sorted(EXAMPLE_DAGS.glob("*.yaml")):
        plans[path.stem] = build_plan(load_dag(path))
    return plans


def test_every_reference_in_every_exported_manifest_resolves_as_argo_requires(tmp_path: Path) -> None:
    plans = composed_plans(tmp_path)
    assert {"hyperparameter_search", "nightly_report", "matrices", "loops", "subdags", "cached", "gate"} <= set(plans)
    for name, plan in plans.items():
        for options in ({}, {"pvc": "runs", "kind": "WorkflowTemplate"}):
            manifest, _ = export(plan, **options)
            try:
                check_references(manifest)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from None


# -- matrix --------------------------------------------------------------------------------------------------------

SEARCH = """
name: search
params: {lrs: [0.1, 0.01]}
tasks:
  - id: train
    matrix: {lr: "${params.lrs}", bs: [16, 32]}
    max_parallel: 3
    min_success: 2
    retries: 2
    timeout: 1m
    python: steps:train
    params: {lr: "${matrix.lr}"}
    aggregate: {strategy: best, metric: acc, order: max}
  - id: report
    depends_on: train
    when: outputs.train.best == "x"
    run: echo "${outputs.train.best.matrix.lr}"
"""


def test_a_matrix_becomes_a_dag_template_of_its_cells_then_a_fan_in_step(tmp_path: Path) -> None:
    manifest, notes = export(plan_of(tmp_path, SEARCH))
    main = dag_tasks(templates(manifest)["main"])
    assert set(args(main["train"])) == {"task"} and main["report"]["depends"] == "train.Succeeded"
    spec = json.loads(args(main["train"])["task"])
    assert spec["task"]["matrix"] == {"lr": [0.1, 0.01], "bs": [16, 32]}  # resolved at export
    assert spec["task"]["min_success"] == 2 and spec["task"]["aggregate"]["strategy"] == "best"
    train = templates(manifest)["train"]
    assert train["parallelism"] == 3 and train["dag"]["failFast"] is False
    cells, gather = train["dag"]["tasks"]
    assert cells["withItems"] == [
        {"lr": 0.1, "bs": 16},
        {"lr": 0.1, "bs": 32},
        {"lr": 0.01, "bs": 16},
        {"lr": 0.01, "bs": 32},
    ]
    assert args(cells) == {"task": "{{inputs.parameters.task}}", "cell": "{{item}}"}
    assert gather["depends"] == "cells.Succeeded || cells.Failed || cells.Errored"
    assert args(gather)["cells"] == "{{tasks.cells.outputs.parameters.dagctl-cell}}"
    assert train["outputs"]["parameters"] == [
        {"name": OUTPUTS_PARAM, "valueFrom": {"parameter": "{{tasks.gather.outputs.parameters.dagctl-outputs}}"}},
        {"name": "best", "valueFrom": {"parameter": "{{tasks.gather.outputs.parameters.best}}"}},  # report's when
    ]
    cell = templates(manifest)[cells["template"]]
    assert cell["container"]["args"][2:4] == ["--cell", "{{inputs.parameters.cell}}"]
    assert cell["retryStrategy"]["limit"] == 2 and cell["activeDeadlineSeconds"] == 60  # per cell, as in a run
    assert {"name": "dagctl-cell", "valueFrom": {"path": f"{OUTPUTS_DIR}/cell", "default": ""}} in cell["outputs"][
        "parameters"
    ]
    fan_in = templates(manifest)[gather["template"]]
    assert "--gather" in fan_in["container"]["args"] and "retryStrategy" not in fan_in
    assert "activeDeadlineSeconds" not in fan_in and fan_in["metadata"]["annotations"]["dagctl.io/step"] == "gather"
    assert any("task 'train' matrix: its 4 cells are fixed at export" in n for n in notes)
    again, _ = export(plan_of(tmp_path, SEARCH), params={"lrs": "[0.5]"})
    assert [c["lr"] for c in templates(again)["train"]["dag"]["tasks"][0]["withItems"]] == [0.5, 0.5]


def test_a_matrix_over_an_upstream_output_fans_out_with_with_param(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: files
        tasks:
          - {id: list, run: "true"}
          - id: each
            depends_on: list
            matrix: {file: "${outputs.list.files}"}
            run: wc -c "${matrix.file}"
        """,
    )
    manifest, notes = export(plan)
    main = dag_tasks(templates(manifest)["main"])
    assert args(main["each"])["items"] == "{{tasks.list.outputs.parameters.files}}"
    assert {"name": "files", "valueFrom": {"path": f"{OUTPUTS_DIR}/values/files", "default": ""}} in templates(
        manifest
    )["list"]["outputs"]["parameters"]
    cells = templates(manifest)["each"]["dag"]["tasks"][0]
    assert cells["withParam"] == "{{inputs.parameters.items}}" and "withItems" not in cells
    assert json.loads(args(main["each"])["task"])["task"]["matrix"] == {"file": "${outputs.list.files}"}
    assert "list={{inputs.parameters.up-list}}" in templates(manifest)[cells["template"]]["container"]["args"]
    assert notes == []


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ('{f: "${outputs.up.files}", n: [1, 2]}', "one list from an upstream output"),
        ('{f: "${outputs.up.a.b}"}', "letters, digits, _ and -"),
        ('{f: "${outputs.up.files:-[]}"}', "one list from an upstream output"),
    ],
)
def test_a_matrix_argo_cannot_fan_out_over_is_refused_naming_the_task_and_the_key(
    tmp_path: Path, matrix: str, message: str
) -> None:
    plan = plan_of(
        tmp_path,
        f"""
        name: m
        tasks:
          - {{id: up, run: "true"}}
          - {{id: each, depends_on: up, matrix: {matrix}, run: "true"}}
        """,
    )
    (line,) = refused(plan)
    assert line.startswith("task 'each' key 'matrix': ") and message in line and " — " in line


# -- repeat --------------------------------------------------------------------------------------------------------


def test_a_loop_becomes_a_recursive_template_an_iteration_its_verdict_and_the_next(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: l
        tasks:
          - id: fit
            retries: 1
            run: echo "loss=0.1" > "$DAGCTL_OUTPUT"
            repeat: {until: "outputs.fit.loss < 0.2", max_iterations: 4, delay: 1.5s}
          - {id: ship, depends_on: fit, when: "outputs.fit.loss < 1", run: "true"}
        """,
    )
    manifest, _ = export(plan)
    main = dag_tasks(templates(manifest)["main"])
    assert args(main["fit"])["iteration"] == "1" and args(main["fit"])["previous"] == "{}"
    loss = "{{tasks.fit.outputs.parameters.loss}}"
    assert main["ship"]["when"] == f"('{loss}' != '' && 0{loss} < 1)"
    fit = templates(manifest)["fit"]
    tasks = dag_tasks(fit)
    assert list(tasks) == ["run", "until", "delay", "next"]
    assert tasks["next"]["template"] == "fit" and tasks["next"]["depends"] == "delay.Succeeded"  # recursion
    assert tasks["next"]["when"] == tasks["delay"]["when"] == "'{{tasks.until.outputs.parameters.again}}' == 'true'"
    assert args(tasks["next"])["iteration"] == "{{tasks.until.outputs.parameters.next}}"
    assert args(tasks["next"])["previous"] == "{{tasks.run.outputs.parameters.dagctl-outputs}}"
    assert templates(manifest)[tasks["delay"]["template"]]["suspend"] == {"duration": "1500ms"}
    outputs = {p["name"]: p["valueFrom"]["expression"] for p in fit["outputs"]["parameters"]}
    assert outputs["loss"] == (
        "tasks['until'].outputs.parameters['again'] == 'true' ? tasks['next'].outputs.parameters['loss'] : "
        "tasks['run'].outputs.parameters['loss']"
    )
    iteration = templates(manifest)[tasks["run"]["template"]]
    assert iteration["retryStrategy"]["limit"] == 1 and "--iteration" in iteration["container"]["args"]
    until = templates(manifest)[tasks["until"]["template"]]["container"]["args"]
    assert until[until.index("--until") + 1] == "{{inputs.parameters.outputs}}" and "--previous" in until


# -- dag: ----------------------------------------------------------------------------------------------------------


def test_a_sub_dag_becomes_a_dag_template_of_its_params_its_tasks_and_its_outputs(tmp_path: Path) -> None:
    (tmp_path / "nested.yaml").write_text(NESTED)
    manifest, notes = export(plan_of(tmp_path, SUBDAGS))
    child = templates(manifest)["child-ok"]
    tasks = dag_tasks(child)
    assert list(tasks) == ["params", "a", "b", "c", "returns"]
    assert tasks["a"]["depends"] == "params.Succeeded" and tasks["b"]["depends"] == "params.Succeeded && a.Succeeded"
    assert tasks["b"]["when"] == "{{tasks.params.outputs.parameters.n}} > 1"  # the child's params, not the workflow's
    assert {"name": "n", "valueFrom": {"path": f"{OUTPUTS_DIR}/values/n", "default": ""}} in templates(manifest)[
        tasks["params"]["template"]
    ]["outputs"]["parameters"]
    assert args(tasks["a"])["params"] == "{{tasks.params.outputs.parameters.dagctl-outputs}}"
    a = templates(manifest)[tasks["a"]["template"]]["container"]["args"]
    assert a[a.index("--params-json") + 1] == "{{inputs.parameters.params}}"
    assert a[a.index("--run-id") + 1] == "{{workflow.name}}.child_ok"
    assert tasks["returns"]["depends"] == (
        "params.Succeeded && (a.Succeeded || a.Skipped || a.Omitted) && (b.Succeeded || b.Skipped || b.Omitted) && "
        "(c.Succeeded || c.Skipped || c.Omitted)"
    )
    returns = templates(manifest)[tasks["returns"]["template"]]["container"]["args"]
    assert "--dag-outputs" in returns and returns[returns.index("--run-id") + 1] == "{{workflow.name}}"
    assert child["outputs"]["parameters"][0]["valueFrom"] == {
        "parameter": "{{tasks.returns.outputs.parameters.dagctl-outputs}}"
    }
    spec = json.loads(args(dag_tasks(templates(manifest)["main"])["child_ok".replace("_", "-")])["task"])
    assert spec["task"]["child"]["outputs"]["v"] == "${outputs.b.w}" and spec["task"]["child"]["params"]["n"] == 1
    nested = dag_tasks(templates(manifest)["nested"])
    inner = templates(manifest)[nested["inner"]["template"]]
    leaf = templates(manifest)[dag_tasks(inner)["leaf"]["template"]]
    assert json.loads(args(dag_tasks(inner)["leaf"])["task"])["dag"]["source_path"] == "dags/nested.yaml"
    assert (
        leaf["container"]["args"][leaf["container"]["args"].index("--run-id") + 1] == "{{workflow.name}}.nested.inner"
    )
    assert leaf["metadata"]["annotations"]["dagctl.io/task"] == "nested/inner/leaf"
    assert not any("trigger rules" in n for n in notes)  # a sub-DAG's outputs step judges it as a run does


@pytest.mark.parametrize(
    ("task", "child_options", "key"),
    [
        ("retries: 1", "", "retries"),
        ("timeout: 1m", "", "timeout"),
        ("", "options: {timeout: 1h}", "subdag"),
        ("matrix: {x: [1, 2]}", "", "matrix"),
    ],
)
def test_what_argo_cannot_do_with_a_sub_dag_is_refused_naming_the_task_and_the_key(
    tmp_path: Path, task: str, child_options: str, key: str
) -> None:
    (tmp_path / "child.yaml").write_text(f"name: child\n{child_options}\ntasks:\n  - {{id: x, run: 'true'}}\n")
    plan = plan_of(tmp_path, f"name: p\ntasks:\n  - id: c\n    dag: child.yaml\n    {task}\n".replace("    \n", ""))
    problems = refused(plan)
    assert any(line.startswith(f"task 'c' key '{key}': ") and " — " in line for line in problems), problems


# -- cache ---------------------------------------------------------------------------------------------------------


def test_a_cached_task_is_memoized_under_the_key_a_step_before_it_computes(tmp_path: Path) -> None:
    manifest, notes = export(plan_of(tmp_path, CACHED))
    make = templates(manifest)["make"]
    key, run = make["dag"]["tasks"]
    assert run["depends"] == "key.Succeeded"
    assert args(run)["cache-key"] == "{{tasks.key.outputs.parameters.cache-key}}"
    memoized = templates(manifest)[run["template"]]
    assert memoized["memoize"] == {
        "key": "{{inputs.parameters.cache-key}}",
        "maxAge": "604800s",
        "cache": {"configMap": {"name": "dagctl-task-cache"}},
    }
    assert templates(manifest)["use"]["dag"]["tasks"][1]["template"] == "use-run"
    assert templates(manifest)["use-run"]["memoize"]["maxAge"] == ""  # no ttl: no expiry
    key_step = templates(manifest)[key["template"]]
    assert "--cache-key" in key_step["container"]["args"] and "memoize" not in key_step
    cell = templates(manifest)[templates(manifest)["cells"]["dag"]["tasks"][0]["template"]]
    assert cell["dag"]["tasks"][0]["template"] == "cells-cell-cache-key"  # each cell has a key of its own
    assert make["outputs"]["parameters"][0]["valueFrom"] == {
        "parameter": "{{tasks.run.outputs.parameters.dagctl-outputs}}"
    }
    assert sum("cache: Argo memoizes" in n for n in notes) == 3


# -- approval ------------------------------------------------------------------------------------------------------


def test_an_approval_gate_becomes_a_suspend_template(tmp_path: Path) -> None:
    checked = (
        GATE + "  - {id: check, depends_on: go_ahead, when: 'outputs.go_ahead.approved_by != \"\"', run: 'true'}\n"
    )
    manifest, notes = export(plan_of(tmp_path, checked))
    gate = templates(manifest)["go-ahead"]
    assert gate["suspend"] == {}
    assert gate["metadata"]["annotations"] == {
        "dagctl.io/task": "go_ahead",
        "dagctl.io/step": "approval",
        "dagctl.io/approval-message": "Deploy 1.2?",  # rendered with the param's value at export
        "dagctl.io/approvers": "ana, li",
        "dagctl.io/approval-policy": "any",
    }
    assert gate["outputs"]["parameters"] == [
        {"name": OUTPUTS_PARAM, "valueFrom": {"supplied": {}, "default": '{"approved_by": []}'}},
        {"name": "approved_by", "valueFrom": {"supplied": {}, "default": "[]"}},
    ]
    main = dag_tasks(templates(manifest)["main"])
    assert "arguments" not in main["go-ahead"] and main["deploy"]["depends"] == "go-ahead.Succeeded"
    assert any("task 'go_ahead' approval: a suspend step" in n and "ana, li" in n for n in notes)
    assert "task 'go_ahead' approval: the message is written with the values at export of ${params.version}" in (
        "\n".join(notes)
    )


def test_a_gates_message_is_rendered_with_what_the_export_knows_and_the_rest_is_noted(tmp_path: Path) -> None:
    message = (
        "${dag.name}/${task.id}: deploy ${params.version} (${params.cfg.env}) of ${outputs.build.artifact} "
        "in ${run_id}? costs $${x}"
    )
    plan = plan_of(
        tmp_path,
        f"""
        name: rel
        params: {{version: "1.4.2", cfg: {{env: prod}}}}
        tasks:
          - {{id: build, run: 'echo "artifact=a.tgz" > "$DAGCTL_OUTPUT"'}}
          - {{id: go, depends_on: build, approval: {{message: "{message}"}}}}
        """,
    )
    manifest, notes = export(plan, params={"version": "2.0"})
    message = templates(manifest)["go"]["metadata"]["annotations"]["dagctl.io/approval-message"]
    assert message == "rel/go: deploy 2.0 (prod) of ${outputs.build.artifact} in ${run_id}? costs ${x}"
    assert (
        "task 'go' approval: the message's ${outputs.build.artifact}, ${run_id} cannot be rendered in Argo (known only "
        "when the workflow runs); it is shown as written"
    ) in notes
    assert any("${params.version}, ${params.cfg.env}" in n and "argo submit -p does not change it" in n for n in notes)
    plain = plan_of(tmp_path, 'name: p\ntasks:\n  - {id: go, approval: {message: "Ship it?"}}\n')
    manifest, notes = export(plain)
    assert templates(manifest)["go"]["metadata"]["annotations"]["dagctl.io/approval-message"] == "Ship it?"
    assert not any("the message" in n for n in notes)


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ("{timeout: 1h}", "Argo's suspend resumes the workflow when its duration runs out"),
        ("{timeout: 1h, on_timeout: skip}", "remove approval.timeout"),
        ('{message: "deploy {{x}}"}', "holds '{{'"),
    ],
)
def test_what_argo_cannot_do_with_a_gate_is_refused(tmp_path: Path, approval: str, message: str) -> None:
    plan = plan_of(tmp_path, f"name: g\ntasks:\n  - {{id: ok, approval: {approval}}}\n")
    (line,) = refused(plan)
    assert line.startswith("task 'ok' key 'approval': ") and message in line


# -- names -----------------------------------------------------------------------------------------------------------


def test_templates_added_around_tasks_never_take_a_tasks_name(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: n
        tasks:
          - {id: train-cell, run: "true"}
          - {id: train-gather, run: "true"}
          - {id: train, matrix: {x: [1]}, run: "true"}
          - id: sub
            dag: {tasks: [{id: params, run: "true"}, {id: returns, run: "true"}]}
        """,
    )
    manifest, _ = export(plan)
    check_references(manifest)
    train = templates(manifest)["train"]["dag"]["tasks"]
    assert train[0]["template"].startswith("train-cell-") and train[1]["template"].startswith("train-gather-")
    sub = list(dag_tasks(templates(manifest)["sub"]))
    assert sub[0] == "params" and sub[-1] == "returns"  # the steps of the sub-DAG; its tasks named apart
    assert sub[1].startswith("params-") and sub[2].startswith("returns-")
