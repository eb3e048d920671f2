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


def _ran_on_celery(logs: Path, run_id: str) -> None:
    """Record ``run_id`` as a run of Celery workers, as ``dagctl run --executor celery`` records it."""
    events = logs / "runs" / run_id / "events.jsonl"
    first, *rest = events.read_text().splitlines(keepends=True)
    start = json.loads(first)
    assert start["event"] == "dag_start" and start["executor"] == "threads"
    events.write_text(json.dumps({**start, "executor": "celery"}) + "\n" + "".join(rest))


def test_a_retry_runs_where_the_run_ran_unless_told_otherwise(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of Celery workers was retried on local threads (unless DAGCTL_EXECUTOR said celery), and retry had no
    --executor, --broker or -j to say where and how wide."""
    (project / "e.yaml").write_text(FLAKY)
    assert cli("run", "e.yaml", "-q").code == 1
    first = _latest(cli)
    _ran_on_celery(project / "logs", first)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    monkeypatch.setenv("DAGCTL_BROKER_TIMEOUT", "0.5")
    monkeypatch.delenv("DAGCTL_EXECUTOR", raising=False)
    to_workers = cli("retry", first)
    assert to_workers.code == 3 and "cannot reach the broker at redis://127.0.0.1:9/0" in to_workers.err
    assert _latest(cli) == first  # refused before a run began
    refused = cli("retry", first, "--executor", "threads", "--broker", "redis://127.0.0.1:9/0")
    assert refused.code == 2 and "--broker is for the Celery executor" in refused.err
    assert cli("retry", first, "-x", "bogus").code == 2
    (project / "ok").touch()
    here = cli("retry", first, "--executor", "threads", "-j", "1", "--json")
    assert here.code == 0, here.err
    assert json.loads(here.out)["status"] == "success"
    assert cli("retry", first, "-j", "0").code == 2
