"""The tasks of one DAG (the workflow's, or a sub-DAG's) as the tasks of an Argo DAG template. Pure.

Each dagctl task becomes one DAG task, named as :mod:`~dagctl.export.names` says, whose ``depends`` is its
trigger rule (:mod:`~dagctl.export.depends`) and whose ``when`` is its ``when:`` (:mod:`~dagctl.export.when`);
when the ``when`` compares an upstream task's output as a number and that task may have ended without outputs,
``depends`` also asks for that task's success (Argo cannot evaluate the comparison without the value; dagctl
does not run the task then).
What it calls depends on the task::

    a run / python / workflow_ref task   a container running exec-task (memoized when cached: memo)
    a matrix task                        a DAG template of its cells and their fan-in (fanout)
    a repeat: task                       a recursive DAG template, one level per iteration (loop)
    a dag: task                          a DAG template holding the child DAG's tasks (subdag)
    an approval gate                     a suspend template (gates)

A task with ``precondition:`` gets a DAG task before it, ``<name>-precondition``, running ``exec-task
--precondition`` (the check a run makes, :mod:`dagctl.run.preconditions`) with the task's ``depends`` and
``when``; the task then depends on it and runs ``when`` its ``met`` output is ``true``. Unmet, the task is
Skipped, and what depends on its success is skipped too, as in a run.
"""

from __future__ import annotations

from dagctl.errors import DagctlError, UsageError

from .depends import APPROXIMATE, depends_expression
from .fanout import dynamic_source, fan_out, static_cells
from .gates import gate, gate_note, gate_problems
from .loop import FIRST, loop
from .memo import cache_note, unit
from .names import OUTPUTS_PARAM, RESERVED, is_label_value, is_param_name, unique_name
from .options import spec_text, task_output
from .scope import OUTPUTS_STEP, PARAMS_STEP, Build, Scope, TaskRefs, arguments, references
from .steps import step_template
from .subdag import child_of, child_problems, load_problem, sub_dag
from .when import Refused, argo_when

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

    from dagctl.dag.plan import PlannedTask


