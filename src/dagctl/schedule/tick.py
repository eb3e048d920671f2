"""Plan one scheduler tick: a pure function of (schedules, watermarks, open slots, now) -> actions.

:func:`plan_tick` decides; :mod:`dagctl.schedule.loop` does (lock, state store, threads, signals). The
loop calls it inside a state-store transaction, so the watermarks and open slots it sees are fresh and
the actions it returns are written before any other process can decide anything.

Rules (docs/scheduler.md has them in plain words):

* **Due slots** come from :func:`dagctl.schedule.slots.due_slots`: the current minute's slot, or with
  ``catchup`` every missed slot within the window, at most ``catchup_cap`` per schedule (older ones are
  coalesced away).
* **A new schedule with catchup** (no watermark yet) does not look back over its whole window on its
  first tick: it is *registered* with the watermark ``now - 60s``, so only the current minute is due.
  From then on, downtime is caught up. (A schedule without catchup never needs a watermark to start.) A
  tick at a past instant (``schedule --once --now``, a replay) still runs that instant's minute, but
  registers the schedule at ``registered`` (the real clock): a replay never leaves a watermark behind the
  clock for the next real tick to catch up from.
* **overlap: skip** (default). While any earlier slot of the schedule is still open (running or waiting,
  in any process), every due slot is skipped with the reason. With nothing open and several slots due
  after downtime, only the newest runs; the older ones are skipped as *coalesced* (like systemd's
  ``Persistent=true``: one catch-up run, not a burst).
* **overlap: queue** claims every due slot; each starts when the earlier slots of its schedule finished.
* **overlap: allow** claims every due slot; they run side by side (bounded by SCHED_MAX_PARALLEL).
* **Fixed-time jobs run once per wall-clock minute.** A fixed-time slot whose local minute was already
  claimed in the same timezone (possible only if the timezone rules changed under a running schedule) is
  skipped. A claim in another zone does not count: 09:00 in New York is not the 09:00 that ran in UTC before
  the schedule's ``timezone:`` changed.

:class:`TickFailures` decides when ``--serve`` gives up on ticks that keep failing (``--fail-after``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from dagctl.errors import UsageError

from .cron import parse_cron
from .slots import COUNTED_UP_TO, CURRENT_MINUTE, ScheduleLike, Slot, due_slots, left_out

__all__ = [
    "DEFAULT_CATCHUP_CAP",
    "DEFAULT_FAIL_AFTER_S",
    "Action",
    "Claim",
    "OpenLike",
    "Register",
    "Skip",
    "TickFailures",
    "jitter_delay",
    "logical_date",
    "plan_tick",
]

DEFAULT_CATCHUP_CAP = 24
"""At most this many missed slots of one schedule are claimed in one tick; older ones are coalesced."""


class OpenLike(Protocol):
    """A claimed slot that has not finished (:class:`dagctl.store.state.OpenSlot` fits)."""

    @property
    def key(self) -> str: ...

    @property
    def fire_utc(self) -> datetime: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Register:
    """Give a new catchup schedule its first watermark (so its first tick does not replay the window)."""

    schedule_id: str
    watermark: datetime


@dataclass(frozen=True)
class Claim:
    """Claim a slot and run it (now, or after the earlier slots of its schedule with overlap: queue)."""

    schedule: ScheduleLike
    slot: Slot


@dataclass(frozen=True)
class Skip:
    """Record that a due slot will not run, and why. It moves the watermark like a claim does."""

    schedule: ScheduleLike
    slot: Slot
    reason: str


Action = Register | Claim | Skip


def _overlap(schedule: ScheduleLike) -> str:
    value = getattr(schedule, "overlap", "skip")
    return str(getattr(value, "value", value))


def plan_tick(
    schedules: Sequence[ScheduleLike],
    watermarks: Mapping[str, datetime | None],
    running: Mapping[str, Sequence[OpenLike]],
    now: datetime,
    *,
    catchup_cap: int = DEFAULT_CATCHUP_CAP,
    recent_minutes: Mapping[str, Sequence[tuple[str, str | None]]] | None = None,
    registered: datetime | None = None,
) -> list[Action]:
    """What to do on this tick: ``Register`` actions first, then claims and skips by fire instant.

    ``running`` maps a schedule id to its open slots whose owner is alive (dead owners are reaped by the
    caller first). ``recent_minutes`` maps a schedule id to ``(local minute, zone)`` of its last claims (zone
    None: not recorded, counts for any zone). ``registered`` is the instant a new catchup schedule counts as
    registered at (default ``now``; the later of the two is used): the real clock when ``now`` is a replayed one.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise UsageError(f"now must be timezone-aware, got {now!r}")
    if registered is not None and (registered.tzinfo is None or registered.utcoffset() is None):
        raise UsageError(f"registered must be timezone-aware, got {registered!r}")
    marks: dict[str, datetime | None] = dict(watermarks)
    actions: list[Action] = []
    for schedule in schedules:
        if schedule.enabled and schedule.catchup is not None and marks.get(schedule.id) is None:
            marks[schedule.id] = now - CURRENT_MINUTE  # this tick: only its current minute is due
            mark = max(now, registered or now) - CURRENT_MINUTE  # a replay does not register in the past
            actions.append(Register(schedule.id, mark))
    by_id = {s.id: s for s in schedules}
    due: dict[str, list[Slot]] = {}
    for slot in due_slots(schedules, marks, now, catchup_cap=catchup_cap):
        due.setdefault(slot.schedule_id, []).append(slot)
    decided: list[Claim | Skip] = []
    for sid, slots in due.items():
        schedule = by_id[sid]
        if schedule.catchup is not None and len(slots) >= catchup_cap:  # the cap may have left older ones out
            cut = left_out(schedule, marks.get(sid), now, slots[0])
            if cut is not None:
                decided.append(Skip(schedule, cut[2], _left_out_reason(cut[0], cut[1], cut[2], catchup_cap)))
        minutes = {minute for minute, zone in (recent_minutes or {}).get(sid, ()) if zone in (None, schedule.timezone)}
        if minutes and parse_cron(schedule.cron, schedule.timezone).fixed_time:
            for slot in [s for s in slots if s.local_minute in minutes]:
                decided.append(
                    Skip(
                        schedule,
                        slot,
                        f"wall-clock minute {slot.local_minute} already ran "
                        "(a fixed-time job runs once per local minute)",
                    )
                )
                slots.remove(slot)
        if not slots:
            continue
        policy = _overlap(schedule)
        open_slots = list(running.get(sid, ()))
        if policy == "skip":
            if open_slots:
                busy = min(open_slots, key=lambda o: o.fire_utc).describe()
                decided.extend(Skip(schedule, s, f"overlap: skip — previous run still going: {busy}") for s in slots)
                continue
            newest = slots[-1]
            decided.extend(
                Skip(schedule, s, f"coalesced into {newest.key} (overlap: skip runs only the newest missed slot)")
                for s in slots[:-1]
            )
            decided.append(Claim(schedule, newest))
        else:  # queue and allow claim everything; the loop orders queue runs
            decided.extend(Claim(schedule, s) for s in slots)
    decided.sort(key=lambda a: a.slot.fire_utc)
    return actions + decided


