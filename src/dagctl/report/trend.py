"""How a DAG's run time moves from run to run: a sparkline, the median, and each run's slowest task. Pure.

:func:`duration_trend` takes run summaries (``History.summaries``, any order) and keeps the finished ones, oldest
first, so the sparkline reads left to right like time. Levels are scaled between the fastest and the slowest
run shown, so a pipeline that slows by a tenth is visible at a glance; the range is part of the result, so a
reader also knows how big the swing is. :func:`headline`, :func:`overview_row` and :func:`run_rows` are what
``dagctl runs --trend`` prints (durations as ``dagctl show`` formats them, times local).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from dagctl.dag.durations import format_duration
from dagctl.records import Record
from dagctl.store.recent import median
from dagctl.store.runsummary import RunSummary

SPARKS = "▁▂▃▄▅▆▇█"
ASCII_SPARKS = "_.-=+*#@"


class TrendPoint(Record):
    run_id: str
    started: datetime | None
    status: str
    duration_s: float
    slowest_task: str | None
    slowest_s: float | None
    level: int
    """0 (the fastest run shown) to 7 (the slowest)."""


class Trend(Record):
    dag_name: str
    points: tuple[TrendPoint, ...]
    """Oldest first."""
    median_s: float | None
    """The median duration of the successful runs shown (of all shown when none succeeded)."""
    fastest_s: float | None
    slowest_s: float | None

    def sparkline(self, chars: str = SPARKS) -> str:
        return "".join(chars[min(p.level * len(chars) // 8, len(chars) - 1)] for p in self.points)

    def as_json(self) -> dict[str, object]:
        return {
            "dag": self.dag_name,
            "median_s": self.median_s,
            "fastest_s": self.fastest_s,
            "slowest_s": self.slowest_s,
            "sparkline": self.sparkline(),
            "runs": [
                {
                    "run_id": p.run_id,
                    "started": p.started.isoformat() if p.started else None,
                    "status": p.status,
                    "duration_s": p.duration_s,
                    "slowest_task": p.slowest_task,
                    "slowest_s": p.slowest_s,
                }
                for p in self.points
            ],
        }


def duration_trend(summaries: Iterable[RunSummary], dag_name: str = "") -> Trend:
    """The trend of the finished runs among ``summaries`` (runs still going, or without a duration, are left out)."""
    runs = [s for s in summaries if s.finished and s.duration_s is not None]
    runs.sort(key=lambda s: (s.started or datetime.min.replace(tzinfo=timezone.utc), s.run_id))
    durations = [s.duration_s or 0.0 for s in runs]
    low, high = (min(durations), max(durations)) if durations else (None, None)
    points = []
    for s in runs:
        took = s.duration_s or 0.0
        slowest = max(
            (t for t in s.tasks.values() if t.duration_s is not None), key=lambda t: t.duration_s or 0.0, default=None
        )
        level = 3 if high is None or low is None or high - low <= 0 else round((took - low) / (high - low) * 7)
        points.append(
            TrendPoint(
                run_id=s.run_id,
                started=s.started,
                status=s.status,
                duration_s=took,
                slowest_task=slowest.task_id if slowest else None,
                slowest_s=slowest.duration_s if slowest else None,
                level=level,
            )
        )
    ok = [p.duration_s for p in points if p.status == "success"] or [p.duration_s for p in points]
    return Trend(
        dag_name=dag_name or (runs[0].dag_name if runs else ""),
        points=tuple(points),
        median_s=median(ok) if ok else None,
        fastest_s=low,
        slowest_s=high,
    )


def headline(t: Trend, sparks: str = SPARKS) -> str:
    """``etl: 7 runs, oldest → newest  ▁▁▅█  median 3.44s, fastest 3.42s, slowest 4.93s``."""
    return (
        f"{t.dag_name}: {len(t.points)} runs, oldest → newest  {t.sparkline(sparks)}  "
        f"median {_dur(t.median_s)}, fastest {_dur(t.fastest_s)}, slowest {_dur(t.slowest_s)}"
    )


def overview_row(t: Trend, sparks: str = SPARKS) -> list[str]:
    """One DAG in the table of every DAG: name, runs, sparkline, median, last, the last run's slowest task."""
    last = t.points[-1] if t.points else None
    return [
        t.dag_name,
        str(len(t.points)),
        t.sparkline(sparks),
        _dur(t.median_s),
        _dur(last.duration_s if last else None),
        _slowest(last) if last else "",
    ]


def run_rows(t: Trend, sparks: str = SPARKS) -> list[list[str]]:
    """One row per run, newest first: run id, start (local time), status, level, duration, versus the median
    (``+43%``), its slowest task."""
    rows = []
    for p in reversed(t.points):
        versus = f"{round((p.duration_s / t.median_s - 1) * 100):+d}%" if t.median_s else ""
        started = p.started.astimezone().strftime("%Y-%m-%d %H:%M:%S") if p.started else ""
        level = sparks[min(p.level * len(sparks) // 8, len(sparks) - 1)]
        rows.append([p.run_id, started, p.status, level, _dur(p.duration_s), versus, _slowest(p)])
    return rows


def _slowest(p: TrendPoint) -> str:
    return f"{p.slowest_task} {_dur(p.slowest_s)}" if p.slowest_task else ""


def _dur(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)
