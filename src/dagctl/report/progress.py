"""The live view's model: a run's events folded with its graph and the durations history knows. Pure.

:class:`RunProgress` is fed events one by one (:meth:`~RunProgress.apply`: the runner's typed events, or the
plain dicts of an events file) and answers :meth:`~RunProgress.view` for a given ``now``: the overall progress
(done/total, failures, elapsed time, an ETA from history), and one :class:`Row` per task in a stable order
(topological, critical path first) with its status, attempt, elapsed and expected time and what a pending task
waits on. Given a number of rows it folds what does not fit: running, retrying and failed tasks stay visible,
then the tasks next in line, and finished tasks become counts.

The fold is incremental (each event costs a few dictionary operations; a view costs one pass over the tasks),
because the live view redraws several times a second while a run of thousands of tasks goes on, on the same
CPUs. For the same reason a task has no object of its own while it is pending, nor when a batch saw it start
and succeed (a tuple of four then says all a row needs): of a 1,000-task DAG of short tasks, only the few shown
or running ever get one. Nothing here reads the clock, a file or the terminal.

Grouping: the events of a matrix cell name the matrix task (``task_id``) and the cell (``cell``, e.g.
``train:3``); cells are rows of their own under their task's row, which counts them (``2/6 cells``). A loop's
iterations (``iteration``) stay on their task's row, and a ``dag:`` task's row names its child run. :func:`unit_of`
is the one place that knows how an event names what it is about; statuses of new kinds of events (an approval
wait) are one line in :data:`STATUS_OF_KIND`.
"""

from __future__ import annotations

from functools import partial
from itertools import repeat
from math import fsum
from operator import attrgetter

from dagctl.records import Record
from dagctl.store.events import TaskOk, TaskStart, parse_ts

from .fmt import with_values
from .graph import TaskGraph, default_weight, display_order, tails

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from typing import Any

STATUS_OF_KIND = {
    "task_start": "running",
    "task_ok": "success",
    "task_fail": "failed",
    "task_retry": "retrying",
    "task_skip": "skipped",
    "task_cancel": "cancelled",
    "approval_requested": "waiting",  # an approval gate: waits for people, its note says for whom
}
"""The row status each kind of task event leads to (``task_skip`` with status success is ``reused``)."""

FINISHED = frozenset({"success", "reused", "failed", "skipped", "cancelled"})
ACTIVE = frozenset({"running", "retrying", "waiting"})
STATUSES = (
    "running",
    "retrying",
    "waiting",
    "failed",
    "queued",
    "pending",
    "success",
    "reused",
    "skipped",
    "cancelled",
)
"""Every row status, in the order counts are listed. ``queued``: every upstream task is done, a slot is not."""


class Row(Record):
    """One line of the live view: a task, or (``depth`` 1) a cell or sub-task grouped under its parent."""

    task_id: str
    label: str
    depth: int
    status: str
    attempt: int
    max_attempts: int
    elapsed_s: float | None
    """Running: time since the attempt started; finished: the last attempt's duration."""
    expected_s: float | None
    """The median duration of this task in recent successful runs, when history knows it."""
    note: str
    """What a pending task waits on, a failure's error (a retrying task's too), a skip's reason."""
    log_path: str | None = None
    """A running task's log, for its last line of output."""
    retry_in_s: float | None = None
    """A retrying task: seconds until its next attempt."""
    iteration: int | None = None
    """A loop (``repeat:``): the iteration running or last run."""


class Progress(Record):
    """The whole live view at one instant."""

    dag_name: str
    run_id: str
    status: str
    """``running`` until ``dag_done``, then its status."""
    total: int
    counts: dict[str, int]
    """Tasks (not grouped cells) by row status, every status of :data:`STATUSES` present."""
    elapsed_s: float | None
    eta_s: float | None
    """Expected seconds until the run ends; None without history."""
    has_history: bool
    rows: tuple[Row, ...]
    hidden: dict[str, int]
    """Rows folded away to fit, by status (empty when everything fits)."""
    most_attempts: int = 1
    """The most attempts any task of the DAG may get (1: no retries anywhere), for a steady column width."""
    since_resume: bool = False
    """A resumed run whose earlier part is not known: ``elapsed_s`` counts from the resume, not the run's start."""

    @property
    def done(self) -> int:
        c = self.counts
        return c["success"] + c["reused"] + c["failed"] + c["skipped"] + c["cancelled"]

    @property
    def failed(self) -> int:
        return self.counts["failed"]


