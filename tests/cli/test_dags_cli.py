"""`dagctl dags` lists the project's DAGs (configs/dags/, found from any folder in the project, or --dir): name, file,
task count and the last run; a file that does not load is listed with its first problem, not left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.cli.dagref import dags_folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dags = tmp_path / "configs" / "dags"
    dags.mkdir(parents=True)
    (dags / "hello.yaml").write_text("name: hello\ndescription: Says hello.\ntasks:\n  - {id: a, run: 'true'}\n")
    (dags / "two.yaml").write_text("name: two\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'false'}\n")
    (dags / "broken.yaml").write_text("name: broken\ntasks:\n  - {id: a, runn: x}\n")
    (dags / "dagctl.yaml").write_text("notify: {events: []}\n")  # the project file is no DAG
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path


def test_every_dag_with_its_last_run_and_the_broken_one_with_why(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    assert cli("run", "hello", "-q").code == 0
    assert cli("run", "two", "-q").code == 1
    monkeypatch.chdir(project / "src" / "deep")  # anywhere in the project
    listed = json.loads(cli("dags", "--json").out)
    by_file = {e["file"]: e for e in listed}
    assert sorted(by_file) == ["broken.yaml", "hello.yaml", "two.yaml"]
    assert (by_file["hello.yaml"]["name"], by_file["hello.yaml"]["tasks"]) == ("hello", 1)
    assert by_file["hello.yaml"]["description"] == "Says hello."
    assert by_file["hello.yaml"]["last_status"] == "success" and by_file["two.yaml"]["last_status"] == "failed"
    assert "unknown key 'runn' in task 'a' — did you mean 'run'?" in by_file["broken.yaml"]["problem"]
    assert by_file["broken.yaml"]["name"] == "broken"  # what it calls itself, though it does not load
    table = cli("dags").out.splitlines()
    assert table[0].split() == ["NAME", "FILE", "TASKS", "LAST", "RUN", "STARTED", "DESCRIPTION"]
    assert any(line.split()[:4] == ["hello", "hello.yaml", "1", "success"] for line in table)
    assert any(line.split()[:3] == ["broken", "broken.yaml", "invalid"] for line in table)


def test_outside_a_project_it_asks_for_the_folder(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dags_folder() is None
    result = cli("dags")
    assert result.code == 2
    assert result.err == (
        "dagctl: error: no configs/dags folder here or in a folder above — give the DAG folder: dagctl dags --dir DIR\n"
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.yaml").write_text("name: x\ntasks:\n  - {id: a, run: 'true'}\n")
    assert [e["name"] for e in json.loads(cli("dags", "--dir", str(tmp_path / "mine"), "--json").out)] == ["x"]
