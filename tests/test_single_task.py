"""dagctl.run.single: one task run on its own with given params and inputs, its exit code, its outputs."""

from __future__ import annotations

import json
import shutil
import textwrap
import threading
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.dag.loader import load_dag
from dagctl.dag.plan import Plan, build_plan
from dagctl.errors import UsageError
from dagctl.run.attempts import CancelToken
from dagctl.run.single import (
    EXIT_TIMEOUT,
    parse_inputs,
    plan_of_spec,
    run_task,
    task_spec,
    write_outputs,
)
from tests.conftest import EXAMPLE_DAGS
from tests.support import wait_until


def plan_of(tmp_path: Path, text: str, name: str = "dag.yaml") -> Plan:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return build_plan(load_dag(path))


@pytest.fixture
def diamond(tmp_path: Path) -> Plan:
    for name in ("diamond_pipeline.yaml", "pipeline_steps.py"):
        shutil.copy(EXAMPLE_DAGS / name, tmp_path / name)
    return build_plan(load_dag(tmp_path / "diamond_pipeline.yaml"))


def test_a_python_task_runs_with_the_params_given_and_writes_its_outputs(tmp_path: Path, diamond: Plan) -> None:
    result = run_task(diamond, "extract", runs_dir=tmp_path / "runs", run_id="r1", params={"rows": "7"})
    assert result.status == "success" and result.exit_code == 0
    assert result.outputs == {"path": str(tmp_path / "runs" / "r1" / "sales.csv"), "rows": 7}
    assert json.loads((tmp_path / "runs" / "r1" / "outputs" / "extract.json").read_text()) == result.outputs
    assert len((tmp_path / "runs" / "r1" / "sales.csv").read_text().splitlines()) == 8


def test_upstream_outputs_given_as_inputs_reach_templates_and_python_params(tmp_path: Path, diamond: Plan) -> None:
    first = run_task(diamond, "extract", runs_dir=tmp_path / "runs", run_id="r1", params={"rows": 20})
    shell = run_task(diamond, "by_product", runs_dir=tmp_path / "runs", run_id="r2", inputs={"extract": first.outputs})
    python = run_task(diamond, "by_region", runs_dir=tmp_path / "runs", run_id="r2", inputs={"extract": first.outputs})
    assert shell.status == python.status == "success"
    assert set(shell.outputs) == {"doohickey", "gadget", "gizmo", "widget"}
    assert set(python.outputs) == {"east", "north", "south", "west"}
    report = run_task(
        diamond,
        "report",
        runs_dir=tmp_path / "runs",
        run_id="r2",
        params={"out_dir": str(tmp_path / "out")},
        inputs={"by_region": python.outputs, "by_product": shell.outputs},
    )
    assert report.outputs == {"report": str(tmp_path / "out" / "sales_report.md"), "sections": 2}


def test_a_secret_reaches_the_task_under_its_name_and_is_masked_in_its_log(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        "name: s\ntasks:\n  - {id: a, run: 'echo pass=$DB_PASS', secrets: {DB_PASS: {from_env: PROD_DB_PASS}}}\n",
    )
    env = {"PATH": "/usr/bin:/bin", "PROD_DB_PASS": "hunter2-long"}
    result = run_task(plan, "a", runs_dir=tmp_path / "runs", run_id="wf-1", base_env=env)
    assert result.status == "success"
    assert Path(result.log_path).read_text() == "pass=***\n"
    with pytest.raises(UsageError, match="PROD_DB_PASS"):  # missing: named before anything runs
        run_task(plan, "a", runs_dir=tmp_path / "runs", run_id="wf-2", base_env={"PATH": "/usr/bin:/bin"})


