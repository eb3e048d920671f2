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

What a run does around a task's attempts, an exported workflow does in steps of their own, each computed by
the runner's own functions so it gives what a run gives: one cell of a matrix task (``run_task(cell=)``) and
the fan-in of its cells (:func:`gather_cells`, :mod:`dagctl.run.fanin`); one iteration of a loop
(``run_task(iteration=)``) and what follows it (:func:`loop_verdict`, :mod:`dagctl.run.loops`); the task
cache key of an attempt (:func:`task_cache_key`, :mod:`dagctl.run.cache`); the params of a ``dag:`` task's
child and the child's outputs (:func:`child_params`, :func:`child_outputs`, :mod:`dagctl.run.subrun`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from dagctl.clock import SystemClock
from dagctl.dag.plan import DagInfo, Plan, PlannedTask, ancestors
from dagctl.dag.templating import MissingOutputs
from dagctl.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, DagctlError, UsageError
from dagctl.records import Record, field
from dagctl.store import layout

from . import childsignal
from .attempts import Attempt, AttemptResult, CancelToken, allowed_failure
from .resolve import AttemptFactory, describe_error, iteration_unit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
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
    "matrix", "min_success", "aggregate", "repeat", "cache", "secrets", "continue_on", "precondition",
)  # fmt: skip
"""What a step needs of a planned task (its kind and target follow from run/python/workflow_ref). Retries
(``retry_on_exit_codes`` too), trigger rule, ``when:`` and ``max_parallel`` stay with the workflow engine; the
``precondition:`` is checked by a step of its own (:func:`check_precondition`), a run of the task does not."""


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
    files: dict[str, str] = field(default_factory=dict)
    """What a workflow engine reads besides the outputs (:func:`write_outputs`): ``cell`` (a matrix cell's
    record), ``cache-key``, ``again`` and ``next`` (a loop's verdict), ``met`` (a precondition's)."""
    reason: str | None = None
    """Why it succeeded although the attempt failed (``continue_on:``), or why a precondition is not met."""


