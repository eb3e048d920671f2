"""What ``dagctl schedule`` and ``dagctl backfill`` share: the schedules folder, times typed on the command
line, finding a schedule by id, and state-store errors as environment errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from dagctl.schedule.files import ScheduleSpec

DEFAULT_DIR = Path("configs/schedules")
DIR_HELP = "Folder of schedule files (*.yaml, searched recursively)."


def default_timezone() -> str:
    from dagctl.errors import UsageError
    from dagctl.schedule.cron import timezone_problem
    from dagctl.settings import Settings

    zone = Settings.from_env().sched_timezone or "UTC"
    problem = timezone_problem(zone)
    if problem:
        raise UsageError(f"SCHED_TIMEZONE: {problem}")
    return zone


def parse_when(
    text: str, zone: ZoneInfo | None, option: str, *, latest: bool = False, exclusive: bool = False
) -> datetime:
    """ISO-8601 (``Z`` or an offset); a time without offset is read in ``zone`` when there is one.

    Read in ``zone``, a wall time that daylight saving time skips is the instant of the jump, and one it
    repeats is its first pass (its second with ``latest``, for the inclusive end of a range). With
    ``exclusive`` (a start that fires must come strictly after, ``--after``), a skipped wall time is the instant
    just before the jump: 02:15 comes before 03:00 on the clock, so a run at the jump is after it."""
    from dagctl.errors import UsageError
    from dagctl.schedule.cron import wall_to_utc

    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO-8601 time",
            hint=f"write e.g. {option} 2026-03-08T07:00:00Z or 2026-03-08T02:00:00-05:00",
        ) from None
    try:
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        if zone is None:
            raise UsageError(
                f"{option} {text!r} has no UTC offset", hint=f"add Z or an offset, e.g. {option} {value.isoformat()}Z"
            )
        instant = wall_to_utc(value, zone, latest=latest)
        if exclusive and instant.astimezone(zone).replace(tzinfo=None) != value:  # skipped: the clock jumped past it
            return instant - timedelta(microseconds=1)
        return instant
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise UsageError(
            f"{option} {text!r} is out of range: its UTC time falls outside years 1-9999",
            hint="give a time between 0002 and 9998",
        ) from None


def find_schedule(schedules: list[ScheduleSpec], schedule_id: str) -> ScheduleSpec:
    import difflib

    from dagctl.errors import UsageError

    for spec in schedules:
        if spec.id == schedule_id:
            return spec
    ids = [s.id for s in schedules]
    close = difflib.get_close_matches(schedule_id, ids, n=1)
    hint = f"did you mean '{close[0]}'?" if close else ("known: " + ", ".join(ids) if ids else "the folder has none")
    raise UsageError(f"no schedule '{schedule_id}'", hint=hint)


@contextmanager
def state_errors() -> Iterator[None]:
    """A state store that cannot be used is an environment problem (exit 3), not bad input."""
    from dagctl.errors import StateError
    from dagctl.schedule.loop import SchedulerStateError

    try:
        yield
    except SchedulerStateError:
        raise
    except StateError as exc:
        raise SchedulerStateError(exc.message, hint=exc.hint) from exc


@contextmanager
def released(release: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        release()