def unit_of(get: Callable[..., Any]) -> tuple[str | None, str | None]:
    """``(row, parent)`` an event is about: a task of the DAG ``(task_id, None)``, or a matrix cell
    ``(cell, task_id)``, shown under its task. The one place to extend for other groupings."""
    tid = get("task_id", None)
    if not isinstance(tid, str) or not tid:
        return None, None
    cell = get("cell", None)
    if isinstance(cell, str) and cell and cell != tid:
        return cell, tid
    return tid, None


_CHILD_BITS = 20
"""A row's sort key: its task's place in the display order, shifted by this, plus its place under its task."""

_Done = tuple[int, "float | None", "str | None", "str | None"]
"""A task that went from pending to success within one batch, without a _Task: its attempt, duration, log and
start time."""


class _Task:
    __slots__ = (
        "attempt",
        "cells",
        "children",
        "depth",
        "duration",
        "iteration",
        "key",
        "label",
        "log_path",
        "matrix",
        "note",
        "retry_at",
        "started",
        "started_ts",
        "status",
        "task_id",
    )

    def __init__(self, task_id: str, key: int, depth: int = 0, label: str = "") -> None:
        self.task_id = task_id
        self.key = key
        self.depth = depth
        self.label = label or task_id
        self.status = "pending"
        self.attempt = 0
        self.started_ts: str | None = None  # parsed on demand: only running tasks' times are ever needed
        self.started: datetime | None = None
        self.duration: float | None = None
        self.retry_at: datetime | None = None
        self.note = ""
        self.log_path: str | None = None
        self.children: list[_Task] | tuple[()] = ()  # a list from the first child on (most tasks have none)
        self.cells = 0  # a matrix task: how many cells it fanned out into
        self.iteration = 0  # a loop: the iteration running or last run
        self.matrix: dict[str, Any] | None = None  # a matrix cell: its values, shown with its id


def _getter(event: object) -> Callable[..., Any]:
    """``get(name, default)`` for a record (a dict) or a typed event (its attributes)."""
    return event.get if isinstance(event, dict) else partial(getattr, event)