class _Step:
    """What every kind of step starts from: the task, the merged params, the checked inputs, the factory."""

    def __init__(
        self,
        plan: Plan,
        task_id: str,
        *,
        runs_dir: Path,
        run_id: str,
        params: Mapping[str, Any] | None,
        inputs: Mapping[str, Mapping[str, Any]] | None,
        logical_date: str | None = None,
        grace: float = 5.0,
        base_env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        from dagctl.dag.params import merge_params

        self.clock = clock or SystemClock()
        self.started = self.clock.monotonic()  # a step's duration counts its preparation too
        self.task = planned_task(plan, task_id)
        check_run_id(run_id)
        self.run_id = run_id
        self.params = merge_params(plan.dag.params, params or {}, types=plan.dag.param_types)
        self.upstream = _checked_inputs(plan, self.task, inputs or {})
        self.run_dir = layout.run_dir(runs_dir, run_id)
        self.base_env: Mapping[str, str] = dict(os.environ) if base_env is None else base_env
        self.logical_date = logical_date
        environment = None
        if plan.dag.secrets or plan.dag.env_files or any(t.secrets for t in plan.tasks.values()):
            from .environment import RunEnvironment

            environment = RunEnvironment(plan, environ=self.base_env)  # a missing secret: UsageError naming it
        self.masker = environment.masker if environment is not None and environment.masker else None
        self.factory = AttemptFactory(
            plan=plan,
            run_id=run_id,
            run_dir=self.run_dir,
            params=self.params,
            grace=grace,
            logical_date=logical_date,
            base_env=base_env,
            environment=environment,
        )

    def render(self, text: str) -> Any:
        """A ``${...}`` string with the step's params and inputs, as the runner renders a matrix's lists."""
        from dagctl.dag.templating import TemplateContext, render_value

        ctx = TemplateContext(params=self.params, env=self.base_env, outputs=self.upstream, run_id=self.run_id)
        return render_value(text, ctx)

    def cells(self) -> list[dict[str, Any]]:
        """The matrix task's cells, resolved and expanded as the runner does (TemplateError when it cannot)."""
        from dagctl.dag import matrix

        return matrix.expand(matrix.resolve(self.task.matrix or {}, self.render))

    def unit(self, cell: str | None, iteration: int | None) -> tuple[str, dict[str, Any] | None, int | None]:
        """(the unit that names the attempt's files, the cell's values, the cell's index)."""
        if cell is not None:
            index, values = find_cell(self.task, self.cells(), cell)
            from dagctl.dag.matrix import cell_id

            return cell_id(self.task.id, index), values, index
        if iteration is not None:
            return iteration_unit(self.task.id, iteration), None, None
        return self.task.id, None, None

    def failed(self, error: str) -> StepResult:
        return StepResult(
            task_id=self.task.id,
            status="failed",
            exit_code=EXIT_FAILED,
            duration_s=round(self.clock.monotonic() - self.started, 6),
            log_path="",
            run_dir=str(self.run_dir),
            error=error,
        )

    def done(self, outputs: dict[str, Any], **files: str) -> StepResult:
        return StepResult(
            task_id=self.task.id,
            status="success",
            exit_code=EXIT_OK,
            duration_s=round(self.clock.monotonic() - self.started, 6),
            log_path="",
            run_dir=str(self.run_dir),
            outputs=outputs,
            files=files,
        )

    def save(self, unit: str, outputs: Mapping[str, Any]) -> None:
        """Keep ``outputs`` in the run folder as the runner does (``outputs/<unit>.json``)."""
        layout.outputs_dir(self.run_dir).mkdir(parents=True, exist_ok=True)
        layout.output_file(self.run_dir, unit).write_text(json.dumps(dict(outputs), default=str))


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
    cell: str | None = None,
    iteration: int | None = None,
    on_log: Callable[[str, Callable[[str], str]], None] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> StepResult:
    """Run attempt ``attempt`` of ``task_id`` with ``params`` (overrides of the DAG's, as ``-p`` gives them)
    and ``inputs`` (upstream task id -> its outputs). Raises UsageError for bad input; a failing task is
    not an exception: look at the result. ``cancel`` stops it from another thread (reason ``SIGINT`` or
    ``SIGTERM`` picks the exit code).

    ``cell`` runs one cell of a matrix task: one item of the workflow's list (the cell's values as JSON, or,
    for a list from an upstream output, the value as Argo writes it); the attempt is named ``<task>:<index>``
    and its templates read ``${matrix.KEY}``, as in a run. ``iteration`` runs iteration N (from 1) of a
    loop, named ``<task>~N`` after the first. ``on_log`` is told the log's path before the task starts, and
    what masks the task's secrets in text read from it (the identity when it has none). ``extra_env`` is added to
    the task's environment (a handler's, :func:`handler_env`)."""
    task = planned_task(plan, task_id)
    _check_runnable(task, cell=cell, iteration=iteration)
    if attempt < 1:
        raise UsageError(f"attempt {attempt} is not an attempt number", hint="attempts count from 1")
    if iteration is not None and iteration < 1:
        raise UsageError(f"iteration {iteration} is not an iteration number", hint="iterations count from 1")
    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs,
        logical_date=logical_date, grace=grace, base_env=base_env, clock=clock,
    )  # fmt: skip
    layout.outputs_dir(step.run_dir).mkdir(parents=True, exist_ok=True)  # where $DAGCTL_OUTPUT is written
    clock = step.clock
    token = cancel or CancelToken()
    unit, values, index = task.id, None, None
    try:
        unit, values, index = step.unit(cell, iteration)
        built = step.factory.build(task, attempt, step.upstream, unit=unit, matrix=values, iteration=iteration)
    except MissingOutputs as exc:  # what the task reads was not given: the caller's mistake, not the task's
        raise UsageError(
            f"--input {exc.task} is missing: task '{task.id}' reads {exc.reference}",
            hint=f'pass that task\'s outputs as JSON: --input {exc.task}=\'{{"KEY": "VALUE"}}\', '
            f"or --input {exc.task}=@FILE (its outputs.json)",
        ) from None
    except DagctlError as exc:  # a template or registry problem: the task cannot even be described
        result = AttemptResult(status="failed", duration_s=0.0, error=describe_error(exc))
    else:
        if extra_env:
            built = built.replace(env={**built.env, **extra_env})
        if on_log is not None:
            on_log(built.log_path, step.masker.text if step.masker is not None else str)
        result = _execute(built, token, clock, base_env)
        if step.masker is not None:  # what the attempt wrote, as a run masks it
            step.masker.file(built.log_path)
            if result.error:
                result = result.replace(error=step.masker.text(result.error))
    reason = None if token.is_cancelled else allowed_failure(task.continue_on, result)
    if reason is not None:  # as a run does: recorded as a success with the reason, downstream goes on
        result = AttemptResult(status="success", duration_s=result.duration_s, exit_code=result.exit_code)
    outputs = dict(result.outputs or {}) if result.ok else {}
    if outputs:
        step.save(unit, outputs)
    files = {}
    if result.ok and index is not None:
        files[CELL_FILE] = cell_record(index, values or {}, outputs)
    return StepResult(
        task_id=task.id,
        status=result.status,
        exit_code=_exit_code(result, token),
        duration_s=round(result.duration_s, 6),
        log_path=step.factory.log_path(unit, attempt),
        run_dir=str(step.run_dir),
        error=result.error,
        outputs=outputs,
        files=files,
        reason=reason,
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
     "retry_on_exit_codes", "when", "trigger_rule", "max_parallel", "description", *_SPEC_TASK_FIELDS}
)  # fmt: skip
"""Fields of a planned task that one attempt honours or that belong to its caller (retries, when:, ...). A
matrix needs ``cell``, a loop ``iteration``; ``cache:`` is the caller's (exec-task always runs the task)."""


