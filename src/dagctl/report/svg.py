"""A run's timeline as a standalone SVG picture, or an HTML page around it (CI artifacts, a browser). Pure.

The same :class:`~dagctl.report.timeline.Timeline` the terminal chart draws: a lane per task, one
``<rect class="bar ...">`` per attempt coloured by how it ended, the time it waited before (``queued``, a
``retry_wait`` drawn dashed, or an approval gate's ``approval``, the wait for its decision) in front of it, the
critical path's lanes marked, an axis of round times, and a legend. Every bar has a ``<title>`` (its tooltip:
task, attempt, outcome, times, error). Durations read as ``dagctl show`` has them (:func:`format_duration`). No
scripts, no external fonts or styles: the file shows the same anywhere.
"""

from __future__ import annotations

from dagctl.dag.durations import format_duration

from .fmt import xml_text
from .timeline import WAIT_WORDS, Attempt, Lane, Segment, Timeline, details, headline, ticks

FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"
CHAR_W = 7.3  # px per character of the 12 px monospace font, for the label column
LANE_H = 22
BAR_H = 12
TOP = 74
LEGEND = (
    ("success", "succeeded"),
    ("failed", "failed"),
    ("timeout", "timed out"),
    ("retried", "failed, retried"),
    ("cancelled", "cancelled"),
    ("running", "running"),
    ("queued", "queued"),
    ("retry_wait", "retry wait"),
    ("approval", "wait for approval"),
    ("group", "matrix cells"),
    ("paused", "run paused"),
)
STYLE = """
svg { background: #ffffff; }
text { fill: #24292f; }
.title { font-size: 15px; font-weight: bold; }
.sub, .axis text, .duration, .legend text { fill: #57606a; }
.grid { stroke: #d8dee4; stroke-width: 1; }
.lane:nth-child(even) .band { fill: #f6f8fa; fill-opacity: 0.6; }
.band { fill: none; }
.critical .label { font-weight: bold; fill: #cf222e; }
.critical .bar { stroke: #cf222e; stroke-width: 1.5; }
.marker { fill: #cf222e; }
.success { fill: #2da44e; }
.failed { fill: #cf222e; }
.timeout { fill: #a40e26; }
.retried { fill: #d4a72c; }
.cancelled { fill: #8250df; }
.running { fill: #0969da; }
.queued { fill: #d0d7de; }
.retry_wait { fill: #fff8c5; stroke: #d4a72c; stroke-dasharray: 3 2; }
.approval { fill: #ddf4ff; stroke: #54aeff; }
.group { fill: #57606a; }
.paused { fill: #eaeef2; stroke: #8c959f; stroke-dasharray: 4 3; }
""".strip()