class RunProgress:
    """A run's progress, folded from its events. Not thread-safe: one thread applies events and asks for views."""

    def __init__(
        self,
        graph: TaskGraph,
        *,
        parallelism: int = 1,
        expected: Mapping[str, float] | None = None,
        dag_name: str = "",
        run_id: str = "",
    ) -> None:
        self.graph = graph
        self._downstream = graph.downstream
        self.parallelism = max(1, parallelism)
        self.dag_name = dag_name
        self.run_id = run_id
        self.status = "running"
        self.started: datetime | None = None
        self.duration: float | None = None
        self.resumed = False
        """``dag_resume`` came: the run goes on after a pause (or a crash), in this process."""
        self.since_resume = False
        """Resumed, and nothing is known of the run before (:meth:`resume_from` was not called): times count from
        the resume."""
        self.version = 0
        """How many events have been applied (a view of the same version and ``now`` is the same)."""
        # A task of the graph has a _Task from its first event on (or, from a batch, a _Done when it went from
        # pending to success there); before that it is pending and only its key says where its row goes.
        self._tasks: dict[str, _Task] = {}  # children (cells) too, hanging from their parent
        self._done: dict[str, _Done] = {}
        self._ids: list[str] = []  # top-level tasks in display order
        self._keys: dict[str, int] = {}  # their rows' sort keys
        self._waiting: dict[str, int] = {}  # how many upstream tasks each still waits on (none: absent)
        self._counts = dict.fromkeys(STATUSES, 0)
        self._ready: set[str] = set()  # pending tasks whose upstream is done
        self._active: set[str] = set()  # running, retrying or waiting (cells too)
        self._failed: set[str] = set()  # cells too
        self._children = 0
        self._child_counts = dict.fromkeys(STATUSES, 0)
        self._pending_work = 0.0
        self._most_attempts = max(graph.max_attempts.values(), default=1)
        self._built = False  # rows are made on first use: the view's thread pays for them, not the run's start
        self._history = dict(expected or {})

    # ------------------------------------------------------------------ history
    def set_history(self, expected: Mapping[str, float]) -> None:
        """Use these expected durations (task id -> seconds) for ETAs and the order of rows.

        Before the first event it also sets the order of the rows (critical path first); from the first event
        on the order stays as it is, so rows never move, and a later call only changes ETAs and expected times."""
        self.expected = dict(expected)
        self.has_history = bool(self.expected)
        self._fallback = default_weight(self.expected)
        self._tail = tails(self.graph, self.expected)
        if self.version == 0:
            self._build()
        self._built = True
        pending = self._ids if self.version == 0 else [t for t in self._ids if self._status(t) == "pending"]
        self._pending_work = sum(map(self.expected.get, pending, repeat(self._fallback, len(pending))))

    def _build(self) -> None:
        """The rows' order (no _Task yet: a task gets one with its first event, and most never need it)."""
        order = display_order(self.graph, self._tail)
        self._tasks.clear()
        self._done.clear()
        self._ids = list(order)
        self._keys = dict(zip(order, range(0, len(order) << _CHILD_BITS, 1 << _CHILD_BITS), strict=True))
        self._waiting = {tid: len(deps) for tid, deps in self.graph.depends_on.items() if deps}
        self._ready = set(order).difference(self._waiting)
        self._counts["pending"] = len(order)

    def _task(self, tid: str) -> _Task | None:
        """The _Task of a task of the run (made on first need), or None for an id the run does not have."""
        task = self._tasks.get(tid)
        if task is None and tid in self._keys:
            task = self._tasks[tid] = self._peek(tid)
            self._done.pop(tid, None)
        return task

    def _peek(self, tid: str) -> _Task:
        """A task's _Task, or one made for a view from what is known of it (not kept: views change nothing)."""
        task = self._tasks.get(tid)
        if task is None:
            task = _Task(tid, self._keys[tid])
            done = self._done.get(tid)
            if done is not None:
                task.status = "success"
                task.attempt, task.duration, task.log_path, task.started_ts = done
        return task

    def _status(self, tid: str) -> str:
        task = self._tasks.get(tid)
        if task is not None:
            return task.status
        return "success" if tid in self._done else "pending"

    def _expect(self, tid: str) -> float:
        return self.expected.get(tid, self._fallback)

    # ------------------------------------------------------------------ events
    def apply_all(self, events: Iterable[object]) -> RunProgress:
        for event in events:
            self.apply(event)
        return self

    def apply_batch(self, events: Iterable[object]) -> None:
        """Fold events that came together (in order), leaving the model as :meth:`apply` of each would, for less.

        A plain task's ``task_start`` is held until the task's next event: when that is its plain ``task_ok`` of
        the same attempt and the task is still pending, the two are folded in one short step (the task goes
        straight to done: the end overwrites all the start says). With the live view's quarter-second batches
        that is nearly every task of a DAG of short tasks, and the fold costs a third of folding one by one.
        Holding a start back is safe: other tasks' events in between do not depend on it (each changes its own
        task, and counts); the starts still held at the end (running tasks) are folded last, in order."""
        if not self._built:
            self.set_history(self._history)
        apply = self.apply
        tasks, done, keys, counts, ready = self._tasks, self._done, self._keys, self._counts, self._ready
        downstream, expected, fallback = self._downstream, self.expected, self._fallback
        held: dict[str, TaskStart] = {}  # plain starts not folded yet, by task
        short = 0  # tasks folded in the short step: their counts and versions are added at the end
        for event in events:
            if type(event) is TaskStart:
                tid = event.task_id
                if held and tid in held:
                    apply(held.pop(tid))
                if (
                    event.attempt
                    and self.started is not None  # else this start says when the run started: fold it now
                    and event.cell is None
                    and event.iteration is None
                    and event.cells is None
                    and not event.child_run_id
                ):
                    held[tid] = event
                    continue
            elif type(event) is TaskOk:
                tid = event.task_id
                start = held.pop(tid, None) if held else None
                if start is not None:
                    if (
                        tid in tasks  # seen before this batch: not pending
                        or tid in done
                        or tid not in keys
                        or event.attempt != start.attempt
                        or event.cell is not None
                        or event.iteration is not None
                    ):
                        apply(start)
                    else:  # what _plain and _move do for the start and the end of a task that was pending
                        short += 1
                        took = event.duration_s
                        done[tid] = (
                            start.attempt or 0,
                            took if type(took) is float else _number(took),
                            start.log_path or None,
                            start.ts,
                        )
                        ready.discard(tid)
                        self._pending_work -= expected.get(tid, fallback)
                        after_tasks = downstream.get(tid)
                        if after_tasks:
                            self._upstream_done(after_tasks, -1)
                        continue
            elif held:
                other = getattr(event, "task_id", None)
                if other is not None and other in held:
                    apply(held.pop(other))
            apply(event)
        if short:
            self.version += 2 * short
            counts["pending"] -= short
            counts["success"] += short
        for start in held.values():  # running at the end of the batch
            apply(start)

    def resume_from(self, earlier: Iterable[object]) -> None:
        """Fold what a resumed run did before this resume (its events up to it, oldest first), before the resume's
        own: the run's start, so its times count from there, pauses included, as ``runs`` and ``show`` count
        them; and the tasks and matrix cells the resume keeps (:func:`kept_before_resume`), done, with their
        attempts and durations. What the resume runs again stays as it is until its own events come."""
        for event in kept_before_resume(earlier):
            self.apply(event)

    def apply(self, event: object) -> None:
        """Fold one event: a :class:`~dagctl.store.events.Event` or its record (a dict from an events file)."""
        if not self._built:
            self.set_history(self._history)
        cls = type(event)
        if (cls is TaskStart or cls is TaskOk) and self._plain(event):  # type: ignore[arg-type]
            return  # the bulk of a run's events (a plain task's start and end): a short path
        get = _getter(event)
        kind = get("event", None) if isinstance(event, dict) else get("kind", None)
        self.version += 1
        status = STATUS_OF_KIND.get(kind or "")
        if status is None:
            if kind == "dag_start":
                self.run_id = get("run_id", None) or self.run_id
                self.dag_name = get("dag_name", None) or self.dag_name
                self.started = _when(get("ts", None)) or self.started
            elif kind == "dag_done":
                self.status = get("status", None) or "failed"
                self.duration = _number(get("duration_s", None))  # this process's part of the run
                end = _when(get("ts", None))
                if self.resumed and not self.since_resume and self.started is not None and end is not None:
                    self.duration = max((end - self.started).total_seconds(), 0.0)  # pauses included, as `runs`
            elif kind == "dag_resume":  # the first event of `dagctl resume`: the same run goes on
                self.run_id = get("run_id", None) or self.run_id
                self.dag_name = get("dag_name", None) or self.dag_name
                self.status, self.duration, self.resumed = "running", None, True
                if self.started is None:  # its earlier part unknown (resume_from): times count from here
                    self.started, self.since_resume = _when(get("ts", None)), True
            elif kind == "approval_granted":
                task = self._tasks.get(unit_of(get)[0] or "")
                if task is not None:  # its "waits for ..." note is over
                    who = get("by", None)
                    task.note = f"approved by {', '.join(map(str, who))}" if who else "approved"
            return
        key, parent = unit_of(get)
        if key is None:
            return
        if self.started is None:
            self.started = _when(get("ts", None))
        task = self._task(key) or self._add(key, parent, get("matrix", None))
        attempt = get("attempt", None)
        iteration = get("iteration", None)
        if isinstance(iteration, int) and iteration != task.iteration:
            task.iteration, task.attempt = iteration, 0  # a loop's next iteration counts its attempts afresh
        if isinstance(attempt, int) and attempt > task.attempt:
            task.attempt = attempt
        if status == "running":
            task.started_ts, task.started = get("ts", None), None
            task.log_path = get("log_path", None) or task.log_path
            task.retry_at = None
            task.duration = None
            cells, child_run = get("cells", None), get("child_run_id", None)
            if isinstance(cells, int):
                task.cells = cells
            task.note = f"sub-DAG run {child_run}" if isinstance(child_run, str) and child_run else ""
            if task.attempt == 0 and not task.cells:
                task.attempt = 1
        elif status == "retrying":
            when = _when(get("ts", None))
            delay = _number(get("delay_s", None)) or 0.0
            task.retry_at = None if when is None else _plus(when, delay)
            task.note = _line(get("error", None))
        elif status == "waiting":
            who = get("approvers", None) or []
            ask = _line(get("message", None)) or "approval"
            task.note = f"waits for {', '.join(who) if who else 'an approval'}: {ask} (dagctl approve)"
        else:
            took = get("duration_s", None)
            task.duration = float(took) if isinstance(took, (int, float)) and not isinstance(took, bool) else None
            if status == "skipped":
                if get("status", None) == "success":
                    status = "reused"
                task.note = _line(get("reason", None))
            elif status == "failed":
                task.note = _line(get("error", None)) or ("timed out" if get("status", None) == "timeout" else "")
            elif status == "cancelled":
                task.note = _line(get("reason", None))
        self._move(task, status)

    def _plain(self, event: TaskStart | TaskOk) -> bool:
        """Fold a typed ``task_start`` or ``task_ok`` of a task of the graph (not a cell, a loop's iteration or a
        sub-DAG) as :meth:`apply` would, without its generic lookups; False when the event is not that plain."""
        if event.cell is not None or event.iteration is not None:
            return False
        task = self._task(event.task_id)
        if task is None:
            return False
        if isinstance(event, TaskStart):
            if event.cells is not None or event.child_run_id:
                return False
            status = "running"
            task.started_ts, task.started = event.ts, None
            task.log_path = event.log_path or task.log_path
            task.retry_at = task.duration = None
            task.note = ""
        else:
            status = "success"
            took = event.duration_s
            task.duration = float(took) if isinstance(took, (int, float)) and not isinstance(took, bool) else None
        self.version += 1
        if self.started is None:
            self.started = _when(event.ts)
        attempt = event.attempt
        if attempt is not None and attempt > task.attempt:
            task.attempt = attempt
        if status == "running" and task.attempt == 0 and not task.cells:
            task.attempt = 1
        self._move(task, status)
        return True

    def _add(self, key: str, parent: str | None, matrix: object = None) -> _Task:
        """A row the graph does not have: a matrix cell under its task (with its values), or a task added while
        running."""
        owner = self._task(parent) if parent else None
        if owner is not None and owner.depth == 0:
            task = _Task(key, owner.key + len(owner.children) + 1, depth=1)
            if isinstance(matrix, dict) and matrix:
                task.matrix = matrix
            if not owner.children:
                owner.children = []
            owner.children.append(task)
            self._children += 1
            self._child_counts["pending"] += 1
        else:
            task = _Task(key, len(self._ids) << _CHILD_BITS)
            self._keys[key] = task.key
            self._ids.append(key)
            self._counts["pending"] += 1
            self._pending_work += self._expect(key)
        self._tasks[key] = task
        return task

    def _move(self, task: _Task, status: str) -> None:
        old = task.status
        if old == status:
            return
        task.status = status
        tid = task.task_id
        top = task.depth == 0
        counts = self._counts if top else self._child_counts
        counts[old] -= 1
        counts[status] += 1
        if status == "failed":
            self._failed.add(tid)
        elif old == "failed":
            self._failed.discard(tid)
        if old == "pending":
            self._ready.discard(tid)
            if top:
                self._pending_work -= self.expected.get(tid, self._fallback)
        if status in ACTIVE:
            self._active.add(tid)
        else:
            self._active.discard(tid)
        if top and (status in FINISHED) != (old in FINISHED):  # finished, or (a loop) running again
            after_tasks = self._downstream.get(tid)
            if after_tasks:
                self._upstream_done(after_tasks, -1 if status in FINISHED else 1)

    def _upstream_done(self, after_tasks: tuple[str, ...], step: int) -> None:
        """One upstream task of each of ``after_tasks`` finished (``step`` -1) or runs again (+1): a pending task
        none of whose upstream is left becomes ready (queued)."""
        keys, waiting, ready = self._keys, self._waiting, self._ready
        for child in after_tasks:
            if child in keys:
                left = waiting[child] = waiting.get(child, 0) + step
                if left <= 0 and self._status(child) == "pending":
                    ready.add(child)
                else:
                    ready.discard(child)

    def succeeded(self) -> dict[str, float]:
        """Task id -> duration of each task of the DAG that succeeded (what the next run's ETA learns from)."""
        found = {tid: took for tid, (_, took, _, _) in self._done.items() if took is not None}
        for t in self._tasks.values():
            if t.status == "success" and t.duration is not None and not t.depth:
                found[t.task_id] = t.duration
        return found

    # ------------------------------------------------------------------ views
    def view(self, now: datetime, *, max_rows: int | None = None) -> Progress:
        """The progress at ``now``, with at most ``max_rows`` rows (a fold line included) when given."""
        if not self._built:
            self.set_history(self._history)
        counts = dict(self._counts)
        counts["queued"] = len(self._ready)
        counts["pending"] -= counts["queued"]
        elapsed = self.duration
        if elapsed is None and self.started is not None:
            elapsed = max(0.0, (now - self.started).total_seconds())
        visible, hidden = self._fit(max_rows)
        return Progress(
            dag_name=self.dag_name,
            run_id=self.run_id,
            status=self.status,
            total=len(self._ids),
            counts=counts,
            elapsed_s=elapsed,
            eta_s=self.eta(now),
            has_history=self.has_history,
            rows=tuple(self._row(t, now) for t in visible),
            hidden=hidden,
            most_attempts=self._most_attempts,
            since_resume=self.since_resume,
        )

    def eta(self, now: datetime) -> float | None:
        """Seconds still expected: the longer of the remaining critical chain and the remaining work spread over
        the run's parallelism. None without history; 0 once the run has ended."""
        if self.status != "running":
            return 0.0
        if not self.has_history:
            return None
        work = [max(self._pending_work, 0.0)]
        tail = self._tail
        chain = max(map(tail.get, self._ready, repeat(0.0, len(self._ready))), default=0.0)
        for tid in self._active:
            task = self._tasks[tid]
            if task.depth:
                continue
            left = self._expect(tid)
            started = _started(task)
            if task.status == "running" and started is not None:
                left = max(left - (now - started).total_seconds(), 0.0)
            elif task.status == "retrying" and task.retry_at is not None:
                left += max((task.retry_at - now).total_seconds(), 0.0)
            work.append(left)
            after = max((tail.get(c, 0.0) for c in self.graph.downstream.get(tid, ())), default=0.0)
            chain = max(chain, left + after)
        # summed exactly: the same whatever order the set of active tasks iterates in (it differs between
        # processes, and between folding one by one and in batches), so the same run gives the same ETA anywhere
        return max(chain, fsum(work) / self.parallelism)

    def _fit(self, max_rows: int | None) -> tuple[list[_Task], dict[str, int]]:
        every = len(self._ids) + self._children
        if max_rows is None or every <= max_rows:
            rows = list(map(self._peek, self._ids))
            if not self._children:
                return rows, {}
            return [r for t in rows for r in (t, *t.children)], {}
        budget = max(max_rows - 1, 0)  # one line says what is folded
        tasks, done, ready, peek = self._tasks, self._done, self._ready, self._peek
        by_key = _key
        # active and failed tasks first, then the ready ones, then the rest in order (cells only when active)
        chosen = sorted(map(tasks.__getitem__, self._active | self._failed), key=by_key)[:budget]
        if len(chosen) < budget:
            chosen.extend(map(peek, sorted(ready, key=self._keys.__getitem__)[: budget - len(chosen)]))
        waiting = self._counts["pending"] - len(ready)  # pending tasks that wait on others
        for wanted in ("pending", "finished") if waiting else ("finished",):
            if len(chosen) >= budget:
                break
            for tid in self._ids:
                task = tasks.get(tid)  # _status, written out: this loop may pass every task, on every frame
                status = task.status if task is not None else "success" if tid in done else "pending"
                if wanted == "pending":
                    fits = status == "pending" and tid not in ready
                else:
                    fits = status in FINISHED and status != "failed"  # failed ones are in already
                if fits:
                    chosen.append(peek(tid))
                    if len(chosen) >= budget:
                        break
        hidden: dict[str, int] = {}
        for counts in (self._counts, self._child_counts):
            for status, n in counts.items():
                if n:
                    hidden[status] = hidden.get(status, 0) + n
        queued = len(ready)
        if queued:
            hidden["pending"] -= queued
            hidden["queued"] = queued
        for task in chosen:
            status = "queued" if task.status == "pending" and task.task_id in ready else task.status
            hidden[status] -= 1
        chosen.sort(key=by_key)
        return chosen, {s: n for s, n in hidden.items() if n > 0}

    def _row(self, task: _Task, now: datetime) -> Row:
        status = task.status
        note = task.note
        elapsed = task.duration
        retry_in = None
        if status == "pending":
            if task.task_id in self._ready:
                status, note = "queued", "queued"
            else:
                note = self._waits_on(task.task_id)
        elif status == "running":
            started = _started(task)
            if started is not None:
                elapsed = max(0.0, (now - started).total_seconds())
        elif status == "retrying":
            elapsed = None
            if task.retry_at is not None:
                retry_in = max((task.retry_at - now).total_seconds(), 0.0)
        if task.children or task.cells:
            done = sum(1 for c in task.children if c.status in FINISHED)
            count = f"{done}/{max(task.cells, len(task.children))} cells"
            note = f"{count} · {note}" if note else count
        return Row(
            task_id=task.task_id,
            label=with_values(task.label, task.matrix),  # a cell with its values, as `show` has it
            depth=task.depth,
            status=status,
            attempt=task.attempt,
            max_attempts=self.graph.max_attempts.get(task.task_id, 1),
            elapsed_s=elapsed,
            expected_s=self.expected.get(task.task_id),
            note=note,
            log_path=task.log_path if status == "running" else None,
            retry_in_s=retry_in,
            iteration=task.iteration or None,
        )

    def _waits_on(self, tid: str) -> str:
        waiting = [d for d in self.graph.depends_on.get(tid, ()) if self._status(d) not in FINISHED]
        if not waiting:
            return ""
        shown = ", ".join(waiting[:2])
        return f"waits on {shown}" + (f" +{len(waiting) - 2}" if len(waiting) > 2 else "")