def _left_out_reason(count: int, first: datetime, newest: Slot, cap: int) -> str:
    """Why missed slots were not run: one record (the newest of them) for all that catch-up's cap left out."""
    many = f"more than {COUNTED_UP_TO}" if count > COUNTED_UP_TO else str(count)
    plural = "s" if count != 1 else ""
    since = f" since {first.isoformat().replace('+00:00', 'Z')}" if count > 1 else ""
    return (
        f"{many} missed slot{plural}{since} not run: catch-up runs at most the newest {cap} "
        "(dagctl backfill runs older ones)"
    )


def jitter_delay(schedule: ScheduleLike, slot: Slot) -> float:
    """Seconds to wait before starting ``slot``: stable per slot in ``[0, jitter)``, the same in every process."""
    jitter = getattr(schedule, "jitter", None)
    if not jitter:
        return 0.0
    seconds = jitter.total_seconds() if isinstance(jitter, timedelta) else float(jitter)
    if seconds <= 0:
        return 0.0
    digest = hashlib.blake2b(slot.key.encode(), digest_size=8).digest()
    return seconds * (int.from_bytes(digest, "big") / 2**64)


def logical_date(schedule: ScheduleLike, slot: Slot) -> str:
    """The slot's fire time in the schedule's timezone, ISO-8601 with offset: ``2026-03-08T03:00:00-04:00``."""
    zone = parse_cron(schedule.cron, schedule.timezone).zone
    return slot.fire_utc.astimezone(zone).isoformat()


# ------------------------------------------------------------------------------- when --serve gives up

DEFAULT_FAIL_AFTER_S = 60.0
"""``--serve`` stops (exit 3) once its ticks have failed for this long with no success in between."""


class TickFailures:
    """How long the ticks of ``--serve`` have been failing: bookkeeping on monotonic seconds, no IO."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.since: float | None = None
        self.count = 0
        self.last = ""

    @property
    def failing(self) -> bool:
        return self.since is not None

    def duration(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since

    def failed(self, now: float, problem: str, *, began: float | None = None) -> bool:
        """Note one failure, seen at ``now`` by a tick that began at ``began`` (default ``now``: a tick that waited
        30 s for a lock has been failing for those 30 s); True when the failures have lasted ``limit_s``."""
        if self.since is None:
            self.since = now if began is None else min(began, now)
        self.count += 1
        self.last = problem
        return now - self.since >= self.limit_s

    def ok(self) -> None:
        self.since, self.count, self.last = None, 0, ""
