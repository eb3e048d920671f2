"""Log files created ahead of the tasks that will use them, and cleaned up for tasks that never ran."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from dagctl.run.api import run_dag
from dagctl.run.executors.logfiles import LogPrecreator
from dagctl.settings import Settings
from tests.support import wait_until


def test_files_are_created_ahead_but_never_further_than_allowed(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"t{i}.log") for i in range(6)]
    pre = LogPrecreator(paths, ahead=2)
    try:
        wait_until(lambda: all(os.path.exists(p) for p in paths[:2]), what="two files ahead")
        assert not os.path.exists(paths[2])  # stops at its lead until tasks start
        pre.used(paths[0])
        wait_until(lambda: os.path.exists(paths[2]), what="one more after a task started")
        assert not os.path.exists(paths[3])
    finally:
        pre.finish()


def test_finish_removes_only_empty_files_of_tasks_that_never_started(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"t{i}.log") for i in range(4)]
    pre = LogPrecreator(paths, ahead=4)
    wait_until(lambda: all(os.path.exists(p) for p in paths), what="all created")
    pre.used(paths[0])
    Path(paths[1]).write_text("someone wrote here\n")
    pre.finish()
    assert [os.path.exists(p) for p in paths] == [True, True, False, False]


def test_it_stops_creating_ahead_where_creating_a_file_is_cheap(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"t{i}.log") for i in range(6)]
    pre = LogPrecreator(paths, ahead=6, sample=2, worth_s=1.0)  # every creation counts as cheap
    wait_until(lambda: pre.retired, what="the thread to stop")
    assert [os.path.exists(p) for p in paths] == [True, True, False, False, False, False]
    pre.used(paths[0])  # a task that starts after the thread stopped keeps the file made for it
    pre.finish()
    assert [os.path.exists(p) for p in paths] == [True, False, False, False, False, False]


def test_it_keeps_creating_ahead_where_creating_a_file_is_slow(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"t{i}.log") for i in range(6)]
    pre = LogPrecreator(paths, ahead=6, sample=2, worth_s=0.0)  # every creation counts as slow
    try:
        wait_until(lambda: all(os.path.exists(p) for p in paths), what="all six created")
        assert not pre.retired
    finally:
        pre.finish()


def test_a_run_leaves_logs_only_for_tasks_that_ran(tmp_path: Path) -> None:
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        textwrap.dedent("""
        name: some
        options: {parallelism: 1}
        tasks:
          - {id: a, run: "echo a"}
          - {id: b, run: "true", when: "false"}
          - {id: c, run: "echo c", depends_on: a}
          - {id: d, run: "true", depends_on: b}
        """)
    )
    settings = Settings(logs_dir=tmp_path / "logs", events_path=tmp_path / "logs" / "events.jsonl")
    result = run_dag(dag, settings=settings)
    assert {t.id: t.status for t in result.tasks.values()} == {
        "a": "success",
        "b": "skipped",
        "c": "success",
        "d": "skipped",
    }
    logs = sorted(p.name for p in result.run_dir.glob("*.log"))
    assert logs == ["a.log", "c.log"]
    assert (result.run_dir / "a.log").read_text() == "a\n"
