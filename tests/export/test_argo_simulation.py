"""An exported Workflow run by a local stand-in for Argo (tests/export/argo_sim.py): every step's container
command runs as a local process with the parameters Argo would pass, and the result is what ``dagctl run``
gives on the same DAG — the same task outcomes and the same outputs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dagctl.dag.loader import load_dag
from dagctl.dag.plan import build_plan
from dagctl.export.argo import ArgoOptions, export_plan
from tests.conftest import EXAMPLE_DAGS, ROOT
from tests.export.argo_sim import Simulation, aggregate, eval_depends, eval_when, item_text, simulate
from tests.export.dags import BRANCHES, CACHED, GATE, LOOPS, MATRICES, MATRIX_STEPS, NESTED, NUMBERS, SUBDAGS
from tests.support import wait_until

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


def run_exported(
    project: Path,
    dag: str,
    *,
    workflow: str = "sim-wf-1",
    decisions: dict[str, str | dict[str, str]] | None = None,
    cache: dict[str, dict[str, str]] | None = None,
    **arguments: str,
) -> tuple[Simulation, dict[str, dict], str]:
    """Export ``dag`` and simulate it: (the simulation, outputs by dagctl task id, the run folder the steps shared)."""
    plan = build_plan(load_dag(project / dag))
    manifest = export_plan(plan, ArgoOptions(dag_path=dag)).manifest
    if importlib.util.find_spec("hera") is not None:  # run what Hera's models of the Argo schema give back
        from dagctl.export.hera_models import checked

        manifest = checked(manifest).to_dict()
    sim = simulate(
        manifest,
        workdir=project,
        steps_dir=project / "steps" / workflow,
        env={"DAGCTL_LOGS_DIR": str(project / "logs-argo")},
        workflow_name=workflow,
        arguments=arguments,
        decisions=decisions,
        cache=cache,
    )
    outputs = {
        sim.task_ids[name]: json.loads(values["dagctl-outputs"])
        for name, values in sim.outputs.items()
        if sim.phases[name] == "Succeeded" and values["dagctl-outputs"] != "{}"
    }
    return sim, outputs, str((project / "logs-argo" / "runs" / workflow).resolve())


def outcomes(sim: Simulation) -> dict[str, str]:
    """dagctl task id -> its outcome in the simulated workflow, in dagctl's words."""
    return {sim.task_ids[n]: PHASES[p] for n, p in sim.phases.items()}


def tasks_only(outputs: dict[str, dict], statuses: dict[str, str]) -> dict[str, dict]:
    """The outputs of the DAG's tasks that succeeded (not those of cells, iterations, or a failed loop's first)."""
    return {k: v for k, v in outputs.items() if statuses.get(k) == "success"}


