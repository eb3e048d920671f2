"""How a DAG's run time moves from run to run: a sparkline, the median, and each run's slowest task. Pure.

:func:`duration_trend` takes run summaries (``History.summaries``, any order) and keeps the finished ones, oldest
first, so the sparkline reads left to right like time. Like is compared with like: the median, the fastest, the
slowest and each run's ``vs median`` are of the successful runs (of every run when none succeeded); a run that
did not succeed (failed, cancelled, abandoned: it stopped early or late) is marked ``×`` on the sparkline, not
drawn as a fast or a slow run. Levels are scaled between the fastest and the slowest run compared, so a pipeline
that slows by a tenth is visible at a glance, but the scale spans at least ±10% of the median
(:data:`SCALE_FLOOR`): runs a few milliseconds apart look alike. :func:`headline`, :func:`overview_row` and
:func:`run_rows` are what ``dagctl runs --trend`` prints (durations as ``dagctl show`` formats them, times local).
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
MARK, ASCII_MARK = "×", "x"
"""A run that is not compared (it did not succeed, and others did), on the sparkline."""
SCALE_FLOOR = 0.10
"""The sparkline's scale spans at least this fraction of the median either side of it."""


class TrendPoint(Record):
    run_id: str
    started: datetime | None
    status: str
    duration_s: float
    slowest_task: str | None
    slowest_s: float | None
    level: int
    """0 (the fastest run compared, or the median less :data:`SCALE_FLOOR`) to 7 (the slowest, or the median plus
    it); a run not compared is placed on the same scale, cut to 0..7."""
    compared: bool = True
    """Counted in the median, the fastest and the slowest, and compared with the median: a successful run (any
    run, when none succeeded)."""


class Trend(Record):
    dag_name: str
    points: tuple[TrendPoint, ...]
    """Oldest first."""
    median_s: float | None
    """The median duration of the runs compared: the successful ones shown (all shown when none succeeded)."""
    fastest_s: float | None
    slowest_s: float | None
    """Of the runs compared, as the median."""

    @property
    def compared(self) -> int:
        return sum(1 for p in self.points if p.compared)

    def sparkline(self, chars: str = SPARKS) -> str:
        return "".join(spark(p, chars) for p in self.points)

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
                    "compared": p.compared,
                }
                for p in self.points
            ],
        }


def duration_trend(summaries: Iterable[RunSummary], dag_name: str = "") -> Trend:
    """The trend of the finished runs among ``summaries`` (runs still going, or without a duration, are left out)."""
    runs = [s for s in summaries if s.finished and s.duration_s is not None]
    runs.sort(key=lambda s: (s.started or datetime.min.replace(tzinfo=timezone.utc), s.run_id))
    succeeded = any(s.status == "success" for s in runs)
    compared = [s.duration_s or 0.0 for s in runs if s.status == "success" or not succeeded]
    mid = median(compared) if compared else None
    low, high = (min(compared), max(compared)) if compared else (None, None)
    bottom, top = scale(low, high, mid)
    points = []
    for s in runs:
        took = s.duration_s or 0.0
        slowest = max(
            (t for t in s.tasks.values() if t.duration_s is not None), key=lambda t: t.duration_s or 0.0, default=None
        )
        if top - bottom <= 0 or low == high == took:  # every run compared took the same: the middle
            level = 3
        else:
            level = min(max(round((took - bottom) / (top - bottom) * 7), 0), 7)
        points.append(
            TrendPoint(
                run_id=s.run_id,
                started=s.started,
                status=s.status,
                duration_s=took,
                slowest_task=slowest.task_id if slowest else None,
                slowest_s=slowest.duration_s if slowest else None,
                level=level,
                compared=s.status == "success" or not succeeded,
            )
        )
    return Trend(
        dag_name=dag_name or (runs[0].dag_name if runs else ""),
        points=tuple(points),
        median_s=mid,
        fastest_s=low,
        slowest_s=high,
    )


def scale(low: float | None, high: float | None, mid: float | None) -> tuple[float, float]:
    """The durations at the sparkline's lowest and highest level: the fastest and the slowest run compared, widened
    to at least :data:`SCALE_FLOOR` of the median either side of it."""
    if low is None or high is None or mid is None:
        return 0.0, 0.0
    return min(low, mid * (1 - SCALE_FLOOR)), max(high, mid * (1 + SCALE_FLOOR))


def spark(p: TrendPoint, chars: str = SPARKS) -> str:
    """A run's character on the sparkline: its level, or :data:`MARK` for a run not compared."""
    if not p.compared:
        return ASCII_MARK if chars.isascii() else MARK
    return chars[min(p.level * len(chars) // 8, len(chars) - 1)]


def headline(t: Trend, sparks: str = SPARKS) -> str:
    """``etl: 7 runs, oldest → newest  ▁▁▅█  median 3.44s, fastest 3.42s, slowest 4.93s``, and when some runs
    did not succeed, what was compared: ``(of 5 successful runs; × 2 others)``."""
    n = len(t.points)
    line = (
        f"{t.dag_name}: {n} run{'s' if n != 1 else ''}, oldest → newest  {t.sparkline(sparks)}  "
        f"median {_dur(t.median_s)}, fastest {_dur(t.fastest_s)}, slowest {_dur(t.slowest_s)}"
    )
    others = n - t.compared
    if others:
        mark = ASCII_MARK if sparks.isascii() else MARK
        ok = t.compared
        line += f" (of {ok} successful run{'s' if ok != 1 else ''}; {mark} {others} other{'s' if others != 1 else ''})"
    elif n and not any(p.status == "success" for p in t.points):
        line += " (no run succeeded)"
    return line


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
    """One row per run, newest first: run id, start (local time), status, level (or :data:`MARK`), duration,
    versus the median (``+43%``; blank for a run not compared), its slowest task."""
    rows = []
    for p in reversed(t.points):
        versus = f"{round((p.duration_s / t.median_s - 1) * 100):+d}%" if t.median_s and p.compared else ""
        started = p.started.astimezone().strftime("%Y-%m-%d %H:%M:%S") if p.started else ""
        rows.append([p.run_id, started, p.status, spark(p, sparks), _dur(p.duration_s), versus, _slowest(p)])
    return rows


def _slowest(p: TrendPoint) -> str:
    return f"{p.slowest_task} {_dur(p.slowest_s)}" if p.slowest_task else ""


def _dur(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)
