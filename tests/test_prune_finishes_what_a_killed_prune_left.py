"""A prune killed between moving run folders aside and deleting them (SIGKILL, a power cut) leaves
``runs/.pruning-*`` folders that no reader lists. They were chosen for removal already: the next prune finishes
the job (their folders and their lines in the event log) and says so. Two prunes never run at once, so one never
takes another's moved-aside folders for leftovers."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from filelock import FileLock

from dagctl.clock import FakeClock
from dagctl.errors import EnvironmentProblem
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.jsonl import iter_records
from dagctl.store.prune import PRUNE_LOCK, prune


@pytest.fixture
def old_runs(project: Path) -> tuple[Settings, list[str]]:
    """Three runs 60 days old and one of today; the settings and the old run ids, oldest first."""
    (project / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    settings = Settings.from_env()
    old = FakeClock(datetime.now(timezone.utc) - timedelta(days=60))
    ids = []
    for _ in range(3):
        ids.append(run_dag("dag.yaml", settings=settings, clock=old).run_id)
        old.advance(3600)
    run_dag("dag.yaml", settings=settings)
    return settings, ids


def killed_prune(settings: Settings, run_ids: list[str]) -> list[Path]:
    """What a prune killed after its first step leaves: the folders moved aside, their lines still in the log."""
    aside = []
    for run_id in run_ids:
        folder = settings.runs_dir / run_id
        aside.append(folder.rename(folder.with_name(f".pruning-0a1b2c-{run_id}")))
    return aside


def logged_runs(settings: Settings) -> set[str]:
    return {r["run_id"] for r in iter_records(settings.events_path)}


def test_the_next_prune_deletes_the_folders_a_killed_prune_moved_aside_and_their_lines(old_runs, cli) -> None:
    settings, ids = old_runs
    aside = killed_prune(settings, ids[:2])
    assert set(ids[:2]) <= logged_runs(settings) and History(settings).run_ids()[1:] == [ids[2]]

    dry = cli("prune", "--older-than", "90d", "--dry-run")  # nothing is old enough to be chosen now
    assert dry.code == 0, dry.err
    assert "would finish removing 2 folder(s) an interrupted prune had moved aside" in dry.out
    assert all(path.exists() for path in aside)

    done = cli("prune", "--older-than", "90d", "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["removed"] == [] and sorted(report["leftovers_removed"]) == sorted(map(str, aside))
    assert report["events_dropped"] == 2 * 4 and report["bytes_freed"] > 0
    assert not any(path.exists() for path in aside)
    assert not set(ids[:2]) & logged_runs(settings) and ids[2] in logged_runs(settings)
    assert [p.name for p in settings.runs_dir.iterdir() if p.name.startswith(".")] == []

    again = cli("prune", "--older-than", "90d")
    assert again.code == 0 and "interrupted prune" not in again.out


def test_a_moved_aside_symlink_is_unlinked_and_its_target_left_alone(old_runs, cli, tmp_path) -> None:
    settings, _ids = old_runs
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("not the run's")
    link = settings.runs_dir / ".pruning-0a1b2c-20200102-000000.000-123456"
    link.symlink_to(target)
    done = cli("prune", "--older-than", "90d", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["leftovers_removed"] == [str(link)]
    assert not os.path.lexists(link) and (target / "keep.txt").read_text() == "not the run's"


def test_a_prune_while_another_prunes_stops_and_touches_nothing(old_runs) -> None:
    settings, ids = old_runs
    aside = killed_prune(settings, ids[:1])  # here: the other prune's folder, moved aside a moment ago
    with FileLock(str(settings.logs_dir / PRUNE_LOCK)):
        with pytest.raises(EnvironmentProblem, match="another prune is removing runs from"):
            prune(History(settings), older_than=timedelta(days=30))
        assert aside[0].exists() and ids[0] in logged_runs(settings)
        assert len(History(settings).run_ids()) == 3
        dry = prune(History(settings), older_than=timedelta(days=30), dry_run=True)  # reading needs no lock
        assert dry.removed == ids[1:][::-1] and dry.leftovers_removed == [str(aside[0])]
