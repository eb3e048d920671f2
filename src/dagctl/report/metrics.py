"""Prometheus text exposition (format 0.0.4) of a run and of the scheduler, for node_exporter's textfile collector.

Pure: :func:`run_metrics` turns a finished run's summary into the text ``dagctl run --metrics-textfile`` writes;
:func:`scheduler_metrics` turns the scheduler's state (the fold of the state log) into the text the scheduler
writes to ``metrics_textfile:`` after each run it finishes. Gauges only, plus one counter
(``dagctl_schedule_runs_total``): a textfile holds the latest facts, and Prometheus keeps their history.

Names do not collide with those of ``dagctl serve``'s ``/metrics`` (docs/serve.md): every series here is about the
*last* run (``dagctl_last_run_*``) or about a schedule (``dagctl_schedule_*``). No label holds a run id, so the
number of series stays that of the DAG's tasks and the schedules. docs/ci.md lists every series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from dagctl.store.events import parse_ts
from dagctl.store.runsummary import RunSummary
from dagctl.store.state import ScheduleState

RUN_STATUSES = ("success", "failed", "cancelled", "paused")
TASK_STATUSES = ("success", "failed", "skipped", "cancelled")
SCHEDULE_OUTCOMES = ("success", "failed", "cancelled", "lost")
"""How a scheduled run can end (``run_finished``); ``skipped`` slots are counted too, in ``runs_total``."""

LAST_SUCCESS = "dagctl_last_success_timestamp_seconds"


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as configured (the scheduler's files), for labels."""

    id: str
    dag: str
    cron: str
    timezone: str
    enabled: bool = True


METRICS: dict[str, tuple[str, str]] = {
    # a run (dagctl run --metrics-textfile)
    "dagctl_last_run_status": ("gauge", "Status of the DAG's last run (1 for its status)."),
    "dagctl_last_run_success": ("gauge", "1 if the DAG's last run succeeded, else 0."),
    "dagctl_last_run_start_timestamp_seconds": ("gauge", "When the DAG's last run started (Unix time)."),
    "dagctl_last_run_end_timestamp_seconds": ("gauge", "When the DAG's last run ended (Unix time)."),
    "dagctl_last_run_duration_seconds": ("gauge", "How long the DAG's last run took."),
    LAST_SUCCESS: ("gauge", "When the DAG's latest successful run ended (Unix time)."),
    "dagctl_last_run_tasks": ("gauge", "Tasks of the DAG's last run by status (matrix cells not counted)."),
    "dagctl_last_run_task_duration_seconds": ("gauge", "Duration of each task's last attempt in the DAG's last run."),
    "dagctl_last_run_task_attempts": ("gauge", "Attempts of each task in the DAG's last run."),
    "dagctl_last_run_task_status": ("gauge", "Status of each task in the DAG's last run (1 for its status)."),
    # the scheduler (metrics_textfile: in dagctl.yaml)
    "dagctl_schedule_info": ("gauge", "A configured schedule: its DAG file, cron and timezone (always 1)."),
    "dagctl_schedule_enabled": ("gauge", "1 if the schedule is enabled, else 0."),
    "dagctl_schedule_last_run_success": ("gauge", "1 if the schedule's last finished run succeeded, else 0."),
    "dagctl_schedule_last_run_status": ("gauge", "Status of the schedule's last finished run (1 for its status)."),
    "dagctl_schedule_last_run_end_timestamp_seconds": ("gauge", "When the schedule's last run finished (Unix time)."),
    "dagctl_schedule_last_run_duration_seconds": ("gauge", "How long the schedule's last run took."),
    "dagctl_schedule_last_run_lag_seconds": (
        "gauge",
        "How long after its slot's fire time the schedule's last run started.",
    ),
    "dagctl_schedule_last_success_timestamp_seconds": (
        "gauge",
        "When the schedule's latest successful run finished (Unix time).",
    ),
    "dagctl_schedule_watermark_timestamp_seconds": (
        "gauge",
        "The newest fire time claimed, skipped or registered for the schedule (Unix time).",
    ),
    "dagctl_schedule_runs_running": ("gauge", "Runs of the schedule running now."),
    "dagctl_schedule_runs_waiting": ("gauge", "Slots of the schedule claimed and not started yet."),
    "dagctl_schedule_runs_total": (
        "counter",
        "Runs of the schedule by how they ended (skipped: slots not run), since the state log began.",
    ),
}
"""Every series written here: name -> (type, help). docs/ci.md lists them (a test keeps the two in step)."""


