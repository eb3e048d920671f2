"""Which runs `dagctl prune` removes: never one that runs or can be resumed, and a sub-DAG's run together with
its parent's (found by a QA pass: a resumed run was removed under its process, a paused one so that resume
became impossible, and a kept parent lost its child run)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagctl.clock import FakeClock
from dagctl.host import hostname
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.prune import RunInfo, choose_runs, prune

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
OLD = "20261001-120000.000-{:06x}"


def old(n: int, dag: str = "d", state: str = "finished", parent: int | None = None) -> RunInfo:
    return RunInfo(OLD.format(n), dag, state, OLD.format(parent) if parent is not None else None)


def choose(runs: list[RunInfo], keep_last: int = 0) -> set[str]:
    return set(choose_runs(runs, now=NOW, older_than=timedelta(days=30), keep_last=keep_last))


def test_running_and_paused_runs_stay_and_their_children_with_them() -> None:
    runs = [old(1), old(2, state="running"), old(3, state="paused"), old(4, "c", parent=2), old(5, "c", parent=3)]
    assert choose(runs) == {OLD.format(1)}


def test_a_sub_dags_run_goes_with_its_parent_and_does_not_count_for_keep_last() -> None:
    runs = [old(1, "p"), old(2, "c", parent=1), old(3, "p"), old(4, "c", parent=3), old(5, "c")]
    # the newest p (3) and its child stay; the newest run of c as a DAG of its own (5) stays; 1 goes with its child
    assert choose(runs, keep_last=1) == {OLD.format(1), OLD.format(2)}
    # a child whose parent's folder is gone is a run of its own
    assert choose([old(2, "c", parent=1)]) == {OLD.format(2)}


def test_a_family_with_a_child_still_running_stays() -> None:
    assert choose([old(1, "p"), old(2, "c", state="running", parent=1)]) == set()


def _write_run(settings: Settings, run_id: str, records: list[dict]) -> None:
    folder = settings.runs_dir / run_id
    folder.mkdir(parents=True)
    base = {"v": 1, "run_id": run_id, "dag_name": "d", "tenant_id": "default"}
    lines = [json.dumps({**base, "ts": "2026-10-01T12:00:00.000Z", **r}) for r in records]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")


def test_a_run_resumed_after_a_pause_is_running_and_a_paused_one_is_kept(project: Path) -> None:
    settings = Settings.from_env()
    me = {"host": hostname(), "pid": os.getpid()}
    paused = [{"event": "dag_start", **me, "tasks": 2}, {"event": "dag_done", "status": "paused", "duration_s": 1}]
    _write_run(settings, OLD.format(1), paused)
    resumed = [*paused, {"event": "dag_resume", **me, "reused": 1}, {"event": "task_start", "task_id": "b"}]
    _write_run(settings, OLD.format(2), resumed)
    report = prune(History(settings), older_than=timedelta(days=30))
    assert report.removed == []
    assert report.kept_paused == [OLD.format(1)] and report.kept_running == [OLD.format(2)]
    assert (settings.runs_dir / OLD.format(2)).is_dir()


def test_prune_keeps_the_child_run_of_the_parent_it_keeps(project: Path, cli) -> None:
    (project / "child.yaml").write_text("name: c\ntasks:\n  - {id: x, run: 'true'}\n")
    (project / "parent.yaml").write_text("name: p\ntasks:\n  - {id: sub, dag: child.yaml}\n")
    settings = Settings.from_env()
    clock = FakeClock(datetime.now(timezone.utc) - timedelta(days=60))
    first = run_dag("parent.yaml", settings=settings, clock=clock).run_id
    clock.advance(3600)
    second = run_dag("parent.yaml", settings=settings, clock=clock).run_id
    history = History(settings)
    child_of = {r: history.summary(r).tasks["sub"].child_run_id for r in (first, second)}
    result = cli("prune", "--older-than", "30d", "--keep-last", "1", "--json")
    assert result.code == 0, result.err
    assert set(json.loads(result.out)["removed"]) == {first, child_of[first]}
    assert cli("show", child_of[second]).code == 0  # the kept parent's child is still there
