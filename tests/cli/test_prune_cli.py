"""`dagctl prune` is all or nothing: the event log is compacted before any run folder is deleted, and when it
cannot be (an append-only log, a failing disk) nothing is removed. Lines that are not JSON are dropped by the
compaction and counted; lines of runs whose folder is already gone are dropped too."""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store import prune as prune_module
from dagctl.store.history import History


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _records(path: Path) -> list[dict]:
    out = []
    for line in _lines(path):
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


@pytest.fixture
def old_runs(project: Path) -> tuple[Settings, list[str]]:
    """Three runs 60 days old and one of today; returns the settings and the old run ids."""
    (project / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    settings = Settings.from_env()
    old = FakeClock(datetime.now(timezone.utc) - timedelta(days=60))
    ids = []
    for _ in range(3):
        ids.append(run_dag("dag.yaml", settings=settings, clock=old).run_id)
        old.advance(3600)
    run_dag("dag.yaml", settings=settings)
    return settings, ids


def _hidden(settings: Settings) -> list[str]:
    return [p.name for p in settings.runs_dir.iterdir() if p.name.startswith(".")]


def test_a_compaction_that_fails_removes_nothing(old_runs, cli, monkeypatch) -> None:
    settings, ids = old_runs
    before = settings.events_path.read_bytes()

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(settings.events_path))

    monkeypatch.setattr(prune_module, "rewrite_atomic", refuse)
    result = cli("prune", "--older-than", "30d")
    assert result.code == 3
    assert result.err.splitlines() == [
        f"dagctl: error: cannot compact the event log {settings.events_path}: Operation not permitted; nothing was "
        "removed — check the permissions of the file and its folder"
    ]
    history = History(settings)
    assert set(ids) <= set(history.run_ids()) and len(history.run_ids()) == 4  # every folder is back
    assert _hidden(settings) == []
    assert settings.events_path.read_bytes() == before
    assert [s.run_id for s in history.summaries()][1:] == sorted(ids, reverse=True)  # runs and show know them


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_an_append_only_event_log_chattr_a_removes_nothing_then_prunes_once_writable(old_runs, cli) -> None:
    settings, ids = old_runs
    if not _chattr("+a", settings.events_path):
        pytest.skip("chattr +a is not available here (needs root and a file system that supports it)")
    try:
        result = cli("prune", "--older-than", "30d")
        assert result.code == 3
        assert result.err.startswith(f"dagctl: error: cannot compact the event log {settings.events_path}: ")
        assert "nothing was removed" in result.err
        assert len(History(settings).run_ids()) == 4 and _hidden(settings) == []
        assert {r["run_id"] for r in _records(settings.events_path)} >= set(ids)  # stats still agrees with runs
    finally:
        _chattr("-a", settings.events_path)
    done = cli("prune", "--older-than", "30d", "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert sorted(report["removed"]) == sorted(ids) and report["events_dropped"] == 3 * 4
    assert not {r["run_id"] for r in _records(settings.events_path)} & set(ids)
    assert len(History(settings).run_ids()) == 1


def test_unparseable_lines_are_dropped_by_the_compaction_and_counted(old_runs, cli) -> None:
    settings, _ids = old_runs
    lines = _lines(settings.events_path)
    lines[2:2] = ["garbage", '{"torn": ']  # damage in the middle of the log
    lines.append("[1, 2]")  # valid JSON but not an object
    settings.events_path.write_text("\n".join(lines) + "\n" + '{"partial": "still being written')
    dry = cli("prune", "--older-than", "30d", "--dry-run")
    assert dry.code == 0
    assert dry.out.splitlines()[0] == (
        "would remove 3 run(s), 0.0 MiB, 12 event line(s), 3 unparseable line(s) of the event log would be dropped"
    )
    done = cli("prune", "--older-than", "30d", "--json")
    report = json.loads(done.out)
    assert (report["events_dropped"], report["bad_lines_dropped"]) == (12, 3)
    text = settings.events_path.read_text()
    assert "garbage" not in text and "[1, 2]" not in text
    assert text.endswith('{"partial": "still being written')  # an uncommitted last line is not touched
    text_out = cli("prune", "--older-than", "30d")
    assert text_out.code == 0 and text_out.out.startswith("removed 0 run(s), 0.0 MiB, 0 event line(s)\n")


def test_lines_of_runs_whose_folder_is_already_gone_are_dropped(old_runs, cli) -> None:
    settings, ids = old_runs
    shutil.rmtree(settings.runs_dir / ids[0])  # what the old prune left behind: a folder gone, its lines kept
    done = cli("prune", "--older-than", "30d", "--keep-last", "3", "--json")  # the 3 left are kept
    report = json.loads(done.out)
    assert report["removed"] == [] and report["events_dropped"] == 4
    assert ids[0] not in {r["run_id"] for r in _records(settings.events_path)}
    assert {ids[1], ids[2]} <= {r["run_id"] for r in _records(settings.events_path)}


def test_a_folder_that_cannot_be_deleted_is_reported_and_hidden(old_runs, cli, monkeypatch) -> None:
    settings, ids = old_runs
    real = shutil.rmtree

    def stubborn(path, *args, **kwargs):
        if str(path).endswith(ids[0]):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(prune_module.shutil, "rmtree", stubborn)
    done = cli("prune", "--older-than", "30d")
    assert done.code == 0
    (left,) = _hidden(settings)
    assert left.startswith(".pruning-") and left.endswith(ids[0])
    assert f"could not delete {settings.runs_dir / left}: remove it by hand" in done.out
    assert len(History(settings).run_ids()) == 1
