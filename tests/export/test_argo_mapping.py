"""The DAG -> Argo manifest mapping, as plain dicts (no Hera needed): every key mapped, approximated or refused."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import DagInfo, Plan, PlannedTask, build_plan
from dagctl.errors import UsageError
from dagctl.export.argo import (
    OUTPUTS_DIR,
    ArgoOptions,
    ExportError,
    export_plan,
    spec_text,
)
from dagctl.export.depends import depends_expression
from dagctl.export.keys import DAG_FIELDS, IGNORED_DAG_KEYS, OPTIONAL_KEYS, PENDING_KEYS, TASK_FIELDS
from dagctl.export.names import OUTPUTS_PARAM, task_names
from dagctl.run.single import plan_of_spec
from tests.conftest import EXAMPLE_DAGS, ROOT


def plan_of(tmp_path: Path, text: str) -> Plan:
    path = tmp_path / "dag.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return build_plan(load_dag(path))


def export(plan: Plan, **options: object) -> tuple[dict, list[str]]:
    result = export_plan(plan, ArgoOptions(dag_path="dags/dag.yaml", **options))  # type: ignore[arg-type]
    return result.manifest, result.notes


def dag_tasks(manifest: dict) -> dict[str, dict]:
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    return {t["name"]: t for t in spec["templates"][0]["dag"]["tasks"]}


def templates(manifest: dict) -> dict[str, dict]:
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    return {t["name"]: t for t in spec["templates"][1:]}


def when_of(tmp_path: Path, condition: str) -> tuple[str, dict]:
    plan = plan_of(
        tmp_path,
        f"""
        name: w
        params: {{mode: x, n: 3, cfg: {{a: 1}}, flag: true}}
        tasks:
          - {{id: up, run: "true"}}
          - id: down
            depends_on: up
            when: {json.dumps(condition)}
            run: "true"
        """,
    )
    manifest, _ = export(plan)
    return dag_tasks(manifest)["down"]["when"], templates(manifest)["up"]


# -- tasks, templates, inputs and outputs ---------------------------------------------------------------------


def test_each_task_is_a_dag_task_with_a_template_running_exec_task_with_its_spec_and_inputs() -> None:
    plan = build_plan(load_dag(EXAMPLE_DAGS / "diamond_pipeline.yaml"))
    manifest, _ = export(plan, image="registry.example.com/etl:1.4")
    assert manifest["apiVersion"] == "argoproj.io/v1alpha1" and manifest["kind"] == "Workflow"
    assert manifest["metadata"]["generateName"] == "diamond-pipeline-"
    assert manifest["spec"]["entrypoint"] == "main"
    assert list(dag_tasks(manifest)) == ["extract", "by-region", "by-product", "report"]
    report_task = dag_tasks(manifest)["report"]
    assert report_task["depends"] == "by-region.Succeeded && by-product.Succeeded"
    arguments = {p["name"]: p["value"] for p in report_task["arguments"]["parameters"]}
    assert arguments["up-by-region"] == "{{tasks.by-region.outputs.parameters.dagctl-outputs}}"
    spec_plan, task_id = plan_of_spec(json.loads(arguments["task"]))
    assert task_id == "report" and spec_plan.tasks["report"].python == "pipeline_steps:publish"
    assert spec_plan.dag.source_path == "dags/dag.yaml" and spec_plan.dag.params == {"out_dir": "logs/reports"}
    report = templates(manifest)["report"]
    container = report["container"]
    assert container["image"] == "registry.example.com/etl:1.4"
    assert container["command"] == ["dagctl", "exec-task"]
    assert container["args"] == [
        "--spec", "{{inputs.parameters.task}}",
        "-p", "out_dir={{workflow.parameters.out_dir}}",
        "--input", "by_region={{inputs.parameters.up-by-region}}",
        "--input", "by_product={{inputs.parameters.up-by-product}}",
        "--run-id", "{{workflow.name}}",
        "--outputs-dir", OUTPUTS_DIR,
        "--retry", "{{retries}}",
    ]  # fmt: skip
    assert [p["name"] for p in report["inputs"]["parameters"]] == ["task", "up-by-region", "up-by-product"]
    assert report["outputs"]["parameters"] == [
        {"name": OUTPUTS_PARAM, "valueFrom": {"path": f"{OUTPUTS_DIR}/outputs.json", "default": "{}"}}
    ]
    assert report["metadata"]["annotations"] == {
        "dagctl.io/task": "report",
        "dagctl.io/description": "Join both summaries into a Markdown report.",
    }
    assert manifest["spec"]["arguments"]["parameters"] == [
        {"name": "rows", "value": "200"},
        {"name": "out_dir", "value": "logs/reports"},
    ]


def test_outputs_of_an_ancestor_read_in_a_template_are_passed_too(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: chain
        tasks:
          - {id: a, run: "echo x=1 > $DAGCTL_OUTPUT"}
          - {id: b, run: "true", depends_on: a}
          - {id: c, run: "echo ${outputs.a.x}", depends_on: b}
        """,
    )
    manifest, _ = export(plan)
    c = dag_tasks(manifest)["c"]
    assert c["depends"] == "b.Succeeded"
    assert [p["name"] for p in c["arguments"]["parameters"]] == ["task", "up-b", "up-a"]
    assert "a={{inputs.parameters.up-a}}" in templates(manifest)["c"]["container"]["args"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("all_success", "a.Succeeded && b.Succeeded"),
        ("all_done", "(a.Succeeded || a.Failed || a.Errored || a.Skipped || a.Omitted) && "
                     "(b.Succeeded || b.Failed || b.Errored || b.Skipped || b.Omitted)"),
        ("always", "(a.Succeeded || a.Failed || a.Errored || a.Skipped || a.Omitted) && "
                   "(b.Succeeded || b.Failed || b.Errored || b.Skipped || b.Omitted)"),
        ("all_failed", "(a.Failed || a.Errored) && (b.Failed || b.Errored)"),
        ("one_success", "a.Succeeded || b.Succeeded"),
        ("one_failed", "a.Failed || a.Errored || b.Failed || b.Errored"),
        ("none_failed", "(a.Succeeded || a.Skipped || a.Omitted) && (b.Succeeded || b.Skipped || b.Omitted)"),
    ],
)  # fmt: skip
def test_trigger_rules_become_depends_expressions(rule: str, expected: str) -> None:
    assert depends_expression(rule, ["a", "b"]) == expected


