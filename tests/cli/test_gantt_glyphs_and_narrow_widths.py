"""The terminal timeline: every outcome has a glyph of its own, and a narrow terminal keeps what matters most (the
outcome and the time in the headline, the whole legend)."""

from __future__ import annotations

from dagctl.cli.render import GANTT_CELLS, TermStyle, gantt_lines, text_width
from dagctl.report.timeline import build_timeline
from tests.report.events import ev

UNICODE = TermStyle(color=False, unicode=True)
ASCII = TermStyle(color=False, unicode=False)
RUN = "20261206-120000.000-abc123"


def events() -> list[dict]:
    return [
        ev("dag_start", 0, run=RUN, dag="nightly_report"),
        ev("task_start", 0, "extract", run=RUN, attempt=1),
        ev("task_start", 0, "fetch", run=RUN, attempt=1),
        ev("task_retry", 1, "fetch", run=RUN, attempt=1, delay_s=0.5, error="exit code 1"),
        ev("task_start", 1.5, "fetch", run=RUN, attempt=2),
        ev("task_ok", 2, "fetch", run=RUN, attempt=2, duration_s=0.5),
        ev("task_fail", 2, "extract", run=RUN, attempt=1, duration_s=2.0, error="exit code 2"),
        ev("task_start", 0, "slow", run=RUN, attempt=1),
        ev("task_fail", 3, "slow", run=RUN, attempt=1, duration_s=3.0, status="timeout", error="timed out after 3s"),
        ev("dag_done", 3.4, run=RUN, status="failed", duration_s=3.4),
    ]


def test_failed_and_timed_out_attempts_read_apart_without_colours():
    glyphs = [unicode for unicode, _ in GANTT_CELLS.values()]
    assert len(set(glyphs)) == len(glyphs) and len({a for _, a in GANTT_CELLS.values()}) == len(glyphs)
    lines = gantt_lines(build_timeline(events()), 100, UNICODE)
    failed, timeout = GANTT_CELLS["failed"][0], GANTT_CELLS["timeout"][0]
    assert failed in next(line for line in lines if "extract" in line)
    assert timeout in next(line for line in lines if " slow " in line)
    legend = "\n".join(lines[-2:])
    assert f"{failed} failed" in legend and f"{timeout} timed out" in legend


def test_a_narrow_chart_keeps_the_outcome_and_time_and_shortens_the_run_id():
    timeline = build_timeline(events())
    assert gantt_lines(timeline, 100, UNICODE)[0] == f"nightly_report · run {RUN}: failed in 3.4s"
    assert gantt_lines(timeline, 60, UNICODE)[0] == "nightly_report · run abc123: failed in 3.4s"
    assert gantt_lines(timeline, 41, UNICODE)[0] == "nightly_report: failed in 3.4s"
    long = build_timeline([{**e, "dag_name": "a_dag_with_a_rather_long_name_that_goes_on"} for e in events()])
    assert gantt_lines(long, 41, UNICODE)[0] == "a_dag_with_a_rather_lon…: failed in 3.4s"
    assert gantt_lines(long, 41, ASCII)[0] == "a_dag_with_a_rather_lon~: failed in 3.4s"


def test_the_legend_wraps_instead_of_being_cut():
    for style in (UNICODE, ASCII):
        lines = gantt_lines(build_timeline(events()), 41, style)
        legend = lines[lines.index(next(line for line in lines if " ok" in line and "│" not in line)) :]
        assert len(legend) > 1 and all(text_width(line) <= 40 for line in legend)
        text = "  ".join(legend)
        for words in ("ok", "failed, retried", "failed", "timed out", "retry wait", "critical path"):
            assert f" {words}" in text, (words, legend)
        assert not any(line.endswith(style.ellipsis) for line in legend)