class Walked:
    """What mapping a DAG's tasks found besides its DAG tasks: params read by templates and by conditions."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.when_params: set[str] = set()


def dag_tasks(build: Build, scope: Scope) -> tuple[list[dict[str, Any]], set[str]]:
    """The DAG tasks of ``scope``'s plan (their templates are added to ``build``), and the params their
    conditions read (a sub-DAG's params step must export them). For :mod:`~dagctl.export.subdag`."""
    tasks, walked = walk(build, scope)
    return tasks, walked.when_params


def walk(build: Build, scope: Scope) -> tuple[list[dict[str, Any]], Walked]:
    from dagctl.dag.plan import ancestors

    plan = scope.plan
    walked = Walked()
    deps = {tid: t.depends_on for tid, t in plan.tasks.items()}
    upstream = {tid: ancestors(deps, tid) for tid in plan.tasks}
    conditions = _conditions(build, scope, upstream, walked)
    tasks: list[dict[str, Any]] = []
    tolerant: list[str] = []  # tasks that may run, and succeed, after an upstream failure
    names = {*scope.names.values(), PARAMS_STEP, OUTPUTS_STEP, *RESERVED}  # DAG task names of this template
    for tid, task in plan.tasks.items():
        reads, sources = references(plan, task, upstream[tid])
        if scope.param_step is None:
            build.problems.extend(
                f"{scope.label(tid)} reads param '{p}', which cannot be an Argo parameter name — rename it: "
                "letters, digits, _ and -"
                for p in reads
                if not is_param_name(p)
            )
        walked.reads.update(reads)
        inputs = [*task.depends_on, *(s for s in plan.tasks if s in sources and s not in task.depends_on)]
        refs = TaskRefs(reads=reads, sources=inputs, exported=sorted(conditions.exported[tid]))
        made = _dag_task(build, scope, task, refs, upstream[tid], names)
        if made is None:
            continue
        dag_task, check = made
        decided = check if check is not None else dag_task  # a precondition's step takes the task's depends and when
        if tid in conditions.whens:
            decided["when"] = conditions.whens[tid]
        if conditions.requires[tid]:
            needed = [scope.names[u] for u in plan.tasks if u in conditions.requires[tid]]
            decided["depends"] = all_succeeded(decided.get("depends", ""), needed)
        if check is not None:
            tasks.append(check)
        if task.queue and not is_label_value(task.queue):
            build.problems.append(
                f"{scope.label(tid)} queue: '{task.queue}' cannot be a Kubernetes label value — use at most 63 "
                "letters, digits, _ . -, starting and ending with a letter or digit"
            )
        build.notes.extend(_task_notes(scope, task))
        if task.depends_on and task.trigger_rule not in ("all_success", "none_failed"):
            tolerant.append(tid)
        tasks.append(dag_task)
    if tolerant and scope.param_step is None:  # a sub-DAG's outputs step judges it as dagctl judges a run
        build.notes.append(
            f"trigger rules of {', '.join(repr(t) for t in tolerant)}: after an upstream failure Argo may report the "
            "workflow Succeeded (it judges a workflow by its last tasks); dagctl reports the run failed"
        )
    return tasks, walked


class _Conditions:
    """What the ``when:`` of a DAG's tasks become: each task's Argo ``when``, the output keys each task exports one
    by one (those ``when``s compare and those a matrix fans out over), and the upstream tasks each task's
    ``depends`` must also ask the success of (:attr:`~dagctl.export.when.ArgoWhen.requires`)."""

    def __init__(self, tasks: Iterable[str]) -> None:
        self.whens: dict[str, str] = {}
        self.exported: dict[str, set[str]] = {tid: set() for tid in tasks}
        self.requires: dict[str, set[str]] = {tid: set() for tid in self.exported}


def _conditions(build: Build, scope: Scope, upstream: dict[str, set[str]], walked: Walked) -> _Conditions:
    plan = scope.plan
    found = _Conditions(plan.tasks)
    settled = _settled(scope)
    for tid, task in plan.tasks.items():
        if task.when:
            try:
                translated = argo_when(
                    task.when, task_names=scope.names, upstream=upstream[tid], params=plan.dag.params,
                    param_ref=scope.param_ref, run_id=scope.run_id, settled=settled[tid],
                )  # fmt: skip
            except Refused as exc:
                build.problems.append(f"{scope.label(tid)} when: {task.when}: {exc.what} — {exc.hint}")
            except UsageError as exc:  # a TemplateError: the loader reports these first
                build.problems.append(f"{scope.label(tid)} when: {exc}")
            else:
                found.whens[tid] = translated.expression
                found.requires[tid].update(translated.requires)
                walked.when_params.update(translated.params)
                for source, key in translated.outputs:
                    found.exported[source].add(key)
        fanned = dynamic_source(task, upstream[tid]) if task.matrix is not None else None
        if fanned is not None and is_param_name(fanned[1]) and fanned[1] != OUTPUTS_PARAM:
            found.exported[fanned[0]].add(fanned[1])
    return found


def _settled(scope: Scope) -> dict[str, set[str]]:
    """Task id -> the upstream tasks that have surely succeeded when its ``depends`` holds: its upstream tasks and
    theirs, as far as ``all_success`` rules lead (under another rule an upstream task may have been skipped or
    have failed)."""
    plan = scope.plan
    settled: dict[str, set[str]] = {}
    for tid in sorted(plan.tasks, key=lambda t: plan.tasks[t].level):  # upstream tasks first
        task = plan.tasks[tid]
        sure: set[str] = set()
        if task.trigger_rule == "all_success":
            for dep in task.depends_on:
                sure |= {dep, *settled[dep]}
        settled[tid] = sure
    return settled


def all_succeeded(depends: str, names: list[str]) -> str:
    """``depends`` (a ``depends`` expression, or empty) and the success of the DAG tasks ``names``."""
    extra = " && ".join(f"{name}.Succeeded" for name in names)
    if not depends:
        return extra
    return f"({depends}) && {extra}" if " || " in depends else f"{depends} && {extra}"


def _dag_task(
    build: Build, scope: Scope, task: PlannedTask, refs: TaskRefs, upstream: set[str], names: set[str]
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The DAG task of ``task`` (its templates added to ``build``), without its ``when``, and the DAG task of its
    precondition's step when it has one; None when it cannot be exported (the problems are in ``build``).
    ``names``: the DAG task names of this template so far (a precondition's step adds its own)."""
    from dagctl.run.single import task_spec

    plan, label = scope.plan, scope.label(task.id)
    name = scope.names[task.id]
    template = name if not scope.prefix else build.name(scope.prefix + name, scope.path + task.id)
    dag_task: dict[str, Any] = {"name": name, "template": template}
    rule = depends_expression(task.trigger_rule, [scope.names[u] for u in task.depends_on]) if task.depends_on else ""
    if scope.param_step is not None:
        rule = f"{scope.param_step}.Succeeded" + (f" && ({rule})" if " || " in rule else f" && {rule}" if rule else "")
    if rule:
        dag_task["depends"] = rule
    if task.approval is not None:
        problems = gate_problems(scope, task)
        if task.precondition is not None:
            problems.append(
                f"{label} key 'precondition': an approval gate's precondition cannot be exported to Argo — "
                "put the check in a task before the gate"
            )
        build.problems.extend(problems)
        if not problems:
            gate(build, scope, task, refs, name=template)
            build.notes.append(gate_note(scope, task))
        return dag_task, None
    child, resolved, items, extra = None, None, None, []
    if task.subdag is not None:
        try:
            child = child_of(scope, task)
        except DagctlError as exc:
            build.problems.append(load_problem(scope, task, exc))
            return None
        problems = child_problems(scope, task, child)
        if problems:
            build.problems.extend(problems)
            return None
    elif task.matrix is not None:
        try:
            resolved, items = static_cells(scope, task)
        except DagctlError as exc:
            build.problems.append(f"{label} key 'matrix': {exc}")
            return None
        source = dynamic_source(task, upstream) if resolved is None else None
        if resolved is None and (source is None or not is_param_name(source[1]) or source[1] == OUTPUTS_PARAM):
            build.problems.append(
                f"{label} key 'matrix': its lists cannot be exported — Argo fans out over literal lists and params "
                "(withItems) or over one list from an upstream output (withParam): use one key whose list is exactly "
                "${outputs.TASK.KEY} with KEY of letters, digits, _ and -, or compute the whole list in a task"
            )
            return None
        if source is not None:
            extra = [{"name": "items", "value": task_output(scope.names[source[0]], source[1])}]
        build.notes.extend(_matrix_notes(scope, task, items))
    spec = task_spec(plan, task.id, params=refs.reads, source_path=scope.dag_path, matrix=resolved, child=child)
    given = arguments(scope, refs, spec_text(spec))
    if child is not None:
        sub_dag(build, scope, task, refs, given, child, name=template, walk=dag_tasks)
    elif task.matrix is not None:
        fan_out(build, scope, task, refs, given, name=template, items=None if resolved is None else items)
    elif task.repeat is not None:
        loop(build, scope, task, refs, given, name=template)
        extra = FIRST
    else:
        unit(build, scope, task, refs, given, name=template)
    if task.cache is not None:
        build.notes.append(cache_note(scope, task))
    dag_task["arguments"] = {"parameters": [*given, *extra]}
    if task.precondition is None:
        return dag_task, None
    from dagctl.run.single import PRECONDITION_FILE

    check_name = unique_name(f"{name}-precondition", f"{scope.path}{task.id}#precondition", names)
    check_template = step_template(
        build, scope, task, refs, given, step="precondition", mode=["--precondition"], exported=(),
        files=[(PRECONDITION_FILE, PRECONDITION_FILE)], attempts=False,
        name=build.name(f"{template}-precondition", f"{scope.path}{task.id}#precondition"),
    )  # fmt: skip
    check: dict[str, Any] = {"name": check_name, "template": check_template, "arguments": {"parameters": given}}
    if "depends" in dag_task:
        check["depends"] = dag_task["depends"]
    dag_task["depends"] = f"{check_name}.Succeeded"
    dag_task["when"] = f"{task_output(check_name, PRECONDITION_FILE)} == true"
    return dag_task, check


def _matrix_notes(scope: Scope, task: PlannedTask, cells: list[dict[str, Any]] | None) -> Iterator[str]:
    from dagctl.dag.matrix import references_params
    from dagctl.run.single import argo_text

    who = scope.label(task.id)
    if cells and references_params(task.matrix or {}):
        yield (
            f"{who} matrix: its {len(cells)} cells are fixed at export, from the params' values then (-p); "
            "argo submit -p does not change them: export again with -p"
        )
    if cells and len({argo_text(c) for c in cells}) < len(cells):
        yield f"{who} matrix: cells with the same values share a unit id in Argo (their logs and $DAGCTL_UNIT)"


def _task_notes(scope: Scope, task: PlannedTask) -> Iterator[str]:
    import math

    who = scope.label(task.id)
    if task.depends_on and task.trigger_rule in APPROXIMATE:
        yield f"{who} trigger_rule {task.trigger_rule}: {APPROXIMATE[task.trigger_rule]}"
    if task.approval is not None or task.subdag is not None:
        return
    if task.retries and task.backoff != math.floor(task.backoff + 0.5):
        yield f"{who} backoff {task.backoff:g}: Argo takes whole factors; exported as {math.floor(task.backoff + 0.5)}"
    if task.timeout and task.timeout != math.ceil(task.timeout):
        yield f"{who} timeout {task.timeout:g}s: Argo takes whole seconds; exported as {math.ceil(task.timeout)}"
