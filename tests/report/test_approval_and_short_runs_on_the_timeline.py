"""An approval gate on the timeline is a wait for approval, not a queue: drawn, labelled and timed as such in the
terminal chart, the SVG and the HTML page; and every duration reads as `dagctl show` has it (16ms, not 0.0s)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dagctl.cli.render import TermStyle, gantt_lines
from dagctl.report.svg import timeline_html, timeline_svg
from dagctl.report.timeline import Attempt, Segment, build_timeline, columns

from .events import at, ev, graph

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
GATED = graph({"build": [], "gate": ["build"], "deploy": ["gate"]})
PLAIN = TermStyle(color=False, unicode=True)


def gate_events(*decision: dict) -> list[dict]:
    return [
        ev("dag_start", 0),
        ev("task_start", 0, "build", attempt=1),
        ev("task_ok", 1, "build", attempt=1, duration_s=1.0),
        ev("approval_requested", 1, "gate", attempt=1, message="Deploy?", approvers=["ana"]),
        *decision,
    ]


APPROVED = gate_events(
    ev("approval_granted", 4, "gate", attempt=1, by=["ana"]),
    ev("task_ok", 4, "gate", attempt=1, duration_s=3.0, outputs=["approved_by"]),
    ev("task_start", 4, "deploy", attempt=1),
    ev("task_ok", 5, "deploy", attempt=1, duration_s=1.0),
    ev("dag_done", 5, status="success", duration_s=5.0),
)


def test_an_approved_gate_waited_for_approval_then_was_decided() -> None:
    t = build_timeline(APPROVED, graph=GATED)
    gate = next(lane for lane in t.lanes if lane.task_id == "gate")
    assert gate.attempts == (
        Attempt("gate", 1, "success", Segment("running", 4.0, 4.0), Segment("approval", 1.0, 4.0), duration_s=3.0),
    )
    assert gate.duration_s == 3.0 and gate.critical
    assert columns(gate, t.span_s, 10) == ["", "", *["approval"] * 6, "success", ""]  # then the decision


def test_the_terminal_chart_draws_and_labels_the_wait_for_approval_with_its_duration() -> None:
    lines = gantt_lines(build_timeline(APPROVED, graph=GATED), 60, PLAIN)
    gate = next(line for line in lines if line.startswith("◆ gate"))
    assert "‖‖‖█ " in gate and "░" not in gate  # not "queued" (waiting for a worker slot)
    assert gate.endswith("│ 3s")  # the time it waited, as `dagctl show` has it, not 0.0s
    assert lines[-1] == "█ ok  ‖ wait for approval  ◆ critical path"
    ascii_lines = gantt_lines(build_timeline(APPROVED, graph=GATED), 60, TermStyle(color=False, unicode=False))
    assert "wwww" in ascii_lines[4] and "w wait for approval" in ascii_lines[-1]


def test_the_svg_and_the_html_page_show_the_wait_for_approval() -> None:
    t = build_timeline(APPROVED, graph=GATED)
    root = ET.fromstring(timeline_svg(t))
    lane = next(g for g in root.iter(f"{SVG}g") if g.get("data-task") == "gate")
    waits = [r for r in lane.iter(f"{SVG}rect") if "wait" in r.get("class", "").split()]
    assert [r.get("class") for r in waits] == ["wait approval"]
    assert waits[0].find(f"{SVG}title").text == "gate attempt 1: waited for approval 3s"
    bar = next(r for r in lane.iter(f"{SVG}rect") if "bar" in r.get("class", "").split())
    assert bar.find(f"{SVG}title").text == "gate: approved at 4s, after waiting 3s for approval"
    assert [t.text for t in lane.iter(f"{SVG}text")][-1] == "3s"
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert "wait for approval" in [t.text for t in legend.iter(f"{SVG}text")]
    assert any(r.get("class") == "approval" for r in legend.iter(f"{SVG}rect"))
    page = ET.fromstring(timeline_html(t))
    rows = [[td.text for td in tr.findall(f"{XHTML}td")] for tr in page.iter(f"{XHTML}tr")]
    assert ["gate ◆", "1", "success", "for approval 3s", "4s", None, None] in rows


def test_a_gate_still_open_rejected_or_skipped_shows_how_long_it_waited() -> None:
    open_gate = build_timeline(gate_events(), graph=GATED, now=at(6))
    gate = open_gate.lanes[1]
    assert (gate.task_id, gate.status, gate.attempts) == ("gate", "waiting", ())
    assert gate.waiting == Segment("approval", 1.0, 6.0) and gate.duration_s == 5.0
    assert gantt_lines(open_gate, 60, PLAIN)[4].endswith("‖‖│ 5s")

    rejected = build_timeline(
        gate_events(
            ev("approval_rejected", 2.5, "gate", attempt=1, by=["ana"], reason="not today"),
            ev("task_fail", 2.5, "gate", attempt=1, duration_s=1.5, error="rejected by ana: not today"),
            ev("task_skip", 2.5, "deploy", reason="upstream 'gate' failed"),
            ev("dag_done", 2.5, status="failed", duration_s=2.5),
        ),
        graph=GATED,
    )
    (attempt,) = rejected.lanes[1].attempts
    assert (attempt.outcome, attempt.wait, attempt.took_s) == ("failed", Segment("approval", 1.0, 2.5), 1.5)
    assert gantt_lines(rejected, 60, PLAIN)[4].endswith("‖▓│ 1.5s")
    tips = [title.text for title in ET.fromstring(timeline_svg(rejected)).iter(f"{SVG}title")]
    assert "gate: rejected at 2.5s, after waiting 1.5s for approval — rejected by ana: not today" in tips

    skipped = build_timeline(
        gate_events(
            ev("task_skip", 3, "gate", reason="approval: no decision within 2s (on_timeout: skip)"),
            ev("task_skip", 3, "deploy", reason="upstream 'gate' skipped"),
            ev("dag_done", 3, status="success", duration_s=3.0),
        ),
        graph=GATED,
    )
    gate = skipped.lanes[1]
    assert (gate.status, gate.waiting, gate.duration_s) == ("skipped", Segment("approval", 1.0, 3.0), 2.0)
    assert gantt_lines(skipped, 60, PLAIN)[4].endswith("‖│ 2s skipped")


def test_a_run_of_a_few_milliseconds_reads_as_dagctl_show_has_it() -> None:
    events = [
        ev("dag_start", 0),
        ev("task_start", 0.001, "a", attempt=1),
        ev("task_ok", 0.017, "a", attempt=1, duration_s=0.016),
        ev("task_start", 0.017, "b", attempt=1),
        ev("task_ok", 0.0172, "b", attempt=1, duration_s=0.0004),
        ev("dag_done", 0.018, status="success", duration_s=0.018),
    ]
    t = build_timeline(events, graph=graph({"a": [], "b": ["a"]}))
    lines = gantt_lines(t, 60, PLAIN)
    assert lines[0] == "etl · run r1: success in 18ms"
    assert lines[3].endswith("│ 16ms") and lines[4].endswith("│ <1ms")
    root = ET.fromstring(timeline_svg(t))
    assert root.find(f"{SVG}title").text == "etl · run r1: success in 18ms"
    assert [x.text for x in root.iter(f"{SVG}text") if x.get("class") == "duration"] == ["16ms", "<1ms"]
    tips = [r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]
    assert tips[0] == "a attempt 1: success, ran 16ms from 1ms"
    ET.fromstring(timeline_html(t))  # "<1ms" is escaped
