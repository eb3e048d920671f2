"""`dagctl run NAME` (and `graph`, `export argo`, `exec-task`, `run --dry-run`) finds `configs/dags/NAME.yaml` of the
project it is run in, from its root or any folder below; a path, or a file that is there, is used as given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.cli.dagref import find_dag

DAG = "name: {name}\ntasks:\n  - {{id: hello, run: 'echo hello from {name}'}}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dags = tmp_path / "configs" / "dags"
    dags.mkdir(parents=True)
    (dags / "hello.yaml").write_text(DAG.format(name="hello"))
    (dags / "other.yml").write_text(DAG.format(name="other"))
    (tmp_path / "scripts" / "deep").mkdir(parents=True)
    return tmp_path


def test_a_name_runs_the_projects_dag_file_from_its_root(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    result = cli("run", "hello", "--json")
    assert result.code == 0, result
    run = json.loads(result.out)
    assert run["status"] == "success" and run["dag"] == "hello"
    assert cli("run", "other", "-q").code == 0  # .yml too
    assert cli("run", "hello.yaml", "-q").code == 0  # the file's name with its suffix


def test_a_name_is_found_from_a_folder_below_the_project(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "scripts" / "deep")
    assert find_dag("hello") == str(project / "configs" / "dags" / "hello.yaml")
    monkeypatch.chdir(project)
    assert find_dag("hello") == str(Path("configs") / "dags" / "hello.yaml")


def test_a_path_or_a_file_that_is_there_is_used_as_given(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "scripts")
    (project / "scripts" / "hello").write_text(DAG.format(name="local"))
    assert find_dag("hello") == "hello"  # a file of that name here wins over the project's DAG
    assert find_dag("./missing") == "./missing"  # a path: its own "file not found" when read
    assert find_dag("-") == "-"


def test_a_name_found_nowhere_is_one_line_naming_where_it_looked(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    result = cli("run", "helo")
    assert result.code == 2
    assert result.err.strip() == (
        "helo:1:1: file not found — no such file here, and no configs/dags/helo.yaml or configs/dags/helo.yml in this "
        "folder or above it"
    )


def test_other_commands_take_a_name_too(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "scripts")
    assert cli("graph", "hello").out.startswith("hello: 1 task")
    dry = cli("run", "hello", "--dry-run")
    assert dry.code == 0 and "DAG 'hello'" in dry.out
    task = cli("exec-task", "hello", "hello", "--outputs-dir", str(project / "out"))
    assert task.code == 0, task
    assert "hello from hello" in task.out
