"""What the run page draws, as JSON: the DAG laid out in layers, and the timeline of attempts. Pure.

The timeline is :func:`dagctl.report.timeline.build_timeline` (the one the terminal chart and the SVG report
draw); this module only lays the DAG out for a picture and puts both in the shape the page's script reads
(documented in docs/serve.md, ``GET /api/runs/{id}/view``)::

    {"run": {...dagctl show --json, unstarted_tasks included...},
     "order": [every task id of the run's DAG, in its order: drawn or not],
     "graph": {"nodes": [{"id", "x", "y", "layer", "status", "attempts", "critical"}],
               "edges": [{"from", "to"}], "width", "height", "omitted": 0},
     "timeline": {"span_s", "status", "critical_path", "edges_known", "ticks": [{"seconds", "x", "label"}],
                  "lanes": [{"task_id", "status", "critical", "note", "waiting",
                             "attempts": [{"number", "outcome", "run": {"start_s", "end_s"},
                                           "wait": {"kind", "start_s", "end_s"} | null, "exit_code", "error"}]}]}}

Nodes and lanes are capped (:data:`MAX_NODES`): a DAG of thousands of tasks is listed (``order``), not drawn. A
task without an event has the status ``show`` gives it (:mod:`dagctl.report.notstarted`: ``pending`` in a live
run, ``not started`` in one that stopped), and is listed in ``run.unstarted_tasks`` with its note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dagctl.report.graph import TaskGraph
from dagctl.report.notstarted import unstarted_tasks
from dagctl.report.runjson import show_dict, summary_dict
from dagctl.report.timeline import Segment, Timeline, build_timeline, ticks
from dagctl.store.runsummary import LIVE_STATUSES, RunSummary

MAX_NODES = 400
COL_W = 190
ROW_H = 46
NODE_W = 160
NODE_H = 30
CHART_W = 1000
"""The timeline's ticks are placed for this width; the page scales the drawing to its own."""


def layers(graph: TaskGraph) -> dict[str, int]:
    """Each task's layer: 0 for tasks that wait on nothing, else one more than its deepest upstream task."""
    depth: dict[str, int] = {}
    for tid in graph.order:
        depth[tid] = max((depth.get(d, 0) + 1 for d in graph.depends_on.get(tid, ())), default=0)
    return depth


def layout(graph: TaskGraph, *, limit: int = MAX_NODES) -> dict[str, Any]:
    """Positions for a left-to-right drawing: a column per layer; in a column, tasks sorted by the mean row of
    their upstream tasks (fewer crossing edges), ties in plan order."""
    order = graph.order[:limit]
    shown = set(order)
    depth = layers(graph)
    columns: dict[int, list[str]] = {}
    row: dict[str, float] = {}
    position = {tid: n for n, tid in enumerate(graph.order)}
    for tid in order:
        columns.setdefault(depth[tid], []).append(tid)
    for layer in sorted(columns):
        members = columns[layer]

        def key(tid: str) -> tuple[float, int]:
            ups = [row[d] for d in graph.depends_on.get(tid, ()) if d in row]
            return (sum(ups) / len(ups) if ups else -1.0, position[tid])

        members.sort(key=key)
        for n, tid in enumerate(members):
            row[tid] = float(n)
    tallest = max((len(m) for m in columns.values()), default=0)
    nodes = []
    for layer in sorted(columns):
        members = columns[layer]
        offset = (tallest - len(members)) * ROW_H / 2  # centre short columns
        for n, tid in enumerate(members):
            nodes.append({"id": tid, "layer": layer, "x": 10 + layer * COL_W, "y": 10 + offset + n * ROW_H})
    edges = [{"from": d, "to": tid} for tid in order for d in graph.depends_on.get(tid, ()) if d in shown]
    return {
        "nodes": nodes,
        "edges": edges,
        "width": 20 + max(len(columns) - 1, 0) * COL_W + NODE_W,
        "height": 20 + max(tallest - 1, 0) * ROW_H + NODE_H,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "omitted": len(graph.order) - len(order),
    }


def graph_of_tasks(task_ids: Iterable[str]) -> TaskGraph:
    """A graph without edges, for a run whose DAG snapshot is gone."""
    order = tuple(dict.fromkeys(task_ids))
    return TaskGraph(
        order=order,
        depends_on=dict.fromkeys(order, ()),
        downstream=dict.fromkeys(order, ()),
        max_attempts=dict.fromkeys(order, 1),
    )


def _segment(segment: Segment | None) -> dict[str, Any] | None:
    if segment is None:
        return None
    return {"kind": segment.kind, "start_s": round(segment.start_s, 3), "end_s": round(segment.end_s, 3)}


def timeline_dict(timeline: Timeline, *, limit: int = MAX_NODES) -> dict[str, Any]:
    lanes = []
    for lane in timeline.lanes[:limit]:
        lanes.append(
            {
                "task_id": lane.task_id,
                "status": lane.status,
                "critical": lane.critical,
                "note": lane.note,
                "waiting": _segment(lane.waiting),
                "attempts": [
                    {
                        "number": a.number,
                        "outcome": a.outcome,
                        "run": _segment(a.run),
                        "wait": _segment(a.wait),
                        "exit_code": a.exit_code,
                        "error": a.error,
                    }
                    for a in lane.attempts
                ],
            }
        )
    return {
        "span_s": round(timeline.span_s, 3),
        "status": timeline.status,
        "started": timeline.started.isoformat() if timeline.started else None,
        "critical_path": list(timeline.critical_path),
        "edges_known": timeline.edges_known,
        "ticks": [
            {"seconds": t.seconds, "x": round(t.position, 1), "label": t.label}
            for t in ticks(timeline.span_s, CHART_W, min_gap=70)
        ],
        "width": CHART_W,
        "lanes": lanes,
        "omitted": max(len(timeline.lanes) - limit, 0),
    }


def run_view(
    summary: RunSummary,
    events: Iterable[Mapping[str, Any]],
    graph: TaskGraph | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Everything the run page shows for one instant: the summary, the DAG drawing, the timeline."""
    timeline = build_timeline(events, graph=graph, now=now if summary.status in LIVE_STATUSES else None)
    drawn = graph if graph is not None else graph_of_tasks(t for t, task in summary.tasks.items() if not task.parent)
    never = unstarted_tasks(summary, lambda: drawn.order)
    not_yet = {u.task_id: u.status for u in never}
    picture = layout(drawn)
    critical = set(timeline.critical_path)
    for node in picture["nodes"]:
        task = summary.tasks.get(node["id"])
        node["status"] = task.status if task is not None else not_yet.get(node["id"], "pending")
        node["attempts"] = task.attempts if task is not None else 0
        node["critical"] = node["id"] in critical
    return {
        "run": show_dict(summary_dict(summary), never),
        "order": list(drawn.order),
        "graph": picture,
        "timeline": timeline_dict(timeline),
    }
