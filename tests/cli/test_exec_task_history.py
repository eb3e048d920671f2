"""A ``dagctl exec-task`` keeps its log and outputs in a run folder but records no events: the history commands
must not take that folder for the latest run, and ``dagctl prune`` removes it like any old folder."""

from __future__ import annotations

import json
from pathlib import Path

DAG = "name: two\ntasks:\n  - {id: a, run: 'echo a'}\n  - {id: b, run: 'echo b', depends_on: a}\n"


def test_latest_is_the_last_run_not_a_later_exec_task(cli, tmp_path: Path) -> None:
    dag = tmp_path / "two.yaml"
    dag.write_text(DAG)
    assert cli("run", str(dag), "-q").code == 0
    ran = json.loads(cli("runs", "--json").out)
    run_id = (ran if isinstance(ran, list) else ran["runs"])[0]["run_id"]
    step = cli("exec-task", str(dag), "a")
    assert step.code == 0
    folders = sorted(p.name for p in (tmp_path / "logs" / "runs").iterdir())
    assert len(folders) == 2 and folders[0] == run_id  # the exec-task's folder is the newest
    for command in (("show", "latest"), ("logs", "latest", "b")):
        result = cli(*command)
        assert result.code == 0, result.err
        assert run_id in result.out or "b" in result.out
    shown = json.loads(cli("show", "latest", "--json").out)
    assert shown["run_id"] == run_id


def test_prune_removes_an_old_exec_task_folder_whatever_keep_last_says(cli, tmp_path: Path) -> None:
    dag = tmp_path / "two.yaml"
    dag.write_text(DAG)
    assert cli("run", str(dag), "-q").code == 0
    assert cli("exec-task", str(dag), "a").code == 0
    runs = tmp_path / "logs" / "runs"
    step_folder = max(runs.iterdir())
    assert not (step_folder / "events.jsonl").exists()
    pruned = cli("prune", "--older-than", "0s", "--keep-last", "100")
    assert pruned.code == 0, pruned.err
    assert not step_folder.exists()  # no DAG's run: keep-last does not keep it
    assert len(list(runs.iterdir())) == 1  # the DAG's run is kept (keep-last 100)
