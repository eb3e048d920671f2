"""The panels: schedules with their next fire times and last outcome, and ``dagctl stats`` over a window.

Both read what the CLI reads (the schedules folder, the state store, the event log backwards from its end) and
answer with the JSON of ``dagctl schedule list --json`` and ``dagctl stats --json``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagctl.dag.durations import parse_duration
from dagctl.errors import Problem, UsageError
from dagctl.host import hostname, process_alive
from dagctl.schedule.files import ScheduleSource, ScheduleSpec
from dagctl.schedule.listing import schedule_entries
from dagctl.settings import Settings
from dagctl.store.eventlog import load_events, load_state_events
from dagctl.store.reports import schedules_of, stats_report
from dagctl.store.runsummary import RunSummary
from dagctl.store.state import StateFold, StateStore

from .errors import problem_dict

SCHEDULE_LOOKBACK_S = 7 * 86400  # schedules' "last run" looks back at least a week, as in dagctl stats
RECENT_RUNS = 15


def window_seconds(raw: str, source: str) -> tuple[str, float]:
    """``(label, seconds)`` of a window: a bare number is hours (``ORCH_PANEL_WINDOW_H=24``), else a duration
    such as ``90m`` or ``7d``."""
    text = raw.strip()
    if text.replace(".", "", 1).isdigit():
        text += "h"
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}", hint="e.g. 24h, 90m or 7d") from None
    if seconds <= 0:
        raise UsageError(f"{source}: the window must be longer than 0", hint="e.g. 24h")
    return text, seconds


def _owner_alive(run: RunSummary) -> bool | None:
    if not run.pid or (run.host and run.host != hostname()):
        return None
    return process_alive(run.pid, run.pid_start)


def stats(
    settings: Settings, *, now: datetime, seconds: float, dag: str | None, tenant: str | None, limit: int
) -> dict[str, Any]:
    """What ``dagctl stats --json`` prints for the same window and filters."""
    events = load_events(settings.events_path, since=now - timedelta(seconds=seconds), dag=dag, tenant=tenant)
    state = load_state_events(settings.state_path, now - timedelta(seconds=max(seconds, SCHEDULE_LOOKBACK_S)))
    if dag is not None or tenant is not None:
        wanted = schedules_of(events)
        state = [r for r in state if r.get("schedule_id") in wanted]
    return stats_report(events, state, now=now, window_hours=seconds / 3600, limit=limit, owner_alive=_owner_alive)


class Schedules:
    """The schedules folder (reloaded when its files change, broken files reported, not fatal) and the state
    store's fold, read-only. Thread-safe."""

    def __init__(self, folder: Path, state_path: Path, *, default_timezone: str) -> None:
        self.folder = folder
        self.source = ScheduleSource(folder, default_timezone=default_timezone)
        self.store = StateStore(state_path, write_index=False)
        self._lock = threading.Lock()
        self._specs: list[ScheduleSpec] = []
        self._problems: list[Problem] = []
        self._loaded = False

    def close(self) -> None:
        self.store.close()

    def specs(self) -> tuple[list[ScheduleSpec], list[Problem]]:
        with self._lock:
            if not self.folder.is_dir():
                return [], []
            if not self._loaded or self.source.changed():
                self._specs, self._problems = self.source.reload()
                self._loaded = True
            return list(self._specs), list(self._problems)

    def fold(self) -> StateFold:
        with self._lock:
            return self.store.refresh()

    def listing(self, now: datetime) -> dict[str, Any]:
        """``dagctl schedule list --json`` plus the problems of files that do not load."""
        specs, problems = self.specs()
        data = schedule_entries(specs, self.fold(), now)
        return {"schedules": data, "problems": [problem_dict(p) for p in problems]}