def test_one_upstream_needs_no_parentheses() -> None:
    assert depends_expression("none_failed", ["a"]) == "a.Succeeded || a.Skipped || a.Omitted"
    assert depends_expression("all_success", []) == ""


def test_task_ids_become_unique_lowercase_argo_names_the_same_every_time() -> None:
    ids = ["Load.Sales", "load_sales", "load-sales", "1st", "main", "and", "x" * 64]
    names = task_names(ids)
    assert names == task_names(ids)
    assert names["Load.Sales"] == "load-sales"
    assert len(set(names.values())) == len(ids)
    for name in names.values():
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", name), name
        assert name not in ("main", "and")
    assert names["1st"].startswith("t-1st")


# -- retries, timeouts, run options ---------------------------------------------------------------------------


def test_retries_and_backoff_become_a_retry_strategy(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: r
        tasks:
          - {id: a, run: "true", retries: 3, retry_delay: 1.5s, backoff: 3, max_delay: 1m}
          - {id: b, run: "true"}
        """,
    )
    manifest, notes = export(plan)
    assert templates(manifest)["a"]["retryStrategy"] == {
        "limit": 3,
        "retryPolicy": "Always",
        "backoff": {"duration": "1500ms", "factor": 3, "cap": "60s"},
    }
    assert templates(manifest)["a"]["container"]["args"][-2:] == ["--retry", "{{retries}}"]
    assert "retryStrategy" not in templates(manifest)["b"]
    assert "--retry" not in templates(manifest)["b"]["container"]["args"]
    assert notes == []


def test_retry_on_exit_codes_becomes_the_retry_expression_and_continue_on_goes_to_the_step(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: r
        tasks:
          - {id: a, run: ./import.sh, retries: 3, retry_on_exit_codes: [75, 2], continue_on: {exit_codes: [3]}}
        """,
    )
    manifest, notes = export(plan)
    template = templates(manifest)["a"]
    assert template["retryStrategy"]["expression"] == "lastRetry.exitCode in ['75', '2']"
    arguments = {p["name"]: p["value"] for p in dag_tasks(manifest)["a"]["arguments"]["parameters"]}
    spec = json.loads(arguments["task"])
    assert spec["task"]["continue_on"] == {"exit_codes": [3], "failure": False}
    assert "retry_on_exit_codes" not in spec["task"]  # Argo retries, the step runs one attempt
    assert notes == []


def test_env_files_go_with_the_task_spec_and_the_step_reads_them_from_the_dag_folder(tmp_path: Path) -> None:
    from dagctl.run.single import run_task

    plan = plan_of(
        tmp_path,
        """
        name: envs
        env_file: [settings.env]
        tasks:
          - {id: a, run: 'echo "region=$REGION" > "$DAGCTL_OUTPUT"'}
        """,
    )
    manifest, notes = export(plan)
    arguments = {p["name"]: p["value"] for p in dag_tasks(manifest)["a"]["arguments"]["parameters"]}
    spec = json.loads(arguments["task"])
    assert spec["dag"]["env_files"] == ["settings.env"] and notes == []
    spec["dag"]["source_path"] = str(tmp_path / "dag.yaml")  # where the image has the DAG's folder
    step, task_id = plan_of_spec(spec)
    with pytest.raises(UsageError, match=r"settings\.env not found"):
        run_task(step, task_id, runs_dir=tmp_path / "runs", run_id="r")
    (tmp_path / "settings.env").write_text("REGION=eu-west\n")
    assert run_task(step, task_id, runs_dir=tmp_path / "runs", run_id="r").outputs == {"region": "eu-west"}