_KEYS = {"subdag": "dag"}
"""The key a DAG file writes for a planned task's field, where they differ."""


def _check_runnable(task: PlannedTask, *, cell: str | None, iteration: int | None) -> None:
    """Refuse a task that sets a key one attempt cannot honour (a sub-DAG, an approval gate ...), a matrix
    task without its cell, a loop without its iteration, and a cell or an iteration of a task that has none."""
    hint = "run the DAG with dagctl run (add --only to run part of it)"
    for name in task.FIELDS:
        value = getattr(task, name)
        if name not in _PLAIN_FIELDS and value not in (None, False, "", {}, [], ()):
            key = _KEYS.get(name, name)
            raise UsageError(f"task '{task.id}' sets {key}:, which one attempt of one task cannot honour", hint=hint)
    if task.kind not in ("run", "python", "workflow_ref"):
        raise UsageError(f"task '{task.id}' is a {task.kind} task, which exec-task cannot run", hint=hint)
    if task.matrix is not None and cell is None:
        raise UsageError(f"task '{task.id}' sets matrix:, which one attempt of one task cannot honour", hint=hint)
    if task.matrix is None and cell is not None:
        raise UsageError(f"--cell: task '{task.id}' has no matrix:", hint="leave out --cell")
    if task.repeat is not None and iteration is None:
        raise UsageError(f"task '{task.id}' sets repeat:, which one attempt of one task cannot honour", hint=hint)
    if task.repeat is None and iteration is not None:
        raise UsageError(f"--iteration: task '{task.id}' has no repeat:", hint="leave out --iteration")


def check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise UsageError(
            f"run id {run_id!r} cannot name a run folder",
            hint="use letters, digits and _ . : - (at most 200), starting with a letter, digit or _",
        )


