"""A paused and resumed run on the timeline: it took its wall time, pauses included, as `dagctl show` says (not its
last part's), its pauses are pauses (not time a task was queued), and while its resumed part runs its axis reaches
now."""

from __future__ import annotations

import pytest

from dagctl.report.timeline import Segment, build_timeline, columns, details, headline

from .events import at, ev, graph

EDGES = graph({"a": [], "c": [], "b": ["a"], "d": ["c"]})
PAUSED = [
    ev("dag_start", 0),
    ev("task_start", 0, "a", attempt=1),
    ev("task_start", 0, "c", attempt=1),
    ev("task_ok", 0.5, "c", attempt=1, duration_s=0.5),
    ev("task_ok", 1, "a", attempt=1, duration_s=1.0),
    ev("dag_done", 1, status="paused", duration_s=1.0),
    ev("dag_resume", 5, host="h", pid=2),
    ev("task_start", 5, "b", attempt=1),
    ev("task_start", 5.5, "d", attempt=1),  # d was ready at 0.5; it waited for a slot 0.5s after the resume
]
RESUMED = [
    *PAUSED,
    ev("task_ok", 6, "b", attempt=1, duration_s=1.0),
    ev("task_ok", 6, "d", attempt=1, duration_s=0.5),
    ev("dag_done", 6, status="success", duration_s=1.0),  # the resumed part's own time
]


def lane(t, task_id: str):
    return next(lane for lane in t.lanes if lane.task_id == task_id)


def test_a_resumed_run_took_its_wall_time_and_its_pause_is_one() -> None:
    t = build_timeline(RESUMED, graph=EDGES)
    assert t.duration_s == pytest.approx(6.0) and t.span_s == pytest.approx(6.0)
    assert headline(t) == "etl · run r1: success in 6s"  # not "in 1s"
    assert t.pauses == (Segment("paused", 1.0, 5.0),) and t.paused_s == pytest.approx(4.0)
    assert "· paused once for 4s ·" in details(t)


def test_waiting_across_a_pause_is_not_queued_time() -> None:
    t = build_timeline(RESUMED, graph=EDGES)
    assert lane(t, "b").attempts[0].wait is None  # ready when the run paused, started when it was resumed
    assert lane(t, "d").attempts[0].wait == Segment("queued", 5.0, 5.5)  # queued after the resume only
    cells = columns(lane(t, "d"), t.span_s, 12, t.pauses)
    assert cells == ["", "", *["paused"] * 8, "queued", "success"]
    assert "queued" not in columns(lane(t, "b"), t.span_s, 12)[2:10]  # not even without the pauses drawn


def test_a_resumed_run_still_going_reaches_now() -> None:
    t = build_timeline(PAUSED, graph=EDGES, now=at(7))
    assert t.status == "running" and t.span_s == pytest.approx(7.0) and t.duration_s is None
    assert headline(t) == "etl · run r1: running for 7s"
    assert lane(t, "b").attempts[0].run == Segment("running", 5.0, 7.0)
    assert t.pauses == (Segment("paused", 1.0, 5.0),)


def test_a_run_paused_now_ends_where_it_paused_and_an_abandoned_one_resumed_has_no_pause() -> None:
    t = build_timeline(PAUSED[:6], graph=EDGES, now=at(3))
    assert t.status == "paused" and t.span_s == pytest.approx(1.0) and t.duration_s == pytest.approx(1.0)
    assert t.pauses == ()
    died = [*PAUSED[:5], ev("dag_done", 1, status="abandoned", duration_s=1.0), *RESUMED[6:]]
    t = build_timeline(died, graph=EDGES)
    assert t.pauses == () and t.duration_s == pytest.approx(6.0)