def test_bad_input_is_a_usage_error(tmp_path: Path, diamond: Plan) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(UsageError, match=r"has no task 'extrct'.*did you mean 'extract'"):
        run_task(diamond, "extrct", runs_dir=runs, run_id="r")
    with pytest.raises(UsageError, match="task 'report' is not upstream of 'by_region'"):
        run_task(diamond, "by_region", runs_dir=runs, run_id="r", inputs={"report": {}})
    with pytest.raises(UsageError, match="unknown param 'rowz'"):
        run_task(diamond, "extract", runs_dir=runs, run_id="r", params={"rowz": 1})
    with pytest.raises(UsageError, match="cannot name a run folder"):
        run_task(diamond, "extract", runs_dir=runs, run_id="../up")
    with pytest.raises(UsageError, match=r"--input extrct: DAG 'diamond_pipeline' has no task 'extrct'.*: extract$"):
        run_task(diamond, "by_region", runs_dir=runs, run_id="r", inputs={"extrct": {}})


def test_an_input_the_task_reads_but_was_not_given_is_bad_input_not_a_task_failure(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: nd
        tasks:
          - {id: a, run: 'echo x=1 > $DAGCTL_OUTPUT'}
          - {id: b, run: 'echo ${outputs.a.x}', depends_on: a}
          - {id: c, run: 'echo ${outputs.a.x:-none}', depends_on: a}
        """,
    )
    runs = tmp_path / "runs"
    with pytest.raises(UsageError, match=r"--input a is missing: task 'b' reads \$\{outputs\.a\.x\}") as caught:
        run_task(plan, "b", runs_dir=runs, run_id="r1")
    assert "--input a=@FILE" in (caught.value.hint or "")
    assert run_task(plan, "b", runs_dir=runs, run_id="r2", inputs={"a": {"x": 2}}).exit_code == 0
    assert run_task(plan, "c", runs_dir=runs, run_id="r3").exit_code == 0  # a default stands in for it


def test_the_exit_code_is_the_tasks(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: codes
        tasks:
          - {id: seven, run: "exit 7"}
          - {id: raises, python: "steps:boom"}
          - {id: missing, run: "echo ${outputs.seven.x}", depends_on: seven}
        """,
    )
    (tmp_path / "steps.py").write_text("def boom():\n    raise RuntimeError('no')\n")
    runs = tmp_path / "runs"
    seven = run_task(plan, "seven", runs_dir=runs, run_id="r")
    assert (seven.status, seven.exit_code, seven.error) == ("failed", 7, "exit code 7")
    raises = run_task(plan, "raises", runs_dir=runs, run_id="r")
    assert (raises.status, raises.exit_code) == ("failed", 1) and "RuntimeError: no" in str(raises.error)
    # given, but without the key the task reads: the task fails as in a run (not given at all: bad input, below)
    missing = run_task(plan, "missing", runs_dir=runs, run_id="r", inputs={"seven": {}})
    assert (missing.status, missing.exit_code) == ("failed", 1) and "has no output 'x'" in str(missing.error)


