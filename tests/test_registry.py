"""Workflow registry: DAG workflows:, then the nearest dagctl.yaml, then installed entry points."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import dagctl
from dagctl.dag.workflows import (
    ENTRY_POINT_GROUP,
    WorkflowTarget,
    find_project_config,
    list_workflows,
    load_project_config,
    resolve_workflow,
)
from dagctl.errors import SpecError, UsageError
from tests.conftest import EXAMPLE_DAGS, ROOT


def entry_point(name: str, value: str, dist: str | None = "acme-flows") -> Any:
    module, _, attr = value.partition(":")
    return SimpleNamespace(
        name=name, value=value, module=module, attr=attr or None, dist=SimpleNamespace(name=dist) if dist else None
    )


class Installed(list):
    """The entry points the registry sees (empty unless a test adds some), and the groups it asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[str] = []


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Installed:
    eps = Installed()

    def fake_entry_points(*, group: str) -> list[Any]:
        eps.groups.append(group)
        return list(eps) if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr("importlib.metadata.entry_points", fake_entry_points)  # looked up when used
    return eps


@pytest.fixture
def dag_dir(project: Path) -> Path:
    """configs/dags/team/ in the project: the DAG folder the lookups start from (dagctl.yaml goes above it)."""
    folder = project / "configs" / "dags" / "team"
    folder.mkdir()
    return folder


def write_config(folder: Path, text: str) -> Path:
    path = folder / "dagctl.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# -- discovery --------------------------------------------------------------------------------------------------


def test_find_project_config_walks_up_to_the_nearest_one(project: Path, dag_dir: Path) -> None:
    assert find_project_config(dag_dir) is None
    top = write_config(project, "workflows: {}\n")
    assert find_project_config(dag_dir) == top.resolve()
    assert find_project_config(dag_dir / "pipeline.yaml") == top.resolve()  # a file starts at its folder
    nearer = write_config(dag_dir.parent, "workflows: {}\n")
    assert find_project_config(dag_dir) == nearer.resolve()
    assert find_project_config(project) == top.resolve()


def test_a_folder_named_dagctl_yaml_is_not_a_config(project: Path, dag_dir: Path) -> None:
    (dag_dir / "dagctl.yaml").mkdir()
    top = write_config(project, "workflows: {}\n")
    assert find_project_config(dag_dir) == top.resolve()


# -- lookup order -----------------------------------------------------------------------------------------------


