"""A DAG given as a pipe (``dagctl run <(cat dag.yaml)``, ``cat dag.yaml | dagctl run /dev/stdin``) is read once:
run, its dry run and exec-task work as validate does, and nothing read from a pipe is ever cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagctl.dag.plancache import load_plan

DAG = (
    "name: piped\nparams: {n: 2}\ntasks:\n"
    "  - {id: a, run: 'echo n=${params.n}'}\n  - {id: b, run: 'true', depends_on: a}\n"
)


def piped(text: str) -> str:
    """A /dev/fd path that reads ``text`` once, as ``<(cat file)`` gives it."""
    read, write = os.pipe()
    os.write(write, text.encode())  # small: fits in the pipe's buffer
    os.close(write)
    return f"/dev/fd/{read}"


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_dry_run_of_a_piped_dag_shows_its_plan(cli, monkeypatch: pytest.MonkeyPatch, cache: str) -> None:
    if cache == "off":
        monkeypatch.setenv("DAGCTL_PLAN_CACHE", "0")
    result = cli("run", piped(DAG), "--dry-run", "--json")
    assert result.code == 0, result
    assert [t["id"] for t in json.loads(result.out)["tasks"]] == ["a", "b"]


def test_a_piped_dag_runs_and_is_not_cached(cli, tmp_path: Path) -> None:
    result = cli("run", piped(DAG), "-q")
    assert result.code == 0, result
    assert not (tmp_path / "logs" / "cache" / "plans").exists()


def test_a_piped_dag_is_read_once_and_never_cached(tmp_path: Path) -> None:
    plan, remember = load_plan(piped(DAG), cache_dir=tmp_path / "cache")
    remember()
    assert list(plan.tasks) == ["a", "b"]
    assert not (tmp_path / "cache").exists()


def test_exec_task_of_a_piped_dag(cli) -> None:
    result = cli("exec-task", piped(DAG), "a")
    assert result.code == 0, result
    assert "n=2" in result.out


def test_a_dag_on_standard_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", "/dev/stdin", "--dry-run"],
        input=DAG,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "DAGCTL_LOGS_DIR": str(tmp_path / "logs")},
    )
    assert done.returncode == 0, done.stderr
    assert "DRY RUN: DAG 'piped'" in done.stdout


def test_a_run_of_a_piped_dag_leaves_no_empty_snapshot(tmp_path) -> None:
    """Its snapshot was the pipe read a second time: an empty dag.yaml, which a retry then ran as 'file is empty'."""
    import os
    import subprocess
    import sys

    text = "name: piped\ntasks:\n  - {id: a, run: 'exit 3'}\n"
    env = {**os.environ, "DAGCTL_LOGS_DIR": str(tmp_path / "logs")}
    done = subprocess.run(
        [sys.executable, "-m", "dagctl", "run", "/dev/stdin", "-q"], input=text, text=True, env=env, timeout=60
    )
    assert done.returncode == 1
    (run,) = (tmp_path / "logs" / "runs").iterdir()
    assert not (run / "dag.yaml").exists()
    retry = subprocess.run(
        [sys.executable, "-m", "dagctl", "retry", "latest"], capture_output=True, text=True, env=env, timeout=60
    )
    assert retry.returncode == 2 and "has no DAG snapshot" in retry.stderr, retry.stderr
