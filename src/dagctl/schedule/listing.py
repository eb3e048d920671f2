"""What ``dagctl schedule list --json`` and ``GET /api/schedules`` say about each schedule. Pure.

One entry per schedule: how it is written and where it fires next (in its own zone and in UTC), and what the
state store knows of it (the last run, runs going on, slots claimed but not started, outcome counts).
"""

from __future__ import annotations

from .cron import next_fire_times, parse_cron

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from typing import Any

    from dagctl.store.state import StateFold

    from .files import ScheduleSpec


def schedule_entries(schedules: Iterable[ScheduleSpec], fold: StateFold, now: datetime) -> list[dict[str, Any]]:
    """An entry per schedule, at ``now`` (UTC)."""
    from dagctl.store.events import format_ts

    entries: list[dict[str, Any]] = []
    for s in schedules:
        spec = parse_cron(s.cron, s.timezone)
        nxt = next_fire_times(spec, now, 1) if s.enabled else []
        state = fold.schedules.get(s.id)
        opened = list(state.open.values()) if state else []
        entries.append(
            {
                "id": s.id,
                "cron": s.cron_written,
                "fields": spec.fields,
                "timezone": s.timezone,
                "enabled": s.enabled,
                "dag": s.dag,
                "overlap": s.overlap.value,
                "catchup_s": s.catchup.total_seconds() if s.catchup else None,
                "next_fire": nxt[0].astimezone(spec.zone).isoformat() if nxt else None,
                "next_fire_utc": format_ts(nxt[0]) if nxt else None,
                "last_run": state.last if state else None,
                "running": [o.run_id for o in opened if o.run_id],
                "waiting": sum(1 for o in opened if not o.run_id),
                "counts": dict(state.counts) if state else {},
            }
        )
    return entries