def test_a_precondition_becomes_a_step_before_the_task_whose_met_output_decides_it(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: p
        tasks:
          - {id: up, run: "true"}
          - {id: a, depends_on: [up], when: "1 == 1", precondition: "test -f inbox.csv", run: ./load.sh}
          - {id: a-precondition, run: "true"}
        """,
    )
    manifest, notes = export(plan)
    tasks = dag_tasks(manifest)
    (check,) = [name for name in tasks if name.startswith("a-precondition-")]  # the task of that name keeps it
    assert tasks[check]["depends"] == "up.Succeeded" and tasks[check]["when"] == "'1' == '1'"
    assert tasks["a"]["depends"] == f"{check}.Succeeded"
    assert tasks["a"]["when"] == f"{{{{tasks.{check}.outputs.parameters.met}}}} == true"
    assert tasks[check]["arguments"] == tasks["a"]["arguments"]
    template = templates(manifest)[tasks[check]["template"]]
    assert "--precondition" in template["container"]["args"] and "retryStrategy" not in template
    assert {"name": "met", "valueFrom": {"path": f"{OUTPUTS_DIR}/met", "default": ""}} in template["outputs"][
        "parameters"
    ]
    assert notes == []
    gate = plan_of(tmp_path, 'name: g\ntasks:\n  - {id: ok, approval: {approvers: [ana]}, precondition: "true"}\n')
    with pytest.raises(ExportError, match=r"task 'ok' key 'precondition': an approval gate's precondition"):
        export(gate)


def test_handlers_become_the_exit_handler_and_what_it_cannot_do_is_refused(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: h
        params: {team: ops}
        handlers:
          failure: {run: './page.sh ${params.team}', retries: 2}
          exit: {run: ./cleanup.sh}
        tasks:
          - {id: a, run: "true"}
        """,
    )
    manifest, notes = export(plan)
    assert manifest["spec"]["onExit"] == "exit-handler" and notes == []
    (handler,) = [t for t in manifest["spec"]["templates"] if t["name"] == "exit-handler"]
    failure, done = handler["dag"]["tasks"]
    assert (failure["name"], failure["when"]) == ("on-failure", "{{workflow.status}} != Succeeded")
    assert done["name"] == "on-exit" and "when" not in done
    assert done["depends"] == "(on-failure.Succeeded || on-failure.Failed || on-failure.Errored || on-failure.Skipped)"
    args = templates(manifest)[failure["template"]]["container"]["args"]
    assert args[args.index("--handler") + 1] == "failure" and "-p" in args  # it reads a param
    assert args[args.index("--workflow-failures") + 1] == "{{workflow.failures}}"
    assert json.loads(args[args.index("--task-names") + 1]) == {"a": "a"}
    assert templates(manifest)[failure["template"]]["retryStrategy"]["limit"] == 2
    assert {"name": "team", "value": "ops"} in manifest["spec"]["arguments"]["parameters"]
    refused = plan_of(
        tmp_path,
        """
        name: h
        handlers:
          cancel: {run: ./cancelled.sh}
          exit: {run: 'echo ${outputs.a.rows}'}
        tasks:
          - {id: a, run: "true"}
        """,
    )
    with pytest.raises(ExportError) as caught:
        export(refused)
    assert [line.split(":")[0] for line in caught.value.problems] == [
        "DAG 'h' handler 'cancel'",
        "DAG 'h' handler 'exit'",
    ]
    assert "Argo reports a stopped workflow as Failed" in caught.value.problems[0]
    assert "reads task outputs" in caught.value.problems[1]


def test_what_argo_takes_only_in_whole_numbers_is_rounded_with_a_note(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'name: r\ntasks:\n  - {id: a, run: "true", retries: 1, backoff: 1.5, timeout: 2.5s}\n')
    manifest, notes = export(plan)
    assert templates(manifest)["a"]["retryStrategy"]["backoff"]["factor"] == 2
    assert templates(manifest)["a"]["activeDeadlineSeconds"] == 3
    assert any("backoff 1.5" in n and "exported as 2" in n for n in notes)
    assert any("timeout 2.5s" in n and "exported as 3" in n for n in notes)


