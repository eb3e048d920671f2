"""One task of a plan, run on its own: a step of an exported workflow, or "run this step only".

:func:`run_task` builds the task's attempt with the runner's own machinery (:class:`~dagctl.run.resolve.
AttemptFactory` renders templates, params and env; :class:`~dagctl.run.executors.local.LocalRunner` runs
it), but params and upstream outputs come from the caller instead of from a run. It is one attempt, not a
run: no events, no retries (the caller retries: Argo's ``retryStrategy``), no trigger rule and no ``when:``
(the caller decided to run it). The task's log and ``$DAGCTL_OUTPUT`` are in the run folder as usual
(``logs/runs/<run_id>/``), so the steps of one workflow share a run folder when they share a disk.

:func:`task_spec` / :func:`plan_of_spec` carry one task and what it needs of its DAG as JSON, so a step can
run without the DAG file. :func:`write_outputs` writes the outputs where a workflow engine reads them::

    <dir>/outputs.json        every output, one JSON object ({} when there are none)
    <dir>/values/<key>        each output whose key is a plain name, as text (str as is, others as JSON)

The exit code (:attr:`StepResult.exit_code`) is the task's: 0 success; a shell task's own exit code
(128+N when a signal N killed it); 1 a Python task failed; 124 it timed out; 130/143 it was stopped by
SIGINT/SIGTERM (the token's reason says which).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from dagctl.clock import SystemClock
from dagctl.dag.plan import DagInfo, Plan, PlannedTask, ancestors
from dagctl.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, DagctlError, UsageError
from dagctl.records import Record, field
from dagctl.store import layout

from . import childsignal
from .attempts import Attempt, AttemptResult, CancelToken
from .resolve import AttemptFactory, describe_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from dagctl.protocols import Clock

EXIT_TIMEOUT = 124
"""A task that timed out (as GNU ``timeout`` exits)."""
HARD_STOP_MARGIN = 2.0
"""Seconds past the grace period before an attempt that does not stop is given up on."""
SPEC_FORMAT = 1
SPEC_MARK = "dagctl_task"
"""The key that marks a task spec; its value is :data:`SPEC_FORMAT`."""
OUTPUTS_FILE = "outputs.json"
VALUES_DIR = "values"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}")
_SPEC_TASK_FIELDS = (
    "id", "depends_on", "timeout", "run", "python", "workflow_ref", "params", "env", "cwd", "isolation", "queue",
)  # fmt: skip
"""What a step needs of a planned task (its kind and target follow from run/python/workflow_ref). Retries,
trigger rule and ``when:`` stay with the workflow engine."""


class StepResult(Record):
    """How one task, run on its own, ended. ``status``: success, failed, timeout or cancelled."""

    task_id: str
    status: str
    exit_code: int
    duration_s: float
    log_path: str
    run_dir: str
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- running
def run_task(
    plan: Plan,
    task_id: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    attempt: int = 1,
    logical_date: str | None = None,
    clock: Clock | None = None,
    cancel: CancelToken | None = None,
    grace: float = 5.0,
    base_env: Mapping[str, str] | None = None,
) -> StepResult:
    """Run attempt ``attempt`` of ``task_id`` with ``params`` (overrides of the DAG's, as ``-p`` gives them)
    and ``inputs`` (upstream task id -> its outputs). Raises UsageError for bad input; a failing task is
    not an exception: look at the result. ``cancel`` stops it from another thread (reason ``SIGINT`` or
    ``SIGTERM`` picks the exit code)."""
    from dagctl.dag.params import merge_params

    task = planned_task(plan, task_id)
    _check_plain(task)
    check_run_id(run_id)
    if attempt < 1:
        raise UsageError(f"attempt {attempt} is not an attempt number", hint="attempts count from 1")
    merged = merge_params(plan.dag.params, params or {}, types=plan.dag.param_types)
    upstream = _checked_inputs(plan, task, inputs or {})
    run_dir = layout.run_dir(runs_dir, run_id)
    layout.outputs_dir(run_dir).mkdir(parents=True, exist_ok=True)  # where $DAGCTL_OUTPUT is written
    clock = clock or SystemClock()
    token = cancel or CancelToken()
    factory = AttemptFactory(
        plan=plan,
        run_id=run_id,
        run_dir=run_dir,
        params=merged,
        grace=grace,
        logical_date=logical_date,
        base_env=base_env,
    )
    try:
        built = factory.build(task, attempt, upstream)
    except DagctlError as exc:  # a template or registry problem: the task cannot even be described
        result = AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc))
    else:
        result = _execute(built, token, clock, base_env)
    outputs = dict(result.outputs or {}) if result.ok else {}
    if outputs:
        layout.output_file(run_dir, task.id).write_text(json.dumps(outputs, default=str))
    return StepResult(
        task_id=task.id,
        status=result.status,
        exit_code=_exit_code(result, token),
        duration_s=round(result.duration_s, 6),
        log_path=factory.log_path(task.id, attempt),
        run_dir=str(run_dir),
        error=result.error,
        outputs=outputs,
    )


def _execute(attempt: Attempt, token: CancelToken, clock: Clock, base_env: Mapping[str, str] | None) -> AttemptResult:
    """Run the attempt on a thread of its own, so a timeout or a cancel is enforced even on a Python task that
    never looks at ``ctx.cancelled``: asked to stop, given the grace period, then given up on."""
    from .executors.local import LocalRunner

    runner = LocalRunner(clock, base_env=base_env)
    done = threading.Event()
    wake = threading.Event()
    box: list[AttemptResult] = []

    def work() -> None:
        childsignal.unblock()  # this thread starts the task's process
        try:
            box.append(runner.execute(attempt, token))
        except BaseException as exc:  # reported as the task's failure, never lost with the thread
            box.append(AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc)))
        finally:
            done.set()
            wake.set()

    start = clock.monotonic()
    token.on_cancel(wake.set)
    threading.Thread(target=work, name=f"dagctl-step-{attempt.task_id}", daemon=True).start()
    deadline = start + attempt.timeout if attempt.timeout else None
    give_up_at: float | None = None
    while not done.is_set():
        now = clock.monotonic()
        if deadline is not None and now >= deadline and not token.is_cancelled:
            token.cancel(reason="timeout")
        if token.is_cancelled and give_up_at is None:
            give_up_at = now + attempt.grace + HARD_STOP_MARGIN
        if give_up_at is not None and now >= give_up_at:
            status = "timeout" if token.reason == "timeout" else "cancelled"
            what = f"timed out after {attempt.timeout:g}s" if status == "timeout" and attempt.timeout else "stopped"
            return AttemptResult(
                status=status,  # type: ignore[arg-type]
                duration_s=now - start,
                error=f"{what} and did not stop; given up on (an in-process Python task stops only when it "
                "checks ctx.cancelled; use isolation: process to kill it)",
            )
        limits = [t for t in (None if token.is_cancelled else deadline, give_up_at) if t is not None]
        clock.wait(wake, max(0.0, min(limits) - now) if limits else None)
        wake.clear()
    return box[0]


def _exit_code(result: AttemptResult, token: CancelToken) -> int:
    if result.status == "success":
        return EXIT_OK
    if result.status == "timeout":
        return EXIT_TIMEOUT
    if result.status == "cancelled":
        return EXIT_SIGINT if token.reason == "SIGINT" else EXIT_SIGTERM
    code = result.exit_code
    return code if code is not None and 0 < code < 256 else EXIT_FAILED


def planned_task(plan: Plan, task_id: str) -> PlannedTask:
    task = plan.tasks.get(task_id)
    if task is None:
        import difflib

        close = difflib.get_close_matches(task_id, list(plan.tasks), n=1)
        known = ", ".join(plan.tasks)
        raise UsageError(
            f"DAG '{plan.dag.name}' has no task '{task_id}'",
            hint=f"did you mean '{close[0]}'?" if close else f"known: {known}",
        )
    return task


_PLAIN_FIELDS = frozenset(
    {"order", "level", "kind", "target", "downstream", "priority", "retries", "retry_delay", "backoff", "max_delay",
     "when", "trigger_rule", *_SPEC_TASK_FIELDS}
)  # fmt: skip
"""Fields of a planned task that one attempt honours or that belong to its caller (retries, when:, ...)."""


def _check_plain(task: PlannedTask) -> None:
    """Refuse a task that sets a key one attempt cannot honour (a matrix, a loop, a sub-DAG ...)."""
    for name in task.FIELDS:
        value = getattr(task, name)
        if name not in _PLAIN_FIELDS and value not in (None, False, "", {}, [], ()):
            raise UsageError(
                f"task '{task.id}' sets {name}:, which one attempt of one task cannot honour",
                hint="run the DAG with dagctl run (add --only to run part of it)",
            )


def check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise UsageError(
            f"run id {run_id!r} cannot name a run folder",
            hint="use letters, digits and _ . : - (at most 200), starting with a letter, digit or _",
        )


def _checked_inputs(
    plan: Plan, task: PlannedTask, inputs: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Inputs as plain dicts; an input from a task of this plan that is not upstream of ``task`` is refused.
    (A plan made from a task spec holds the one task: its inputs are whatever the workflow passes.)"""
    upstream: set[str] | None = None
    checked: dict[str, dict[str, Any]] = {}
    for source, outputs in inputs.items():
        if source in plan.tasks:
            if upstream is None:
                upstream = ancestors({t.id: t.depends_on for t in plan.tasks.values()}, task.id)
            if source not in upstream:
                raise UsageError(
                    f"--input {source}: task '{source}' is not upstream of '{task.id}'",
                    hint=f"upstream of '{task.id}': {', '.join(sorted(upstream)) or 'none'}",
                )
        checked[source] = dict(outputs)
    return checked


def parse_inputs(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``TASK=JSON`` or ``TASK=@FILE`` (a JSON object of that task's outputs) -> ``{TASK: outputs}``.

    A value that is still an unresolved workflow reference (``{{tasks.x.outputs...}}``: Argo leaves the
    outputs of a skipped task unresolved) counts as no outputs, as a skipped task has none.
    """
    inputs: dict[str, dict[str, Any]] = {}
    for item in items:
        source, sep, text = item.partition("=")
        if not sep or not source.strip():
            raise UsageError(f"--input {item[:60]!r} is not TASK=JSON", hint="write --input extract='{\"rows\": 5}'")
        source = source.strip()
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--input {source}: cannot read {text[1:]}: {exc.strerror or exc}") from None
        stripped = text.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            inputs[source] = {}
            continue
        try:
            value = json.loads(stripped) if stripped else {}
        except ValueError as exc:
            raise UsageError(
                f"--input {source}: not JSON ({exc})", hint="give the task's outputs as one JSON object"
            ) from None
        if not isinstance(value, dict):
            raise UsageError(
                f"--input {source}: a JSON {type(value).__name__}, not an object",
                hint='give the task\'s outputs as one JSON object, e.g. {"path": "/data/x.csv"}',
            )
        inputs[source] = value
    return inputs


# ---------------------------------------------------------------------------------------------- outputs
def write_outputs(folder: Path, outputs: Mapping[str, Any]) -> None:
    """``folder/outputs.json`` and ``folder/values/<key>`` (see the module docstring)."""
    from dagctl.dag.templating import format_value

    values = folder / VALUES_DIR
    values.mkdir(parents=True, exist_ok=True)
    (folder / OUTPUTS_FILE).write_text(json.dumps(dict(outputs), ensure_ascii=False, default=str))
    for key, value in outputs.items():
        if _PLAIN_KEY.fullmatch(key):
            (values / key).write_text(format_value(value))


def is_plain_key(key: str) -> bool:
    """Whether an output key gets a ``values/<key>`` file."""
    return bool(_PLAIN_KEY.fullmatch(key))


# ---------------------------------------------------------------------------------------------- task specs
def task_spec(
    plan: Plan, task_id: str, *, params: Iterable[str] | None = None, source_path: str | None = None
) -> dict[str, Any]:
    """One task and what it needs of its DAG, as JSON data: name, tenant, where the DAG file is (its folder is
    where ``python:`` modules and the workflow registry are found), DAG env, the defaults of ``params`` (all
    when None; they type the values given with ``-p``) and, for a ``workflow_ref`` task, the DAG's registry."""
    task = planned_task(plan, task_id)
    dag = plan.dag
    names = dag.params if params is None else [p for p in params if p in dag.params]
    dag_part: dict[str, Any] = {
        "name": dag.name,
        "tenant_id": dag.tenant_id,
        "source_path": source_path if source_path is not None else dag.source_path,
        "params": {name: dag.params[name] for name in names},
        "env": dict(dag.env),
        "workflows": dict(dag.workflows) if task.workflow_ref else {},
    }
    task_part: dict[str, Any] = {}
    for name in _SPEC_TASK_FIELDS:
        value = getattr(task, name)
        if value is None or value == {} or value == () or value == PlannedTask._DEFAULTS.get(name, ...):
            continue
        task_part[name] = list(value) if isinstance(value, tuple) else value
    return {
        SPEC_MARK: SPEC_FORMAT,
        "dag": {k: v for k, v in dag_part.items() if v not in (None, {})},
        "task": task_part,
    }


def plan_of_spec(data: Any) -> tuple[Plan, str]:
    """The one-task plan a :func:`task_spec` describes, and the task's id. UsageError if it is not one."""
    hint = "pass what `dagctl export argo` wrote, from the same dagctl version"
    if not isinstance(data, dict) or SPEC_MARK not in data:
        raise UsageError("--spec is not a dagctl task spec", hint=hint)
    if data[SPEC_MARK] != SPEC_FORMAT:
        raise UsageError(f"--spec has format {data[SPEC_MARK]!r}; this dagctl reads format {SPEC_FORMAT}", hint=hint)
    try:
        dag = DagInfo(**data["dag"])
        fields = dict(data["task"])
        fields["depends_on"] = tuple(fields.get("depends_on", ()))
        unknown = set(fields) - set(_SPEC_TASK_FIELDS)
        if unknown:
            raise TypeError(f"unknown task key {sorted(unknown)[0]!r}")
        kinds = [k for k in ("run", "python", "workflow_ref") if fields.get(k) is not None]
        if len(kinds) != 1 or not isinstance(fields.get("id"), str):
            raise ValueError("a task has an id and exactly one of run, python, workflow_ref")
        run = fields.get("run")
        target = " ".join(run) if isinstance(run, list) else str(fields[kinds[0]])
        task = PlannedTask(
            order=1, level=0, kind=kinds[0], target=target, downstream=(), priority=1, retries=0,
            retry_delay=0.0, backoff=1.0, max_delay=0.0, **{"timeout": None, **fields},
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--spec is not a valid dagctl task spec: {exc}", hint=hint) from None
    return Plan(dag=dag, tasks={task.id: task}, levels=((task.id,),)), task.id
