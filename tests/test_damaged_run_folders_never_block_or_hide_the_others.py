"""A run folder dagctl did not make as it makes them (its events file a FIFO, a device, a directory, or random
bytes; a symbolic link named like a run) never blocks a command, never eats memory, and never hides the other
runs: `runs` lists them with one warning line for the odd folder, and `prune` leaves what it cannot read alone
and says so, in one line each."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.runcatalog import UNKNOWN, read_entry
from tests.conftest import ROOT

OLD_FIFO = "20200102-000000.000-bbbbbb"
OLD_DIR = "20200103-000000.000-cccccc"
OLD_LINK = "20200102-000000.000-123456"


def dagctl(project: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``dagctl ARGS`` as its own process, with at most 1 GiB of memory and ``timeout`` seconds: a reader that
    blocks on a FIFO, or reads a device without end, fails the test instead of hanging or swapping the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
    )


@pytest.fixture
def runs(project: Path) -> tuple[Settings, list[str]]:
    """Two runs of DAG ``d`` 60 days old, and one of today."""
    (project / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    settings = Settings.from_env()
    old = FakeClock(datetime.now(timezone.utc) - timedelta(days=60))
    ids = [run_dag("dag.yaml", settings=settings, clock=old).run_id for _ in range(2)]
    ids.append(run_dag("dag.yaml", settings=settings).run_id)
    return settings, ids


def odd_folder(settings: Settings, run_id: str, kind: str) -> Path:
    folder = settings.runs_dir / run_id
    folder.mkdir(parents=True)
    events = folder / "events.jsonl"
    if kind == "fifo":
        os.mkfifo(events)
    elif kind == "device":
        events.symlink_to("/dev/zero")
    elif kind == "directory":
        events.mkdir()
    return folder


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_runs_lists_every_other_run_and_warns_once_about_the_damaged_folder(runs, project, kind) -> None:
    settings, ids = runs
    folder = odd_folder(settings, OLD_FIFO if kind != "directory" else OLD_DIR, kind)
    for args in (["runs", "--json"], ["runs", "--dag", "d", "--json"], ["runs", "--status", "success", "--json"]):
        done = dagctl(project, *args)
        assert done.returncode == 0, done.stderr
        assert sorted(r["run_id"] for r in json.loads(done.stdout)) == sorted(ids)
        warnings = done.stderr.splitlines()
        assert len(warnings) == 1 and warnings[0].startswith(f"skipping the run folder {folder}: cannot read ")
    assert read_entry(folder / "events.jsonl") == (UNKNOWN, -1)  # the catalog neither blocks nor reads it


def test_prune_never_blocks_on_a_fifo_nor_reads_a_device_and_names_what_it_left(runs, project) -> None:
    settings, ids = runs
    fifo = odd_folder(settings, OLD_FIFO, "fifo")
    device = odd_folder(settings, "20200101-000000.000-dddddd", "device")
    done = dagctl(project, "prune", "--older-than", "30d", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["removed"]) == sorted(ids[:2])  # the readable old runs go
    assert {s["name"] for s in report["skipped"]} == {fifo.name, device.name}
    assert all("not a regular file" in s["reason"] for s in report["skipped"])
    assert fifo.exists() and device.exists()
    text = dagctl(project, "prune", "--older-than", "30d")
    assert text.returncode == 0, text.stderr
    assert f"left {fifo} alone: cannot read {fifo / 'events.jsonl'}: not a regular file" in text.stdout


def test_a_symlink_named_like_a_run_is_neither_followed_nor_counted_by_prune(runs, project, tmp_path) -> None:
    settings, ids = runs
    big = tmp_path / "elsewhere" / "big"
    big.mkdir(parents=True)
    (big / "data.bin").write_bytes(b"\0" * (5 << 20))
    link = settings.runs_dir / OLD_LINK
    link.symlink_to(big)
    assert History(settings).run_ids() == sorted(ids, reverse=True)  # not a run
    done = dagctl(project, "prune", "--older-than", "30d", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["removed"]) == sorted(ids[:2])
    assert report["bytes_freed"] < 1 << 20  # the link's target is not the run's
    assert report["skipped"] == [{"name": OLD_LINK, "reason": report["skipped"][0]["reason"]}]
    assert "symbolic link" in report["skipped"][0]["reason"]
    assert link.is_symlink() and (big / "data.bin").stat().st_size == 5 << 20  # left alone, target untouched
    assert [p.name for p in settings.runs_dir.iterdir() if p.name.startswith(".")] == []
    assert "cannot delete" not in done.stderr


def test_random_bytes_in_an_events_file_are_one_warning_not_one_per_line(runs, project) -> None:
    settings, ids = runs
    noise = settings.runs_dir / ids[0] / "events.jsonl"
    good = noise.read_bytes()
    noise.write_bytes(good + os.urandom(1 << 20) + b"\n")
    done = dagctl(project, "show", ids[0], "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines[:3]
    assert f"{noise}: skipping " in lines[0] and f"invalid lines, the first at byte {len(good)}: " in lines[0]
