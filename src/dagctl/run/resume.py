"""Resuming work: ``dagctl retry`` of a finished run, and partial runs (``run --only`` / ``run --from``).

Both come down to the same two runner options: which tasks to run (``select``) and which finished tasks
to take as done, with their outputs (``reuse_outputs``). A 2-hour pipeline that failed at its last step
costs one step to finish.

A task that succeeded is reused unless it is downstream of a task that runs again (:func:`inputs_change`): a
``trigger_rule: all_done`` report that ran after its upstream failed read that failure, so it runs again, with
what follows it, when the failed task does (Airflow's "clear downstream").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.dag.plan import Plan, ancestors, build_plan
from dagctl.dag.spec import DagSpec
from dagctl.errors import StateError, UsageError
from dagctl.protocols import Clock
from dagctl.store.history import FINISHED, History, refuse_child_run
from dagctl.store.layout import snapshot_file
from dagctl.store.runsummary import RunSummary

from .keeper import KEEPER_GRACE_S, processes_of_run


@dataclass
class Prepared:
    spec: DagSpec
    params: dict[str, Any]
    reuse: dict[str, dict[str, Any]] = field(default_factory=dict)
    select: list[str] | None = None
    parent: str | None = None
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Matrix cells that succeeded: ``{"matrix": values, "outputs": ...}`` by cell id."""
    loops: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Loops that failed part-way: their last completed iteration and its outputs, by task id."""
    children: dict[str, str] = field(default_factory=dict)
    """``dag:`` tasks that did not succeed: their child run, whose finished tasks the new child reuses."""
    resume: bool = False
    run_id: str | None = None
    """The run a resume goes on with."""
    attempts: dict[str, int] = field(default_factory=dict)
    trigger: str = "retry"
    schedule_id: str | None = None
    logical_date: str | None = None
    executor: str | None = None
    """Where the run's tasks ran (its ``dag_start``): a retry or resume runs them there unless told otherwise."""

    def run_options(self) -> dict[str, Any]:
        """The :class:`~dagctl.run.state.RunOptions` fields that make a run reuse what this one found."""
        options: dict[str, Any] = {
            "reuse_outputs": self.reuse,
            "reuse_cells": self.cells,
            "resume_loops": self.loops,
            "reuse_children": self.children,
        }
        if self.resume:
            options.update(
                resume=True,
                run_id=self.run_id,
                attempts_done=self.attempts,
                trigger=self.trigger,
                schedule_id=self.schedule_id,
                logical_date=self.logical_date,
            )
        return options


def _load_snapshot(snapshot: Path, original: str | None) -> DagSpec:
    """Load the DAG a run executed; Python modules still resolve next to the original file."""
    from dagctl.dag.checks import DEFAULT_CHECKS
    from dagctl.dag.specread import dag_from_document
    from dagctl.dag.yamlread import parse_document, read_text
    from dagctl.host import gc_paused

    with gc_paused():
        # sub-DAG files are found next to the original file, not the snapshot: the child run checks its own
        checks = [c for c in DEFAULT_CHECKS if c.__name__ != "check_subdags"]
        spec = dag_from_document(parse_document(read_text(snapshot), str(snapshot)), checks)
    if original:
        spec._source = original
        spec._snapshot = str(snapshot)  # what the new run keeps as its own snapshot: this text, not the file now
    return spec


def prepare_retry(
    history: History,
    run_id: str,
    *,
    from_task: str | None = None,
    use_current: bool = False,
    clock: Clock | None = None,
) -> Prepared:
    from dagctl.dag.loader import load_dag

    old = history.summary(run_id)
    if old.status not in FINISHED:
        raise StateError(f"run {run_id} is still {old.status}", hint=f"wait for it, or `dagctl cancel {run_id}` first")
    history.settings.check_writable("logs", "events")  # a new run is made: exit 3 naming the variable, before it
    wait_for_leftovers(run_id, clock or SystemClock())
    if use_current:
        if not old.dag_file or not Path(old.dag_file).exists():
            raise StateError(
                f"the DAG file of run {run_id} ({old.dag_file}) no longer exists",
                hint="retry without --use-current to run the snapshot",
            )
        spec = load_dag(old.dag_file)
    else:
        snapshot = snapshot_file(history.run_dir(run_id))
        if not snapshot.exists():
            raise StateError(
                f"run {run_id} has no DAG snapshot ({snapshot})",
                hint="retry with --use-current to run the DAG file as it is now",
            )
        spec = _load_snapshot(snapshot, old.dag_file)
    plan = build_plan(spec)
    rerun: set[str] = set()
    if from_task is not None:
        if from_task not in plan.tasks:
            raise UsageError(
                f"--from: DAG '{spec.name}' has no task '{from_task}'", hint="known tasks: " + ", ".join(plan.tasks)
            )
        rerun = set(plan.subgraph_downstream([from_task]))
    rerun |= inputs_change(plan, old)
    prepared = Prepared(spec=spec, params={}, parent=run_id, executor=old.executor)
    _collect_reusable(history, old, plan, rerun, prepared)
    if len(prepared.reuse) == len(plan.tasks):
        raise UsageError(
            f"every task of run {run_id} succeeded: nothing to retry",
            hint="use --from TASK to run a task and what follows it again",
        )
    prepared.params = {k: v for k, v in (old.params or {}).items() if k in spec.params}
    return prepared


