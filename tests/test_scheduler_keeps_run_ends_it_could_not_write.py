"""The end of a run that cannot be written to the state log (a full disk for a moment, the state lock held too long
by another process) is kept and written by a later tick: the schedule does not stay "running" for ever.

FakeClock-driven, with a state store whose writes fail on demand (no disk is filled, no lock is held).
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.clock import FakeClock
from dagctl.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from dagctl.run.state import RunControl
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.loop import RunOutcome, RunRequest, Scheduler, SchedulerFailing
from dagctl.store.state import StateStore

FULL = "cannot append to state.jsonl: No space left on device"


class FlakyStore(StateStore):
    """``record`` fails ``record_failures`` times; every transaction fails while ``broken``."""

    record_failures = 0
    broken = False

    def record(self, event: Any, **kwargs: Any) -> None:
        if self.record_failures:
            self.record_failures -= 1
            raise EnvironmentProblem(FULL)
        super().record(event, **kwargs)

    @contextmanager
    def transaction(self, **kwargs: Any) -> Any:
        if self.broken:
            raise EnvironmentProblem(FULL)
        with super().transaction(**kwargs) as txn:
            yield txn


def ok(request: RunRequest, control: RunControl) -> RunOutcome:
    return RunOutcome("success", request.run_id, 0.5)


def every_minute(**kw: Any) -> list[ScheduleSpec]:
    return [ScheduleSpec(id="a", cron="* * * * *", dag="x.yaml", **kw)]


def at(minute: int, second: int) -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 12, minute, second, tzinfo=timezone.utc))


def lines(store: StateStore, kind: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in store.path.read_text().splitlines()]
    return [r for r in rows if r["event"] == kind]


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    return FlakyStore(tmp_path / "state.jsonl", fsync=False)


def test_an_end_that_could_not_be_written_is_written_later_and_the_schedule_keeps_running(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.record_failures = 1  # the end of the first run (12:00) cannot be written
    launched: list[str] = []

    def launcher(request: RunRequest, control: RunControl) -> RunOutcome:
        launched.append(request.slot.key)
        return ok(request, control)

    scheduler = Scheduler(every_minute(), store, launcher, clock=at(0, 1))
    with caplog.at_level(logging.INFO, logger="dagctl.scheduler"):
        assert scheduler.serve(tick_s=30, max_ticks=6) == 0  # 12:00:01 .. 12:02:31
    assert launched == ["a@2026-01-01T12:00:00Z", "a@2026-01-01T12:01:00Z", "a@2026-01-01T12:02:00Z"]
    assert not lines(store, "schedule_skipped")  # not "previous run still going"
    ends = {r["slot"]: r for r in lines(store, "run_finished")}
    assert set(ends) == set(launched) and {r["status"] for r in ends.values()} == {"success"}
    assert ends["a@2026-01-01T12:00:00Z"]["run_id"] == lines(store, "run_started")[0]["run_id"]
    assert StateStore(store.path).schedule_state("a").open == {}  # `schedule list` no longer says running
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(problems) == 1 and problems[0].exc_info is None  # one line, no traceback
    assert problems[0].getMessage().startswith("cannot record the end of run ")
    assert "No space left on device" in problems[0].getMessage()
    assert any("recorded the end of run" in r.getMessage() for r in caplog.records)


def test_with_overlap_queue_the_next_slots_start_once_the_run_ended(store: FlakyStore) -> None:
    store.record_failures = 1
    launched: list[str] = []

    def launcher(request: RunRequest, control: RunControl) -> RunOutcome:
        launched.append(request.slot.key)
        return ok(request, control)

    scheduler = Scheduler(every_minute(overlap="queue"), store, launcher, clock=at(0, 1))
    assert scheduler.serve(tick_s=30, max_ticks=6) == 0
    assert launched == ["a@2026-01-01T12:00:00Z", "a@2026-01-01T12:01:00Z", "a@2026-01-01T12:02:00Z"]
    assert not scheduler.pending and not scheduler.unrecorded


def test_ticks_that_cannot_write_an_end_count_as_failing(store: FlakyStore) -> None:
    clock = at(0, 1)
    store.record_failures = 1
    scheduler = Scheduler(every_minute(), store, ok, clock=clock)
    real_tick = scheduler.tick

    def tick(now: datetime | None = None) -> list[Any]:
        store.broken = scheduler.ticks >= 1  # the disk stays full after the first tick
        return real_tick(now)

    scheduler.tick = tick  # type: ignore[method-assign]
    with pytest.raises(SchedulerFailing) as caught:
        scheduler.serve(tick_s=1, fail_after_s=10, max_ticks=1000)
    assert caught.value.exit_code == EXIT_ENVIRONMENT and "No space left on device" in str(caught.value)
    assert scheduler.ticks < 30  # stopped after about 10 s of failing ticks, not healthy for ever


def test_once_writes_the_end_before_it_exits_or_exits_3(store: FlakyStore, caplog: pytest.LogCaptureFixture) -> None:
    store.record_failures = 1  # the run's own try fails; the one at the end of --once works
    assert Scheduler(every_minute(), store, ok, clock=at(0, 5)).run_once() == 0
    assert [r["status"] for r in lines(store, "run_finished")] == ["success"]

    store.record_failures = 1
    scheduler = Scheduler(every_minute(), store, ok, clock=at(1, 5))
    real_collect = scheduler._collect

    def collect() -> None:
        real_collect()
        store.broken = bool(scheduler.unrecorded)  # and the disk stays full to the end

    scheduler._collect = collect  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="dagctl.scheduler"):
        assert scheduler.run_once() == 3
    last = caplog.records[-1]
    assert last.exc_info is None and "the next scheduler records them as lost" in last.getMessage()