class Exposition:
    """Samples grouped by metric, written with their ``# HELP`` and ``# TYPE`` lines (from :data:`METRICS`)."""

    def __init__(self) -> None:
        self._samples: dict[str, list[str]] = {}

    def add(self, name: str, labels: Mapping[str, str], value: float | None) -> None:
        """One sample; a None or non-finite value is left out (the series is absent, as Prometheus expects)."""
        if value is None or not math.isfinite(value):
            return
        pairs = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels.items())
        line = f"{name}{{{pairs}}} {format_value(value)}" if pairs else f"{name} {format_value(value)}"
        self._samples.setdefault(name, []).append(line)

    def state_set(self, name: str, labels: Mapping[str, str], key: str, states: Iterable[str], current: str) -> None:
        """One sample per state, 1 for ``current`` and 0 for the others (``current`` is added if not listed)."""
        listed = list(states)
        if current not in listed:
            listed.append(current)
        for state in listed:
            self.add(name, {**labels, key: state}, 1.0 if state == current else 0.0)

    def text(self) -> str:
        out: list[str] = []
        for name, samples in self._samples.items():
            kind, help_text = METRICS[name]
            out += [f"# HELP {name} {escape_help(help_text)}", f"# TYPE {name} {kind}", *samples]
        return "\n".join(out) + "\n" if out else ""


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _stamp(when: datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def _ts(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_ts(value).timestamp()
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------------------------------------------- a run


def run_metrics(run: RunSummary, *, last_success: float | None = None) -> str:
    """The metrics of one finished run of a DAG. ``last_success`` is the end time (Unix seconds) of the DAG's
    latest successful run before this one (see :func:`last_success_in`); this run's end replaces it if it succeeded."""
    out = Exposition()
    dag = {"dag": run.dag_name}
    ended = _stamp(run.ended)
    if run.status == "success" and ended is not None:
        last_success = ended
    out.state_set("dagctl_last_run_status", dag, "status", RUN_STATUSES, run.status)
    out.add("dagctl_last_run_success", dag, 1.0 if run.status == "success" else 0.0)
    out.add("dagctl_last_run_start_timestamp_seconds", dag, _stamp(run.started))
    out.add("dagctl_last_run_end_timestamp_seconds", dag, ended)
    out.add("dagctl_last_run_duration_seconds", dag, run.duration_s)
    out.add(LAST_SUCCESS, dag, last_success)
    tally = {status: 0 for status in TASK_STATUSES}
    for t in run.tasks.values():
        if t.parent is None:
            tally[t.status] = tally.get(t.status, 0) + 1
    for status, number in tally.items():
        out.add("dagctl_last_run_tasks", {**dag, "status": status}, float(number))
    for uid, t in run.tasks.items():
        task = {**dag, "task": uid}
        out.add("dagctl_last_run_task_duration_seconds", task, t.duration_s)
        out.add("dagctl_last_run_task_attempts", task, float(t.attempts))
        out.state_set("dagctl_last_run_task_status", task, "status", TASK_STATUSES, t.status)
    return out.text()


def last_success_in(text: str, dag: str) -> float | None:
    """The value of ``dagctl_last_success_timestamp_seconds{dag="<dag>"}`` in an earlier textfile, if any.

    A failed run keeps the time of the latest success that way: the file is rewritten after every run."""
    wanted = f'{LAST_SUCCESS}{{dag="{escape_label(dag)}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            try:
                value = float(line[len(wanted) :].split()[0])
            except (ValueError, IndexError):
                return None
            return value if math.isfinite(value) else None
    return None


# ---------------------------------------------------------------------------------------------- schedules


def scheduler_metrics(states: Mapping[str, ScheduleState], schedules: Sequence[ScheduleInfo]) -> str:
    """The metrics of every configured schedule, from the scheduler's state (``StateFold.schedules``)."""
    out = Exposition()
    for schedule in schedules:
        sid = {"schedule": schedule.id}
        info = {**sid, "dag": schedule.dag, "cron": schedule.cron, "timezone": schedule.timezone}
        out.add("dagctl_schedule_info", info, 1.0)
        out.add("dagctl_schedule_enabled", sid, 1.0 if schedule.enabled else 0.0)
        state = states.get(schedule.id) or ScheduleState()
        last = state.last or {}
        status = last.get("status")
        if isinstance(status, str):
            out.add("dagctl_schedule_last_run_success", sid, 1.0 if status == "success" else 0.0)
            out.state_set("dagctl_schedule_last_run_status", sid, "status", SCHEDULE_OUTCOMES, status)
        out.add("dagctl_schedule_last_run_end_timestamp_seconds", sid, _ts(last.get("ts")))
        duration = last.get("duration_s")
        seconds = float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
        out.add("dagctl_schedule_last_run_duration_seconds", sid, seconds)
        fire, started = _ts(last.get("fire_utc")), _ts(last.get("started"))
        lag = max(0.0, started - fire) if fire is not None and started is not None else None
        out.add("dagctl_schedule_last_run_lag_seconds", sid, lag)
        out.add("dagctl_schedule_last_success_timestamp_seconds", sid, _ts(state.last_success))
        out.add("dagctl_schedule_watermark_timestamp_seconds", sid, _stamp(state.watermark))
        running = sum(1 for slot in state.open.values() if slot.run_id)
        out.add("dagctl_schedule_runs_running", sid, float(running))
        out.add("dagctl_schedule_runs_waiting", sid, float(len(state.open) - running))
        outcomes = [*SCHEDULE_OUTCOMES, "skipped"]
        outcomes += [k for k in state.counts if k not in outcomes and k not in ("enqueued", "started")]
        for outcome in outcomes:
            out.add("dagctl_schedule_runs_total", {**sid, "outcome": outcome}, float(state.counts.get(outcome, 0)))
    return out.text()
