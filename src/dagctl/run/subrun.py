"""``dag:`` tasks: a child DAG run as a run of its own, linked to its parent, its outputs handed back.

The parent's runner starts the child on a thread of its own (:func:`start`) through the ``launch`` function
it was given (:func:`dagctl.run.api.run_dag` passes one that loads the child's plan with
:func:`child_plan` and runs it with the same settings and event log). The child gets its own run id
and folder; its ``dag_start`` names ``parent_run_id`` and ``parent_task``, and the parent's
``task_start`` names the ``child_run_id``. The child's declared ``outputs:`` (:func:`render_outputs`)
become the task's outputs. Cancelling the parent, or the task's timeout, cancels the child; pausing the parent
pauses the child (:meth:`~dagctl.run.state.RunControl.pause`: its running tasks finish, nothing new starts, and it
ends paused). A retried or resumed parent passes the earlier child's run id so the new child reuses what the old
one finished.
"""

from __future__ import annotations

import threading
from pathlib import Path

from dagctl.errors import DagctlError
from dagctl.records import Record

from .attempts import AttemptResult
from .state import RunControl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from dagctl.dag.plan import Plan, PlannedTask

    from .attempts import Attempt, CancelToken
    from .state import RunResult

    SubRun = Callable[["ChildRun"], RunResult]


class ChildRun(Record):
    """What a parent asks of its child run."""

    parent: Plan
    task: PlannedTask
    params: dict[str, Any]
    run_id: str
    parent_run_id: str
    parent_task: str
    control: RunControl
    reuse_from: str | None = None
    """An earlier child run of this task (a retried parent): its succeeded tasks are reused."""


def child_plan(parent: Plan, planned: PlannedTask, *, cache_dir: Path | None = None) -> Plan:
    """The child DAG of a ``dag:`` task: a file relative to the parent's, or an inline DAG.

    A child file goes through the plan cache in ``cache_dir`` (:mod:`dagctl.dag.plancache`), as the
    parent's file does: a child that has not changed is neither parsed nor validated again.
    """
    spec = planned.subdag
    if isinstance(spec, str):
        from dagctl.dag.plancache import load_plan

        base = Path(parent.dag.source_path).resolve().parent if parent.dag.source_path else Path.cwd()
        plan, remember = load_plan(base / spec, cache_dir=cache_dir)
        remember()
        return plan
    from dagctl.dag.plan import build_plan
    from dagctl.dag.spec import DagSpec

    assert isinstance(spec, dict)
    data = {"name": f"{parent.dag.name}.{planned.id}", "tenant_id": parent.dag.tenant_id, **spec}
    child = DagSpec.model_validate(data)
    child._source = parent.dag.source_path  # its python: targets live beside the parent's file
    return build_plan(child)