def _checked_inputs(
    plan: Plan, task: PlannedTask, inputs: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Inputs as plain dicts; an input from a task of this plan that is not upstream of ``task``, or from no task
    of a whole DAG's plan, is refused. (A plan made from a task spec holds the one task, without its upstream
    tasks: its inputs are whatever the workflow passes.)"""
    upstream: set[str] | None = None
    checked: dict[str, dict[str, Any]] = {}
    whole = len(plan.tasks) > 1 and all(d in plan.tasks for d in task.depends_on)
    for source, outputs in inputs.items():
        if source not in plan.tasks and whole:
            raise UsageError(
                f"--input {source}: DAG '{plan.dag.name}' has no task '{source}'",
                hint=f"give the outputs of a task upstream of '{task.id}': "
                + (", ".join(sorted(ancestors({t.id: t.depends_on for t in plan.tasks.values()}, task.id))) or "none"),
            )
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


# ---------------------------------------------------------------------------------------------- matrix cells
def argo_text(value: Any) -> str:
    """A value as Argo writes one item of a list into ``{{item}}``: text as is, anything else as compact JSON
    (a mapping with its keys sorted, as Go writes maps)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _same(item: str, value: Any) -> bool:
    """Is ``item`` (as Argo wrote it) ``value``? Compared as text, then as JSON data (``1e-05`` is ``0.00001``)."""
    if item == argo_text(value):
        return True
    try:
        parsed = json.loads(item)
    except ValueError:
        return False
    return _canonical(parsed) == _canonical(value)


def find_cell(task: PlannedTask, cells: list[dict[str, Any]], item: str) -> tuple[int, dict[str, Any]]:
    """(index, values) of the first cell ``item`` is: the cell's values (a list known at export), or the one
    value of a one-key matrix whose list comes from an upstream output."""
    from dagctl.dag.matrix import is_dynamic

    one_key = is_dynamic(task.matrix or {}) and len(task.matrix or {}) == 1
    for index, values in enumerate(cells):
        if _same(item, next(iter(values.values())) if one_key else values):
            return index, values
    raise UsageError(
        f"--cell {item[:80]!r} is none of the {len(cells)} cells of matrix task '{task.id}'",
        hint="pass one item of the list the workflow fans out over",
    )


CELL_FILE = "cell"
CELL_MARK = "dagctl-cell:"
"""Starts a cell's record, which is then not JSON: Argo gathers such values of a loop's steps as a list of
strings, untouched (values that are JSON objects it re-encodes, turning ``1.0`` into ``1``)."""


def cell_record(index: int, values: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    """What a succeeded cell hands to its matrix task's fan-in step."""
    return CELL_MARK + json.dumps(
        {"index": index, "matrix": dict(values), "outputs": dict(outputs)}, ensure_ascii=False, default=str
    )


def parse_cells(text: str) -> list[dict[str, Any]]:
    """The records of the cells that succeeded, from Argo's aggregate of the cells' ``cell`` parameters (a JSON
    list; a cell that failed gives no record or an empty one; a reference Argo left unresolved: none)."""
    stripped = text.strip()
    if not stripped or (stripped.startswith("{{") and stripped.endswith("}}")):
        return []
    try:
        items = json.loads(stripped)
    except ValueError as exc:
        raise UsageError(f"--gather: not JSON ({exc})", hint="pass the cells' aggregated parameter") from None
    records = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str) and item.startswith(CELL_MARK):
            item = json.loads(item[len(CELL_MARK) :])
        if isinstance(item, dict) and isinstance(item.get("matrix"), dict):
            records.append(item)
    return records