def test_a_failure_continue_on_allows_ends_the_step_as_a_success_with_the_reason(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
        name: allowed
        tasks:
          - {id: three, run: "exit 3", continue_on: {exit_codes: [3]}, retries: 2, retry_on_exit_codes: [75]}
          - {id: four, run: "exit 4", continue_on: {exit_codes: [3]}}
          - {id: any, run: "exit 9", continue_on: {failure: true}}
        """,
    )
    runs = tmp_path / "runs"
    three = run_task(plan, "three", runs_dir=runs, run_id="r")  # retry_on_exit_codes is the caller's, as retries
    assert (three.status, three.exit_code) == ("success", 0)
    assert three.reason == "continue_on: exit code 3 allowed (exit code 3)"
    four = run_task(plan, "four", runs_dir=runs, run_id="r")
    assert (four.status, four.exit_code, four.reason) == ("failed", 4, None)
    assert run_task(plan, "any", runs_dir=runs, run_id="r").exit_code == 0
    step, task_id = plan_of_spec(json.loads(json.dumps(task_spec(plan, "three"))))
    assert step.tasks[task_id].continue_on == {"exit_codes": [3], "failure": False}
    assert run_task(step, task_id, runs_dir=runs, run_id="r").reason == three.reason


def test_a_precondition_is_checked_as_a_step_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagctl.run.single import check_precondition

    monkeypatch.chdir(tmp_path)  # a command runs where dagctl runs, as in a run (the task has no cwd:)
    plan = plan_of(
        tmp_path,
        """
        name: pre
        params: {want: 2}
        tasks:
          - {id: up, run: "true"}
          - {id: flag, precondition: 'test -f "$FLAG"', env: {FLAG: here.flag}, run: "echo ran"}
          - {id: enough, depends_on: [up], precondition: {when: "outputs.up.n >= params.want"}, run: "true"}
          - {id: broken, precondition: {when: 'params.want > "a"'}, run: "true"}
          - {id: plain, run: "true"}
        """,
    )
    runs = tmp_path / "runs"
    unmet = check_precondition(plan, "flag", runs_dir=runs, run_id="r")
    assert (unmet.exit_code, unmet.files, unmet.reason) == (
        0,
        {"met": "false"},
        'precondition: `test -f "$FLAG"` exited 1',
    )
    (tmp_path / "here.flag").touch()
    met = check_precondition(plan, "flag", runs_dir=runs, run_id="r", base_env={"PATH": "/usr/bin:/bin"})
    assert (met.exit_code, met.files, met.reason) == (0, {"met": "true"}, None)
    low = check_precondition(plan, "enough", runs_dir=runs, run_id="r", inputs={"up": {"n": 1}})
    assert low.files == {"met": "false"} and low.reason == "precondition: outputs.up.n >= params.want is false"
    high = check_precondition(plan, "enough", runs_dir=runs, run_id="r", inputs={"up": {"n": 3}})
    assert high.files == {"met": "true"}
    broken = check_precondition(plan, "broken", runs_dir=runs, run_id="r")
    assert broken.exit_code == 1 and "precondition:" in str(broken.error)
    with pytest.raises(UsageError, match="has no precondition"):
        check_precondition(plan, "plain", runs_dir=runs, run_id="r")
    assert run_task(plan, "flag", runs_dir=runs, run_id="r").status == "success"  # a run of it does not check


def test_a_timeout_stops_the_task_with_exit_124_without_real_waiting(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "name: t\ntasks:\n  - {id: slow, python: 'steps:slow', timeout: 30s}\n")
    (tmp_path / "steps.py").write_text(
        "import threading\ndef slow(ctx):\n    while not ctx.cancelled:\n        threading.Event().wait(0.005)\n"
    )
    clock = FakeClock()
    result = run_task(plan, "slow", runs_dir=tmp_path / "runs", run_id="r", clock=clock)
    assert (result.status, result.exit_code) == ("timeout", EXIT_TIMEOUT)


def test_a_python_task_that_never_stops_is_given_up_on(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "name: t\ntasks:\n  - {id: stuck, python: 'steps:stuck', timeout: 5s}\n")
    # The task ends once a file exists: with a fake clock the run may give up on it before its thread has even
    # imported the module, so the test cannot reach the module's objects; a file works in either order.
    (tmp_path / "steps.py").write_text(
        "import os, time\n"
        "def stuck():\n"
        "    release = os.path.join(os.path.dirname(__file__), 'release')\n"
        "    for _ in range(3000):\n"
        "        if os.path.exists(release):\n"
        "            return\n"
        "        time.sleep(0.01)\n"
    )
    try:
        result = run_task(plan, "stuck", runs_dir=tmp_path / "runs", run_id="r", clock=FakeClock(), grace=1.0)
        assert (result.status, result.exit_code) == ("timeout", EXIT_TIMEOUT)
        assert "did not stop; given up on" in str(result.error)
    finally:
        (tmp_path / "release").touch()  # let the abandoned thread end


def test_a_cancel_stops_a_shell_task_and_says_which_signal(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "name: c\ntasks:\n  - {id: wait, run: 'echo started; sleep 30'}\n")
    token = CancelToken()
    log = tmp_path / "runs" / "r" / "wait.log"

    def cancel_once_started() -> None:
        wait_until(lambda: log.exists() and "started" in log.read_text(), what="the task to start")
        token.cancel(now=True, reason="SIGINT")

    threading.Thread(target=cancel_once_started, daemon=True).start()
    result = run_task(plan, "wait", runs_dir=tmp_path / "runs", run_id="r", cancel=token, grace=0.0)
    assert (result.status, result.exit_code) == ("cancelled", 130)
    assert result.log_path == str(log)


def test_a_task_one_attempt_cannot_honour_is_refused(tmp_path: Path, diamond: Plan) -> None:
    from dagctl.dag.plan import PlannedTask

    if "matrix" not in PlannedTask.FIELDS:
        pytest.skip("this DAG format has no matrix:")
    plan = diamond.replace(tasks={**diamond.tasks, "extract": diamond.tasks["extract"].replace(matrix={"x": [1]})})
    with pytest.raises(UsageError, match="task 'extract' sets matrix:, which one attempt"):
        run_task(plan, "extract", runs_dir=tmp_path / "runs", run_id="r")
    sub = diamond.replace(tasks={**diamond.tasks, "extract": diamond.tasks["extract"].replace(subdag="child.yaml")})
    with pytest.raises(UsageError, match="task 'extract' sets dag:, which one attempt"):  # the key a DAG writes
        run_task(sub, "extract", runs_dir=tmp_path / "runs", run_id="r")


def test_inputs_parse_json_files_and_unresolved_argo_references(tmp_path: Path) -> None:
    (tmp_path / "up.json").write_text('{"path": "/x"}')
    assert parse_inputs(['a={"n": 1}', f"b=@{tmp_path / 'up.json'}", "c={{tasks.c.outputs.parameters.x}}", "d="]) == {
        "a": {"n": 1},
        "b": {"path": "/x"},
        "c": {},
        "d": {},
    }
    for bad, message in (("a", "not TASK=JSON"), ("a=[1]", "not an object"), ("a={x", "not JSON")):
        with pytest.raises(UsageError, match=message):
            parse_inputs([bad])
    with pytest.raises(UsageError, match="cannot read"):
        parse_inputs([f"a=@{tmp_path / 'missing.json'}"])


def test_outputs_are_written_whole_and_key_by_key(tmp_path: Path) -> None:
    write_outputs(tmp_path / "o", {"path": "/x", "n": 3, "flag": True, "nested": {"a": [1]}, "a b": 1, "../x": 2})
    assert json.loads((tmp_path / "o" / "outputs.json").read_text())["nested"] == {"a": [1]}
    values = {p.name: p.read_text() for p in (tmp_path / "o" / "values").iterdir()}
    assert values == {"path": "/x", "n": "3", "flag": "true", "nested": '{"a": [1]}'}


def test_a_task_spec_carries_one_task_and_runs_without_the_dag_file(tmp_path: Path, diamond: Plan) -> None:
    spec = json.loads(json.dumps(task_spec(diamond, "extract", params=["rows"])))
    assert spec["dag"]["params"] == {"rows": 200} and spec["task"]["python"] == "pipeline_steps:extract"
    plan, task_id = plan_of_spec(spec)
    original = diamond.tasks["extract"]
    for name in ("id", "kind", "target", "depends_on", "timeout", "python", "params", "env", "isolation"):
        assert getattr(plan.tasks[task_id], name) == getattr(original, name), name
    result = run_task(plan, task_id, runs_dir=tmp_path / "runs", run_id="r", params={"rows": "3"})
    assert result.outputs["rows"] == 3
    shell, _ = plan_of_spec(task_spec(diamond, "by_product"))
    assert shell.tasks["by_product"].kind == "run" and shell.tasks["by_product"].depends_on == ("extract",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "not a dagctl task spec"),
        ({"dagctl_task": 99, "dag": {}, "task": {}}, "format 99"),
        ({"dagctl_task": 1, "dag": {"name": "d"}, "task": {"id": "a"}}, "exactly one of run"),
        ({"dagctl_task": 1, "dag": {"name": "d"}, "task": {"id": "a", "run": "x", "teleport": 1}}, "unknown task key"),
        ({"dagctl_task": 1, "dag": {"nam": "d"}, "task": {"id": "a", "run": "x"}}, "not a valid dagctl task spec"),
    ],
)
def test_a_bad_task_spec_is_a_usage_error(spec: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_of_spec(spec)


# -- the steps an exported workflow adds around tasks ------------------------------------------------------------

MATRIX = """
name: m
params: {lrs: [0.1, 0.01]}
tasks:
  - {id: up, run: "true"}
  - id: train
    matrix: {lr: "${params.lrs}", bs: [16, 32]}
    env: {LR: "${matrix.lr}"}
    run: printf 'lr=%s\\nunit=%s\\nmatrix=%s\\n' "$LR" "$DAGCTL_UNIT" "$DAGCTL_MATRIX" > "$DAGCTL_OUTPUT"
    min_success: 3
    aggregate: {strategy: best, metric: lr, order: min}
  - id: each
    depends_on: up
    matrix: {v: "${outputs.up.values}"}
    min_success: 1
    run: echo "v=${matrix.v}" > "$DAGCTL_OUTPUT"
"""


def test_a_cell_is_found_from_the_item_argo_gives_and_runs_as_in_a_run(tmp_path: Path) -> None:
    from dagctl.run.single import CELL_MARK

    plan = plan_of(tmp_path, MATRIX)
    runs = tmp_path / "runs"
    item = '{"bs":16,"lr":0.01}'  # the cell's values as Argo writes {{item}}: keys sorted
    result = run_task(plan, "train", runs_dir=runs, run_id="wf", cell=item)
    assert result.status == "success" and result.log_path.endswith("/wf/train:2.log")
    assert result.outputs == {"lr": "0.01", "unit": "train:2", "matrix": '{"lr": 0.01, "bs": 16}'}
    assert json.loads((runs / "wf" / "outputs" / "train:2.json").read_text()) == result.outputs
    assert result.files["cell"] == CELL_MARK + json.dumps(
        {"index": 2, "matrix": {"lr": 0.01, "bs": 16}, "outputs": result.outputs}
    )
    values = {"values": ["a", 1e-05, {"k": [1]}, "a"]}
    for item, index in (("a", 0), ("0.00001", 1), ('{"k":[1]}', 2)):
        cell = run_task(plan, "each", runs_dir=runs, run_id="wf", inputs={"up": values}, cell=item)
        assert cell.log_path.endswith(f"/each:{index}.log"), item
    missing = run_task(plan, "each", runs_dir=runs, run_id="wf", inputs={"up": values}, cell="zzz")
    assert missing.status == "failed" and "is none of the 4 cells" in str(missing.error)
    with pytest.raises(UsageError, match="sets matrix:, which one attempt"):
        run_task(plan, "train", runs_dir=runs, run_id="wf")
    with pytest.raises(UsageError, match="has no matrix"):
        run_task(plan, "up", runs_dir=runs, run_id="wf", cell="1")


def test_the_fan_in_step_gathers_the_cells_records_as_the_runner_does(tmp_path: Path) -> None:
    from dagctl.run.single import cell_record, gather_cells

    plan = plan_of(tmp_path, MATRIX)
    runs = tmp_path / "runs"

    def record(index: int, lr: float, bs: int) -> str:
        return cell_record(index, {"lr": lr, "bs": bs}, {"lr": lr})

    found = json.dumps([record(3, 0.01, 32), "", record(0, 0.1, 16), record(2, 0.01, 16)])  # any order, a failed one
    result = gather_cells(plan, "train", found, runs_dir=runs, run_id="wf")
    assert result.status == "success"
    assert [c["status"] for c in result.outputs["cells"]] == ["success", "failed", "success", "success"]
    assert result.outputs["cells"][1] == {"matrix": {"lr": 0.1, "bs": 32}, "status": "failed", "outputs": {}}
    assert result.outputs["best"]["index"] == 2  # min lr, ties to the first cell
    assert json.loads((runs / "wf" / "outputs" / "train.json").read_text()) == result.outputs
    short = gather_cells(plan, "train", json.dumps([record(0, 0.1, 16)]), runs_dir=runs, run_id="wf")
    assert (short.status, short.exit_code) == ("failed", 1)
    assert short.error == "1 of 4 cells succeeded, 3 needed (min_success)"  # the runner's words
    none = gather_cells(plan, "train", "{{tasks.cells.outputs.parameters.dagctl-cell}}", runs_dir=runs, run_id="wf")
    assert none.error == "0 of 4 cells succeeded, 3 needed (min_success)"
    twice = [cell_record(0, {"v": "a"}, {"n": 1}), cell_record(0, {"v": "a"}, {"n": 2})]  # same values, same index
    inputs = {"up": {"values": ["a", "b", "a"]}}
    dup = gather_cells(plan, "each", json.dumps(twice), runs_dir=runs, run_id="wf", inputs=inputs)
    assert [(c["status"], c["outputs"]) for c in dup.outputs["cells"]] == [
        ("success", {"n": 1}), ("failed", {}), ("success", {"n": 2}),
    ]  # fmt: skip
    # min_success above the cells an upstream output gives: refused as the run refuses it, not lowered
    needy = plan_of(tmp_path, MATRIX.replace("min_success: 1", "min_success: 5"))
    few = gather_cells(needy, "each", json.dumps(twice), runs_dir=runs, run_id="wf2", inputs=inputs)
    assert few.status == "failed" and "min_success: 5 is more than the 3 cells of its matrix" in str(few.error)


def test_a_loops_verdict_is_the_runners(tmp_path: Path) -> None:
    from dagctl.run.single import loop_verdict

    plan = plan_of(
        tmp_path,
        """
        name: l
        tasks:
          - id: fit
            run: "true"
            repeat: {until: "outputs.fit.loss < 0.1 or previous.fit.loss == outputs.fit.loss", max_iterations: 3}
        """,
    )
    runs = tmp_path / "runs"
    again = loop_verdict(plan, "fit", {"loss": 0.5}, iteration=1, runs_dir=runs, run_id="wf")
    assert again.files == {"again": "true", "next": "2"} and not (runs / "wf" / "outputs" / "fit.json").exists()
    same = loop_verdict(plan, "fit", {"loss": 0.5}, iteration=2, previous={"loss": 0.5}, runs_dir=runs, run_id="wf")
    assert same.files["again"] == "false" and json.loads((runs / "wf" / "outputs" / "fit.json").read_text()) == {
        "loss": 0.5
    }
    (runs / "wf" / "outputs" / "fit~3.json").write_text("{}")
    capped = loop_verdict(plan, "fit", {"loss": 0.4}, iteration=3, previous={"loss": 0.5}, runs_dir=runs, run_id="wf")
    assert (capped.status, capped.exit_code) == ("failed", 1)
    assert capped.error == "repeat: max_iterations 3 reached without until being true"
    assert not (runs / "wf" / "outputs" / "fit~3.json").exists()


def test_the_cache_key_step_gives_the_key_of_the_attempt_the_task_step_runs(tmp_path: Path) -> None:
    from dagctl.run.cache import cache_key
    from dagctl.run.resolve import AttemptFactory
    from dagctl.run.single import task_cache_key

    plan = plan_of(tmp_path, "name: c\nparams: {n: 1}\ntasks:\n  - {id: a, cache: true, run: 'echo ${params.n}'}\n")
    runs = tmp_path / "runs"
    key = task_cache_key(plan, "a", runs_dir=runs, run_id="wf-1", params={"n": "2"}).files["cache-key"]
    factory = AttemptFactory(plan=plan, run_id="other", run_dir=runs / "other", params={"n": 2})
    assert key == cache_key(factory.build(plan.tasks["a"], 3, {}), {})  # not the run, not the attempt
    assert task_cache_key(plan, "a", runs_dir=runs, run_id="wf-2", params={"n": "3"}).files["cache-key"] != key


def test_a_sub_dags_params_and_outputs_steps_render_them_as_the_runner_does(tmp_path: Path) -> None:
    from dagctl.run.single import child_outputs, child_params, steps_of_spec

    (tmp_path / "child.yaml").write_text(
        "name: child\nparams: {n: 1, day: x}\ntasks:\n  - {id: t, run: 'true'}\noutputs: {n: '${params.n}', t: "
        "'${outputs.t.k}'}\n"
    )
    plan = plan_of(
        tmp_path,
        """
        name: p
        params: {n: 5}
        tasks:
          - {id: up, run: "true"}
          - {id: c, depends_on: up, dag: child.yaml, params: {n: "${params.n}", day: "${outputs.up.d}"}}
        """,
    )
    spec_plan, task_id, child = steps_of_spec(task_spec(plan, "c", child=_child(plan)))
    assert child is not None and child.params == {"n": 1, "day": "x"}
    runs = tmp_path / "runs"
    given = child_params(spec_plan, child, task_id, runs_dir=runs, run_id="wf", inputs={"up": {"d": "mon"}})
    assert given.outputs == {"n": 5, "day": "mon"}  # typed, without the upstream payload (up__d)
    outputs = child_outputs(
        spec_plan, child, task_id, runs_dir=runs, run_id="wf", params=given.outputs, inputs={"t": {"k": "v"}}
    )
    assert outputs.outputs == {"n": 5, "t": "v"}
    assert json.loads((runs / "wf" / "outputs" / "c.json").read_text()) == {"n": 5, "t": "v"}
    bad = child_outputs(spec_plan, child, task_id, runs_dir=runs, run_id="wf", params=given.outputs, inputs={})
    assert bad.status == "failed" and str(bad.error).startswith("sub-DAG run wf.c: outputs: ")
    with pytest.raises(UsageError, match="is a dag task, which exec-task cannot run"):
        run_task(spec_plan, task_id, runs_dir=runs, run_id="wf")


def _child(plan: Plan) -> Plan:
    from dagctl.run.subrun import child_plan

    return child_plan(plan, plan.tasks["c"])


def test_a_handler_gets_the_environment_a_run_gives_it_from_what_argo_says() -> None:
    from dagctl.run.single import handler_env

    failures = '[{"displayName": "boom(1)"}, {"displayName": "boom"}, {"displayName": "inner-step"}, {"x": 1}]'
    env = handler_env("failure", "Failed", failures, {"boom": "boom.v2", "ok": "ok"})
    assert env == {"DAGCTL_RUN_STATUS": "failed", "DAGCTL_FAILED_TASKS": "boom.v2", "DAGCTL_HANDLER": "failure"}
    assert handler_env("exit", "Succeeded", "", {})["DAGCTL_RUN_STATUS"] == "success"
    assert handler_env("exit", "Error", "null", {})["DAGCTL_RUN_STATUS"] == "failed"
    with pytest.raises(UsageError, match="not a handler kind"):
        handler_env("cancel", "Failed", "[]", {})
    with pytest.raises(UsageError, match="not JSON"):
        handler_env("exit", "Failed", "[{", {})