def render_outputs(declared: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
    """A DAG's ``outputs:`` with its ``${...}`` references resolved against the finished run."""
    from dagctl.dag.templating import TemplateContext, render_value

    ctx = TemplateContext(
        params=scope["params"], env=scope["env"], outputs=scope["outputs"], run_id=str(scope["run_id"])
    )
    return {name: render_value(value, ctx) for name, value in declared.items()}


def start(
    *,
    parent: Plan,
    parent_run_id: str,
    planned: PlannedTask,
    attempt: Attempt,
    token: CancelToken,
    run_id: str,
    reuse_from: str | None,
    launch: SubRun | None,
    report: Callable[[AttemptResult], None],
    clock_now: Callable[[], float],
) -> RunControl:
    """Run the child of ``planned`` on a thread; ``report`` its result as an attempt's. Returns the child run's
    control: :meth:`~dagctl.run.state.RunControl.pause` pauses it (a child that ends paused is reported
    ``cancelled``, with its control's ``pausing`` set)."""
    began = clock_now()
    control = RunControl()

    def work() -> None:
        try:
            if launch is None:
                raise DagctlError("dag: tasks need a run started by run_dag (dagctl run)")
            if reuse_from is not None:
                carry_decisions(Path(attempt.run_dir).parent, reuse_from, run_id)
            token.on_cancel(lambda: control.cancel(f"parent task {planned.id}: {token.reason}"))
            params = {k: v for k, v in attempt.params.items() if "__" not in k}  # not the upstream payload
            result = launch(
                ChildRun(
                    parent=parent,
                    task=planned,
                    params=params,
                    run_id=run_id,
                    parent_run_id=parent_run_id,
                    parent_task=planned.id,
                    control=control,
                    reuse_from=reuse_from,
                )
            )
        except DagctlError as exc:
            report(AttemptResult(status="failed", duration_s=clock_now() - began, error=_child_error(planned, exc)))
            return
        except Exception as exc:  # never lose a result: the runner waits for it
            error = f"{type(exc).__name__}: {exc}"
            report(AttemptResult(status="failed", duration_s=clock_now() - began, error=error))
            return
        duration = clock_now() - began
        if result.status == "success":
            report(AttemptResult(status="success", duration_s=duration, outputs=result.outputs))
        elif result.status == "paused":  # with its parent (RunControl.pause): the parent's resume goes on with it
            report(AttemptResult(status="cancelled", duration_s=duration, error=f"sub-DAG run {run_id} paused"))
        elif result.status == "cancelled":
            if token.reason == "timeout":
                limit = f" after {attempt.timeout:g}s" if attempt.timeout else ""
                report(AttemptResult(status="timeout", duration_s=duration, error=f"timed out{limit}"))
            else:
                report(AttemptResult(status="cancelled", duration_s=duration, error=result.error or "cancelled"))
        else:
            failed = [t.id for t in result.tasks.values() if t.status == "failed"]
            why = result.error or (f"task(s) failed: {', '.join(failed[:5])}" if failed else result.status)
            report(AttemptResult(status="failed", duration_s=duration, error=f"sub-DAG run {run_id}: {why}"))

    threading.Thread(target=work, name=f"dagctl-subdag-{run_id}", daemon=True).start()
    return control


def carry_decisions(runs_dir: Path, earlier: str, run_id: str) -> None:
    """Decisions made on the approval gates of the child run ``earlier`` while they waited (it paused with its
    parent, and was handed over when the parent was resumed) count for the gates of the child run ``run_id`` that
    takes over, as a resumed run's gates count the decisions made while it was paused. Gates the earlier child ended
    (decided, cancelled) are left: its succeeded ones are reused, the others ask again. Best effort."""
    import contextlib
    import shutil

    from dagctl.store import layout
    from dagctl.store.jsonl import iter_records
    from dagctl.store.runsummary import fold_run

    old = layout.run_dir(runs_dir, earlier)
    if not (old / layout.APPROVALS).is_dir():  # (nearly always: no gate decided there)
        return
    with contextlib.suppress(DagctlError, OSError):
        summary = fold_run(iter_records(layout.events_file(old)))
        for uid, task in summary.tasks.items():
            decisions = layout.approvals_file(old, uid)
            if task.status == "waiting" and decisions.is_file():
                target = layout.approvals_file(layout.run_dir(runs_dir, run_id), uid)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(decisions, target)


def _child_error(planned: PlannedTask, exc: DagctlError) -> str:
    """Why the child of ``planned`` could not start, as the ``dag:`` task's error. A param of the child that does
    not fit (a type, a bound, a required one missing) came from the task's ``params:``, not from ``-p`` on the
    command line: the message says whose param it is and where its value was written."""
    message = exc.message
    if not message.startswith("param '"):
        return str(exc)
    name = message[len("param '") :].partition("'")[0]
    child = planned.subdag if isinstance(planned.subdag, str) else "inline sub-DAG"
    given = planned.params.get(name)
    source = (
        f"its value comes from params: of task '{planned.id}' ({name}: {given})"
        if given is not None
        else f"params: of task '{planned.id}' does not give it"
    )
    example = _example(exc.hint or "", name)
    fix = f"give one that fits there, e.g. {name}: {example}" if example else "give one that fits there"
    rest = message[len(f"param '{name}'") :]
    return f"param '{name}' of the sub-DAG {child}{rest} — {source}; {fix}"


def _example(hint: str, name: str) -> str | None:
    """The value of ``-p NAME=VALUE`` in a param problem's hint (``pass e.g. -p n=1``), if it has one."""
    marker = f"-p {name}="
    if marker not in hint:
        return None
    return hint.partition(marker)[2].split(" ")[0].strip("'") or None