def test_the_dag_mapping_wins_over_the_project_config_and_entry_points(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    write_config(project, "workflows:\n  sweep: shared.flows:sweep\n")
    installed.append(entry_point("sweep", "acme.flows:sweep"))
    target = resolve_workflow("sweep", dag_workflows={"sweep": "local_steps:sweep"}, dag_dir=dag_dir)
    assert target == WorkflowTarget("sweep", "local_steps:sweep", (str(dag_dir.resolve()),), "dag")


def test_the_project_config_wins_over_entry_points_and_imports_from_its_folder(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    config = write_config(project, "workflows:\n  sweep: shared.flows:sweep\n")
    installed.append(entry_point("sweep", "acme.flows:sweep"))
    target = resolve_workflow("sweep", dag_workflows={"other": "x:y"}, dag_dir=dag_dir)
    assert target == WorkflowTarget("sweep", "shared.flows:sweep", (str(project.resolve()),), str(config.resolve()))


def test_entry_points_come_last_and_import_from_sys_path(project: Path, dag_dir: Path, installed: Installed) -> None:
    write_config(project, "workflows:\n  report: shared.flows:report\n")
    installed.append(entry_point("sweep", "acme.flows:sweep"))
    target = resolve_workflow("sweep", dag_workflows={}, dag_dir=dag_dir)
    assert target == WorkflowTarget("sweep", "acme.flows:sweep", (), "entry point acme-flows")
    assert installed.groups == [ENTRY_POINT_GROUP]


def test_entry_point_extras_are_dropped_from_the_target(tmp_path: Path, installed: Installed) -> None:
    ep = entry_point("sweep", "acme.flows:sweep")
    ep.value = "acme.flows:sweep [fast]"
    installed.append(ep)
    assert resolve_workflow("sweep", dag_workflows={}, dag_dir=tmp_path).callable == "acme.flows:sweep"


def test_the_same_name_from_two_installed_packages_is_ambiguous(tmp_path: Path, installed: Installed) -> None:
    installed += [
        entry_point("sweep", "acme.flows:sweep", "acme-flows"),
        entry_point("sweep", "acme.flows:sweep", "acme-flows"),  # one package seen twice: fine
        entry_point("sweep", "other.flows:sweep", "other-flows"),
    ]
    with pytest.raises(UsageError) as exc:
        resolve_workflow("sweep", dag_workflows={}, dag_dir=tmp_path)
    assert exc.value.message == (
        "workflow 'sweep' is registered by several installed packages: "
        "acme-flows (acme.flows:sweep), other-flows (other.flows:sweep)"
    )
    assert "pick one by adding sweep: module:function to workflows:" in str(exc.value)


def test_later_layers_are_not_read_when_the_dag_has_the_name(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    write_config(project, "workflows: [not, a, mapping]\n")
    target = resolve_workflow("sweep", dag_workflows={"sweep": "s:f"}, dag_dir=dag_dir)
    assert target.source == "dag"
    assert installed.groups == []


# -- unknown names ----------------------------------------------------------------------------------------------


def test_an_unknown_workflow_lists_what_is_registered_and_suggests_one(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    config = write_config(project, "workflows:\n  inbox_drive_sweep: w:a\n  weekly_report_pack: w:b\n")
    installed.append(entry_point("meeting_transcript_brief", "acme:c"))
    with pytest.raises(UsageError) as exc:
        resolve_workflow("inbox_sweep", dag_workflows={"local": "l:f"}, dag_dir=dag_dir)
    assert str(exc.value) == (
        "unknown workflow 'inbox_sweep' — registered: inbox_drive_sweep, local, meeting_transcript_brief, "
        f"weekly_report_pack (add it to workflows: in the DAG or in {config.resolve()}) — "
        "did you mean 'inbox_drive_sweep'?"
    )


def test_an_unknown_workflow_without_any_config_points_at_a_new_one(tmp_path: Path, installed: Installed) -> None:
    dag_dir = tmp_path / "isolated_dags"
    dag_dir.mkdir()
    with pytest.raises(UsageError) as exc:
        resolve_workflow("x", dag_workflows={}, dag_dir=dag_dir)
    assert str(exc.value) == (
        f"unknown workflow 'x' — registered: none (add it to workflows: in the DAG or in a new "
        f"{dag_dir.resolve() / 'dagctl.yaml'})"
    )


# -- listing ----------------------------------------------------------------------------------------------------


def test_list_workflows_shows_each_name_once_as_the_layer_that_wins(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    config = write_config(project, "workflows:\n  b: shared:b\n  c: shared:c\n")
    installed += [entry_point("c", "acme:c"), entry_point("d", "acme:d")]
    listed = list_workflows(dag_workflows={"a": "local:a", "b": "local:b"}, dag_dir=dag_dir)
    assert [(t.name, t.callable, t.source) for t in listed] == [
        ("a", "local:a", "dag"),
        ("b", "local:b", "dag"),
        ("c", "shared:c", str(config.resolve())),
        ("d", "acme:d", "entry point acme-flows"),
    ]


# -- dagctl.yaml problems ---------------------------------------------------------------------------------------


def test_unknown_keys_in_the_project_config_are_reported_with_positions(project: Path) -> None:
    config = write_config(
        project,
        """
        # project settings
        workflow:
          sweep: flows:sweep
        retries: 3
    """,
    )
    with pytest.raises(SpecError) as exc:
        load_project_config(config)
    assert [str(p) for p in exc.value.problems] == [
        f"{config}:2:1: unknown key 'workflow' — did you mean 'workflows'?",
        f"{config}:4:1: unknown key 'retries' — dagctl.yaml supports: "
        "workflows, cache, metrics_textfile, retention, notify",
    ]


def test_bad_workflow_entries_are_reported_with_positions(project: Path) -> None:
    config = write_config(
        project,
        """
        workflows:
          good: flows.weekly:sweep
          no_colon: flows.weekly.sweep
          "bad name!": flows:x
          number: 3
    """,
    )
    with pytest.raises(SpecError) as exc:
        load_project_config(config)
    assert [(p.line, p.column, p.message) for p in exc.value.problems] == [
        (3, 13, "workflow 'no_colon': 'flows.weekly.sweep' is not module:function"),
        (4, 3, "workflow name 'bad name!' is not a valid name"),
        (5, 11, "workflow 'number': 3 is not module:function"),
    ]
    assert f"importable from {project.resolve()}" in exc.value.problems[0].hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "dagctl.yaml must be a mapping, got a list"),
        ("workflows: [a, b]\n", "workflows: must be a mapping, got a list"),
        ("workflows: {a: b\n", "invalid YAML"),
    ],
)
def test_malformed_project_configs_are_spec_errors(project: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_project_config(write_config(project, text))


@pytest.mark.parametrize("text", ["", "# only a comment\n", "workflows:\n"])
def test_an_empty_project_config_registers_nothing(project: Path, text: str) -> None:
    assert load_project_config(write_config(project, text)).workflows == {}


def test_a_broken_project_config_fails_the_lookup_that_needs_it(
    project: Path, dag_dir: Path, installed: Installed
) -> None:
    write_config(project, "workflow:\n  sweep: flows:sweep\n")
    with pytest.raises(SpecError, match="unknown key 'workflow'"):
        resolve_workflow("sweep", dag_workflows={}, dag_dir=dag_dir)


# -- the shipped example ----------------------------------------------------------------------------------------


def test_the_seed_dag_loads_unchanged_and_finds_its_workflows_in_configs_dagctl_yaml(installed: Installed) -> None:
    dag = dagctl.load_dag(EXAMPLE_DAGS / "weekly_ops_chain.yaml")
    assert dag.workflows == {}
    config = ROOT / "configs" / "dagctl.yaml"
    targets = [
        resolve_workflow(str(t.workflow_ref), dag_workflows=dag.workflows, dag_dir=EXAMPLE_DAGS) for t in dag.tasks
    ]
    assert [(t.callable, t.search_path, t.source) for t in targets] == [
        (f"workflows.weekly_ops:{t.workflow_ref}", (str(config.parent.resolve()),), str(config.resolve()))
        for t in dag.tasks
    ]
