"""``dagctl retry`` runs the DAG an earlier run executed, keeps that same text as its own snapshot (so a retry of
a retry still runs it), and works from any directory: the run records its DAG file as an absolute path, and the
``dag:`` files beside it are found from there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FLAKY = "name: e\ntasks:\n  - {id: b, run: 'echo ORIGINAL; test -f ok'}\n"


def _run_json(logs: Path, run_id: str) -> dict[str, object]:
    data = json.loads((logs / "runs" / run_id / "run.json").read_text())
    assert isinstance(data, dict)
    return data


def _latest(cli) -> str:
    shown = json.loads(cli("show", "latest", "--json").out)
    return str(shown["run_id"])


def test_a_retry_of_a_retry_runs_the_dag_the_first_run_ran(cli, project: Path) -> None:
    dag = project / "e.yaml"
    dag.write_text(FLAKY)
    assert cli("run", "e.yaml", "-q").code == 1
    dag.write_text(FLAKY.replace("ORIGINAL", "EDITED"))  # edited after the run
    assert cli("retry", "latest", "-q").code == 1
    first_retry = _latest(cli)
    assert "ORIGINAL" in cli("logs", first_retry, "b").out
    assert (project / "logs" / "runs" / first_retry / "dag.yaml").read_text() == FLAKY  # what it ran
    (project / "ok").touch()
    assert cli("retry", "latest", "-q").code == 0
    assert "ORIGINAL" in cli("logs", "latest", "b").out
    assert cli("retry", "latest", "--use-current", "--from", "b", "-q").code == 0  # asked for: the file now
    assert "EDITED" in cli("logs", "latest", "b").out


PARENT = "name: parent\ntasks:\n  - {id: prep, dag: pipelines/child.yaml}\n"
CHILD = "name: child\ntasks:\n  - {id: step, run: 'test -f ../ok && echo step-ok'}\n"


def test_retry_from_another_directory_finds_the_dag_and_its_sub_dags(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dags = project / "configs" / "dags"
    (dags / "pipelines").mkdir()
    (dags / "parent.yaml").write_text(PARENT)
    (dags / "pipelines" / "child.yaml").write_text(CHILD)
    (project / "work").mkdir()
    monkeypatch.chdir(project / "work")
    assert cli("run", "../configs/dags/parent.yaml", "-q").code == 1  # no ../ok yet
    first = _latest(cli)
    assert _run_json(project / "logs", first)["dag_file"] == str(dags / "parent.yaml")  # absolute
    (project / "ok").touch()
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    (elsewhere.parent / "ok").touch()
    monkeypatch.chdir(elsewhere)  # ../ok exists from here too: only the paths of the DAG files differ
    retried = cli("retry", first, "-q")
    assert retried.code == 0, retried.err
    again = cli("retry", first, "--use-current", "--from", "prep", "-q")
    assert again.code == 0, again.err