def test_timeouts_parallelism_and_fail_fast(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: t
        options: {timeout: 1h, parallelism: 3, fail_fast: true}
        defaults: {timeout: 90s}
        tasks:
          - {id: a, run: "true"}
        """,
    )
    manifest, notes = export(plan)
    assert manifest["spec"]["activeDeadlineSeconds"] == 3600
    assert manifest["spec"]["parallelism"] == 3
    assert manifest["spec"]["templates"][0]["dag"]["failFast"] is True
    assert templates(manifest)["a"]["activeDeadlineSeconds"] == 90
    assert any("fail_fast" in n for n in notes)
    plain, _ = export(plan_of(tmp_path, 'name: t\ntasks:\n  - {id: a, run: "true"}\n'))
    assert plain["spec"]["templates"][0]["dag"]["failFast"] is False
    assert "activeDeadlineSeconds" not in plain["spec"] and "parallelism" not in plain["spec"]


# -- params, env, queue ----------------------------------------------------------------------------------------


def test_param_overrides_are_checked_and_typed_against_the_dag(tmp_path: Path) -> None:
    plan = build_plan(load_dag(EXAMPLE_DAGS / "diamond_pipeline.yaml"))
    manifest, _ = export(plan, params={"rows": "1000"})
    assert manifest["spec"]["arguments"]["parameters"][0] == {"name": "rows", "value": "1000"}
    with pytest.raises(UsageError, match="unknown param 'rowz'"):
        export(plan, params={"rowz": "1"})
    with pytest.raises(UsageError, match="param 'rows' must be a whole number"):
        export(plan, params={"rows": "many"})


def test_params_argo_cannot_name_are_refused_when_read_and_left_out_with_a_note_when_not(tmp_path: Path) -> None:
    text = 'name: p\nparams: {"a.b": 1, "c d": 2, ok: 3}\ntasks:\n  - {id: a, run: "echo ${params.a.b}"}\n'
    plan = plan_of(tmp_path, text)
    with pytest.raises(ExportError, match=r"task 'a' reads param 'a\.b', which cannot be an Argo parameter name"):
        export(plan)
    unread = plan_of(tmp_path, text.replace("${params.a.b}", "${params.ok}"))
    manifest, notes = export(unread)
    assert [p["name"] for p in manifest["spec"]["arguments"]["parameters"]] == ["ok"]
    assert sum("cannot be an Argo parameter name; left out" in n for n in notes) == 2


def test_a_param_value_argo_would_read_as_a_template_is_refused(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'name: p\nparams: {greeting: "{{hi}}"}\ntasks:\n  - {id: a, run: "true"}\n')
    with pytest.raises(ExportError, match=r"param 'greeting'.*template"):
        export(plan)


def test_a_command_with_double_braces_reaches_the_step_unchanged(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "name: b\ntasks:\n  - {id: a, run: \"echo '{{{x}}}' {{y}}\"}\n")
    manifest, _ = export(plan)
    value = dag_tasks(manifest)["a"]["arguments"]["parameters"][0]["value"]
    assert "{{" not in value
    assert json.loads(value)["task"]["run"] == "echo '{{{x}}}' {{y}}"
    assert spec_text({"a": "}}{{"}) == '{"a":"}}\\u007b{"}'


def test_literal_env_goes_to_the_container_and_every_entry_to_exec_task(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: e
        params: {region: eu}
        env: {STAGE: prod, "bad name": x}
        tasks:
          - id: a
            run: "true"
            env: {REGION: "${params.region}", COLOR: blue}
        """,
    )
    manifest, _ = export(plan)
    container = templates(manifest)["a"]["container"]
    assert container["env"] == [{"name": "STAGE", "value": "prod"}, {"name": "COLOR", "value": "blue"}]
    spec = json.loads(dag_tasks(manifest)["a"]["arguments"]["parameters"][0]["value"])
    assert spec["dag"]["env"] == {"STAGE": "prod", "bad name": "x"}
    assert spec["task"]["env"] == {"REGION": "${params.region}", "COLOR": "blue"}
    assert "region={{workflow.parameters.region}}" in container["args"]