def inputs_change(plan: Plan, old: RunSummary) -> set[str]:
    """The tasks of ``plan`` downstream of a task of run ``old`` that runs again (it failed or was cancelled): their
    inputs change when it does, so whatever they did in ``old`` (a ``trigger_rule: all_done`` or ``one_failed`` task
    ran after the failure, and read it) is not reused. A task itself is not in the set unless it is downstream of
    another such task: it goes on from what it finished (succeeded cells, loop iterations, its child run)."""
    again = [
        tid for tid, t in plan.tasks.items() if tid in old.tasks and old.tasks[tid].status in ("failed", "cancelled")
    ]
    found: set[str] = set()
    for tid in again:
        children = [c for c in plan.tasks[tid].downstream if c not in found]
        if children:
            found.update(plan.subgraph_downstream(children))
    return found


def _collect_reusable(history: History, old: RunSummary, plan: Plan, rerun: set[str], into: Prepared) -> None:
    """What of run ``old`` a new attempt at it need not do again: succeeded tasks and cells, loop progress,
    the child runs of ``dag:`` tasks."""
    run_id = old.run_id
    for tid, task in old.tasks.items():
        owner = task.parent or tid
        if owner not in plan.tasks or owner in rerun:
            continue
        if task.parent is not None:  # a matrix cell: reused when the new run gives it the same values
            if task.status == "success":
                into.cells[tid] = {"matrix": task.matrix, "outputs": history.outputs_of(run_id, tid)}
        elif task.status == "success":
            into.reuse[tid] = history.outputs_of(run_id, tid)
        elif task.iterations_done and not (task.error or "").startswith("repeat:"):
            done = task.iterations_done  # the loop goes on after the last iteration that succeeded
            stem = tid if done == 1 else f"{tid}~{done}"
            into.loops[tid] = {"iteration": done, "outputs": history.outputs_of(run_id, stem)}
        elif task.child_run_id:
            into.children[tid] = task.child_run_id


def prepare_resume(history: History, run_id: str, *, clock: Clock | None = None) -> Prepared:
    """``dagctl resume``: go on with a paused (or abandoned) run, in the same run, from where it stopped.

    Succeeded tasks, cells and loop iterations are kept; everything else runs (again); approval gates that
    waited wait again, and decisions made meanwhile count."""
    old = history.summary(run_id)
    refuse_child_run(old, "resume")
    if old.status not in ("paused", "abandoned"):
        if old.status in ("running", "waiting"):
            hint = f"it is going on; to stop it for a while: dagctl pause {run_id}"
        elif old.status == "success":
            hint = f"nothing is left to do; to run tasks again: dagctl retry {run_id} --from TASK"
        else:
            hint = f"use `dagctl retry {run_id}` to run what failed as a new run"
        raise StateError(f"run {run_id} is {old.status}: only a paused or abandoned run can be resumed", hint=hint)
    wait_for_leftovers(run_id, clock or SystemClock())
    snapshot = snapshot_file(history.run_dir(run_id))
    if not snapshot.exists():
        raise StateError(f"run {run_id} has no DAG snapshot ({snapshot})", hint="retry it instead")
    history.cut_torn_tail(run_id)  # what its dead owner was writing: the resumed run's lines follow whole lines
    spec = _load_snapshot(snapshot, old.dag_file)
    plan = build_plan(spec)
    prepared = Prepared(
        spec=spec, params={}, parent=old.parent_run_id, resume=True, run_id=run_id, executor=old.executor
    )
    rerun = inputs_change(plan, old)
    _collect_reusable(history, old, plan, rerun, prepared)
    prepared.attempts = {
        uid: t.attempts for uid, t in old.tasks.items() if t.status != "success" or (t.parent or uid) in rerun
    }
    for t in old.tasks.values():
        if t.child_run_id and t.status != "success":
            _hand_over(history, t.child_run_id, run_id)
    prepared.params = {k: v for k, v in (old.params or {}).items() if k in spec.params}
    prepared.trigger = old.trigger or "manual"
    prepared.schedule_id, prepared.logical_date = old.schedule_id, old.logical_date
    return prepared


