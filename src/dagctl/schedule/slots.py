"""Which cron slots are due: a pure function of (schedules, watermarks, now).

No IO, no wall clock, no threads. The scheduler loop owns the lock, the clock, the state store and the
dispatch; it asks :func:`due_slots` what to claim on each tick and records the claimed slots' instants as
the new watermarks. Cron parsing and the daylight-saving rules live in :mod:`dagctl.schedule.cron` and are
re-exported here, so ``from dagctl.schedule.slots import parse_cron`` works.

Rules (docs/scheduling.md has them in plain words):

* A **slot** is a schedule id plus a fire instant in UTC; :attr:`Slot.key` is its dedup key.
* The **watermark** of a schedule is the fire instant of the last slot already claimed for it; a slot at
  or before it is never due again. ``None`` means the schedule never ran.
* **Without catchup** only the current minute's slot is due: the newest instant ``t`` with
  ``now - 60s < t <= now`` (and ``t > watermark``). A tick at 12:00:59 still gets 12:00; one at 12:01:05
  does not.
* **With a catchup window W** every missed instant with ``max(watermark, now - W) < t <= now`` is due,
  oldest first; a window shorter than a minute counts as a minute, so catchup never loses the current
  slot. If more than ``catchup_cap`` are missed, only the newest ``catchup_cap`` are returned: the older
  ones are coalesced away (skipped), because the watermark moves past them once the newer ones are
  claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from dagctl.errors import UsageError

from .cron import (
    UTC,
    CronSpec,
    cron_problems,
    fire_times,
    latest_fires,
    next_fire_times,
    parse_cron,
    timezone_problem,
)

__all__ = [
    "CURRENT_MINUTE",
    "CronSpec",
    "ScheduleLike",
    "Slot",
    "cron_problems",
    "due_slots",
    "fire_times",
    "left_out",
    "next_fire_times",
    "parse_cron",
    "timezone_problem",
]

CURRENT_MINUTE = timedelta(seconds=60)
"""How late a tick may wake and still claim a slot when the schedule has no catchup window."""
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class ScheduleLike(Protocol):
    """What :func:`due_slots` reads from a schedule (the pydantic ``ScheduleSpec`` fits).

    Read-only properties, so frozen models and frozen dataclasses satisfy it too.
    """

    @property
    def id(self) -> str: ...

    @property
    def cron(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def catchup(self) -> timedelta | None: ...


@dataclass(frozen=True)
class Slot:
    """One due run of one schedule.

    Identity is ``(schedule_id, fire_utc)``; ``local_minute`` is the wall-clock minute in the schedule's
    timezone that the cron fields matched (``"2026-11-01T01:30"``), for display and the DST rules: the two
    fall-back passes of a wildcard job share it, and a job shifted out of a spring-forward gap keeps the
    nominal minute (``"2026-03-08T02:30"``) while ``fire_utc`` is the first instant after the jump.
    """

    schedule_id: str
    fire_utc: datetime
    local_minute: str

    def __post_init__(self) -> None:
        if self.fire_utc.tzinfo is None or self.fire_utc.utcoffset() is None:
            raise UsageError(f"slot fire time must be timezone-aware UTC, got {self.fire_utc!r}")
        if self.fire_utc.tzinfo is not UTC:
            object.__setattr__(self, "fire_utc", self.fire_utc.astimezone(UTC))

    @property
    def key(self) -> str:
        """Stable dedup key, e.g. ``"nightly@2026-11-01T05:30:00Z"``."""
        return f"{self.schedule_id}@{self.fire_utc:%Y-%m-%dT%H:%M:%S}Z"


@lru_cache(maxsize=4096)
def _spec(cron: str, timezone: str) -> CronSpec:
    return parse_cron(cron, timezone)


def due_slots(
    schedules: Sequence[ScheduleLike],
    watermarks: Mapping[str, datetime | None],
    now_utc: datetime,
    *,
    catchup_cap: int = 100,
) -> list[Slot]:
    """The slots to claim now, ordered by fire instant (ties keep the order of ``schedules``).

    Disabled schedules are never due. See the module docstring for the watermark, current-minute and
    catchup rules. Raises :class:`UsageError` (naming the schedule) for an invalid cron or timezone.
    """
    if isinstance(catchup_cap, bool) or not isinstance(catchup_cap, int) or catchup_cap < 1:
        raise UsageError(f"catchup_cap must be a whole number of 1 or more, got {catchup_cap!r}")
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise UsageError(f"now_utc must be timezone-aware UTC, got {now_utc!r}")
    now = now_utc.astimezone(UTC)
    slots: list[Slot] = []
    for schedule in schedules:
        if not schedule.enabled:
            continue
        try:
            spec = _spec(schedule.cron, schedule.timezone)
        except UsageError as exc:
            raise UsageError(f"schedule {schedule.id!r}: {exc.message}", hint=exc.hint) from exc
        count = 1 if schedule.catchup is None else catchup_cap
        start = _window_start(schedule, watermarks.get(schedule.id), now)
        if start >= now:
            continue
        fires = latest_fires(spec, start, now, count)
        slots.extend(Slot(schedule.id, instant, minute) for instant, minute in fires)
    slots.sort(key=lambda slot: slot.fire_utc)
    return slots


def _window_start(schedule: ScheduleLike, watermark: datetime | None, now: datetime) -> datetime:
    """The instant after which a schedule's fires are due: its catchup window (or the current minute), and not
    before its watermark."""
    window = CURRENT_MINUTE if schedule.catchup is None else max(schedule.catchup, CURRENT_MINUTE)
    start = now - window if window < now - _EARLIEST else _EARLIEST
    if watermark is not None:
        if watermark.tzinfo is None or watermark.utcoffset() is None:
            raise UsageError(f"watermark of schedule {schedule.id!r} must be timezone-aware UTC, got {watermark!r}")
        start = max(start, watermark.astimezone(UTC))
    return start


COUNTED_UP_TO = 10_000
"""How many left-out slots :func:`left_out` counts before it says "more than"."""


def left_out(
    schedule: ScheduleLike, watermark: datetime | None, now_utc: datetime, oldest_kept: Slot
) -> tuple[int, datetime, Slot] | None:
    """The missed slots of ``schedule`` older than ``oldest_kept`` (the oldest :func:`due_slots` returned when it
    hit ``catchup_cap``), which catch-up leaves out: how many (at most :data:`COUNTED_UP_TO` + 1), the first one's
    instant, and the newest of them; None when there are none."""
    spec = _spec(schedule.cron, schedule.timezone)
    start = _window_start(schedule, watermark, now_utc.astimezone(UTC))
    before = oldest_kept.fire_utc - timedelta(microseconds=1)
    newest = latest_fires(spec, start, before, 1)
    if not newest:
        return None
    counted = fire_times(spec, start, before, limit=COUNTED_UP_TO + 1)
    instant, minute = newest[0]
    return len(counted), counted[0], Slot(schedule.id, instant, minute)