def gathered_cells(cells: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every cell as the runner gathers it (``matrix``, ``status``, ``outputs``), in cell order: the ones with a
    record succeeded, the others failed. A record goes to the cell of its index when their values agree, else
    to the first free cell with its values."""
    free = list(records)
    gathered = []
    for index, values in enumerate(cells):
        key = _canonical(values)
        same = [r for r in free if _canonical(r["matrix"]) == key]
        record = next((r for r in same if r.get("index") == index), same[0] if same else None)
        if record is None:
            gathered.append({"matrix": values, "status": "failed", "outputs": {}})
            continue
        free.remove(record)
        gathered.append({"matrix": values, "status": "success", "outputs": dict(record.get("outputs") or {})})
    return gathered


def gather_cells(
    plan: Plan,
    task_id: str,
    records: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """A matrix task's fan-in: its outputs from its cells' records (:func:`parse_cells`), with ``min_success``
    and ``aggregate:`` applied as :mod:`dagctl.run.fanin` applies them in a run."""
    from .actions.python import call_aggregate
    from .fanin import aggregate

    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, base_env=base_env, clock=clock
    )
    task = step.task
    if task.matrix is None:
        raise UsageError(f"task '{task.id}' has no matrix: to gather", hint="--gather is for matrix tasks")
    found = parse_cells(records)
    try:
        gathered = gathered_cells(step.cells(), found)
        ok = sum(1 for c in gathered if c["status"] == "success")
        from dagctl.dag.matrixcheck import check_min_success

        check_min_success(task, len(gathered))  # as the run's fan-out refuses it, not quietly lowered
        needed = len(gathered) if task.min_success is None else task.min_success
        if ok < needed:
            raise DagctlError(f"{ok} of {len(gathered)} cells succeeded, {needed} needed (min_success)")
        search_path = [str(step.factory.dag_dir)]
        outputs = aggregate(
            task.id, gathered, task.aggregate, lambda target, cells: call_aggregate(target, cells, search_path)
        )
    except DagctlError as exc:
        return step.failed(describe_error(exc))
    step.save(task.id, outputs)
    return step.done(outputs)


# ---------------------------------------------------------------------------------------------- loops
def loop_verdict(
    plan: Plan,
    task_id: str,
    outputs: Mapping[str, Any],
    *,
    iteration: int,
    runs_dir: Path,
    run_id: str,
    previous: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    logical_date: str | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """What follows iteration ``iteration`` of a loop task that gave ``outputs``: ``until:`` evaluated by
    :func:`dagctl.run.loops.decide`, as in a run. Files ``again`` (``true``: run iteration ``next``) and
    ``next``; a loop that fails (``max_iterations`` reached with ``on_max: fail``, an ``until`` that cannot be
    evaluated) is a failed step with the run's message (and, as in a run, that iteration's outputs file is not
    kept). The last iteration's outputs become the task's."""
    from . import loops

    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs,
        logical_date=logical_date, base_env=base_env, clock=clock,
    )  # fmt: skip
    task = step.task
    if task.repeat is None:
        raise UsageError(f"task '{task.id}' has no repeat: to decide", hint="--until is for loop tasks")
    scope = {
        "params": step.params,
        "outputs": step.upstream,
        "env": dict(step.base_env),
        "run_id": run_id,
        "logical_date": logical_date,
    }
    verdict = loops.decide(task.repeat, task.id, scope, dict(outputs), dict(previous or {}) or None, iteration)
    if verdict.failed:  # the run keeps no outputs of the iteration that failed its loop
        layout.output_file(step.run_dir, iteration_unit(task.id, iteration)).unlink(missing_ok=True)
        return step.failed(verdict.reason)
    if not verdict.again:
        step.save(task.id, outputs)
    return step.done(dict(outputs), again=_flag(verdict.again), next=str(iteration + 1))


def _flag(value: bool) -> str:
    return "true" if value else "false"


# ---------------------------------------------------------------------------------------------- the task cache
HANDLER_KINDS = ("success", "failure", "exit")
"""The kinds of handler a workflow's exit handler runs (a ``cancel`` one cannot be told from a failure there)."""


