"""The shape of a DAG as reports need it: who waits on whom, how long each chain is, which one is critical. Pure.

A :class:`TaskGraph` comes from a :class:`~dagctl.dag.plan.Plan` (a live run) or from the YAML data of a run's
DAG snapshot (a finished run, whose plan is not stored). Weights are expected durations in seconds (medians of
earlier runs), with a default for tasks history does not know, so without history every task weighs the same
and the longest chain is the one with the most tasks.
"""

from __future__ import annotations

import heapq
from itertools import repeat

from dagctl.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from dagctl.dag.plan import Plan


class TaskGraph(Record):
    """Tasks in a topological order (the plan's), with their edges both ways and how many attempts each may get."""

    order: tuple[str, ...]
    depends_on: dict[str, tuple[str, ...]]
    downstream: dict[str, tuple[str, ...]]
    max_attempts: dict[str, int]

    def __len__(self) -> int:
        return len(self.order)


def graph_of_plan(plan: Plan) -> TaskGraph:
    tasks = plan.tasks
    return TaskGraph(
        order=tuple(tasks),
        depends_on={tid: t.depends_on for tid, t in tasks.items()},
        downstream={tid: t.downstream for tid, t in tasks.items()},
        max_attempts={tid: t.retries + 1 for tid, t in tasks.items()},
    )


def graph_of_document(data: object) -> TaskGraph | None:
    """The graph of a DAG file's YAML data (e.g. a run's ``dag.yaml`` snapshot), without validating the rest.

    Unknown dependencies are dropped; None when there is no task list or the graph has a cycle."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        return None
    deps: dict[str, tuple[str, ...]] = {}
    attempts: dict[str, int] = {}
    defaults = data.get("defaults")
    default_retries = defaults.get("retries", 0) if isinstance(defaults, dict) else 0
    for item in data["tasks"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item["id"] in deps:
            continue
        raw = item.get("depends_on") or ()
        raw = [raw] if isinstance(raw, str) else raw
        deps[item["id"]] = tuple(dict.fromkeys(d for d in raw if isinstance(d, str))) if isinstance(raw, list) else ()
        retries = item.get("retries", default_retries)
        attempts[item["id"]] = retries + 1 if isinstance(retries, int) and retries >= 0 else 1
    deps = {tid: tuple(d for d in ds if d in deps and d != tid) for tid, ds in deps.items()}
    order = topological(deps)
    if order is None:
        return None
    downstream: dict[str, list[str]] = {tid: [] for tid in deps}
    for tid in order:
        for d in deps[tid]:
            downstream[d].append(tid)
    return TaskGraph(
        order=order,
        depends_on={tid: deps[tid] for tid in order},
        downstream={tid: tuple(downstream[tid]) for tid in order},
        max_attempts=attempts,
    )


def topological(deps: Mapping[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """Kahn's order, ties in the mapping's order; None on a cycle. Every dependency must be a key."""
    position = {tid: n for n, tid in enumerate(deps)}
    indegree = {tid: len(ds) for tid, ds in deps.items()}
    children: dict[str, list[str]] = {tid: [] for tid in deps}
    for tid, ds in deps.items():
        for d in ds:
            children[d].append(tid)
    ready = [position[tid] for tid, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    names = list(deps)
    order: list[str] = []
    while ready:
        tid = names[heapq.heappop(ready)]
        order.append(tid)
        for child in children[tid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, position[child])
    return tuple(order) if len(order) == len(deps) else None


def default_weight(expected: Mapping[str, float]) -> float:
    """The weight of a task history does not know: the median of the known ones, else 1."""
    known = sorted(expected.values())
    if not known:
        return 1.0
    mid = len(known) // 2
    return known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2


def tails(graph: TaskGraph, expected: Mapping[str, float]) -> dict[str, float]:
    """For each task, the expected length of the longest chain from its start to the end of the DAG."""
    fallback = default_weight(expected)
    if not any(graph.downstream.values()):  # no edges (a fan): each task's own weight, in C loops
        order = graph.order
        return dict(zip(order, map(expected.get, order, repeat(fallback, len(order))), strict=True))
    out: dict[str, float] = {}
    downstream = graph.downstream
    for tid in reversed(graph.order):
        after = 0.0
        for child in downstream.get(tid, ()):
            length = out.get(child, 0.0)
            if length > after:
                after = length
        out[tid] = expected.get(tid, fallback) + after
    return out


def display_order(graph: TaskGraph, tail: Mapping[str, float]) -> tuple[str, ...]:
    """Topological, critical path first: of the tasks whose upstream is listed, the one with the longest chain
    after it comes next (ties: the plan's order). Computed once per run, so rows never move."""
    if not any(graph.depends_on.values()):  # no edges (a fan): one stable sort, longest first, ties in plan order
        weight = dict.fromkeys(graph.order, 0.0)
        weight.update(tail)
        return tuple(sorted(graph.order, key=weight.__getitem__, reverse=True))
    position = {tid: n for n, tid in enumerate(graph.order)}
    indegree = {tid: len(graph.depends_on.get(tid, ())) for tid in graph.order}
    ready = [(-tail.get(tid, 0.0), position[tid], tid) for tid, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, _, tid = heapq.heappop(ready)
        order.append(tid)
        for child in graph.downstream.get(tid, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (-tail.get(child, 0.0), position[child], child))
    return tuple(order)


def critical_path(graph: TaskGraph, tail: Mapping[str, float]) -> tuple[str, ...]:
    """The chain with the longest expected length, root to sink."""
    if not graph.order:
        return ()
    roots = [tid for tid in graph.order if not graph.depends_on.get(tid)]
    node = max(roots, key=lambda t: tail.get(t, 0.0))
    path = [node]
    while True:
        children = graph.downstream.get(node, ())
        if not children:
            return tuple(path)
        node = max(children, key=lambda t: tail.get(t, 0.0))
        path.append(node)