def log_text(path: Path) -> str:
    """A log without the times its lines were written at."""
    return re.sub(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", "", path.read_text(), flags=re.MULTILINE)


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


def test_a_number_compared_with_a_missing_output_skips_the_task_in_argo_as_in_dagctl_run(project: Path) -> None:
    (project / "numbers.yaml").write_text(NUMBERS)
    statuses, expected, _ = dagctl_run(project, "numbers.yaml")
    sim, outputs, _ = run_exported(project, "numbers.yaml")
    assert statuses == {
        "check": "success",
        "missing": "skipped",  # None > 2 is false: the key was not written
        "not_missing": "success",
        "counted": "success",
        "gated": "skipped",
        "after_gated": "skipped",  # its upstream was skipped, so has no outputs
        "after_after": "success",
    }
    assert outcomes(sim) == statuses
    assert sim.phases["missing"] == "Skipped" and sim.phases["after-gated"] == "Omitted"
    assert outputs == expected


def test_the_stand_in_evaluates_argo_expressions_as_argo_does() -> None:
    phases = {"a": "Succeeded", "b-1": "Failed"}
    assert eval_depends("a.Succeeded && (b-1.Failed || b-1.Errored)", phases)
    assert not eval_depends("a.Succeeded && b-1.Succeeded", phases)
    assert eval_when("'yes' == 'yes' && !('' != '')")
    assert eval_when("5 > 3 && odd != even")  # bare words are strings, as Argo's govaluate call reads them
    assert not eval_when("'5' == '5.0' || -1.5 > 2")
    assert eval_when("'05' != '' && 005 > 2 && 0-3 < -1 && 03.5 == 3.5")  # numbers are float64
    assert not eval_when("'' != '' && 0 > 2")
    for unparsable in ("'' != '' &&  > 2", "{{tasks.a.outputs.parameters.n}} > 2"):  # parsed before evaluated
        with pytest.raises((SyntaxError, ValueError)):
            eval_when(unparsable)
    assert item_text({"lr": 0.01, "bs": 16}) == '{"bs":16,"lr":0.01}' and item_text("a.csv") == "a.csv"
    assert item_text(True) == "true" and item_text(3) == "3"
    assert aggregate(['{"a":1.0}', '{"a":2}']) == '[{"a":1},{"a":2}]'  # all JSON objects: re-encoded (1.0 is 1)
    assert aggregate(['dagctl-cell:{"a":1.0}', ""]) == '["dagctl-cell:{\\"a\\":1.0}",""]'  # else: strings, as is


# -- matrices, loops, sub-DAGs, the task cache, approval gates --------------------------------------------------


@pytest.fixture
def composed(project: Path) -> Path:
    for name, text in (
        ("matrices.yaml", MATRICES), ("loops.yaml", LOOPS), ("subdags.yaml", SUBDAGS), ("nested.yaml", NESTED),
        ("cached.yaml", CACHED), ("gate.yaml", GATE), ("steps.py", MATRIX_STEPS),
    ):  # fmt: skip
        (project / name).write_text(text)
    for name in ("hyperparameter_search.yaml", "nightly_report.yaml", "ml_steps.py"):
        shutil.copy(EXAMPLE_DAGS / name, project / name)
    shutil.copytree(EXAMPLE_DAGS / "pipelines", project / "pipelines")
    return project


@pytest.mark.parametrize("dag", ["hyperparameter_search.yaml", "nightly_report.yaml"])
def test_the_example_dags_with_a_matrix_a_sub_dag_and_a_loop_give_in_argo_what_dagctl_run_gives(
    composed: Path, dag: str
) -> None:
    statuses, expected, run_dir = dagctl_run(composed, dag)
    sim, outputs, sim_dir = run_exported(composed, dag)
    assert set(statuses.values()) == {"success"} and sim.phase == "Succeeded"
    assert outcomes(sim) == statuses
    assert outputs == tasks_only(expected, statuses)
    # the cells and iterations kept their outputs in the run folder under the same names, and their logs
    assert sorted(p.stem for p in Path(sim_dir, "outputs").glob("*.json")) == sorted(expected)
    logs = sorted(p.name for p in Path(run_dir).glob("*.log"))
    assert sorted(p.name for p in Path(sim_dir).glob("*.log")) == logs
    for log in logs:
        assert log_text(Path(sim_dir, log)) == log_text(Path(run_dir, log)), log
    if dag == "hyperparameter_search.yaml":
        assert outputs["report"] == {"best_lr": 0.01, "best_batch_size": 32, "accuracy": 0.916}
        assert len(sim.commands) == 6 + 2  # a step per cell, the fan-in, the report
    else:
        assert outputs["fit"] == {"loss": 0.04, "epochs": 5} and outputs["prep"] == {"rows": "40", "day": "2026-12-06"}
        children = {p.name for p in Path(sim_dir).parent.iterdir()}
        assert "sim-wf-1.prep" in children  # the sub-DAG ran as a run of its own, as a child run does
        assert json.loads(Path(sim_dir + ".prep", "outputs", "clean.json").read_text()) == {"kept": "40"}


def test_matrices_fan_in_as_in_dagctl_run_failed_cells_min_success_and_every_aggregate(composed: Path) -> None:
    statuses, expected, _ = dagctl_run(composed, "matrices.yaml")
    sim, outputs, _ = run_exported(composed, "matrices.yaml")
    assert statuses == {
        "list": "success", "sweep": "success", "retried": "success", "per_file": "success", "vote": "success",
        "mean": "success", "strict": "failed", "after_strict": "skipped", "cleanup": "success", "report": "success",
    }  # fmt: skip
    assert outcomes(sim) == statuses and sim.phase == "Failed"
    assert outputs == tasks_only(expected, statuses)
    sweep = outputs["sweep"]
    assert [c["status"] for c in sweep["cells"]] == ["success", "success", "failed", "failed", "success", "success"]
    assert sweep["best"]["index"] == 4 and sweep["best"]["matrix"] == {"x": 3, "tag": "p"}
    assert outputs["per_file"]["files"] == ["b.csv", "a.csv", "b.csv"] and outputs["per_file"]["total"] == 15
    assert outputs["report"] == {"best": "3/p total=15 mean=1.0"}
    # each cell was retried on its own
    assert [len(sim.commands[f"retried.cells({i})"]) for i in (0, 1)] == [1, 2]
    assert [c["outputs"] for c in outputs["retried"]["cells"]] == [{"attempt": "1"}, {"attempt": "2"}]
    assert sim.nodes["strict.gather"] == "Failed" and sim.nodes["strict.cells"] == "Failed"


def test_loops_iterate_decide_and_fail_as_in_dagctl_run(composed: Path) -> None:
    statuses, expected, _ = dagctl_run(composed, "loops.yaml")
    sim, outputs, sim_dir = run_exported(composed, "loops.yaml")
    assert statuses == {
        "count": "success", "capped": "failed", "after_capped": "skipped", "capped_ok": "success",
        "flaky": "success", "after": "success",
    }  # fmt: skip
    assert outcomes(sim) == statuses
    assert outputs == tasks_only(expected, statuses)
    assert outputs["after"] == {"count": "3 capped=2 flaky=2"}
    assert sorted(p.stem for p in Path(sim_dir, "outputs").glob("*.json")) == sorted(expected)
    assert sim.nodes["count.delay"] == sim.nodes["count.next.delay"] == "Succeeded"  # a pause between iterations
    assert sim.nodes["count.next.next.delay"] == "Skipped"  # three iterations, then until held: no fourth
    assert sim.nodes["count.next.next.next"] == "Omitted" and sim.nodes["count"] == "Succeeded"
    assert sim.nodes["capped.next.until"] == "Failed" and sim.nodes["capped"] == "Failed"  # on_max: fail
    assert [len(sim.commands[f"flaky{level}.run"]) for level in ("", ".next")] == [2, 2]  # retried per iteration


def test_sub_dags_run_their_child_pass_params_and_outputs_and_fail_as_the_child_run_does(composed: Path) -> None:
    statuses, expected, _ = dagctl_run(composed, "subdags.yaml")
    sim, outputs, sim_dir = run_exported(composed, "subdags.yaml")
    assert statuses == {
        "up": "success", "child_ok": "success", "child_fails": "failed", "after_fail": "skipped",
        "nested": "success", "report": "success",
    }  # fmt: skip
    assert outcomes(sim) == statuses
    assert outputs == tasks_only(expected, statuses)
    assert outputs["child_ok"] == {"v": "2-2026-01-02", "where": "/data/x", "n": 2}
    assert outputs["report"] == {"got": "2-2026-01-02 where=/data/x deep=7"}
    # the child's own when: read its params; its tidy-up task succeeded, yet the sub-DAG failed, as in a run
    assert sim.nodes["child-ok.c"] == "Skipped" and sim.nodes["child-fails.tidy"] == "Succeeded"
    assert sim.nodes["child-fails.returns"] == "Omitted"
    assert json.loads(Path(sim_dir + ".nested.inner", "outputs", "leaf.json").read_text()) == {"x": "7"}


def test_a_cached_task_is_memoized_by_dagctls_own_task_cache_key(composed: Path) -> None:
    (composed / "data").mkdir()
    (composed / "data" / "a.txt").write_text("one")
    first_statuses, first, _ = dagctl_run(composed, "cached.yaml")
    events = [
        json.loads(line) for line in (composed / "logs-run" / "orchestrator_events.jsonl").read_text().splitlines()
    ]
    keys = {
        e["task_id"] + (f":{e['cell_index']}" if "cell_index" in e else ""): e["cache_key"]
        for e in events
        if e["event"] == "task_ok" and e.get("cache_key")
    }
    cache: dict[str, dict[str, str]] = {}
    sim, outputs, _ = run_exported(composed, "cached.yaml", workflow="wf-a", cache=cache)
    assert outcomes(sim) == first_statuses and outputs == tasks_only(first, first_statuses)
    # the key step computed the very key dagctl run computed for the same attempt
    assert sim.node_outputs["make.key"]["cache-key"] == keys["make"]
    assert sim.node_outputs["use.key"]["cache-key"] == keys["use"]
    assert sim.node_outputs["cells.cells(1).key"]["cache-key"] == keys["cells:1"]
    assert sorted(cache) == sorted(keys.values())
    runs = {name: (composed / f"{name}.runs").read_text().count("ran") for name in ("make", "use", "cells")}
    again, outputs_again, _ = run_exported(composed, "cached.yaml", workflow="wf-b", cache=cache)
    assert outputs_again == outputs
    assert sorted(again.memoized) == ["cells.cells(0).run", "cells.cells(1).run", "make.run", "use.run"]
    assert {name: (composed / f"{name}.runs").read_text().count("ran") for name in runs} == runs  # nothing ran
    (composed / "data" / "a.txt").write_text("two")  # an input file changed: a new key, the step runs again
    changed, _, _ = run_exported(composed, "cached.yaml", workflow="wf-c", cache=cache)
    assert "make.run" not in changed.memoized and "use.run" in changed.memoized
    assert (composed / "make.runs").read_text().count("ran") == runs["make"] + 1


def _run_gate(project: Path, decide: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
    """``dagctl run gate.yaml``, decided with ``dagctl <decide...>`` once the gate waits."""
    logs = project / f"logs-{decide[0]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(logs)}
    env.pop("ORCH_EVENTS_PATH", None)
    command = [sys.executable, "-m", "dagctl"]
    run = subprocess.Popen(
        [*command, "run", "gate.yaml", "--json"], cwd=project, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        events = logs / "orchestrator_events.jsonl"
        wait_until(lambda: events.exists() and "approval_requested" in events.read_text(), 30, what="the gate")
        decided = subprocess.run([*command, *decide], cwd=project, env=env, capture_output=True, text=True)
        assert decided.returncode == 0, decided.stderr
        out, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    summary = json.loads(out)
    run_dir = Path(summary["run_dir"])
    outputs = {p.stem: json.loads(p.read_text()) for p in (project / run_dir).glob("outputs/*.json")}
    return {tid: task["status"] for tid, task in summary["tasks"].items()}, outputs


def test_an_approval_gate_is_a_suspend_step_resumed_or_failed_as_dagctl_approve_or_reject(composed: Path) -> None:
    statuses, expected = _run_gate(composed, ["approve", "latest", "go_ahead", "--as", "ana"])
    approved = {"dagctl-outputs": json.dumps({"approved_by": ["ana"]})}  # argo node set --output-parameter ...
    sim, outputs, _ = run_exported(composed, "gate.yaml", decisions={"go-ahead": approved})
    assert statuses == dict.fromkeys(("build", "go_ahead", "deploy", "tidy"), "success")
    assert outcomes(sim) == statuses
    assert outputs == {**expected, "go_ahead": {"approved_by": ["ana"]}}  # a run keeps no file of a gate's
    assert outputs["deploy"] == {"by": '["ana"]'}
    statuses, expected = _run_gate(composed, ["reject", "latest", "go_ahead", "--as", "li", "--reason", "red"])
    sim, outputs, _ = run_exported(composed, "gate.yaml", workflow="sim-wf-2", decisions={"go-ahead": "reject"})
    assert statuses == {"build": "success", "go_ahead": "failed", "deploy": "skipped", "tidy": "success"}
    assert outcomes(sim) == statuses and outputs == expected
    _, outputs, _ = run_exported(composed, "gate.yaml", workflow="sim-wf-3", decisions={"go-ahead": "approve"})
    assert outputs["deploy"] == {"by": "[]"}  # argo resume alone: who approved is not known


PRECONDITIONS = """
name: pre
tasks:
  - {id: ready, run: 'echo "ok=1" > "$DAGCTL_OUTPUT"'}
  - {id: met, depends_on: [ready], precondition: "test -f here.flag", run: 'echo "ran=1" > "$DAGCTL_OUTPUT"'}
  - {id: unmet, depends_on: [ready], precondition: "test -f missing.flag", run: "echo never"}
  - {id: after_unmet, depends_on: [unmet], run: "echo never"}
  - {id: cond, depends_on: [ready], precondition: {when: "outputs.ready.ok == 2"}, run: "echo never"}
  - {id: cond_met, depends_on: [ready], precondition: {when: "outputs.ready.ok == 1"}, run: "true"}
  - {id: join, depends_on: [met, unmet], trigger_rule: none_failed, run: 'echo "joined=1" > "$DAGCTL_OUTPUT"'}
  - {id: mid, depends_on: [ready], run: "true"}
  - {id: far, depends_on: [mid], precondition: {when: "outputs.ready.ok == 1"}, run: 'echo "far=1" > "$DAGCTL_OUTPUT"'}
"""


def test_preconditions_skip_in_argo_as_in_dagctl_run(tmp_path: Path) -> None:
    (tmp_path / "pre.yaml").write_text(PRECONDITIONS.lstrip())
    (tmp_path / "here.flag").touch()
    statuses, expected, _ = dagctl_run(tmp_path, "pre.yaml")
    sim, outputs, _ = run_exported(tmp_path, "pre.yaml")
    checks = {n: p for n, p in sim.phases.items() if n.endswith("-precondition")}
    assert set(checks.values()) == {"Succeeded"} and len(checks) == 5
    phases = {sim.task_ids[n]: PHASES[p] for n, p in sim.phases.items() if n not in checks}
    assert (
        phases
        == statuses
        == {
            "ready": "success",
            "met": "success",
            "unmet": "skipped",
            "after_unmet": "skipped",
            "cond": "skipped",
            "cond_met": "success",
            "join": "success",
            "mid": "success",
            "far": "success",  # its precondition reads an ancestor's outputs: the step is given them
        }
    )
    assert outputs == tasks_only(expected, statuses)


HANDLED = """
name: handled
params: {fail: "yes"}
handlers:
  success: {run: 'echo "success $DAGCTL_RUN_STATUS" >> handlers.txt'}
  failure: {run: 'echo "failure $DAGCTL_RUN_STATUS $DAGCTL_FAILED_TASKS ${params.fail}" >> handlers.txt'}
  exit: {run: 'echo "exit $DAGCTL_HANDLER" >> handlers.txt'}
tasks:
  - {id: ok, run: "true"}
  - {id: boom, depends_on: [ok], retries: 1, run: 'test "${params.fail}" != yes'}
"""


@pytest.mark.parametrize(
    ("fail", "expected"), [("yes", ["failure failed boom yes", "exit exit"]), ("no", ["success success", "exit exit"])]
)
def test_handlers_run_in_the_exit_handler_as_after_dagctl_run(tmp_path: Path, fail: str, expected: list[str]) -> None:
    (tmp_path / "handled.yaml").write_text(HANDLED.lstrip())
    written = tmp_path / "handlers.txt"
    dagctl_run(tmp_path, "handled.yaml", f"fail={fail}")
    assert written.read_text().splitlines() == expected
    written.unlink()
    sim, _, _ = run_exported(tmp_path, "handled.yaml", fail=fail)
    assert sim.phase == ("Failed" if fail == "yes" else "Succeeded")
    assert written.read_text().splitlines() == expected
    ran = {path: phase for path, phase in sim.nodes.items() if path.startswith("onExit.")}
    skipped = "onExit.on-success" if fail == "yes" else "onExit.on-failure"
    assert ran[skipped] == "Skipped" and ran["onExit.on-exit"] == "Succeeded"
