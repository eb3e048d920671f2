"""Run durations over time: levels between the fastest and slowest run, the median, each run's slowest task."""

from __future__ import annotations

from dagctl.report.trend import ASCII_SPARKS, duration_trend
from dagctl.store.runsummary import fold_run

from .events import ev


def run(run_id: str, start: float, took: float, status: str = "success", *, slow: float = 1.0) -> list[dict]:
    return [
        ev("dag_start", start, run=run_id),
        ev("task_start", start, "fast", run=run_id),
        ev("task_ok", start + 0.5, "fast", run=run_id, duration_s=0.5),
        ev("task_start", start, "slow", run=run_id),
        ev("task_ok", start + slow, "slow", run=run_id, duration_s=slow),
        ev("dag_done", start + took, run=run_id, status=status, duration_s=took),
    ]


def test_levels_median_and_slowest_task_oldest_first():
    summaries = [
        fold_run(run("r3", 300, 14.0, slow=12.0)),
        fold_run(run("r1", 100, 10.0)),
        fold_run(run("r2", 200, 12.0, status="failed")),
        fold_run(run("r4", 400, 10.0)[:-1]),  # still running: left out
    ]
    t = duration_trend(summaries)
    assert t.dag_name == "etl"
    assert [(p.run_id, p.duration_s, p.level, p.slowest_task, p.slowest_s) for p in t.points] == [
        ("r1", 10.0, 0, "slow", 1.0),
        ("r2", 12.0, 4, "slow", 1.0),
        ("r3", 14.0, 7, "slow", 12.0),
    ]
    assert (t.median_s, t.fastest_s, t.slowest_s) == (12.0, 10.0, 14.0)  # the median of the successful ones
    assert t.sparkline() == "▁▅█"
    assert t.sparkline(ASCII_SPARKS) == "_+@"
    assert t.as_json()["sparkline"] == "▁▅█" and len(t.as_json()["runs"]) == 3


def test_runs_that_took_the_same_time_sit_in_the_middle():
    t = duration_trend([fold_run(run("a", 0, 5.0)), fold_run(run("b", 10, 5.0))])
    assert t.sparkline() == "▄▄" and t.median_s == 5.0


def test_no_finished_runs_no_points():
    t = duration_trend([], "etl")
    assert (t.points, t.median_s, t.sparkline()) == ((), None, "")
