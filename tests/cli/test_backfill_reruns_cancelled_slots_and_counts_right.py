"""`dagctl backfill` runs again a slot whose run was cancelled or lost (not one that succeeded or failed), counts an
interrupted run as cancelled, not failed, and says "1 slot", not "1 slots"."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from dagctl.cli.backfill_cmd import summary
from dagctl.clock import FakeClock
from dagctl.run.state import RunControl
from dagctl.schedule.backfill import Backfill, BackfillItem
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.launchers import RunOutcome, RunRequest
from dagctl.schedule.slots import Slot
from dagctl.store.state import Owner, RunFinished, RunStarted, ScheduleEnqueued, StateStore


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def ended(store: StateStore, hour: int, status: str, run_id: str) -> None:
    """Slot ``h@2026-01-01T<hour>:00:00Z`` claimed, started and ended with ``status``."""
    key, fire = f"h@2026-01-01T{hour:02d}:00:00Z", f"2026-01-01T{hour:02d}:00:00.000Z"
    store.record(ScheduleEnqueued(store.now_ts(), "h", slot=key, fire_utc=fire, claimed_by=Owner.current()))
    store.record(RunStarted(store.now_ts(), "h", slot=key, run_id=run_id))
    store.record(RunFinished(store.now_ts(), "h", slot=key, run_id=run_id, status=status))


def test_cancelled_and_lost_slots_run_again_successful_and_failed_ones_do_not(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.jsonl", fsync=False)
    for hour, status in ((0, "success"), (1, "failed"), (2, "cancelled"), (3, "lost")):
        ended(store, hour, status, f"r{hour}")
    ran: list[str] = []

    def launcher(request: RunRequest, control: RunControl) -> RunOutcome:
        ran.append(request.slot.key)
        return RunOutcome("success", request.run_id, 0.0)

    schedule = ScheduleSpec(id="h", cron="0 * * * *", dag="x.yaml")
    job = Backfill(schedule, store, launcher, clock=FakeClock(utc(2026, 1, 2)))
    items = job.plan(utc(2026, 1, 1, 0), utc(2026, 1, 1, 3), max_slots=10)
    assert [i.to_run for i in items] == [False, False, True, True]
    assert job.run(items) == 0
    assert ran == ["h@2026-01-01T02:00:00Z", "h@2026-01-01T03:00:00Z"]
    again = Backfill(schedule, StateStore(store.path), launcher, clock=FakeClock(utc(2026, 1, 2)))
    assert not any(i.to_run for i in again.plan(utc(2026, 1, 1, 0), utc(2026, 1, 1, 3), max_slots=10))  # once


def test_an_interrupted_run_counts_as_cancelled_not_failed() -> None:
    def item(hour: int, status: str | None, before: str | None = None) -> BackfillItem:
        slot = Slot("h", utc(2026, 1, 1, hour), f"2026-01-01T{hour:02d}:00")
        outcome = RunOutcome(status, f"r{hour}") if status else None
        return BackfillItem(slot, "", {"run_id": "old", "status": before} if before else None, outcome)

    items = [item(0, "success"), item(1, "failed"), item(2, "cancelled"), item(3, None, "success"), item(4, None)]
    assert summary("h", items, interrupted=True) == (
        "backfill h: 3 ran (1 failed, 1 cancelled), 1 skipped (already ran), 1 not run, interrupted"
    )
    assert summary("h", items[:1], interrupted=False) == "backfill h: 1 ran, 0 skipped (already ran)"


def test_the_command_says_one_slot_and_shows_a_run_again(cli, project: Path) -> None:
    (project / "configs" / "dags" / "note.yaml").write_text("name: note\ntasks:\n  - {id: n, run: 'true'}\n")
    folder = project / "configs" / "schedules"
    (folder / "s.yaml").write_text('- {id: h, cron: "0 * * * *", dag: ../dags/note.yaml}\n')
    ended(StateStore(project / "logs" / "orchestrator_state.jsonl", fsync=False), 5, "cancelled", "r-stopped")
    window = ("--dir", str(folder), "--start", "2026-01-01T05:00:00Z", "--end", "2026-01-01T05:00:00Z")
    dry = cli("backfill", "h", *window, "--dry-run")
    assert dry.code == 0, dry
    assert dry.out == "2026-01-01T05:00:00+00:00  would run again (run r-stopped was cancelled)\n"
    assert "backfill h: 1 slot, 1 to run, 0 already ran (dry run)" in dry.err
    result = cli("backfill", "h", *window, "--json")
    assert result.code == 0, result
    (slot,) = json.loads(result.out)["slots"]
    assert (slot["action"], slot["status"], slot["previous"]) == (
        "ran",
        "success",
        {"run_id": "r-stopped", "status": "cancelled"},
    )
    skipped = cli("backfill", "h", *window)
    assert skipped.out.startswith("2026-01-01T05:00:00+00:00  skipped  already ran: run ") and "success" in skipped.out