def handler_env(kind: str, workflow_status: str, failures: str, names: Mapping[str, str]) -> dict[str, str]:
    """The environment a run gives a handler (``DAGCTL_RUN_STATUS``, ``DAGCTL_FAILED_TASKS``,
    ``DAGCTL_HANDLER``), from what Argo gives an exit handler: the workflow's status (``Succeeded``, ``Failed``,
    ``Error``), its failed nodes as JSON (``displayName`` is the DAG task's name, ``name(N)`` for retry N), and
    ``names``, DAG task name -> dagctl task id. Failed nodes of other names (steps inside a task) are left out."""
    if kind not in HANDLER_KINDS:
        raise UsageError(f"--handler {kind!r} is not a handler kind", hint=f"use one of {', '.join(HANDLER_KINDS)}")
    status = "success" if workflow_status == "Succeeded" else "failed"
    try:
        nodes = json.loads(failures) if failures.strip() else []
    except ValueError:
        raise UsageError(
            "--workflow-failures is not JSON", hint="pass {{workflow.failures}} as Argo gives it"
        ) from None
    failed: list[str] = []
    for node in nodes if isinstance(nodes, list) else []:
        name = re.sub(r"\(\d+\)$", "", str(node.get("displayName", ""))) if isinstance(node, dict) else ""
        task_id = names.get(name)
        if task_id is not None and task_id not in failed:
            failed.append(task_id)
    return {"DAGCTL_RUN_STATUS": status, "DAGCTL_FAILED_TASKS": ",".join(failed), "DAGCTL_HANDLER": kind}


PRECONDITION_FILE = "met"
"""The file of ``exec-task --precondition``: ``true`` when the task's precondition is met, else ``false``."""


def check_precondition(
    plan: Plan,
    task_id: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    logical_date: str | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """The task's ``precondition:``, checked as a run checks it (:mod:`dagctl.run.preconditions`): file ``met``
    says ``true`` or ``false``, the result's ``reason`` why it is not met; a workflow engine skips the task on
    ``false``. A condition that cannot be evaluated fails the step, as it fails the task in a run."""
    from .preconditions import check_command, check_condition, command_env

    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs,
        logical_date=logical_date, base_env=base_env, clock=clock,
    )  # fmt: skip
    task, pre = step.task, step.task.precondition
    if pre is None:
        raise UsageError(f"task '{task.id}' has no precondition:", hint="--precondition is for tasks that have one")
    if "when" in pre:
        scope = {"params": step.params, "outputs": step.upstream, "env": dict(step.base_env), "run_id": run_id,
                 "logical_date": logical_date}  # fmt: skip
        try:
            met, why = check_condition(pre["when"], scope)
        except DagctlError as exc:
            return step.failed(f"precondition: {describe_error(exc)}")
    else:
        env = command_env(step.base_env, plan.dag.env, task.env, run_id, task.id)
        met, why = check_command(pre["run"], cwd=task.cwd, env=env)
    done = step.done({}, **{PRECONDITION_FILE: "true" if met else "false"})
    return done if met else done.replace(reason=why)


def task_cache_key(
    plan: Plan,
    task_id: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    cell: str | None = None,
    iteration: int | None = None,
    logical_date: str | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """The task cache key (:func:`dagctl.run.cache.cache_key`) of the attempt :func:`run_task` would run with the
    same arguments, in file ``cache-key``: a workflow engine keys its own cache with it. An input that cannot be
    read, or an ``inputs`` glob that matches no file, gives a key no other attempt has (the runner runs such a task
    without its cache)."""
    from .cache import cache_key

    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs,
        logical_date=logical_date, base_env=base_env, clock=clock,
    )  # fmt: skip
    task = step.task
    if task.cache is None:
        raise UsageError(f"task '{task.id}' has no cache:", hint="--cache-key is for cached tasks")
    try:
        unit, values, _ = step.unit(cell, iteration)
        built = step.factory.build(task, 1, step.upstream, unit=unit, matrix=values, iteration=iteration)
    except DagctlError as exc:
        return step.failed(describe_error(exc))
    unmatched: list[str] = []
    try:
        key = cache_key(built, task.cache, unmatched=unmatched, dag_dir=step.factory.dag_dir)
    except (OSError, TypeError, ValueError):
        key = ""
    if unmatched or not key:
        import uuid

        key = f"uncached-{uuid.uuid4().hex}"
    return step.done({}, **{"cache-key": key})


