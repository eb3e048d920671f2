"""A run's timeline: one bar per attempt, with the time it waited before, and the critical path. Pure.

:func:`build_timeline` folds a run's event records (``History.events_of``) into a :class:`Timeline`: a lane per
task, ordered by first start, holding its attempts. Each :class:`Attempt` has the segment it ran
(``task_start`` to its ``task_ok``/``task_fail``/``task_retry``/``task_cancel``) and the segment it waited
before it: ``queued`` for a first attempt (from when its upstream tasks had all finished, or the run began, to
its start) or ``retry_wait`` for a later one (from the ``task_retry`` of the attempt before to its start).
An approval gate runs nothing: its one attempt waited ``approval`` (from ``approval_requested`` to the decision)
and ends, at once, in the decision (``success`` approved; ``failed`` rejected; ``timeout``); a gate still open,
or one skipped or cancelled before a decision, is the lane's ``waiting``. Times are seconds from the start of
the run; durations shown are formatted as ``dagctl show`` formats them (:func:`format_duration`).

The critical path is the chain of tasks that decided when the run ended: from the task that ended last, back
through the upstream task that finished last before it was ready, to a task that waited on nothing. Without
the DAG's edges (a run whose snapshot is gone) the chain is guessed from times alone: the task that ended last
before each one started.

A paused and resumed run (``dag_done`` paused, then ``dag_resume``) lasts from its start to its end, pauses included,
as ``dagctl show`` has it: each pause is one of :attr:`Timeline.pauses`, and no queued time or retry wait spans
one (a task that waited across a pause waited from the resume on; an approval gate can be decided while paused).

:func:`ticks` and :func:`columns` scale a timeline to a width (pixels or terminal columns); the terminal chart,
the SVG and the web dashboard all draw from these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dagctl.dag.durations import format_duration
from dagctl.records import Record
from dagctl.store.events import parse_ts

from .fmt import nice_step, tick_label
from .graph import TaskGraph

ATTEMPT_OUTCOMES = ("success", "failed", "timeout", "retried", "cancelled", "running")
"""How an attempt ended: ``retried`` failed (or timed out) and was tried again; ``running`` has not ended."""


class Segment(Record):
    kind: str
    """``queued``, ``retry_wait``, ``approval`` (a gate waiting for its decision), ``running``, ``group`` (a
    matrix task's fan-out), or ``paused`` (the whole run: from its pause to its resume)."""
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return max(self.end_s - self.start_s, 0.0)


class Attempt(Record):
    task_id: str
    number: int
    outcome: str
    """One of :data:`ATTEMPT_OUTCOMES`."""
    run: Segment
    wait: Segment | None = None
    """``queued`` (first attempt) or ``retry_wait`` (later ones) before it, or ``approval`` (an approval gate's
    wait for its decision); None when it did not wait or the wait is unknown."""
    exit_code: int | None = None
    error: str | None = None
    iteration: int | None = None
    """A loop's iteration this attempt belongs to (attempts are counted afresh in each)."""
    duration_s: float | None = None
    """The duration its end event recorded (the runner's clock, as ``dagctl show`` reports it; a gate's is its
    wait for the decision); None when the event has none (a retried attempt, one still running)."""

    @property
    def took_s(self) -> float:
        """How long it took: the recorded duration, else its run (and an approval gate's wait) from the times."""
        if self.duration_s is not None:
            return self.duration_s
        gate = self.wait.duration_s if self.wait is not None and self.wait.kind == "approval" else 0.0
        return self.run.duration_s + gate


class Lane(Record):
    task_id: str
    status: str
    """The task's final status: success, failed, skipped, reused, cancelled, running, retrying."""
    attempts: tuple[Attempt, ...]
    critical: bool = False
    note: str = ""
    """Why it was skipped or cancelled."""
    waiting: Segment | None = None
    """A retry wait the run ended in (or is in): there was no next attempt to attach it to; or the ``approval``
    wait of a gate still open (to the end of the run, or now), or skipped or cancelled before its decision."""
    parent: str | None = None
    """A matrix cell's task (the lane's id is the cell's, e.g. ``train:3``)."""
    group: Segment | None = None
    """A matrix task: from its fan-out to its end (its cells' lanes hold the attempts)."""

    @property
    def start_s(self) -> float | None:
        if self.group is not None:
            return self.group.start_s
        if self.attempts:
            return self.attempts[0].run.start_s
        return self.waiting.start_s if self.waiting is not None else None

    @property
    def end_s(self) -> float | None:
        if self.group is not None:
            return self.group.end_s
        if self.waiting is not None:
            return self.waiting.end_s
        return self.attempts[-1].run.end_s if self.attempts else None

    @property
    def duration_s(self) -> float | None:
        """What the chart shows at the end of the lane: a matrix task's fan-out; else the time its attempts
        took, with an approval gate's wait for its decision; None for a task that never ran."""
        if self.group is not None:
            return self.group.duration_s
        gate = self.waiting.duration_s if self.waiting is not None and self.waiting.kind == "approval" else None
        if not self.attempts:
            return gate
        return sum(a.took_s for a in self.attempts) + (gate or 0.0)


class Timeline(Record):
    run_id: str
    dag_name: str
    status: str
    started: datetime | None
    span_s: float
    """From the start of the run to its end (or ``now``): the chart's width in seconds."""
    lanes: tuple[Lane, ...]
    critical_path: tuple[str, ...]
    edges_known: bool
    """Whether the DAG's edges were known (queued time and the critical path are exact), or guessed."""
    duration_s: float | None = None
    """How long the run took, as ``dagctl show`` reports it: the duration ``dag_done`` recorded, or for a run that
    was paused and resumed, from its start to its end, pauses included; None while the run is going."""
    pauses: tuple[Segment, ...] = ()
    """When the run was paused (``paused`` segments, from the pause to the resume), oldest first."""

    @property
    def paused_s(self) -> float:
        """Seconds spent paused."""
        return sum(p.duration_s for p in self.pauses)

    @property
    def attempts(self) -> int:
        return sum(len(lane.attempts) for lane in self.lanes)


class _Open:
    __slots__ = (
        "attempts",
        "first_seen",
        "gate",
        "gate_end",
        "group",
        "iteration",
        "note",
        "parent",
        "pending_retry",
        "running",
        "status",
    )

    def __init__(self, parent: str | None, first_seen: float) -> None:
        self.parent = parent
        self.first_seen = first_seen
        self.attempts: list[dict[str, Any]] = []
        self.running: dict[str, Any] | None = None
        self.pending_retry: float | None = None
        self.group: list[float] | None = None  # a matrix task: [fan-out, end] (its cells hold the attempts)
        self.iteration: int | None = None
        self.gate: float | None = None  # an approval gate: when it asked for a decision
        self.gate_end: float | None = None  # ... and when it ended without one (skipped, cancelled)
        self.status = "pending"
        self.note = ""


_OUTCOME = {"task_ok": "success", "task_fail": "failed", "task_retry": "retried", "task_cancel": "cancelled"}


def build_timeline(
    events: Iterable[Mapping[str, Any]], *, graph: TaskGraph | None = None, now: datetime | None = None
) -> Timeline:
    """The timeline of one run from its event records (oldest first). ``now`` ends a run still going (default:
    its last event); ``graph`` gives the DAG's edges for queued time and the critical path.

    A matrix cell (an event with ``cell``) gets a lane of its own under its task's, whose bar spans the fan-out;
    a loop's iterations (``iteration``) are attempts on their task's lane."""
    records = [r for r in events if isinstance(r, Mapping)]
    times = [_when(r.get("ts")) for r in records]
    start = next((t for r, t in zip(records, times, strict=True) if r.get("event") == "dag_start" and t), None)
    start = start or next((t for t in times if t is not None), None)
    run_id = dag_name = ""
    status = "running"
    end_at: float | None = None
    took: float | None = None
    resumed = False
    pauses: list[Segment] = []
    units: dict[str, _Open] = {}
    last = 0.0

    def offset(t: datetime | None) -> float:
        return 0.0 if t is None or start is None else max((t - start).total_seconds(), 0.0)

    for rec, when in zip(records, times, strict=True):
        at = offset(when)
        last = max(last, at)
        kind = rec.get("event")
        run_id = run_id or _text(rec.get("run_id"))
        dag_name = dag_name or _text(rec.get("dag_name"))
        if kind == "dag_done":
            status = _text(rec.get("status")) or "failed"
            end_at = at
            took = at if resumed else _number(rec.get("duration_s"))  # a resumed run's dag_done has its last part's
            continue
        if kind == "dag_resume":  # a paused (or abandoned) run goes on
            if status == "paused" and end_at is not None:
                pauses.append(Segment(kind="paused", start_s=end_at, end_s=max(at, end_at)))
            status, end_at, took, resumed = "running", None, None, True
            continue
        tid, cell = rec.get("task_id"), rec.get("cell")
        if not isinstance(tid, str) or not tid or kind not in _TASK_KINDS:
            continue
        key, parent = (cell, tid) if isinstance(cell, str) and cell and cell != tid else (tid, None)
        unit = units.get(key)
        if unit is None:
            unit = units[key] = _Open(parent, at)
        iteration = _int(rec.get("iteration"))
        if kind == "approval_requested":
            if unit.gate is None:  # asked again after a resume: the wait began the first time
                unit.gate = at
            unit.status = "waiting"
            continue
        if kind == "task_start":
            if isinstance(rec.get("cells"), int):  # a matrix task fans out: its cells will run
                unit.group, unit.status = [at, at], "running"
                continue
            wait = ("retry_wait", unit.pending_retry) if unit.pending_retry is not None else None
            number = _int(rec.get("attempt")) or len(unit.attempts) + 1
            unit.running = {"number": number, "start": at, "wait": wait, "iteration": iteration}
            unit.pending_retry = None
            unit.status = "running"
            continue
        if kind == "task_skip":
            unit.status = "reused" if rec.get("status") == "success" else "skipped"
            unit.note = _text(rec.get("reason"))
            if unit.gate is not None:  # a gate that timed out with on_timeout: skip
                unit.gate_end = at
            continue
        result = _OUTCOME[kind]
        if kind == "task_fail" and rec.get("status") == "timeout":
            result = "timeout"
        if unit.group is not None:  # the matrix task ends when its cells have
            unit.group[1] = at
        else:
            opened = unit.running
            if opened is None and kind in ("task_fail", "task_ok"):  # a gate's decision, or failed before it could
                number = _int(rec.get("attempt")) or len(unit.attempts) + 1  # start (a bad template)
                wait = ("approval", unit.gate) if unit.gate is not None else None
                opened = {"number": number, "start": at, "wait": wait, "iteration": iteration}
                unit.gate = None
            if opened is not None:
                opened.update(
                    end=at,
                    outcome=result,
                    exit_code=_int(rec.get("exit_code")),
                    error=rec.get("error"),
                    duration_s=_number(rec.get("duration_s")),
                )
                unit.attempts.append(opened)
                unit.running = None
        if kind == "task_retry":
            unit.pending_retry = at
            unit.status = "retrying"
        else:
            unit.status = {"retried": "retrying", "timeout": "failed"}.get(result, result)
            if kind == "task_cancel":
                unit.note = _text(rec.get("reason"))
                if unit.gate is not None:
                    unit.gate_end = at
    span = end_at if end_at is not None else max(last, offset(now) if now is not None else last)
    for unit in units.values():
        if unit.group is not None and unit.status == "running":
            unit.group[1] = span
    lanes = _lanes(units, span, graph, pauses)
    position = {tid: n for n, tid in enumerate(graph.order)} if graph is not None else {}
    critical = _critical(lanes, graph, position)
    on_path = set(critical)
    lanes = [lane.replace(critical=lane.task_id in on_path) for lane in lanes]
    return Timeline(
        run_id=run_id,
        dag_name=dag_name,
        status=status,
        started=start,
        span_s=span,
        lanes=tuple(_in_order(lanes, position)),
        critical_path=critical,
        edges_known=graph is not None,
        duration_s=took,
        pauses=tuple(pauses),
    )


_TASK_KINDS = frozenset(
    {"task_start", "task_ok", "task_fail", "task_retry", "task_skip", "task_cancel", "approval_requested"}
)


def _in_order(lanes: list[Lane], position: Mapping[str, int]) -> list[Lane]:
    """Tasks by first start (then the plan's order; never started last), each matrix task's cells under it."""

    def when(lane: Lane) -> tuple[float, int]:
        return lane.start_s if lane.start_s is not None else math.inf, position.get(lane.task_id, 0)

    cells: dict[str, list[Lane]] = {}
    for lane in lanes:
        if lane.parent is not None:
            cells.setdefault(lane.parent, []).append(lane)
    out = []
    for lane in sorted((lane for lane in lanes if lane.parent is None), key=when):
        out.append(lane)
        out.extend(sorted(cells.pop(lane.task_id, []), key=when))
    for orphans in cells.values():  # cells whose task's own events are missing
        out.extend(sorted(orphans, key=when))
    return out


def _after_pauses(start: float, end: float, pauses: list[Segment]) -> float:
    """Where a wait from ``start`` to ``end`` begins once the pauses in it are left out: after the last one."""
    return max([start, *(p.end_s for p in pauses if start <= p.end_s <= end)])


def _lanes(units: dict[str, _Open], span: float, graph: TaskGraph | None, pauses: list[Segment]) -> list[Lane]:
    ends: dict[str, float] = {}
    for key, unit in units.items():
        if unit.group is not None:
            ends[key] = unit.group[1]
        elif unit.attempts:
            ends[key] = unit.attempts[-1]["end"]
        elif unit.gate_end is not None:
            ends[key] = unit.gate_end
        elif unit.status in ("skipped", "reused", "cancelled"):
            ends[key] = unit.first_seen
    lanes = []
    for key, unit in units.items():
        attempts: list[Attempt] = []
        for a in [*unit.attempts, *([unit.running] if unit.running else [])]:
            end = a.get("end", span)
            wait = None
            if a["wait"] is not None:
                kind, begun = a["wait"]
                if kind != "approval":  # a gate can be decided while the run is paused: it waits all along
                    begun = _after_pauses(begun, a["start"], pauses)
                wait = Segment(kind=kind, start_s=begun, end_s=a["start"])
            elif not attempts and graph is not None and unit.parent is None:
                ready = max((ends.get(d, 0.0) for d in graph.depends_on.get(key, ())), default=0.0)
                ready = _after_pauses(ready, a["start"], pauses)
                if ready < a["start"]:
                    wait = Segment(kind="queued", start_s=ready, end_s=a["start"])
            attempts.append(
                Attempt(
                    task_id=key,
                    number=a["number"],
                    outcome=a.get("outcome", "running"),
                    run=Segment(kind="running", start_s=a["start"], end_s=max(end, a["start"])),
                    wait=wait,
                    exit_code=a.get("exit_code"),
                    error=a.get("error") if isinstance(a.get("error"), str) else None,
                    iteration=a.get("iteration"),
                    duration_s=a.get("duration_s"),
                )
            )
        waiting = None
        if unit.pending_retry is not None:
            waiting = Segment(kind="retry_wait", start_s=unit.pending_retry, end_s=max(span, unit.pending_retry))
        elif unit.gate is not None:
            end = unit.gate_end if unit.gate_end is not None else span
            waiting = Segment(kind="approval", start_s=unit.gate, end_s=max(end, unit.gate))
        group = None
        if unit.group is not None:
            group = Segment(kind="group", start_s=unit.group[0], end_s=max(unit.group))
        lanes.append(
            Lane(
                task_id=key,
                status=unit.status,
                attempts=tuple(attempts),
                note=unit.note,
                waiting=waiting,
                parent=unit.parent,
                group=group,
            )
        )
    return lanes


def _critical(lanes: list[Lane], graph: TaskGraph | None, position: Mapping[str, int]) -> tuple[str, ...]:
    """The chain of tasks that decided the end of the run, first task first (ties: the earlier in the plan)."""
    by_id = {
        lane.task_id: lane for lane in lanes if (lane.attempts or lane.group or lane.waiting) and lane.parent is None
    }
    if not by_id:
        return ()

    def latest(lane: Lane) -> tuple[float, int]:
        return lane.end_s or 0.0, -position.get(lane.task_id, 0)

    node = max(by_id.values(), key=latest)
    path = [node.task_id]
    seen = {node.task_id}
    while True:
        begin = node.start_s or 0.0
        if graph is not None:
            before = [by_id[d] for d in graph.depends_on.get(node.task_id, ()) if d in by_id]
        else:  # no edges: the task that ended last before this one started
            before = [lane for lane in by_id.values() if (lane.end_s or 0.0) <= begin + 1e-3]
        before = [lane for lane in before if lane.task_id not in seen]
        if not before:
            return tuple(reversed(path))
        node = max(before, key=latest)
        path.append(node.task_id)
        seen.add(node.task_id)


def headline(t: Timeline) -> str:
    """``diamond_pipeline · run <id>: success in 3.2s`` (the duration as ``dagctl show`` has it)."""
    took = format_duration(t.duration_s if t.duration_s is not None else t.span_s)
    verb = f"{t.status} in {took}" if t.status != "running" else f"running for {took}"
    return f"{t.dag_name or 'run'} · run {t.run_id}: {verb}"


def details(t: Timeline) -> str:
    """``4 tasks, 5 attempts · critical path: extract → by_region → report`` (and ``· paused once for 3.3s``)."""
    tasks = sum(1 for lane in t.lanes if lane.parent is None)
    cells = len(t.lanes) - tasks
    text = f"{tasks} task{'s' if tasks != 1 else ''}"
    text += f", {cells} matrix cell{'s' if cells != 1 else ''}" if cells else ""
    text += f", {t.attempts} attempt{'s' if t.attempts != 1 else ''}"
    if t.pauses:
        times = "once" if len(t.pauses) == 1 else f"{len(t.pauses)} times"
        text += f" · paused {times} for {format_duration(t.paused_s)}"
    if t.critical_path:
        chain = " → ".join(t.critical_path)
        text += f" · critical path{'' if t.edges_known else ' (guessed from times)'}: {chain}"
    return text


# --------------------------------------------------------------------------------------------- scaling


class Tick(Record):
    seconds: float
    position: float
    """Where the tick falls, in the units of the width it was made for (pixels, columns)."""
    label: str


def ticks(span_s: float, width: float, *, min_gap: float) -> list[Tick]:
    """Round times along an axis of ``width`` units for ``span_s`` seconds, at least ``min_gap`` units apart."""
    if width <= 0:
        return []
    span = span_s if span_s > 0 else 1.0
    step = nice_step(span, max(int(width // max(min_gap, 1.0)), 1))
    out = []
    n = 0
    while n * step <= span + 1e-9:
        seconds = round(n * step, 6)
        out.append(Tick(seconds=seconds, position=seconds * width / span, label=tick_label(seconds)))
        n += 1
    return out


def columns(lane: Lane, span_s: float, width: int, pauses: Iterable[Segment] = ()) -> list[str]:
    """A lane drawn in ``width`` terminal columns: each cell is ``""`` (nothing), ``queued``, ``retry_wait``,
    ``approval``, ``group`` (a matrix task's fan-out), ``paused`` (the run's ``pauses``: :attr:`Timeline.pauses`),
    or the outcome of the attempt running there. Every attempt gets at least one column (a gate's, the column of
    its decision); waits never hide runs, and pauses hide only waits."""
    cells = [""] * width
    if width <= 0:
        return cells
    scale = width / (span_s if span_s > 0 else 1.0)

    def paint(segment: Segment, value: str, *, at_least_one: bool) -> None:
        first = min(int(segment.start_s * scale), width - 1)
        last = min(math.ceil(segment.end_s * scale), width)
        if last <= first:
            if not at_least_one:
                return
            last = first + 1
        for i in range(first, last):
            if value in _WAITS and cells[i] not in ("", *_WAITS):
                continue
            cells[i] = value

    if lane.group is not None:
        paint(lane.group, "group", at_least_one=True)
    for attempt in lane.attempts:
        if attempt.wait is not None:
            paint(attempt.wait, attempt.wait.kind, at_least_one=False)
    if lane.waiting is not None:
        paint(lane.waiting, lane.waiting.kind, at_least_one=False)
    for pause in pauses:
        paint(pause, "paused", at_least_one=False)
    for attempt in lane.attempts:
        paint(attempt.run, attempt.outcome, at_least_one=True)
    return cells


_WAITS = ("queued", "retry_wait", "approval", "group", "paused")

WAIT_WORDS = {"queued": "queued", "retry_wait": "waited to retry", "approval": "waited for approval"}
"""How a wait reads in a legend, a tooltip or a table: what the task waited for."""


def _when(ts: object) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return parse_ts(ts)
    except ValueError:
        return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
