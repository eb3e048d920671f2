"""A paused run's pauses are drawn as pauses, with a legend entry, in the terminal chart, the SVG and the HTML page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dagctl.cli.render import TermStyle, gantt_lines
from dagctl.report.svg import timeline_html, timeline_svg
from dagctl.report.timeline import build_timeline

from .test_paused_runs_on_the_timeline import EDGES, RESUMED

SVG = "{http://www.w3.org/2000/svg}"


def test_the_terminal_chart_draws_the_pause_with_a_legend_entry() -> None:
    lines = gantt_lines(build_timeline(RESUMED, graph=EDGES), 60, TermStyle(color=False, unicode=True))
    d = next(line for line in lines if line.startswith("  d "))
    assert "╱╱╱╱" in d and "░" not in d.split("╱")[0]
    assert "╱ run paused" in lines[-1]
    ascii_lines = gantt_lines(build_timeline(RESUMED, graph=EDGES), 60, TermStyle(color=False, unicode=False))
    assert "////" in ascii_lines[4] and "/ run paused" in ascii_lines[-1]


def test_the_svg_and_html_draw_the_pause_as_a_band_with_a_legend_entry() -> None:
    t = build_timeline(RESUMED, graph=EDGES)
    root = ET.fromstring(timeline_svg(t, width=800))
    bands = [r for r in root.iter(f"{SVG}rect") if "pause" in (r.get("class") or "").split()]
    assert len(bands) == 1 and bands[0].find(f"{SVG}title").text == "run paused at 1s for 4s"
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert "run paused" in [t.text for t in legend.iter(f"{SVG}text")]
    assert "<td>(the run)</td><td></td><td>paused</td><td>4s</td>" in timeline_html(t)