# ---------------------------------------------------------------------------------------------- sub-DAGs
def child_run_id(run_id: str, task_id: str) -> str:
    """The run id of a ``dag:`` task's child in a step of an exported workflow."""
    return f"{run_id}.{task_id}"


def child_params(
    plan: Plan,
    child: DagInfo,
    task_id: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """The params a ``dag:`` task's child runs with (all of them, typed), as its outputs: the task's ``params:``
    rendered as the runner renders them (without the upstream payload), over the child's declarations."""
    from dagctl.dag.params import merge_params

    step = _Step(
        plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, base_env=base_env, clock=clock
    )
    try:
        built = step.factory.build(step.task, 1, step.upstream)
        given = {k: v for k, v in built.params.items() if "__" not in k}  # not the upstream payload
        merged = merge_params(child.params, given, types=child.param_types)
    except DagctlError as exc:
        return step.failed(describe_error(exc))
    return step.done(merged)


def child_outputs(
    plan: Plan,
    child: DagInfo,
    task_id: str,
    *,
    runs_dir: Path,
    run_id: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    base_env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> StepResult:
    """A ``dag:`` task's outputs: its child's ``outputs:`` rendered with the child's params (``params``, as
    :func:`child_params` gave them) and its tasks' outputs (``inputs``), as a finished child run renders them."""
    from .subrun import render_outputs

    bare = plan.replace(dag=plan.dag.replace(params={}, param_types={}))  # the parent's params play no part
    step = _Step(bare, task_id, runs_dir=runs_dir, run_id=run_id, params={}, inputs={}, base_env=base_env, clock=clock)
    scope = {
        "params": dict(params),
        "env": step.base_env,
        "outputs": {k: dict(v) for k, v in (inputs or {}).items()},
        "run_id": child_run_id(run_id, task_id),
    }
    try:
        outputs = render_outputs(child.outputs, scope)
    except DagctlError as exc:
        return step.failed(f"sub-DAG run {scope['run_id']}: outputs: {exc}")
    if outputs:
        step.save(step.task.id, outputs)
    return step.done(outputs)


# ---------------------------------------------------------------------------------------------- outputs
def write_outputs(folder: Path, outputs: Mapping[str, Any], files: Mapping[str, str] | None = None) -> None:
    """``folder/outputs.json``, ``folder/values/<key>`` (see the module docstring) and ``folder/<name>`` for each
    of ``files`` (:attr:`StepResult.files`)."""
    from dagctl.dag.templating import format_value

    values = folder / VALUES_DIR
    values.mkdir(parents=True, exist_ok=True)
    (folder / OUTPUTS_FILE).write_text(json.dumps(dict(outputs), ensure_ascii=False, default=str))
    for key, value in outputs.items():
        if _PLAIN_KEY.fullmatch(key):
            (values / key).write_text(format_value(value))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)


def is_plain_key(key: str) -> bool:
    """Whether an output key gets a ``values/<key>`` file."""
    return bool(_PLAIN_KEY.fullmatch(key))


# ---------------------------------------------------------------------------------------------- task specs
def task_spec(
    plan: Plan,
    task_id: str,
    *,
    params: Iterable[str] | None = None,
    source_path: str | None = None,
    matrix: Mapping[str, Any] | None = None,
    child: Plan | None = None,
) -> dict[str, Any]:
    """One task and what it needs of its DAG, as JSON data: name, tenant, where the DAG file is (its folder is
    where ``python:`` modules and the workflow registry are found), DAG env, the defaults (and declared types)
    of ``params`` (all when None; they type the values given with ``-p``) and, for a ``workflow_ref`` task, the
    DAG's registry. ``matrix`` replaces the task's (its lists as an export resolved them); a ``dag:`` task
    carries what a step needs of its ``child``: its name, params and outputs."""
    task = planned_task(plan, task_id)
    dag = plan.dag
    names = dag.params if params is None else [p for p in params if p in dag.params]
    dag_part: dict[str, Any] = {
        "name": dag.name,
        "tenant_id": dag.tenant_id,
        "source_path": source_path if source_path is not None else dag.source_path,
        "params": {name: dag.params[name] for name in names},
        "param_types": {name: dag.param_types[name] for name in names if name in dag.param_types},
        "env": dict(dag.env),
        "secrets": dict(dag.secrets),
        "env_files": list(dag.env_files),
        "workflows": dict(dag.workflows) if task.workflow_ref else {},
    }
    task_part: dict[str, Any] = {}
    for name in _SPEC_TASK_FIELDS:
        value = matrix if name == "matrix" and matrix is not None else getattr(task, name)
        if value is None or value == {} or value == () or value == PlannedTask._DEFAULTS.get(name, ...):
            continue
        task_part[name] = list(value) if isinstance(value, tuple) else value
    if child is not None:
        task_part["child"] = {
            "name": child.dag.name,
            "params": dict(child.dag.params),
            "param_types": dict(child.dag.param_types),
            "outputs": dict(child.dag.outputs),
        }
    return {
        SPEC_MARK: SPEC_FORMAT,
        "dag": {k: v for k, v in dag_part.items() if v not in (None, {}, [])},
        "task": task_part,
    }


def plan_of_spec(data: Any) -> tuple[Plan, str]:
    """The one-task plan a :func:`task_spec` describes, and the task's id. UsageError if it is not one."""
    plan, task_id, _ = steps_of_spec(data)
    return plan, task_id


def steps_of_spec(data: Any) -> tuple[Plan, str, DagInfo | None]:
    """:func:`plan_of_spec`, and the child DAG of a ``dag:`` task (None for other tasks)."""
    hint = "pass what `dagctl export argo` wrote, from the same dagctl version"
    if not isinstance(data, dict) or SPEC_MARK not in data:
        raise UsageError("--spec is not a dagctl task spec", hint=hint)
    if data[SPEC_MARK] != SPEC_FORMAT:
        raise UsageError(f"--spec has format {data[SPEC_MARK]!r}; this dagctl reads format {SPEC_FORMAT}", hint=hint)
    try:
        dag = DagInfo(**data["dag"])
        fields = dict(data["task"])
        child_part = fields.pop("child", None)
        child = None if child_part is None else DagInfo(**child_part)
        fields["depends_on"] = tuple(fields.get("depends_on", ()))
        unknown = set(fields) - set(_SPEC_TASK_FIELDS)
        if unknown:
            raise TypeError(f"unknown task key {sorted(unknown)[0]!r}")
        kinds = [k for k in ("run", "python", "workflow_ref") if fields.get(k) is not None]
        if child is not None and not kinds:
            kind, target = "dag", child.name
        elif len(kinds) != 1 or child is not None:
            raise ValueError("a task has an id and exactly one of run, python, workflow_ref or a child DAG")
        else:
            run = fields.get("run")
            kind, target = kinds[0], " ".join(run) if isinstance(run, list) else str(fields[kinds[0]])
        if not isinstance(fields.get("id"), str):
            raise ValueError("a task has an id")
        task = PlannedTask(
            order=1, level=0, kind=kind, target=target, downstream=(), priority=1, retries=0,
            retry_delay=0.0, backoff=1.0, max_delay=0.0, **{"timeout": None, **fields},
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--spec is not a valid dagctl task spec: {exc}", hint=hint) from None
    return Plan(dag=dag, tasks={task.id: task}, levels=((task.id,),)), task.id, child