def timeline_svg(timeline: Timeline, *, width: int = 1000, title: str | None = None) -> str:
    """The timeline as a standalone SVG document, ``width`` pixels wide."""
    lanes = timeline.lanes
    longest = max((len(lane.task_id) for lane in lanes), default=4)
    label_w = min(max(longest, 6), 40) * CHAR_W + 28
    chart_x = label_w
    chart_w = max(width - label_w - 64, 100)
    span = timeline.span_s if timeline.span_s > 0 else 1.0
    scale = chart_w / span
    bottom = TOP + LANE_H * len(lanes)
    legend, legend_h = _legend(12, bottom + 28, width, _kinds(timeline))
    height = bottom + 28 + legend_h
    head = title or headline(timeline)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_esc(FONT)}" font-size="12">',
        f"<title>{_esc(head)}</title>",
        f"<style>{STYLE}</style>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="12" y="22">{_esc(head)}</text>',
        f'<text class="sub" x="12" y="40">{_esc(details(timeline))}</text>',
        '<g class="axis">',
    ]
    for tick in ticks(span, chart_w, min_gap=70):
        x = chart_x + tick.position
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{bottom}"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 12}" text-anchor="middle">{_esc(tick.label)}</text>')
    out.append("</g>")
    for pause in timeline.pauses:  # a band over every lane, behind them: nothing ran while the run was paused
        x, w = chart_x + pause.start_s * scale, max(pause.duration_s * scale, 1.5)
        tip = f"run paused at {format_duration(pause.start_s)} for {format_duration(pause.duration_s)}"
        out.append(
            f'<rect class="pause paused" x="{x:.1f}" y="{TOP - 8}" width="{w:.1f}" height="{bottom - TOP + 8}">'
            f"<title>{_esc(tip)}</title></rect>"
        )
    out.append('<g class="lanes">')
    for n, lane in enumerate(lanes):
        out.extend(_lane(lane, TOP + n * LANE_H, chart_x, chart_w, scale, width))
    out.append("</g>")
    out.extend(legend)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def timeline_html(timeline: Timeline, *, width: int = 1000) -> str:
    """A standalone HTML page: the SVG, then a table of every attempt (well-formed XHTML as well)."""
    head = headline(timeline)
    rows = []
    for lane in timeline.lanes:
        for a in lane.attempts:
            gate = a.wait is not None and a.wait.kind == "approval"
            waited = _waited(a.wait, a.took_s if gate else None)
            ran = "" if gate else format_duration(a.took_s)  # a gate runs nothing
            rows.append(
                "<tr>"
                f"<td>{_esc(lane.task_id)}{' ◆' if lane.critical else ''}</td><td>{a.number}</td>"
                f'<td class="{a.outcome}-text">{a.outcome}</td><td>{_esc(waited)}</td>'
                f"<td>{_esc(format_duration(a.run.start_s))}</td><td>{_esc(ran)}</td>"
                f"<td>{_esc(a.error or '')}</td>"
                "</tr>"
            )
        if not lane.attempts:
            rows.append(
                f"<tr><td>{_esc(lane.task_id)}</td><td></td><td>{_esc(lane.status)}</td>"
                f"<td>{_esc(_waited(lane.waiting))}</td><td></td><td></td><td>{_esc(lane.note)}</td></tr>"
            )
    for pause in timeline.pauses:
        rows.append(
            f"<tr><td>(the run)</td><td></td><td>paused</td><td>{_esc(format_duration(pause.duration_s))}</td>"
            f"<td>{_esc(format_duration(pause.start_s))}</td><td></td><td>dagctl pause, then dagctl resume</td></tr>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        f"<title>{_esc(head)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#24292f}"
        "table{border-collapse:collapse;font-size:13px;margin-top:16px}"
        "td,th{border-bottom:1px solid #d8dee4;padding:4px 10px;text-align:left}"
        ".failed-text,.timeout-text{color:#cf222e}.success-text{color:#1a7f37}</style>\n"
        "</head>\n<body>\n"
        f"{timeline_svg(timeline, width=width)}"
        "<table>\n<tr><th>task</th><th>attempt</th><th>outcome</th><th>waited</th><th>started at</th>"
        "<th>ran</th><th>error</th></tr>\n" + "\n".join(rows) + "\n</table>\n</body>\n</html>\n"
    )


def _lane(lane: Lane, y: int, chart_x: float, chart_w: float, scale: float, width: int) -> list[str]:
    classes = "lane critical" if lane.critical else "lane"
    mid = y + LANE_H / 2
    out = [
        f'<g class="{classes}" data-task="{_esc(lane.task_id)}" data-status="{_esc(lane.status)}">',
        f'<rect class="band" x="0" y="{y}" width="{width}" height="{LANE_H}"/>',
    ]
    if lane.critical:
        out.append(
            f'<rect class="marker" x="12" y="{mid - 4:.1f}" width="8" height="8" transform="rotate(45 16 {mid:.1f})"/>'
        )
    label = lane.task_id if len(lane.task_id) <= 40 else lane.task_id[:39] + "…"
    indent = 26 + (2 * CHAR_W if lane.parent is not None else 0)
    out.append(f'<text class="label" x="{indent:.1f}" y="{mid + 4:.1f}">{_esc(label)}</text>')
    top = y + (LANE_H - BAR_H) / 2
    if lane.group is not None:  # a matrix task: a bracket over its cells' time
        tip = f"{lane.task_id}: {lane.status}, cells from {format_duration(lane.group.start_s)}"
        tip += f" to {format_duration(lane.group.end_s)}"
        x, w = chart_x + lane.group.start_s * scale, max(lane.group.duration_s * scale, 1.5)
        out.append(
            f'<rect class="group" x="{x:.1f}" y="{top + 4:.1f}" width="{w:.1f}" height="{BAR_H - 8}">'
            f"<title>{_esc(tip)}</title></rect>"
        )
    for a in lane.attempts:
        if a.wait is not None and a.wait.duration_s > 0:
            x, w = chart_x + a.wait.start_s * scale, a.wait.duration_s * scale
            out.append(
                f'<rect class="wait {a.wait.kind}" x="{x:.1f}" y="{top + 2:.1f}" width="{w:.1f}" '
                f'height="{BAR_H - 4}"><title>{_esc(_wait_tip(a))}</title></rect>'
            )
    if lane.waiting is not None and lane.waiting.duration_s > 0:
        x, w = chart_x + lane.waiting.start_s * scale, lane.waiting.duration_s * scale
        what = "waiting to retry"
        if lane.waiting.kind == "approval":
            what = f"{'waiting' if lane.status == 'waiting' else 'waited'} for approval"
            what += f" {format_duration(lane.waiting.duration_s)}" + (f" ({lane.note})" if lane.note else "")
        out.append(
            f'<rect class="wait {lane.waiting.kind}" x="{x:.1f}" y="{top + 2:.1f}" width="{w:.1f}" '
            f'height="{BAR_H - 4}"><title>{_esc(lane.task_id)}: {_esc(what)}</title></rect>'
        )
    for a in lane.attempts:
        x, w = chart_x + a.run.start_s * scale, max(a.run.duration_s * scale, 1.5)
        out.append(
            f'<rect class="bar attempt {a.outcome}" data-attempt="{a.number}" x="{x:.1f}" y="{top:.1f}" '
            f'width="{w:.1f}" height="{BAR_H}" rx="2"><title>{_esc(_tip(a))}</title></rect>'
        )
    took = lane.duration_s
    if took is not None and (lane.attempts or lane.group is not None or lane.waiting is not None):
        label = format_duration(took)
        if not lane.attempts and lane.group is None and lane.status != "waiting":  # a gate skipped or cancelled
            label += f" {lane.status}"
        x = chart_x + (lane.end_s or 0.0) * scale + 6
        out.append(f'<text class="duration" x="{x:.1f}" y="{mid + 4:.1f}">{_esc(label)}</text>')
    elif lane.status in ("skipped", "reused", "cancelled"):
        out.append(f'<text class="duration" x="{chart_x:.1f}" y="{mid + 4:.1f}">{_esc(lane.status)}</text>')
    out.append("</g>")
    return out


def _tip(a: Attempt) -> str:
    if a.wait is not None and a.wait.kind == "approval":
        decision = {"success": "approved", "failed": "rejected", "timeout": "no decision in time"}.get(a.outcome)
        text = f"{a.task_id}: {decision or a.outcome} at {format_duration(a.run.start_s)}, after waiting "
        text += f"{format_duration(a.took_s)} for approval"
        return text + (f" — {a.error}" if a.error else "")
    text = (
        f"{a.task_id} attempt {a.number}: {a.outcome}, ran {format_duration(a.took_s)} "
        f"from {format_duration(a.run.start_s)}"
    )
    if a.exit_code is not None:
        text += f", exit code {a.exit_code}"
    if a.error:
        text += f" — {a.error}"
    return text


def _wait_tip(a: Attempt) -> str:
    assert a.wait is not None
    return f"{a.task_id} attempt {a.number}: {WAIT_WORDS.get(a.wait.kind, a.wait.kind)} {_wait_took(a)}"


def _wait_took(a: Attempt) -> str:
    """How long ``a`` waited: an approval gate's as the runner recorded it, as ``dagctl show`` has it."""
    assert a.wait is not None
    gate = a.wait.kind == "approval" and a.duration_s is not None
    return format_duration(a.took_s if gate else a.wait.duration_s)


def _waited(wait: Segment | None, took: float | None = None) -> str:
    """The HTML table's ``waited`` cell: ``queued 500ms``, ``to retry 1s``, ``for approval 2.02s`` (``took``
    when the runner recorded how long, else from the segment)."""
    if wait is None:
        return ""
    words = {"retry_wait": "to retry", "approval": "for approval"}.get(wait.kind, wait.kind)
    return f"{words} {format_duration(wait.duration_s if took is None else took)}"


def _kinds(t: Timeline) -> set[str]:
    """What the picture shows: outcomes, waits, matrix groups, pauses, and the critical path's marker."""
    kinds = {"marker"} if t.critical_path else set()
    if t.pauses:
        kinds.add("paused")
    for lane in t.lanes:
        kinds.update(a.outcome for a in lane.attempts)
        kinds.update(a.wait.kind for a in lane.attempts if a.wait is not None and a.wait.duration_s > 0)
        if lane.waiting is not None:
            kinds.add(lane.waiting.kind)
        if lane.group is not None:
            kinds.add("group")
    return kinds


def _legend(x0: float, y: float, width: int, kinds: set[str]) -> tuple[list[str], int]:
    """The legend of ``kinds`` from ``(x0, y)``, wrapped to ``width``, and the height it takes below ``y``."""
    items = [(kind, words) for kind, words in (*LEGEND, ("marker", "critical path")) if kind in kinds]
    out = ['<g class="legend">']
    x = x0
    rows = 1
    for kind, words in items:
        item_w = 19 + len(words) * CHAR_W + 16
        if x > x0 and x + item_w > width:
            x, y, rows = x0, y + 20, rows + 1
        if kind == "marker":
            out.append(
                f'<rect class="marker" x="{x + 3:.1f}" y="{y - 9}" width="8" height="8" '
                f'transform="rotate(45 {x + 7:.1f} {y - 5})"/>'
            )
        else:
            out.append(f'<rect class="{kind}" x="{x:.1f}" y="{y - 10}" width="14" height="10" rx="2"/>')
        out.append(f'<text x="{x + 19:.1f}" y="{y}">{words}</text>')
        x += item_w
    out.append("</g>")
    return out, 20 * rows + 8


def _esc(text: str) -> str:
    """``text`` for an SVG or HTML document: well-formed XML whatever a task wrote (:func:`xml_text`), escaped."""
    return xml_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
