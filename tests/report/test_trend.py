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
    assert t.sparkline() == "▁×█"  # the failed run is marked, not compared
    assert t.sparkline(ASCII_SPARKS) == "_x@"
    assert t.as_json()["sparkline"] == "▁×█" and len(t.as_json()["runs"]) == 3


def test_runs_that_took_the_same_time_sit_in_the_middle():
    t = duration_trend([fold_run(run("a", 0, 5.0)), fold_run(run("b", 10, 5.0))])
    assert t.sparkline() == "▄▄" and t.median_s == 5.0


def test_no_finished_runs_no_points():
    t = duration_trend([], "etl")
    assert (t.points, t.median_s, t.sparkline()) == ((), None, "")


def test_runs_that_did_not_succeed_are_marked_not_compared():
    from dagctl.report.trend import headline, run_rows

    summaries = [
        fold_run(run("ok1", 100, 7.0)),
        fold_run(run("cut", 200, 1.0, status="cancelled")),
        fold_run(run("gone", 300, 2.0, status="abandoned")),
        fold_run(run("ok2", 400, 7.2)),
    ]
    t = duration_trend(summaries, "slow30")
    assert (t.median_s, t.fastest_s, t.slowest_s) == (7.1, 7.0, 7.2)  # a cancelled run is not the fastest
    assert [p.compared for p in t.points] == [True, False, False, True]
    assert t.sparkline() == "▄××▅" and t.sparkline(ASCII_SPARKS) == "=xx+"
    assert headline(t).endswith("median 7.1s, fastest 7s, slowest 7.2s (of 2 successful runs; × 2 others)")
    versus = {row[0]: row[5] for row in run_rows(t)}
    assert versus == {"ok2": "+1%", "gone": "", "cut": "", "ok1": "-1%"}
    assert [run["compared"] for run in t.as_json()["runs"]] == [True, False, False, True]


def test_runs_a_few_milliseconds_apart_look_alike():
    t = duration_trend([fold_run(run(f"r{i}", i * 10, took)) for i, took in enumerate([3.42, 3.45, 3.43, 3.44])])
    assert set(t.sparkline()) <= set("▄▅")  # the scale spans at least ±10% of the median
    slower = duration_trend([fold_run(run(f"r{i}", i * 10, took)) for i, took in enumerate([3.42, 3.45, 4.93])])
    assert slower.sparkline() == "▂▂█"


def test_one_run_is_one_run():
    from dagctl.report.trend import headline

    one = duration_trend([fold_run(run("r1", 0, 5.0))])
    assert headline(one).startswith("etl: 1 run, oldest → newest  ▄  median 5s")
    none_ok = duration_trend([fold_run(run("r1", 0, 5.0, status="failed")), fold_run(run("r2", 9, 6.0, "failed"))])
    assert none_ok.sparkline() == "▁█" and headline(none_ok).endswith("(no run succeeded)")
