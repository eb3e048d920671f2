"""The plan cache: an unchanged DAG is not validated again; any change to what validation read is noticed."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import pytest

import dagctl.dag.loader
from dagctl.dag.loader import load_dag
from dagctl.dag.plan import build_plan
from dagctl.dag.plancache import load_plan, plan_from_data, plan_to_data
from dagctl.errors import SpecError
from dagctl.settings import Settings

DAG = """\
name: cached
tenant_id: ops
params: {rows: 3, names: [a, b]}
env: {MODE: fast}
options: {parallelism: 2, timeout: 1h, fail_fast: true}
defaults: {retries: 2}
tasks:
  - {id: extract, run: "echo ${params.rows}", env: {X: "1"}, timeout: 30s}
  - {id: score, python: "steps:score", depends_on: extract, when: "params.rows > 1", trigger_rule: all_done}
  - {id: load, run: [echo, done], depends_on: [score], cwd: /tmp, isolation: thread, queue: io}
"""


@pytest.fixture
def dags(project: Path) -> Path:
    """The project's configs/dags/ with etl.yaml and the steps.py its python task names."""
    folder = project / "configs" / "dags"
    (folder / "etl.yaml").write_text(DAG)
    (folder / "steps.py").write_text("def score(rows):\n    return {'ok': True}\n")
    return folder


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every full validation (YAML + pydantic + checks) that load_plan does."""
    seen: list[str] = []
    real = dagctl.dag.loader.load_dag

    def spy(path, **kw):
        seen.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(dagctl.dag.loader, "load_dag", spy)
    return seen


def load(project: Path, name: str = "etl.yaml"):
    plan, remember = load_plan(project / "configs" / "dags" / name, cache_dir=project / "cache")
    remember()
    return plan


def test_plan_round_trips_through_json_exactly(dags: Path) -> None:
    plan = build_plan(load_dag(dags / "etl.yaml"))
    data = json.loads(json.dumps(plan_to_data(plan)))
    assert plan_from_data(data) == plan


def test_an_unchanged_file_is_validated_once_and_gives_the_same_plan(
    project: Path, dags: Path, validations: list[str]
) -> None:
    first = load(project)
    second = load(project)
    assert validations == [str(dags / "etl.yaml")]
    assert second == first
    assert second.tasks["load"].run == ["echo", "done"] and second.tasks["score"].trigger_rule == "all_done"


def test_the_cached_plan_names_the_file_as_given_now(
    project: Path, dags: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(project)
    monkeypatch.chdir(dags)
    plan, _ = load_plan("etl.yaml", cache_dir=project / "cache")
    assert plan.dag.source_path == "etl.yaml"


def test_an_edit_of_the_same_size_is_noticed(project: Path, dags: Path, validations: list[str]) -> None:
    load(project)
    dag = dags / "etl.yaml"
    dag.write_text(DAG.replace("rows: 3", "rows: 7"))  # same size; mtime may not even move
    assert load(project).dag.params["rows"] == 7
    assert len(validations) == 2


def test_a_python_module_losing_its_function_is_a_spec_error_again(project: Path, dags: Path) -> None:
    load(project)
    (dags / "steps.py").write_text("def other():\n    pass\n")
    with pytest.raises(SpecError, match=r"steps\.py has no function 'score'"):
        load(project)


def test_an_aggregate_module_losing_its_function_is_a_spec_error_again(project: Path, dags: Path) -> None:
    (dags / "fan.yaml").write_text(
        "name: fan\ntasks:\n  - {id: a, run: 'true', matrix: {n: [1]}, "
        "aggregate: {strategy: python, python: 'gather:pick'}}\n"
    )
    (dags / "gather.py").write_text("def pick(cells):\n    return {}\n")
    load(project, "fan.yaml")
    (dags / "gather.py").write_text("def other(cells):\n    return {}\n")
    with pytest.raises(SpecError, match=r"gather\.py has no function 'pick'"):
        load(project, "fan.yaml")


def test_a_module_appearing_next_to_the_dag_is_noticed(project: Path, dags: Path, validations: list[str]) -> None:
    (dags / "steps.py").unlink()  # resolved elsewhere at run time: not checked, still cached
    load(project)
    load(project)
    assert len(validations) == 1
    (dags / "steps.py").write_text("def nothing_here():\n    pass\n")
    with pytest.raises(SpecError, match="has no function 'score'"):
        load(project)


def test_dags_with_workflows_or_params_json_cannot_hold_are_not_cached(
    project: Path, dags: Path, validations: list[str]
) -> None:
    (dags / "wf.yaml").write_text("name: wf\nworkflows: {w: 'steps:score'}\ntasks:\n  - {id: a, workflow_ref: w}\n")
    (dags / "keys.yaml").write_text("name: k\nparams: {by_code: {1: a}}\ntasks:\n  - {id: a, run: 'true'}\n")
    for name in ("wf.yaml", "keys.yaml", "wf.yaml", "keys.yaml"):
        load(project, name)
    assert len(validations) == 4
    assert not (project / "cache").exists() or not list((project / "cache").iterdir())


def test_a_torn_or_foreign_entry_is_ignored_and_replaced(project: Path, dags: Path, validations: list[str]) -> None:
    load(project)
    (entry,) = (project / "cache").iterdir()
    entry.write_text(entry.read_text()[:50])
    assert load(project).dag.name == "cached"
    data = json.loads(entry.read_text())
    data["dagctl"] = "0.0.0-other"
    entry.write_text(json.dumps(data))
    load(project)
    assert len(validations) == 3
    load(project)
    assert len(validations) == 3


def test_nothing_is_stored_until_remembered(project: Path, dags: Path) -> None:
    plan, _remember = load_plan(dags / "etl.yaml", cache_dir=project / "cache")
    assert plan.dag.name == "cached"
    assert not (project / "cache").exists()


def test_the_cache_can_be_turned_off() -> None:
    assert Settings.from_env({"DAGCTL_LOGS_DIR": "/x"}).plan_cache_dir == Path("/x/cache/plans")
    assert Settings.from_env({"DAGCTL_PLAN_CACHE": "0"}).plan_cache_dir is None


def test_a_cached_run_imports_neither_yaml_nor_pydantic(project: Path, dags: Path) -> None:
    import subprocess

    dag = dags / "quick.yaml"
    dag.write_text("name: quick\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: a}\n")
    env = {"DAGCTL_LOGS_DIR": str(project / "logs"), "PATH": "/usr/bin:/bin"}
    check = (
        "import sys; from dagctl.cli import main; code = main(['run', sys.argv[1], '-q']); "
        "print(sorted(m for m in ('yaml', 'pydantic') if m in sys.modules)); raise SystemExit(code)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", check, str(dag)], env=env, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    assert runs[0].stdout.strip() == "['pydantic', 'yaml']"  # first run: validated
    assert runs[1].stdout.strip() == "[]"  # second run: from the cache


def test_a_plan_cached_before_validation_got_stricter_is_validated_again(project: Path, dags: Path) -> None:
    # a run before dagctl refused cache: on a dag: task cached its plan; that entry must not be trusted now
    (dags / "child.yaml").write_text("name: child\ntasks:\n  - {id: c, run: 'true'}\n")
    file = dags / "parent.yaml"
    file.write_text("name: parent\ntasks:\n  - {id: sub, dag: child.yaml}\n")
    load(project, "parent.yaml")
    (entry,) = (project / "cache").iterdir()
    data = json.loads(entry.read_text())
    data["format"] = 4  # the format of the plans cached before cache: on a dag: task was refused
    file.write_text("name: parent\ntasks:\n  - {id: sub, dag: child.yaml, cache: true}\n")
    raw = file.read_bytes()
    data["fingerprint"] = [len(raw), zlib.crc32(raw)]
    entry.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="cache: does not apply to a dag: task"):
        load(project, "parent.yaml")