def _hand_over(history: History, child_run_id: str, run_id: str) -> None:
    """A sub-DAG run that paused with its parent ``run_id``, which is being resumed: the ``dag:`` task starts a new
    child run that goes on from what this one finished, so this one is recorded ended (cancelled, saying so), not
    left paused for good. One that is not paused (or cannot be read, or is claimed by another process) is left."""
    from dagctl.errors import DagctlError

    try:
        if history.summary(child_run_id).status == "paused":
            history.request_cancel(
                child_run_id, f"handed over to a new sub-DAG run when its parent run {run_id} was resumed"
            )
    except (DagctlError, OSError):
        pass


@contextmanager
def claim_run(history: History, run_id: str) -> Iterator[None]:
    """Go on with ``run_id`` in this process only (:meth:`History.claimed`): two ``dagctl resume`` of one paused
    run (a double click on the dashboard's Resume) both found it paused and ran its tasks twice, into one run.

    The logs folder and the event log must be writable first: a read-only or full disk is an EnvironmentProblem
    (exit 3) naming the path and its variable, before anything is claimed or run."""
    history.settings.check_writable("logs", "events")
    with history.claimed(run_id):
        yield


def wait_for_leftovers(run_id: str, clock: Clock, patience_s: float = KEEPER_GRACE_S + 4.0) -> None:
    """Never start a task of ``run_id`` again while a process of an earlier attempt still runs.

    A run whose coordinator was killed has its tasks stopped by the keeper within ~1.2 s (longer on a
    loaded machine); this waits up to ``patience_s`` for them, then refuses, naming the task and the process."""
    deadline = clock.monotonic() + patience_s
    while True:
        left = processes_of_run(run_id)
        if not left:
            return
        if clock.monotonic() >= deadline:
            pid, task = left[0]
            raise StateError(
                f"task '{task}' of run {run_id} is still running (pid {pid}"
                + (f", and {len(left) - 1} more process(es))" if len(left) > 1 else ")"),
                hint=f"wait for it to end, or stop it ({_kill_command(pid)}), then retry",
            )
        clock.sleep(0.1)


def prepare_partial(
    history: History, plan: Plan, *, only: Iterable[str] = (), from_task: str | None = None
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """(tasks to run, outputs to reuse) for ``run --only T1,T2`` and/or ``run --from T``."""
    name = plan.dag.name
    chosen: list[str] = []
    for tid in [*only, *([from_task] if from_task else [])]:
        if tid not in plan.tasks:
            import difflib

            close = difflib.get_close_matches(tid, list(plan.tasks), n=1)
            raise UsageError(
                f"DAG '{name}' has no task '{tid}'",
                hint=f"did you mean '{close[0]}'?" if close else "known tasks: " + ", ".join(plan.tasks),
            )
    chosen.extend(only)
    if from_task:
        chosen.extend(plan.subgraph_downstream([from_task]))
    selected = [t for t in plan.tasks if t in set(chosen)]
    needed = _needed_upstream(plan, selected)
    found = history.latest_outputs(name, sorted(needed)) if needed else {}
    missing = sorted(needed - set(found))
    if missing:
        raise UsageError(
            f"no earlier run of '{name}' has succeeded at: {', '.join(missing)}",
            hint="run those tasks too (add them to --only), or run the whole DAG once",
        )
    return selected, found


def _needed_upstream(plan: Plan, selected: list[str]) -> set[str]:
    deps = {tid: list(t.depends_on) for tid, t in plan.tasks.items()}
    chosen = set(selected)
    needed: set[str] = set()
    for tid in selected:
        needed |= ancestors(deps, tid)
    return needed - chosen


def _kill_command(pid: int) -> str:
    """How to stop a task's process and what it started: its process group (a task runs in one of its own)."""
    try:
        return f"kill -- -{os.getpgid(pid)}"
    except OSError:  # gone meanwhile, or not ours to look at
        return f"kill {pid}"