def test_secrets_from_env_come_from_a_kubernetes_secret_and_from_file_is_refused(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: s
        secrets: {API_TOKEN: {from_env: API_TOKEN}}
        tasks:
          - {id: a, run: 'curl -H "Authorization: $API_TOKEN" x', secrets: {DB_PASS: {from_env: PROD_DB_PASS}}}
          - {id: b, run: "true"}
        """,
    )
    manifest, _ = export(plan, secret_name="etl-secrets")
    env = templates(manifest)["a"]["container"]["env"]
    assert env == [
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "etl-secrets", "key": "API_TOKEN"}}},
        {"name": "PROD_DB_PASS", "valueFrom": {"secretKeyRef": {"name": "etl-secrets", "key": "PROD_DB_PASS"}}},
    ]
    assert [e["name"] for e in templates(manifest)["b"]["container"]["env"]] == ["API_TOKEN"]  # the DAG's: all
    spec = json.loads(dag_tasks(manifest)["a"]["arguments"]["parameters"][0]["value"])
    assert spec["task"]["secrets"] == {"DB_PASS": {"from_env": "PROD_DB_PASS"}}  # exec-task maps and masks it
    (tmp_path / "token").write_text("s3cret-value\n")
    filed = plan_of(tmp_path, "name: f\ntasks:\n  - {id: a, run: 'true', secrets: {T: {from_file: token}}}\n")
    with pytest.raises(ExportError, match=r"task 'a' secret 'T': from_file cannot be exported to Argo — .*from_env"):
        export(filed)


def test_a_shared_volume_holds_the_run_folders(tmp_path: Path) -> None:
    manifest, _ = export(plan_of(tmp_path, 'name: v\ntasks:\n  - {id: a, run: "true"}\n'), pvc="runs")
    assert manifest["spec"]["volumes"] == [{"name": "dagctl-runs", "persistentVolumeClaim": {"claimName": "runs"}}]
    container = templates(manifest)["a"]["container"]
    assert container["volumeMounts"] == [{"name": "dagctl-runs", "mountPath": "/dagctl"}]
    assert {"name": "DAGCTL_LOGS_DIR", "value": "/dagctl/logs"} in container["env"]


def test_queue_becomes_a_pod_label_and_on_request_a_node_selector(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'name: q\ntasks:\n  - {id: a, run: "true", queue: gpu}\n  - {id: b, run: "true"}\n')
    manifest, _ = export(plan)
    assert templates(manifest)["a"]["metadata"]["labels"] == {"dagctl.io/queue": "gpu"}
    assert "nodeSelector" not in templates(manifest)["a"] and "labels" not in templates(manifest)["b"]["metadata"]
    selected, _ = export(plan, queue_node_selector=True)
    assert templates(selected)["a"]["nodeSelector"] == {"dagctl.io/queue": "gpu"}
    bad = plan_of(tmp_path, 'name: q\ntasks:\n  - {id: a, run: "true", queue: _gpu}\n')
    with pytest.raises(ExportError, match="task 'a' queue: '_gpu' cannot be a Kubernetes label value"):
        export(bad)


# -- when: ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('params.mode == "full"', "'{{workflow.parameters.mode}}' == 'full'"),
        ("outputs.up.count >= 2",
         "('{{tasks.up.outputs.parameters.count}}' != '' && 0{{tasks.up.outputs.parameters.count}} >= 2)"),
        ("outputs.up.count < params.n",
         "('{{tasks.up.outputs.parameters.count}}' != '' && "
         "0{{tasks.up.outputs.parameters.count}} < {{workflow.parameters.n}})"),
        ("-1.5 < outputs.up.count",
         "('{{tasks.up.outputs.parameters.count}}' != '' && -1.5 < 0{{tasks.up.outputs.parameters.count}})"),
        ("params.n > 0.00001", "{{workflow.parameters.n}} > 0.00001"),
        ("params.flag", "'{{workflow.parameters.flag}}' == 'true'"),
        ("not params.flag and 1", "(!('{{workflow.parameters.flag}}' == 'true') && true)"),
        ('outputs["up"]["k"] != 3', "'{{tasks.up.outputs.parameters.k}}' != '3'"),
        ('outputs.up.k in ["a", "b"]',
         "('{{tasks.up.outputs.parameters.k}}' == 'a' || '{{tasks.up.outputs.parameters.k}}' == 'b')"),
        ('outputs.up.k not in ["a"]', "('{{tasks.up.outputs.parameters.k}}' != 'a')"),
        ("outputs.up.k in []", "false"),
        ("outputs.up.k is None", "'{{tasks.up.outputs.parameters.k}}' == ''"),
        ("outputs.up.k is not null", "'{{tasks.up.outputs.parameters.k}}' != ''"),
        ("outputs.up.ok == true", "'{{tasks.up.outputs.parameters.ok}}' == 'true'"),
        ("not outputs.up.ok == true", "!('{{tasks.up.outputs.parameters.ok}}' == 'true')"),
        ('run_id != "x" and (params.mode == "a" or params.mode == "b")',
         "('{{workflow.name}}' != 'x' && ('{{workflow.parameters.mode}}' == 'a' || "
         "'{{workflow.parameters.mode}}' == 'b'))"),
        ("0 < outputs.up.count < 10",
         "(('{{tasks.up.outputs.parameters.count}}' != '' && 0 < 0{{tasks.up.outputs.parameters.count}}) && "
         "('{{tasks.up.outputs.parameters.count}}' != '' && 0{{tasks.up.outputs.parameters.count}} < 10))"),
    ],
)  # fmt: skip
def test_when_becomes_argo_when(tmp_path: Path, condition: str, expected: str) -> None:
    when, _ = when_of(tmp_path, condition)
    assert when == expected


def test_output_keys_a_when_compares_are_exported_as_parameters_of_their_own(tmp_path: Path) -> None:
    _, up = when_of(tmp_path, 'outputs.up.k == "a" and outputs.up.count > 1')
    assert up["outputs"]["parameters"][1:] == [
        {"name": "count", "valueFrom": {"path": f"{OUTPUTS_DIR}/values/count", "default": ""}},
        {"name": "k", "valueFrom": {"path": f"{OUTPUTS_DIR}/values/k", "default": ""}},
    ]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ('env.STAGE == "prod"', "reads an environment variable"),
        ('logical_date >= "2024-06-01"', "logical_date cannot be read"),
        ("params.cfg.a == 1", "goes deeper than a param or an output key"),
        ('"a" in outputs.up.k', "tests membership in a value"),
        ("outputs.up.a > outputs.up.b", "compares without a number"),
        ('outputs.up.k == "it\'s"', "holds a quote"),
        ('outputs.up["a b"] == "x"', "output key 'a b' of task 'up' cannot be an Argo parameter name"),
        ('outputs.up["dagctl-outputs"] == "x"', "cannot be an Argo parameter name"),
        ("outputs.up.count", "outputs.up.count is tested as true/false: dagctl fails the task when the value is text"),
        ("not outputs.up.ok", "outputs.up.ok is tested as true/false"),
        ("params.mode or params.n > 1", "params.mode is tested as true/false, but its default 'x' is not a bool"),
        ("run_id", "run_id is tested as true/false"),
        ("params.cfg.a", "goes deeper than a param or an output key"),  # named as what cannot be read at all
    ],
)
def test_when_argo_cannot_express_is_refused_naming_the_task_and_the_construct(
    tmp_path: Path, condition: str, message: str
) -> None:
    with pytest.raises(ExportError) as caught:
        when_of(tmp_path, condition)
    assert caught.value.exit_code == 2
    assert len(caught.value.problems) == 1
    line = caught.value.problems[0]
    assert line.startswith(f"task 'down' when: {condition}: ") and message in line and " — " in line


def test_an_output_compared_as_a_number_where_it_may_be_missing_makes_the_task_wait_for_its_success(
    tmp_path: Path,
) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: n
        tasks:
          - {id: a, run: "true"}
          - {id: b, depends_on: a, run: "true"}
          - {id: sure, depends_on: b, when: "outputs.a.n > 2 and outputs.b.n < 5", run: "true"}
          - {id: after, depends_on: [a, b], trigger_rule: all_done, when: "outputs.a.n > 2", run: "true"}
          - id: checked
            depends_on: b
            trigger_rule: always
            when: '0 < outputs.b.n <= 2 and outputs.a.k == "x"'
            precondition: "test -f x"
            run: "true"
        """,
    )
    tasks = dag_tasks(export(plan)[0])
    assert tasks["sure"]["depends"] == "b.Succeeded"  # a and b succeeded when sure runs: their outputs exist
    assert tasks["after"]["depends"] == (
        "((a.Succeeded || a.Failed || a.Errored || a.Skipped || a.Omitted) && "
        "(b.Succeeded || b.Failed || b.Errored || b.Skipped || b.Omitted)) && a.Succeeded"
    )
    assert (
        tasks["after"]["when"] == "('{{tasks.a.outputs.parameters.n}}' != '' && 0{{tasks.a.outputs.parameters.n}} > 2)"
    )
    check = tasks["checked-precondition"]  # the step that takes the task's depends and when
    assert check["depends"] == "(b.Succeeded || b.Failed || b.Errored || b.Skipped || b.Omitted) && b.Succeeded"
    assert tasks["checked"]["depends"] == "checked-precondition.Succeeded"
    either = plan.tasks["after"].replace(id="either", when="outputs.a.n > 2 or outputs.b.n < 0")
    with pytest.raises(ExportError) as caught:
        export(plan.replace(tasks={**plan.tasks, "either": either}))
    (line,) = caught.value.problems
    assert line.startswith("task 'either' when: outputs.a.n > 2 or outputs.b.n < 0: outputs.a.n is compared as a ")
    assert "task 'a' may have ended without outputs" in line and "joined by and, not under or / not" in line


