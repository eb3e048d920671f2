"""plan_tick, the pure heart of the scheduler: registration, overlap rules, catchup bound, DST, jitter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dagctl.errors import UsageError
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.slots import Slot
from dagctl.schedule.tick import DEFAULT_CATCHUP_CAP, Claim, Register, jitter_delay, logical_date, plan_tick

UTC = timezone.utc
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def sched(id: str = "a", cron: str = "* * * * *", **kw: Any) -> ScheduleSpec:
    return ScheduleSpec(id=id, cron=cron, dag="x.yaml", **kw)


@dataclass
class Open:
    key: str
    fire_utc: datetime

    def describe(self) -> str:
        return f"run r1 (slot {self.key}, pid 1 on h)"


def kinds(actions: list) -> list[tuple[str, str]]:
    out = []
    for a in actions:
        if isinstance(a, Register):
            out.append(("register", a.schedule_id))
        else:
            out.append(("claim" if isinstance(a, Claim) else "skip", a.slot.key))
    return out


def run_ticks(schedules: list[ScheduleSpec], start: datetime, end: datetime, step: timedelta) -> list[Slot]:
    """A tiny in-memory loop: claimed slots move the watermark, as the state store does."""
    marks: dict[str, datetime | None] = {}
    claimed: list[Slot] = []
    now = start
    while now <= end:
        for action in plan_tick(schedules, marks, {}, now):
            if isinstance(action, Register):
                marks[action.schedule_id] = action.watermark
            else:
                marks[action.slot.schedule_id] = max(
                    marks.get(action.slot.schedule_id) or action.slot.fire_utc, action.slot.fire_utc
                )
                if isinstance(action, Claim):
                    claimed.append(action.slot)
        now += step
    return claimed


def test_current_minute_slot_is_claimed_once() -> None:
    now = utc(2026, 1, 1, 12, 0, 5)
    actions = plan_tick([sched()], {}, {}, now)
    assert kinds(actions) == [("claim", "a@2026-01-01T12:00:00Z")]
    assert plan_tick([sched()], {"a": utc(2026, 1, 1, 12)}, {}, now + timedelta(seconds=30)) == []


def test_disabled_schedules_do_nothing() -> None:
    assert plan_tick([sched(enabled=False, catchup="1h")], {}, {}, utc(2026, 1, 1, 12)) == []


def test_a_new_catchup_schedule_is_registered_and_does_not_replay_its_window() -> None:
    now = utc(2026, 1, 1, 12, 0, 30)
    actions = plan_tick([sched(cron="*/5 * * * *", catchup="1d")], {}, {}, now)
    assert kinds(actions) == [("register", "a"), ("claim", "a@2026-01-01T12:00:00Z")]
    assert actions[0].watermark == now - timedelta(seconds=60)


def test_a_tick_at_a_past_instant_runs_its_minute_but_registers_a_new_schedule_at_the_real_time() -> None:
    """`schedule --once --now <past>` (a replay) left the watermark in the past: the next real tick ran 24 catch-ups."""
    schedule = sched(cron="*/5 * * * *", catchup="2h", overlap="queue")
    real, replayed = utc(2026, 6, 1, 12, 0, 30), utc(2026, 6, 1, 9, 0, 30)
    actions = plan_tick([schedule], {}, {}, replayed, registered=real)
    assert kinds(actions) == [("register", "a"), ("claim", "a@2026-06-01T09:00:00Z")]
    assert actions[0].watermark == real - timedelta(seconds=60)
    # what the next real tick sees: that watermark (the claim at 09:00 does not move it back): only 12:00 is due
    assert kinds(plan_tick([schedule], {"a": actions[0].watermark}, {}, real + timedelta(seconds=5))) == [
        ("claim", "a@2026-06-01T12:00:00Z")
    ]
    ahead = plan_tick([schedule], {}, {}, real + timedelta(days=1), registered=real)  # ahead: as before (warned)
    assert ahead[0].watermark == real + timedelta(days=1) - timedelta(seconds=60)


def test_catchup_after_downtime_runs_missed_slots_within_the_window_oldest_first() -> None:
    schedule = sched(cron="0 * * * *", catchup="3h", overlap="queue")
    actions = plan_tick([schedule], {"a": utc(2026, 1, 1, 6)}, {}, utc(2026, 1, 1, 12, 0, 10))
    assert kinds(actions) == [("claim", f"a@2026-01-01T{h:02d}:00:00Z") for h in (10, 11, 12)]  # 09:00 is 3h10s ago


def test_catchup_is_bounded_and_coalesces_the_oldest() -> None:
    schedule = sched(cron="*/5 * * * *", catchup="7d", overlap="allow")
    actions = plan_tick([schedule], {"a": utc(2026, 1, 1)}, {}, utc(2026, 1, 8))
    claims = [a for a in actions if isinstance(a, Claim)]
    assert len(claims) == DEFAULT_CATCHUP_CAP
    assert claims[-1].slot.fire_utc == utc(2026, 1, 8)
    capped = plan_tick([schedule], {"a": utc(2026, 1, 1)}, {}, utc(2026, 1, 8), catchup_cap=3)
    assert kinds(capped) == [
        ("skip", "a@2026-01-07T23:45:00Z"),  # one record for every missed slot the cap left out, named by the newest
        ("claim", "a@2026-01-07T23:50:00Z"),
        ("claim", "a@2026-01-07T23:55:00Z"),
        ("claim", "a@2026-01-08T00:00:00Z"),
    ]
    # 7 days of */5 since the watermark (00:00 excluded) is 2016 slots; 3 ran
    assert capped[0].reason == (
        "2013 missed slots since 2026-01-01T00:05:00Z not run: catch-up runs at most the newest 3 "
        "(dagctl backfill runs older ones)"
    )
    # the cap not reached, or reached with nothing older: no such record
    assert kinds(plan_tick([schedule], {"a": utc(2026, 1, 7, 23, 45)}, {}, utc(2026, 1, 8), catchup_cap=3)) == [
        ("claim", "a@2026-01-07T23:50:00Z"),
        ("claim", "a@2026-01-07T23:55:00Z"),
        ("claim", "a@2026-01-08T00:00:00Z"),
    ]


def test_overlap_skip_records_why_while_the_previous_run_is_going() -> None:
    running = {"a": [Open("a@2026-01-01T11:59:00Z", utc(2026, 1, 1, 11, 59))]}
    actions = plan_tick([sched()], {"a": utc(2026, 1, 1, 11, 59)}, running, utc(2026, 1, 1, 12, 0, 1))
    assert kinds(actions) == [("skip", "a@2026-01-01T12:00:00Z")]
    assert actions[0].reason == (
        "overlap: skip — previous run still going: run r1 (slot a@2026-01-01T11:59:00Z, pid 1 on h)"
    )


def test_overlap_skip_after_downtime_runs_only_the_newest_missed_slot() -> None:
    schedule = sched(cron="0 * * * *", catchup="3h")
    actions = plan_tick([schedule], {"a": utc(2026, 1, 1, 6)}, {}, utc(2026, 1, 1, 12, 0, 10))
    assert kinds(actions) == [
        ("skip", "a@2026-01-01T10:00:00Z"),
        ("skip", "a@2026-01-01T11:00:00Z"),
        ("claim", "a@2026-01-01T12:00:00Z"),
    ]
    assert actions[0].reason.startswith("coalesced into a@2026-01-01T12:00:00Z")


@pytest.mark.parametrize("policy", ["queue", "allow"])
def test_queue_and_allow_claim_even_while_a_run_is_going(policy: str) -> None:
    running = {"a": [Open("a@2026-01-01T11:59:00Z", utc(2026, 1, 1, 11, 59))]}
    actions = plan_tick([sched(overlap=policy)], {"a": utc(2026, 1, 1, 11, 59)}, running, utc(2026, 1, 1, 12))
    assert kinds(actions) == [("claim", "a@2026-01-01T12:00:00Z")]


def test_running_slots_of_other_schedules_do_not_matter() -> None:
    running = {"b": [Open("b@x", utc(2026, 1, 1, 11, 59))]}
    assert kinds(plan_tick([sched()], {}, running, utc(2026, 1, 1, 12))) == [("claim", "a@2026-01-01T12:00:00Z")]


def test_actions_are_ordered_by_fire_instant_across_schedules() -> None:
    schedules = [
        sched("late", "0 * * * *", catchup="2h", overlap="queue"),
        sched("early", "30 * * * *", catchup="2h", overlap="queue"),
    ]
    marks = {"late": utc(2026, 1, 1, 9), "early": utc(2026, 1, 1, 9)}
    actions = plan_tick(schedules, marks, {}, utc(2026, 1, 1, 11, 0, 5))
    assert kinds(actions) == [
        ("claim", "early@2026-01-01T09:30:00Z"),
        ("claim", "late@2026-01-01T10:00:00Z"),
        ("claim", "early@2026-01-01T10:30:00Z"),
        ("claim", "late@2026-01-01T11:00:00Z"),
    ]


def test_a_fixed_time_job_runs_once_per_local_minute() -> None:
    schedule = sched(cron="30 1 * * *", timezone=NY)
    now = utc(2026, 11, 1, 5, 30, 10)
    actions = plan_tick([schedule], {}, {}, now, recent_minutes={"a": [("2026-11-01T01:30", NY)]})
    assert kinds(actions) == [("skip", "a@2026-11-01T05:30:00Z")]
    assert "already ran" in actions[0].reason
    wildcard = sched(cron="30 * * * *", timezone=NY)
    assert kinds(plan_tick([wildcard], {}, {}, now, recent_minutes={"a": [("2026-11-01T01:30", NY)]})) == [
        ("claim", "a@2026-11-01T05:30:00Z")
    ]


def test_a_minute_that_ran_in_another_timezone_does_not_count_after_the_timezone_changes() -> None:
    """09:00 ran in UTC; the schedule now says America/New_York: 09:00 New York is another run, not a repeat."""
    morning = sched(cron="0 9 * * *", timezone=NY)
    now = utc(2026, 6, 1, 13, 0, 10)  # 09:00 EDT
    ran_in_utc = {"a": [("2026-06-01T09:00", "UTC")]}
    assert kinds(plan_tick([morning], {}, {}, now, recent_minutes=ran_in_utc)) == [("claim", "a@2026-06-01T13:00:00Z")]
    ran_here = {"a": [("2026-06-01T09:00", NY)]}  # the same zone: the guard holds
    assert kinds(plan_tick([morning], {}, {}, now, recent_minutes=ran_here)) == [("skip", "a@2026-06-01T13:00:00Z")]
    unknown = {"a": [("2026-06-01T09:00", None)]}  # claims recorded before the zone was: as before, any zone
    assert kinds(plan_tick([morning], {}, {}, now, recent_minutes=unknown)) == [("skip", "a@2026-06-01T13:00:00Z")]


def test_spring_forward_fixed_time_job_runs_once_right_after_the_jump() -> None:
    schedules = [sched("fixed", "30 2 * * *", timezone=NY), sched("every15", "*/15 * * * *", timezone=NY)]
    claimed = run_ticks(schedules, utc(2026, 3, 8, 6, 0, 1), utc(2026, 3, 8, 7, 31), timedelta(seconds=20))
    fixed = [s for s in claimed if s.schedule_id == "fixed"]
    assert [(s.fire_utc, s.local_minute) for s in fixed] == [(utc(2026, 3, 8, 7), "2026-03-08T02:30")]
    assert logical_date(schedules[0], fixed[0]) == "2026-03-08T03:00:00-04:00"
    every = [s.fire_utc.strftime("%H:%M") for s in claimed if s.schedule_id == "every15"]
    assert every == ["06:00", "06:15", "06:30", "06:45", "07:00", "07:15", "07:30"]  # nothing for 02:xx local


def test_fall_back_fixed_time_once_wildcard_twice() -> None:
    schedules = [sched("fixed", "30 1 * * *", timezone=NY), sched("hourly", "@hourly", timezone=NY)]
    claimed = run_ticks(schedules, utc(2026, 11, 1, 4, 0, 1), utc(2026, 11, 1, 7, 1), timedelta(seconds=30))
    assert [s.key for s in claimed if s.schedule_id == "fixed"] == ["fixed@2026-11-01T05:30:00Z"]
    hourly = [s for s in claimed if s.schedule_id == "hourly"]
    assert [(s.fire_utc.hour, s.local_minute) for s in hourly] == [
        (4, "2026-11-01T00:00"),
        (5, "2026-11-01T01:00"),
        (6, "2026-11-01T01:00"),
        (7, "2026-11-01T02:00"),
    ]
    assert [logical_date(schedules[1], s) for s in hourly[1:3]] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
    ]


def test_now_must_be_aware() -> None:
    with pytest.raises(UsageError):
        plan_tick([sched()], {}, {}, datetime(2026, 1, 1))


def test_jitter_is_stable_per_slot_and_within_bounds() -> None:
    schedule = sched(jitter="30s")
    slots = [Slot("a", utc(2026, 1, 1, 0, m), "") for m in range(60)]
    delays = [jitter_delay(schedule, s) for s in slots]
    assert all(0 <= d < 30 for d in delays) and len(set(delays)) > 50
    assert delays == [jitter_delay(schedule, s) for s in slots]
    assert jitter_delay(sched(), slots[0]) == 0.0
