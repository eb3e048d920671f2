"""The plan cache trusts a cached parent only while its ``dag:`` children (and theirs, and their modules) are
unchanged: a child that stops loading is reported before anything runs, exactly as ``dagctl validate`` reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

import dagctl.dag.loader
from dagctl.dag.plancache import load_plan
from dagctl.errors import SpecError

PARENT = (
    'name: parent\nparams: {day: "d"}\ntasks:\n  - id: child\n    dag: child.yaml\n    params: {day: "${params.day}"}\n'
)
CHILD = 'name: child\nparams: {day: "x"}\ntasks:\n  - {id: c, run: echo hi}\noutputs:\n  d: ${params.day}\n'
BROKEN = (
    "name: child\nparams: {other: {type: int, required: true}}\ntasks:\n  - {id: c, run: echo hi}\n"
    "outputs:\n  d: ${outputs.nosuch.k}\n"
)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files load_plan validated in full (not read from the cache)."""
    seen: list[str] = []
    real = dagctl.dag.loader.load_dag

    def spy(path, **kw):
        seen.append(Path(path).name)
        return real(path, **kw)

    monkeypatch.setattr(dagctl.dag.loader, "load_dag", spy)
    return seen


def load(path: Path, cache: Path):
    plan, remember = load_plan(path, cache_dir=cache)
    remember()
    return plan


def test_a_child_that_stops_loading_is_reported_before_the_run(cli, tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_text(CHILD)
    parent = str(tmp_path / "parent.yaml")
    assert cli("run", parent, "-q").code == 0  # the parent's plan is now cached
    runs = sorted((tmp_path / "logs" / "runs").iterdir())
    (tmp_path / "child.yaml").write_text(BROKEN)
    validated = cli("validate", parent)
    assert validated.code == 2 and "nosuch" in validated.err
    dry = cli("run", parent, "--dry-run")
    assert dry.code == 2, dry
    assert dry.err.splitlines()[0] == validated.err.splitlines()[0]  # what validate says
    run = cli("run", parent, "-q")
    assert run.code == 2 and "sub-DAG child.yaml is invalid" in run.err
    assert sorted((tmp_path / "logs" / "runs").iterdir()) == runs  # nothing ran


def test_an_unchanged_family_is_validated_once(tmp_path: Path, validations: list[str]) -> None:
    (tmp_path / "parent.yaml").write_text(PARENT)
    (tmp_path / "child.yaml").write_text(CHILD)
    for _ in range(3):
        load(tmp_path / "parent.yaml", tmp_path / "cache")
    assert validations == ["parent.yaml"]


def test_a_grandchild_and_a_childs_module_are_watched_too(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text("name: parent\ntasks:\n  - {id: c, dag: sub/child.yaml}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.yaml").write_text(
        "name: child\ntasks:\n  - {id: g, dag: grandchild.yaml}\n  - {id: p, python: 'steps:go'}\n"
    )
    (tmp_path / "sub" / "grandchild.yaml").write_text("name: grandchild\ntasks:\n  - {id: x, run: 'true'}\n")
    (tmp_path / "sub" / "steps.py").write_text("def go():\n    return {}\n")
    load(tmp_path / "parent.yaml", tmp_path / "cache")
    (tmp_path / "sub" / "grandchild.yaml").write_text("name: grandchild\ntasks:\n  - {id: x, runn: 'true'}\n")
    with pytest.raises(SpecError, match=r"sub-DAG grandchild\.yaml is invalid: .*unknown key 'runn'"):
        load(tmp_path / "parent.yaml", tmp_path / "cache")
    (tmp_path / "sub" / "grandchild.yaml").write_text("name: grandchild\ntasks:\n  - {id: x, run: 'true'}\n")
    load(tmp_path / "parent.yaml", tmp_path / "cache")
    (tmp_path / "sub" / "steps.py").write_text("def gone():\n    return {}\n")
    with pytest.raises(SpecError, match="has no function 'go'"):
        load(tmp_path / "parent.yaml", tmp_path / "cache")


def test_a_file_child_of_an_inline_child_is_watched(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        "name: parent\ntasks:\n  - id: c\n    dag: {tasks: [{id: inner, dag: child.yaml}]}\n"
    )
    (tmp_path / "child.yaml").write_text(CHILD)
    load(tmp_path / "parent.yaml", tmp_path / "cache")
    (tmp_path / "child.yaml").write_text(BROKEN)
    with pytest.raises(SpecError, match="nosuch"):
        load(tmp_path / "parent.yaml", tmp_path / "cache")


def test_a_parent_whose_child_names_a_workflow_is_never_cached(tmp_path: Path, validations: list[str]) -> None:
    (tmp_path / "parent.yaml").write_text("name: parent\ntasks:\n  - {id: c, dag: child.yaml}\n")
    (tmp_path / "child.yaml").write_text(
        "name: child\nworkflows: {w: 'steps:go'}\ntasks:\n  - {id: a, workflow_ref: w}\n"
    )
    (tmp_path / "steps.py").write_text("def go():\n    return {}\n")
    load(tmp_path / "parent.yaml", tmp_path / "cache")
    load(tmp_path / "parent.yaml", tmp_path / "cache")
    assert validations.count("parent.yaml") == 2  # its registry may come from installed packages