@pytest.mark.parametrize("condition", ['"no"', "'yes' and outputs.up.n > 1", "not 'true'"])
def test_text_where_when_tests_true_or_false_is_refused_as_dagctl_fails_the_task(
    tmp_path: Path, condition: str
) -> None:
    plan = plan_of(
        tmp_path, 'name: t\ntasks:\n  - {id: up, run: "true"}\n  - {id: down, depends_on: up, run: "true"}\n'
    )
    plan = plan.replace(tasks={**plan.tasks, "down": plan.tasks["down"].replace(when=condition)})  # as validate lets it
    with pytest.raises(ExportError) as caught:
        export(plan)
    (line,) = caught.value.problems
    assert line.startswith(f"task 'down' when: {condition}: ") and "not true/false (dagctl fails the task) — " in line


def test_arithmetic_in_when_is_refused_where_the_dag_format_allows_it(tmp_path: Path) -> None:
    try:
        from dagctl.dag.conditions import compile_condition

        compile_condition("params.n + 1 > 2")
    except UsageError:
        pytest.skip("this DAG format has no arithmetic in when:")
    with pytest.raises(ExportError, match=r"params\.n \+ 1 computes a value \(arithmetic, abs, min, max\)"):
        when_of(tmp_path, "params.n + 1 > 2")
    with pytest.raises(ExportError, match="computes a value"):
        when_of(tmp_path, "abs(outputs.up.delta) < 3")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: many
        tasks:
          - {id: a, run: "true", when: 'env.X == "1"'}
          - {id: b, run: "true", queue: "-bad-"}
        """,
    )
    with pytest.raises(ExportError) as caught:
        export(plan)
    assert [p.split(" ")[1] for p in caught.value.problems] == ["'a'", "'b'"]
    assert "\n" in str(caught.value)


# -- nothing dropped silently -----------------------------------------------------------------------------------


def test_every_field_of_a_planned_task_and_of_the_dag_has_a_place_in_the_mapping_and_the_docs() -> None:
    """A field added to the plan must be mapped here or refused with a word on how it will map."""
    assert set(TASK_FIELDS) <= set(PlannedTask.FIELDS) <= {*TASK_FIELDS, *PENDING_KEYS, *OPTIONAL_KEYS}
    assert set(DAG_FIELDS) <= set(DagInfo.FIELDS) <= {*DAG_FIELDS, *PENDING_KEYS, *IGNORED_DAG_KEYS, *OPTIONAL_KEYS}
    doc = (ROOT / "docs" / "argo.md").read_text()
    for name in (*TASK_FIELDS, *DAG_FIELDS, *PENDING_KEYS, *IGNORED_DAG_KEYS, *OPTIONAL_KEYS):
        assert f"`{name}`" in doc, f"docs/argo.md does not mention `{name}`"


class _FutureTask(PlannedTask):
    """A task as a later DAG format may plan it, with a key the exporter does not know yet."""

    teleport: str | None = None


class _FutureDag(DagInfo):
    quorum: bool = False


def test_a_key_the_exporter_does_not_know_is_refused_naming_the_task_and_the_key(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'name: f\ntasks:\n  - {id: a, run: "true"}\n  - {id: b, run: "true"}\n')
    fields = plan.tasks["a"].to_dict()
    plan = plan.replace(tasks={"a": _FutureTask(**fields, teleport="1h"), "b": plan.tasks["b"]})
    plan = plan.replace(dag=_FutureDag(**plan.dag.to_dict(), quorum=True))
    with pytest.raises(ExportError) as caught:
        export(plan)
    assert caught.value.problems == [
        "DAG 'f' key 'quorum': cannot be exported to Argo yet — remove it to export",
        "task 'a' key 'teleport': cannot be exported to Argo yet — remove it to export",
    ]
    pending = plan.replace(
        tasks={"a": plan.tasks["b"].replace(id="a")},
        dag=DagInfo(name="f", notify={"events": ["failure"], "urls": ["json://localhost"]}),
    )
    with pytest.raises(ExportError, match=r"DAG 'f' key 'notify': .*exit handler .* run the DAG with dagctl run"):
        export(pending)
    unset = plan.replace(tasks={"a": _FutureTask(**fields), "b": plan.tasks["b"]}, dag=_FutureDag(name="f"))
    export(unset)  # the same keys left unset are fine


def test_the_descriptions_of_a_dag_file_become_annotations(tmp_path: Path) -> None:
    """docs/argo.md said they were exported; the plan did not carry them, so no manifest had one."""
    plan = plan_of(
        tmp_path, 'name: d\ndescription: sales, nightly\ntasks:\n  - {id: a, description: one, run: "true"}\n'
    )
    manifest, _ = export(plan)
    assert manifest["metadata"]["annotations"]["workflows.argoproj.io/description"] == "sales, nightly"
    (step,) = [
        t
        for t in manifest["spec"]["templates"]
        if t.get("metadata", {}).get("annotations", {}).get("dagctl.io/task") == "a"
    ]
    assert step["metadata"]["annotations"]["dagctl.io/description"] == "one"


# -- kinds, names, schedules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dag", "kind", "name"),
    [
        ("sales.v2_.daily", "Workflow", "sales.v2.daily-"),
        ("A..weird.-name_", "WorkflowTemplate", "a.weird.name"),
        ("-.x_.-y", "Workflow", "x.y-"),
        ("..._", "Workflow", "dagctl-"),
        ("x." + "y_" * 31, "Workflow", None),  # cut to fit, with a hash of the whole name
    ],
)
def test_object_names_are_dns_subdomains_every_label_alphanumeric_at_both_ends(
    tmp_path: Path, dag: str, kind: str, name: str | None
) -> None:
    label = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    plan = plan_of(tmp_path, f'name: "{dag}"\ntasks:\n  - {{id: a, run: "true"}}\n')
    meta, _ = export(plan, kind=kind)
    given = meta["metadata"].get("generateName") or meta["metadata"]["name"]
    assert name is None or given == name
    full = given + "abcde" if given.endswith("-") else given  # what Argo makes of a generateName
    assert re.fullmatch(rf"{label}(\.{label})*", full) and len(full) <= 63, full
    assert export(plan, kind=kind)[0]["metadata"] == meta["metadata"]  # the same every time
    assert re.fullmatch(rf"{label}(\.{label})*", meta["metadata"]["labels"]["dagctl.io/dag"])


def test_a_schedule_id_becomes_a_dns_subdomain_cron_workflow_name(tmp_path: Path) -> None:
    from dagctl.export.cron import cron_settings
    from dagctl.schedule.files import load_schedule_file

    (tmp_path / "dag.yaml").write_text('name: d\ntasks:\n  - {id: a, run: "true"}\n')
    (tmp_path / "s.yaml").write_text('- {id: "Nightly_.-Run..v2_", cron: "0 1 * * *", dag: dag.yaml}\n')
    (schedule,) = load_schedule_file(tmp_path / "s.yaml")
    plan = build_plan(load_dag(tmp_path / "dag.yaml"))
    manifest = export_plan(plan, ArgoOptions(name_prefix="Ops_."), cron_settings(schedule)).manifest
    assert manifest["metadata"]["name"] == "ops.nightly.run.v2"


def test_kinds_names_and_namespace(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, f'name: {"Very_Long." * 6}x\ntenant_id: acme\ntasks:\n  - {{id: a, run: "true"}}\n')
    workflow, _ = export(plan, namespace="etl", name_prefix="nightly-")
    meta = workflow["metadata"]
    assert meta["namespace"] == "etl"
    assert meta["generateName"].startswith("nightly-very-long.very-long.") and len(meta["generateName"]) <= 58
    assert meta["annotations"] == {"dagctl.io/dag-file": "dags/dag.yaml", "dagctl.io/tenant": "acme"}
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "dagctl"
    template, _ = export(plan, kind="WorkflowTemplate")
    assert template["kind"] == "WorkflowTemplate" and "generateName" not in template["metadata"]
    assert len(template["metadata"]["name"]) <= 63
    assert template["spec"]["templates"] == workflow["spec"]["templates"]
    with pytest.raises(UsageError, match="give a schedule"):
        export(plan, kind="CronWorkflow")


def test_a_schedule_becomes_a_cron_workflow(tmp_path: Path) -> None:
    from dagctl.export.cron import cron_settings
    from dagctl.schedule.files import load_schedule_file

    (tmp_path / "dag.yaml").write_text((EXAMPLE_DAGS / "diamond_pipeline.yaml").read_text())
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent(
            """
            - id: nightly
              description: every night
              cron: "30 2 * * *"
              timezone: America/New_York
              dag: dag.yaml
              params: {rows: 1000}
              overlap: queue
              catchup: 6h
              jitter: 30s
              tenant: acme
            - {id: paused, cron: "@daily", dag: dag.yaml, enabled: false, overlap: allow}
            """
        )
    )
    nightly, paused = load_schedule_file(tmp_path / "s.yaml")
    plan = build_plan(load_dag(tmp_path / "dag.yaml"))
    result = export_plan(plan, ArgoOptions(dag_path="dag.yaml", params={"out_dir": "/out"}), cron_settings(nightly))
    manifest = result.manifest
    assert manifest["kind"] == "CronWorkflow" and manifest["metadata"]["name"] == "nightly"
    spec = manifest["spec"]
    assert spec["schedules"] == ["30 2 * * *"] and spec["timezone"] == "America/New_York"
    assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] == 21600
    assert "suspend" not in spec
    workflow = spec["workflowSpec"]
    assert workflow["arguments"]["parameters"] == [
        {"name": "rows", "value": "1000"},
        {"name": "out_dir", "value": "/out"},
    ]
    assert workflow["workflowMetadata"]["annotations"]["dagctl.io/tenant"] == "acme"
    assert manifest["metadata"]["annotations"]["workflows.argoproj.io/description"] == "every night"
    args = workflow["templates"][1]["container"]["args"]
    assert args[args.index("--logical-date") + 1] == "{{workflow.scheduledTime}}"
    assert sorted(n.split(" ")[2] for n in result.notes if n.startswith("schedule")) == [
        "catchup:",
        "jitter:",
        "overlap:",
    ]
    paused_spec = export_plan(plan, ArgoOptions(), cron_settings(paused)).manifest["spec"]
    assert paused_spec["suspend"] is True and paused_spec["concurrencyPolicy"] == "Allow"
    assert "startingDeadlineSeconds" not in paused_spec


def test_extended_cron_days_are_refused_and_hashed_fields_go_as_numbers(tmp_path: Path) -> None:
    from dagctl.errors import UsageError
    from dagctl.export.cron import cron_settings
    from dagctl.schedule.files import load_schedule_file

    (tmp_path / "dag.yaml").write_text((EXAMPLE_DAGS / "diamond_pipeline.yaml").read_text())
    (tmp_path / "s.yaml").write_text(
        '- {id: last, cron: "0 3 L * *", dag: dag.yaml}\n'
        '- {id: second_monday, cron: "30 2 * * 1#2", dag: dag.yaml}\n'
        '- {id: hashed, cron: "H H * * wed", dag: dag.yaml}\n'
    )
    last, second_monday, hashed = load_schedule_file(tmp_path / "s.yaml")
    for spec, item in ((last, "L"), (second_monday, "1#2")):
        with pytest.raises(UsageError) as caught:
            cron_settings(spec)
        assert f"schedule '{spec.id}'" in str(caught.value) and f"uses {item}," in str(caught.value)
    [expression] = cron_settings(hashed).spec["schedules"]
    minute, hour, *rest = expression.split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "wed"]  # a name is not a W day


@pytest.mark.parametrize(
    ("days", "argo"),
    [
        ("6-7", "0,6"), ("7", "0"), ("sun,7", "sun,0"), ("7-7", "0"), ("5-7", "0,5-6"), ("fri-7", "0,5-6"),
        ("1-7/2", "0-1,3,5"), ("0-7", "0-6"), ("mon-fri", "mon-fri"), ("*/2", "*/2"), ("1,7,3", "1,0,3"),
    ],
)  # fmt: skip
def test_a_sunday_written_7_goes_to_argo_as_0_on_the_same_days(tmp_path: Path, days: str, argo: str) -> None:
    from datetime import UTC, datetime

    from dagctl.export.cron import cron_settings
    from dagctl.schedule.cron import next_fire_times, parse_cron
    from dagctl.schedule.files import load_schedule_file

    (tmp_path / "dag.yaml").write_text('name: d\ntasks:\n  - {id: a, run: "true"}\n')
    (tmp_path / "s.yaml").write_text(f'- {{id: weekend, cron: "0 9 * * {days}", dag: dag.yaml}}\n'
                                     f'- {{id: first, cron: "0 9 1 * {days}", dag: dag.yaml}}\n')  # fmt: skip
    for schedule in load_schedule_file(tmp_path / "s.yaml"):
        [expression] = cron_settings(schedule).spec["schedules"]
        assert expression == schedule.cron.rsplit(" ", 1)[0] + " " + argo
        # robfig/cron (Argo's parser) reads days of week 0-6 only, in ranges that go up
        for item in expression.split()[4].split(","):
            numbers = [int(n) for n in re.findall(r"\d+", item.split("/")[0])]
            assert all(n <= 6 for n in numbers) and numbers == sorted(numbers), expression
        # the same slots, by dagctl's own cron matcher (with the day-of-month, OR'ed as before)
        start = datetime(2025, 1, 1, tzinfo=UTC)
        assert next_fire_times(parse_cron(expression), start, 40) == next_fire_times(
            parse_cron(schedule.cron), start, 40
        )


def test_a_workflow_ref_task_carries_the_dags_registry(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: reg
        workflows: {hello: "steps:hello"}
        tasks:
          - {id: a, workflow_ref: hello}
          - {id: b, run: "true"}
        """,
    )
    manifest, _ = export(plan)
    specs = {n: json.loads(t["arguments"]["parameters"][0]["value"]) for n, t in dag_tasks(manifest).items()}
    assert specs["a"]["dag"]["workflows"] == {"hello": "steps:hello"}
    assert "workflows" not in specs["b"]["dag"]
