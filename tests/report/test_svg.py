"""The timeline as SVG and HTML: valid XML, one bar per attempt, the critical path marked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dagctl.report.svg import timeline_html, timeline_svg
from dagctl.report.timeline import build_timeline

from .events import DIAMOND, ev, graph
from .test_timeline import diamond_events

SVG = "{http://www.w3.org/2000/svg}"


def classes(element: ET.Element) -> list[str]:
    return element.get("class", "").split()


def test_the_svg_is_xml_with_one_bar_per_attempt():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    root = ET.fromstring(timeline_svg(t, width=900))
    assert root.tag == f"{SVG}svg" and root.get("width") == "900"
    bars = [r for r in root.iter(f"{SVG}rect") if "bar" in classes(r)]
    assert len(bars) == t.attempts == 5
    lanes = [g for g in root.iter(f"{SVG}g") if "lane" in classes(g)]
    assert [g.get("data-task") for g in lanes] == ["extract", "by_region", "by_product", "report"]
    per_lane = {
        g.get("data-task"): [
            (r.get("data-attempt"), classes(r)[-1]) for r in g.iter(f"{SVG}rect") if "bar" in classes(r)
        ]
        for g in lanes
    }
    assert per_lane["by_product"] == [("1", "retried"), ("2", "success")]
    waits = {g.get("data-task"): [classes(r)[-1] for r in g if "wait" in classes(r)] for g in lanes}
    assert waits == {"extract": ["queued"], "by_region": [], "by_product": ["queued", "retry_wait"], "report": []}
    assert [g.get("data-task") for g in lanes if "critical" in classes(g)] == ["extract", "by_product", "report"]
    tips = [r.find(f"{SVG}title").text for r in bars]
    assert "by_product attempt 1: retried, ran 500ms from 2.5s — exit code 1" in tips


def test_bars_are_placed_on_the_time_scale():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    root = ET.fromstring(timeline_svg(t, width=1000))
    bars = [r for r in root.iter(f"{SVG}rect") if "bar" in classes(r)]
    xs = [(float(r.get("x")), float(r.get("width"))) for r in bars]
    left = xs[0][0] - 0.5 * xs[0][1] / 1.5  # extract ran 1.5 s from 0.5 s
    per_second = xs[0][1] / 1.5
    for (x, w), (start, took) in zip(xs, [(0.5, 1.5), (2.0, 3.0), (2.5, 0.5), (4.0, 2.0), (6.0, 1.0)], strict=True):
        assert abs(x - (left + start * per_second)) < 0.2 and abs(w - took * per_second) < 0.2


def test_odd_task_ids_are_escaped():
    t = build_timeline([ev("dag_start", 0), ev("task_start", 0, 'a<&>"b'), ev("task_ok", 1, 'a<&>"b')])
    root = ET.fromstring(timeline_svg(t))
    assert [g.get("data-task") for g in root.iter(f"{SVG}g") if "lane" in classes(g)] == ['a<&>"b']


def test_the_html_page_holds_the_svg_and_a_row_per_attempt():
    t = build_timeline(diamond_events(), graph=graph(DIAMOND))
    page = timeline_html(t)
    assert page.startswith("<!DOCTYPE html>")
    root = ET.fromstring(page)
    xhtml = "{http://www.w3.org/1999/xhtml}"
    assert root.find(f"{xhtml}body/{SVG}svg") is not None
    rows = root.findall(f"{xhtml}body/{xhtml}table/{xhtml}tr")
    assert len(rows) == 1 + t.attempts


def test_a_matrix_task_is_a_bracket_over_its_cells_not_a_bar():

    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "train", cells=2),
        ev("task_start", 0, "train", attempt=1, cell="train:0"),
        ev("task_start", 0, "train", attempt=1, cell="train:1"),
        ev("task_ok", 2, "train", attempt=1, cell="train:0", duration_s=2.0),
        ev("task_fail", 3, "train", attempt=1, cell="train:1", duration_s=3.0, error="exit code 1"),
        ev("task_fail", 3, "train", duration_s=3.0, error="1 of 2 cells failed"),
        ev("dag_done", 3, status="failed", duration_s=3.0),
    ]
    root = ET.fromstring(timeline_svg(build_timeline(events)))
    rects = [r for g in root.iter(f"{SVG}g") if "lane" in classes(g) for r in g.iter(f"{SVG}rect")]
    assert [classes(r)[-1] for r in rects if "bar" in classes(r)] == ["success", "failed"]
    assert len([r for r in rects if classes(r) == ["group"]]) == 1


def test_control_characters_and_escape_sequences_in_an_error_leave_well_formed_xml():
    error = "ValueError: bad <tag> & \"quote\" 'apos' \x01\x02\x1b[31mred\x1b[0m ]]> 数据 \ud800\ufffe\x7f end"
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "boom", attempt=1),
        ev("task_fail", 1, "boom", attempt=1, duration_s=1.0, error=error),
        ev("task_skip", 1, "after", reason="upstream failed:\x1b]0;WINDOWNAME\x07 \x0bboom"),
        ev("dag_done", 1, status="failed", duration_s=1.0),
    ]
    t = build_timeline(events)
    for document in (timeline_svg(t), timeline_html(t)):
        root = ET.fromstring(document.encode("utf-8"))  # a lone surrogate would not even encode
        text = "".join(root.itertext())
        assert "bad <tag> & \"quote\" 'apos' \ufffd\ufffdred ]]> 数据 \ufffd\ufffd\x7f end" in text
        assert "\x1b" not in document and "[31m" not in document and "WINDOWNAME" not in document


def test_text_fit_for_xml_keeps_what_xml_allows():
    from dagctl.report.fmt import xml_text

    assert xml_text("tab\tnew\nline\r ok é 数据 😀") == "tab\tnew\nline\r ok é 数据 😀"
    assert xml_text("\x00\x08\x1b[2J\x1b(B\x9b1m\uffff") == "\ufffd\ufffd\ufffd"
