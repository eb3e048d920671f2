"""The library entry points, usable without the CLI: ``run_dag``."""

from __future__ import annotations

import contextlib
from pathlib import Path

from dagctl.clock import SystemClock
from dagctl.dag.plan import Plan, build_plan
from dagctl.errors import DagctlError
from dagctl.settings import Settings
from dagctl.store import layout
from dagctl.store.events import RunWarning
from dagctl.store.sinks import BestEffort, FanOut, JsonlSink

from . import subrun
from .runner import Runner
from .state import RunControl, RunOptions, RunResult, default_parallelism, new_run_id
from .subrun import ChildRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from dagctl.dag.spec import DagSpec
    from dagctl.protocols import Clock
    from dagctl.store.events import Event
    from dagctl.store.protocols import EventSink

    from .protocols import Executor


def run_dag(
    dag: DagSpec | Plan | str | Path,
    *,
    params: dict[str, Any] | None = None,
    executor: Executor | None = None,
    sinks: Iterable[EventSink] = (),
    settings: Settings | None = None,
    clock: Clock | None = None,
    control: RunControl | None = None,
    write_events: bool = True,
    **options: Any,
) -> RunResult:
    """Load (if given a path: through the plan cache), plan and run a DAG; return its :class:`RunResult`.

    Events go to ``settings.events_path`` (``ORCH_EVENTS_PATH``) unless ``write_events`` is False, and to
    every sink in ``sinks``. ``options`` are :class:`RunOptions` fields (parallelism, fail_fast, timeout,
    trigger, run_id, ...). Raises SpecError/UsageError for bad input; a failing task is not an exception:
    look at ``result.status``.
    """
    settings = settings or Settings.from_env()
    if isinstance(dag, Plan):
        plan = dag
    elif isinstance(dag, (str, Path)):
        from dagctl.dag.plancache import load_plan

        plan, remember = load_plan(dag, cache_dir=settings.plan_cache_dir)
        remember()
    else:
        plan = plan_of(dag)
    clock = clock or SystemClock()
    run_options = RunOptions(params=dict(params or {}), **options)
    if run_options.cache_dir is None:
        run_options.cache_dir = settings.task_cache_dir
    if run_options.run_id is None:
        run_options.run_id = new_run_id(clock)
    all_sinks: list[EventSink] = []
    log: JsonlSink | None = None
    if write_events:
        # each run also keeps its own events, so reading one run never scans the whole history
        own_events = layout.events_file(layout.run_dir(settings.runs_dir, run_options.run_id))
        reserve = layout.reserve_file(own_events.parent)  # room for the run's last lines if the disk fills up
        log = JsonlSink(settings.events_path, buffered=True, mirrors=[own_events], reserve=reserve)
        all_sinks.append(log)

    def warn(event: Event, exc: BaseException) -> None:
        """A view that failed (its terminal went away) is dropped; the run goes on, and the log says so once."""
        if log is not None:
            message = f"progress output stopped: {type(exc).__name__}: {exc}; the run goes on without it"
            fields = {k: getattr(event, k) for k in ("ts", "run_id", "dag_name", "tenant_id")}
            log.emit(RunWarning(**fields, message=message))

    # a sink that says it cannot fail (the live view's queue) is not wrapped: one call less per event
    all_sinks.extend(s if getattr(s, "infallible", False) else BestEffort(s, on_error=warn) for s in sinks)
    # the DAG's notify:, else its project's (not for a sub-DAG's run: the parent's message covers it)
    notify = plan.dag.notify or (plan.dag.project_notify if run_options.parent_task is None else None)
    if notify:  # messages to people: never allowed to stop the run either
        from .notify import notifier_for

        # the run's control: at the end, a stop (Ctrl+C) skips the wait for the messages still being sent
        control = control if control is not None else RunControl()
        notifier = notifier_for(notify, clock, control)
        if notifier is not None:
            all_sinks.append(BestEffort(notifier, on_error=warn))
    owned = executor is None
    if executor is None:
        from dagctl.run.executors.threads import ThreadExecutor

        workers = run_options.parallelism or plan.dag.parallelism or default_parallelism()
        executor = ThreadExecutor(min(workers, len(plan.tasks)), clock=clock)
    sink = all_sinks[0] if len(all_sinks) == 1 else FanOut(all_sinks)  # one sink: no fan-out per event
    parent_executor = executor

    def launch(child: ChildRun) -> RunResult:
        """A ``dag:`` task's child: a run of its own, with this run's settings and event log."""
        child_plan = subrun.child_plan(child.parent, child.task, cache_dir=settings.plan_cache_dir)
        workers = child_plan.dag.parallelism or default_parallelism()
        child_executor = parent_executor.for_child_run(min(workers, len(child_plan.tasks)))
        try:
            return run_dag(
                child_plan,
                params=child.params,
                executor=child_executor,
                settings=settings,
                clock=clock,
                control=child.control,
                run_id=child.run_id,
                parent_run_id=child.parent_run_id,
                parent_task=child.parent_task,
                trigger="parent",
                reuse_outputs=_reusable(settings, child.reuse_from),
            )
        finally:
            if child_executor is not parent_executor:
                child_executor.shutdown(wait=False)

    try:
        runner = Runner(
            plan,
            executor=executor,
            sink=sink,
            runs_dir=settings.runs_dir,
            clock=clock,
            options=run_options,
            control=control,
            grace=settings.grace_s,
            subrun=launch,
        )
        if _prints_in_threads(plan):  # their print() to their logs, not to this process's stdout
            from .actions.taskstreams import routed

            with routed():
                result = runner.run()
        else:
            result = runner.run()
        if runner.cache_stored:  # the cache grew: keep it under its cap (a fully cached run reads no config)
            from .cache import trim

            trim(plan, run_options.cache_dir or settings.task_cache_dir)
        return result
    finally:
        if owned:
            executor.shutdown(wait=False)
        with contextlib.suppress(DagctlError, OSError):  # the runner has recorded what it could not write
            sink.close()


def plan_of(spec: DagSpec) -> Plan:
    """The plan a run of ``spec`` follows: :func:`~dagctl.dag.plan.build_plan` plus what the project's
    dagctl.yaml adds (:func:`~dagctl.dag.workflows.project_defaults`)."""
    from dagctl.dag.workflows import project_defaults

    return project_defaults(build_plan(spec))


def _reusable(settings: Settings, run_id: str | None) -> dict[str, dict[str, Any]]:
    """Outputs of the tasks an earlier child run finished (a retried parent reuses them)."""
    if run_id is None:
        return {}
    from dagctl.errors import StateError
    from dagctl.store.history import History

    history = History(settings)
    try:
        summary = history.summary(run_id)
    except StateError:
        return {}
    return {tid: history.outputs_of(run_id, tid) for tid, t in summary.tasks.items() if t.status == "success"}


def _prints_in_threads(plan: Plan) -> bool:
    """Whether a task (or handler) of ``plan`` runs Python code in a thread of this process."""
    every = [*plan.tasks.values(), *plan.handlers.values()]
    return any(t.kind in ("python", "workflow_ref") and t.isolation == "thread" for t in every)
