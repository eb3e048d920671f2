"""`dagctl schedule release`: the way out of a claim whose owner cannot be checked from here.

A container restarted with a new hostname on the same state volume left its claim open: every later tick skipped
with "previous run still going: … pid 7 on old-container-3f2a", for ever, and only hand-editing the state log
helped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dagctl.store.state import Owner, RunStarted, ScheduleEnqueued, StateStore

SLOT = "a@2026-01-01T11:59:00Z"


@pytest.fixture
def folder(project: Path) -> str:
    (project / "configs" / "dags" / "note.yaml").write_text("name: note\ntasks:\n  - {id: note, run: 'true'}\n")
    (project / "configs" / "schedules" / "s.yaml").write_text('- {id: a, cron: "* * * * *", dag: ../dags/note.yaml}\n')
    return str(project / "configs" / "schedules")


def claim(project: Path, claimed_by: Any, slot: str = SLOT, run_id: str | None = "r-old") -> None:
    """An open slot in the state log, as a scheduler that claimed (and started) it leaves it."""
    with StateStore(project / "logs" / "orchestrator_state.jsonl", fsync=False) as store:
        record = ScheduleEnqueued(store.now_ts(), "a", slot=slot, fire_utc=slot[2:].replace("Z", ".000Z"))
        store.record({**record.to_record(), "claimed_by": claimed_by})
        if run_id:
            store.record(RunStarted(store.now_ts(), "a", slot=slot, run_id=run_id))


def state(project: Path, kind: str) -> list[dict[str, Any]]:
    path = project / "logs" / "orchestrator_state.jsonl"
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["event"] == kind]


def test_a_claim_of_another_host_is_released_and_the_schedule_runs_again(cli, project: Path, folder: str) -> None:
    claim(project, {"host": "old-container-3f2a", "pid": 7, "pid_start": 1234.0})
    stuck = cli("schedule", "--dir", folder, "--once", "--now", "2026-01-01T12:00:05Z")
    assert stuck.code == 0 and "skipped a@2026-01-01T12:00:00Z: overlap: skip — previous run still going" in stuck.err
    hint = [line for line in stuck.err.splitlines() if "dagctl schedule release" in line]
    assert len(hint) == 1 and f"dagctl schedule release {SLOT}" in hint[0] and "old-container-3f2a" in hint[0]

    released = cli("schedule", "release", SLOT)
    assert released.code == 0, released
    assert released.out == f"released {SLOT} (run r-old, claimed by pid 7 on old-container-3f2a): recorded as lost\n"
    (end,) = state(project, "run_finished")
    assert (end["slot"], end["run_id"], end["status"]) == (SLOT, "r-old", "lost")
    assert "dagctl schedule release" in end["error"] and "cannot be checked from" in end["error"]

    runs = cli("schedule", "--dir", folder, "--once", "--now", "2026-01-01T12:01:05Z")
    assert runs.code == 0 and "started a@2026-01-01T12:01:00Z" in runs.err
    again = cli("schedule", "release", SLOT)  # no longer open
    assert again.code == 2 and f"no open claim '{SLOT}'" in again.err and "nothing is claimed now" in again.err


def test_release_by_run_id_with_json(cli, project: Path, folder: str) -> None:
    claim(project, {"host": "old-container-3f2a", "pid": 7, "pid_start": None})
    result = cli("schedule", "release", "r-old", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert (data["slot"], data["run_id"], data["status"], data["owner"]["host"]) == (
        SLOT,
        "r-old",
        "lost",
        "old-container-3f2a",
    )


def test_a_claim_of_a_live_process_on_this_host_is_not_released(cli, project: Path, folder: str) -> None:
    me = Owner.current()
    claim(project, me.to_record())
    result = cli("schedule", "release", SLOT)
    assert result.code == 2
    assert result.err.startswith(f"dagctl: error: {SLOT} is held by pid {os.getpid()} on {me.host}, a live process")
    assert f"kill {os.getpid()}" in result.err and result.err.count("\n") == 1
    assert state(project, "run_finished") == []


def test_an_unknown_claim_names_the_open_ones(cli, project: Path, folder: str) -> None:
    claim(project, {"host": "elsewhere", "pid": 9})
    result = cli("schedule", "release", "a@2026-01-01T00:00:00Z")
    assert result.code == 2 and f"give a slot key or run id of an open claim: {SLOT}" in result.err


def test_a_claim_whose_owner_cannot_be_read_blocks_and_can_be_released(cli, project: Path, folder: str) -> None:
    """A hand-edited or foreign `claimed_by` may belong to a live run: it is not released by itself, but it says so
    (instead of "pid 0 on ?") and `release` ends it."""
    claim(project, "garbled")
    stuck = cli("schedule", "--dir", folder, "--once", "--now", "2026-01-01T12:00:05Z")
    assert "an owner its claim does not name (claimed_by unreadable)" in stuck.err and "pid 0 on ?" not in stuck.err
    assert f"dagctl schedule release {SLOT}" in stuck.err
    assert cli("schedule", "release", SLOT).code == 0
    assert cli("schedule", "--dir", folder, "--once", "--now", "2026-01-01T12:01:05Z").code == 0
    assert [r["slot"] for r in state(project, "run_started")][-1] == "a@2026-01-01T12:01:00Z"


def test_release_has_examples(cli) -> None:
    result = cli("schedule", "release", "--help")
    assert result.code == 0 and "Examples:" in result.out and "dagctl schedule release diamond_nightly@" in result.out