def kept_before_resume(earlier: Iterable[object]) -> list[object]:
    """Of a run's events before a resume (oldest first): its ``dag_start``, and every event of each task or cell
    whose last event says it succeeded (``task_ok``, but not a loop's ``iterated``; ``task_skip`` with status
    success: outputs reused). These ``dagctl resume`` keeps, and writes no event for (docs/history.md)."""
    events = list(earlier)
    units = [unit_of(_getter(event))[0] for event in events]
    last = dict(zip(units, events, strict=True))
    kept = {key for key, event in last.items() if key is not None and _succeeded(event)}
    return [e for e, key in zip(events, units, strict=True) if key in kept or _kind(e) == "dag_start"]


def _kind(event: object) -> object:
    return event.get("event") if isinstance(event, dict) else getattr(event, "kind", None)


def _succeeded(event: object) -> bool:
    kind, status = _kind(event), _getter(event)("status", None)
    return (kind == "task_ok" and status != "iterated") or (kind == "task_skip" and status == "success")


def fold(
    events: Iterable[object],
    graph: TaskGraph,
    now: datetime,
    *,
    expected: Mapping[str, float] | None = None,
    parallelism: int = 1,
    max_rows: int | None = None,
) -> Progress:
    """The progress of a run at ``now`` from its events in one call (the web dashboard's entry)."""
    model = RunProgress(graph, parallelism=parallelism, expected=expected)
    return model.apply_all(events).view(now, max_rows=max_rows)


def _started(task: _Task) -> datetime | None:
    """When a task's current attempt started (its ``task_start`` time, parsed once, when first needed)."""
    if task.started is None and task.started_ts is not None:
        task.started = _when(task.started_ts)
        task.started_ts = None
    return task.started


_key: Callable[[_Task], int] = attrgetter("key")


def _when(ts: object) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        return parse_ts(ts)
    except ValueError:
        return None


def _plus(when: datetime, seconds: float) -> datetime:
    from datetime import timedelta

    return when + timedelta(seconds=seconds)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _line(text: object) -> str:
    """The first line of a message (errors can span lines; a row has one)."""
    if not isinstance(text, str):
        return ""
    return text.strip().split("\n", 1)[0]
