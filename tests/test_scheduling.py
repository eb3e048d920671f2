"""Which slots are due: current minute, watermarks, catchup and its cap (dagctl.schedule.slots)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from dagctl.errors import UsageError
from dagctl.schedule import slots as scheduling
from dagctl.schedule.slots import ScheduleLike, Slot, due_slots

UTC = timezone.utc
NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    id: str
    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    catchup: timedelta | None = None


def fires(slots: list[Slot]) -> list[datetime]:
    return [slot.fire_utc for slot in slots]


def test_the_public_api_is_reexported_from_scheduling() -> None:
    for name in (
        "CronSpec",
        "parse_cron",
        "cron_problems",
        "timezone_problem",
        "fire_times",
        "next_fire_times",
        "due_slots",
        "Slot",
        "ScheduleLike",
    ):
        assert name in scheduling.__all__ and hasattr(scheduling, name)


def test_a_frozen_schedule_satisfies_the_protocol() -> None:
    schedule: ScheduleLike = Schedule("a", "* * * * *")
    assert due_slots([schedule], {}, utc(2026, 1, 1, 12, 0, 5)) == [Slot("a", utc(2026, 1, 1, 12), "2026-01-01T12:00")]


# ------------------------------------------------------------------------------------ current minute


@pytest.mark.parametrize("seconds", [0, 1, 30, 59])
def test_a_tick_within_the_minute_gets_that_minutes_slot(seconds: int) -> None:
    slots = due_slots([Schedule("noon", "0 12 * * *")], {}, utc(2026, 5, 4, 12, 0, seconds))
    assert fires(slots) == [utc(2026, 5, 4, 12)]


def test_a_tick_after_the_minute_does_not_run_the_missed_slot() -> None:
    assert due_slots([Schedule("noon", "0 12 * * *")], {}, utc(2026, 5, 4, 12, 1, 5)) == []
    assert due_slots([Schedule("noon", "0 12 * * *")], {}, utc(2026, 5, 4, 12, 1, 0)) == []


def test_a_tick_before_the_slot_is_too_early() -> None:
    assert due_slots([Schedule("noon", "0 12 * * *")], {}, utc(2026, 5, 4, 11, 59, 59)) == []


def test_without_catchup_only_the_latest_slot_is_due() -> None:
    assert fires(due_slots([Schedule("m", "* * * * *")], {}, utc(2026, 5, 4, 12, 1, 5))) == [utc(2026, 5, 4, 12, 1)]


# ----------------------------------------------------------------------------------------- watermark


def test_a_slot_at_or_before_the_watermark_is_never_due_again() -> None:
    schedules = [Schedule("noon", "0 12 * * *")]
    now = utc(2026, 5, 4, 12, 0, 30)
    assert due_slots(schedules, {"noon": utc(2026, 5, 4, 12)}, now) == []
    assert due_slots(schedules, {"noon": utc(2026, 5, 4, 12, 0, 1)}, now) == []
    assert fires(due_slots(schedules, {"noon": utc(2026, 5, 3, 12)}, now)) == [utc(2026, 5, 4, 12)]
    assert fires(due_slots(schedules, {"noon": None}, now)) == [utc(2026, 5, 4, 12)]


def test_claiming_the_returned_slot_makes_the_next_tick_return_nothing() -> None:
    schedules = [Schedule("m", "*/5 * * * *", catchup=timedelta(hours=1))]
    first = due_slots(schedules, {}, utc(2026, 5, 4, 12, 0, 10))
    watermarks = {"m": first[-1].fire_utc}
    assert due_slots(schedules, watermarks, utc(2026, 5, 4, 12, 0, 40)) == []
    assert fires(due_slots(schedules, watermarks, utc(2026, 5, 4, 12, 5, 2))) == [utc(2026, 5, 4, 12, 5)]


def test_a_watermark_in_the_future_blocks_everything_until_now_passes_it() -> None:
    schedules = [Schedule("m", "* * * * *", catchup=timedelta(days=1))]
    assert due_slots(schedules, {"m": utc(2026, 5, 4, 13)}, utc(2026, 5, 4, 12, 0, 30)) == []


# ------------------------------------------------------------------------------------------- catchup


def test_catchup_returns_every_missed_slot_in_the_window_oldest_first() -> None:
    schedules = [Schedule("h", "0 * * * *", catchup=timedelta(hours=6))]
    slots = due_slots(schedules, {"h": utc(2026, 5, 4, 9)}, utc(2026, 5, 4, 12, 20))
    assert fires(slots) == [utc(2026, 5, 4, 10), utc(2026, 5, 4, 11), utc(2026, 5, 4, 12)]


def test_catchup_window_bounds_how_far_back_a_never_run_schedule_looks() -> None:
    schedules = [Schedule("h", "0 * * * *", catchup=timedelta(minutes=90))]
    assert fires(due_slots(schedules, {}, utc(2026, 5, 4, 12, 20))) == [
        utc(2026, 5, 4, 11),
        utc(2026, 5, 4, 12),
    ]
    assert fires(due_slots(schedules, {"h": None}, utc(2026, 5, 4, 12, 30))) == [utc(2026, 5, 4, 12)]


def test_catchup_window_is_exclusive_at_its_start() -> None:
    schedules = [Schedule("h", "0 * * * *", catchup=timedelta(hours=2))]
    assert fires(due_slots(schedules, {}, utc(2026, 5, 4, 12))) == [utc(2026, 5, 4, 11), utc(2026, 5, 4, 12)]


def test_catchup_cap_keeps_the_newest_slots() -> None:
    schedules = [Schedule("m", "* * * * *", catchup=timedelta(days=1))]
    slots = due_slots(schedules, {}, utc(2026, 5, 4, 12, 0, 30), catchup_cap=5)
    assert fires(slots) == [utc(2026, 5, 4, 11, 56) + timedelta(minutes=i) for i in range(5)]
    assert len(due_slots(schedules, {}, utc(2026, 5, 4, 12, 0, 30))) == 100  # the default cap


def test_a_catchup_window_shorter_than_a_minute_still_gets_the_current_slot() -> None:
    for window in (timedelta(0), timedelta(seconds=10)):
        schedules = [Schedule("noon", "0 12 * * *", catchup=window)]
        assert fires(due_slots(schedules, {}, utc(2026, 5, 4, 12, 0, 45))) == [utc(2026, 5, 4, 12)]


def test_an_unbounded_catchup_window_is_capped_not_an_overflow() -> None:
    schedules = [Schedule("h", "0 * * * *", catchup=timedelta.max)]
    slots = due_slots(schedules, {}, utc(2026, 5, 4, 12, 20), catchup_cap=2)
    assert fires(slots) == [utc(2026, 5, 4, 11), utc(2026, 5, 4, 12)]


def test_catchup_cap_must_be_positive() -> None:
    with pytest.raises(UsageError, match="catchup_cap must be a whole number of 1 or more"):
        due_slots([], {}, utc(2026, 1, 1), catchup_cap=0)


# ------------------------------------------------------------------------------ disabled, order, DST


def test_disabled_schedules_are_never_due() -> None:
    schedules = [Schedule("off", "* * * * *", enabled=False, catchup=timedelta(days=1))]
    assert due_slots(schedules, {}, utc(2026, 5, 4, 12, 0, 30)) == []


def test_slots_are_ordered_by_fire_instant_then_by_schedule_order() -> None:
    schedules = [
        Schedule("b", "0 12 * * *"),
        Schedule("hourly", "0 * * * *", catchup=timedelta(hours=3)),
        Schedule("a", "0 12 * * *"),
    ]
    slots = due_slots(schedules, {"hourly": utc(2026, 5, 4, 10)}, utc(2026, 5, 4, 12, 0, 10))
    assert [(s.schedule_id, s.fire_utc.hour) for s in slots] == [
        ("hourly", 11),
        ("b", 12),
        ("hourly", 12),
        ("a", 12),
    ]


def test_slot_key_and_local_minute() -> None:
    (slot,) = due_slots([Schedule("nightly", "30 1 * * *", NY)], {}, utc(2026, 11, 1, 5, 30, 20))
    assert slot == Slot("nightly", utc(2026, 11, 1, 5, 30), "2026-11-01T01:30")
    assert slot.key == "nightly@2026-11-01T05:30:00Z"


def test_slot_normalises_to_utc_and_rejects_naive_times() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert Slot("x", datetime(2026, 1, 1, 2, tzinfo=plus_two), "m").key == "x@2026-01-01T00:00:00Z"
    with pytest.raises(UsageError):
        Slot("x", datetime(2026, 1, 1), "m")


def test_fixed_time_slot_in_the_spring_gap_is_due_right_after_the_jump() -> None:
    schedules = [Schedule("nightly", "30 2 * * *", NY)]
    (slot,) = due_slots(schedules, {"nightly": utc(2026, 3, 7, 7, 30)}, utc(2026, 3, 8, 7, 0, 30))
    assert slot.fire_utc == utc(2026, 3, 8, 7) and slot.local_minute == "2026-03-08T02:30"


def test_fixed_time_slot_is_not_due_again_in_the_second_pass_of_the_repeated_hour() -> None:
    schedules = [Schedule("nightly", "30 1 * * *", NY)]
    assert fires(due_slots(schedules, {}, utc(2026, 11, 1, 5, 30, 30))) == [utc(2026, 11, 1, 5, 30)]
    assert due_slots(schedules, {"nightly": utc(2026, 11, 1, 5, 30)}, utc(2026, 11, 1, 6, 30, 30)) == []


def test_wildcard_slot_is_due_in_both_passes_of_the_repeated_hour() -> None:
    schedules = [Schedule("half", "30 * * * *", NY)]
    first = due_slots(schedules, {}, utc(2026, 11, 1, 5, 30, 30))
    second = due_slots(schedules, {"half": utc(2026, 11, 1, 5, 30)}, utc(2026, 11, 1, 6, 30, 30))
    assert [(s.fire_utc, s.local_minute) for s in first + second] == [
        (utc(2026, 11, 1, 5, 30), "2026-11-01T01:30"),
        (utc(2026, 11, 1, 6, 30), "2026-11-01T01:30"),
    ]
    assert first[0].key != second[0].key


def test_catchup_across_the_repeated_hour_counts_both_wildcard_passes() -> None:
    schedules = [Schedule("q", "*/15 * * * *", NY, catchup=timedelta(hours=3))]
    slots = due_slots(schedules, {"q": utc(2026, 11, 1, 4, 45)}, utc(2026, 11, 1, 7, 0, 5))
    assert len(slots) == 9 and len({s.key for s in slots}) == 9


# ---------------------------------------------------------------------------------- errors and speed


def test_an_invalid_schedule_is_reported_by_id() -> None:
    with pytest.raises(UsageError, match="schedule 'broken': invalid cron expression '61 \\* \\* \\* \\*'"):
        due_slots([Schedule("broken", "61 * * * *")], {}, utc(2026, 1, 1))
    with pytest.raises(UsageError, match="schedule 'tz': unknown timezone 'America/New_Yrok'"):
        due_slots([Schedule("tz", "* * * * *", "America/New_Yrok")], {}, utc(2026, 1, 1))


def test_naive_now_and_watermarks_are_rejected() -> None:
    with pytest.raises(UsageError, match="now_utc must be timezone-aware"):
        due_slots([], {}, datetime(2026, 1, 1))
    with pytest.raises(UsageError, match="watermark of schedule 'm' must be timezone-aware"):
        due_slots([Schedule("m", "* * * * *")], {"m": datetime(2026, 1, 1)}, utc(2026, 1, 1))


def test_five_hundred_schedules_are_planned_well_under_100_ms() -> None:
    exprs = ["* * * * *", "*/5 * * * *", "@hourly", "30 2 * * *", "0 9 * * 1-5", "@daily", "15,45 */2 * * *"]
    zones = ["UTC", NY, "Europe/London", "Asia/Tokyo"]
    schedules = [
        Schedule(f"s{i}", exprs[i % 7], zones[i % 4], catchup=timedelta(hours=1) if i % 2 else None) for i in range(500)
    ]
    now = utc(2026, 5, 4, 12, 0, 30)
    watermarks = {s.id: now - timedelta(minutes=1) for s in schedules}
    due_slots(schedules, watermarks, now)  # warm the parse cache, as a long-running scheduler would be
    timings = []
    for _ in range(3):  # best of three, so a busy machine does not make this flaky
        started = time.perf_counter()
        slots = due_slots(schedules, watermarks, now)
        timings.append(time.perf_counter() - started)
    assert slots and min(timings) < 0.1, timings
