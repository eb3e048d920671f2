"""A ``dag:`` task as a DAG template holding its child DAG's tasks, recursively. Pure.

::

    prep                      DAG template (parallelism, failFast: the child's options)
      params   prep-params    exec-task --dag-params: the task's params: rendered over the child's declared
                              params -> every param of the child, typed, as dagctl.run.subrun passes them
      fetch    prep-fetch     the child's tasks, mapped as a DAG's tasks are (matrix, loops, gates, cache,
      clean    prep-clean     sub-DAGs ...); each gets the params as one JSON object (--params-json) and
                              runs as run <workflow>.prep (its own run folder, as a child run has)
      returns  prep-outputs   exec-task --dag-outputs: the child's outputs: rendered; it depends on every
                              child task having succeeded or been skipped, so a failed child task fails
                              the sub-DAG (as it fails the child run) whatever the child's leaves did
    outputs: those of returns, as the task's outputs in the parent

A ``dag:`` task's own ``retries`` and ``timeout``, and the child's ``options.timeout``, are refused: Argo
would retry the whole child (dagctl's retry reuses what it finished), and enforces deadlines on pods only.
"""

from __future__ import annotations

import posixpath

from dagctl.errors import DagctlError

from .depends import depends_expression
from .names import task_names
from .options import STEP_ANNOTATION, TASK_ANNOTATION, param
from .scope import OUTPUTS_STEP, PARAMS_STEP, Scope, TaskRefs, arguments, declare, forward
from .steps import forwarded_outputs, step_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dagctl.dag.plan import Plan, PlannedTask

    from .scope import Build

    Walk = Callable[[Build, Scope], tuple[list[dict[str, Any]], set[str]]]


def child_of(scope: Scope, task: PlannedTask) -> Plan:
    """The child DAG of a ``dag:`` task (DagctlError when it cannot be loaded)."""
    from dagctl.run.subrun import child_plan

    return child_plan(scope.plan, task)


def child_problems(scope: Scope, task: PlannedTask, child: Plan) -> list[str]:
    who = scope.label(task.id)
    problems = []
    for key, why in (
        ("matrix", "a matrix of sub-DAGs cannot be exported — fan out inside the child DAG"),
        ("repeat", "a loop of sub-DAGs cannot be exported — loop inside the child DAG"),
    ):
        if getattr(task, key) is not None:
            problems.append(f"{who} key '{key}': {why}")
    if task.retries:
        problems.append(
            f"{who} key 'retries': a dag: task's retries cannot be exported — Argo would run the whole child again, "
            "where dagctl reuses what the child finished; set retries: 0 on it (retry inside the child)"
        )
    if task.timeout:
        problems.append(
            f"{who} key 'timeout': a dag: task's timeout cannot be exported — Argo enforces deadlines on pods, not "
            "on a DAG of them; put timeouts on the child's tasks"
        )
    if child.dag.timeout:
        problems.append(
            f"{who} key 'subdag': the child DAG's options.timeout cannot be exported — Argo enforces deadlines on "
            "pods, not on a DAG of them; put timeouts on the child's tasks"
        )
    return problems


def child_path(scope: Scope, task: PlannedTask) -> str | None:
    """The child DAG's file as the image sees it: next to the parent's (an inline child: the parent's file)."""
    if not isinstance(task.subdag, str) or scope.dag_path is None:
        return scope.dag_path
    return posixpath.normpath(posixpath.join(posixpath.dirname(scope.dag_path), task.subdag))


def sub_dag(
    build: Build,
    scope: Scope,
    task: PlannedTask,
    refs: TaskRefs,
    given: list[dict[str, Any]],
    child: Plan,
    *,
    name: str,
    walk: Walk,
) -> None:
    """Add the templates of ``task``'s sub-DAG: ``name`` (called with ``given``), its params and outputs steps,
    and its child's tasks' (through ``walk``, which maps a DAG's tasks)."""
    from dagctl.dag.templating import find_references

    slot = build.slot()
    names = task_names(child.tasks, reserved=(PARAMS_STEP, OUTPUTS_STEP))
    inner = Scope(
        plan=child,
        dag_path=child_path(scope, task),
        run_id=f"{scope.run_id}.{task.id}",
        names=names,
        param_step=PARAMS_STEP,
        path=f"{scope.path}{task.id}/",
        prefix=f"{name}-",
    )
    salt = scope.path + task.id
    params_name, params_slot = build.name(f"{name}-params", f"{salt}#params"), build.slot()
    tasks, read = walk(build, inner)
    params = step_template(
        build, scope, task, refs, given, name=params_name, step="params", mode=["--dag-params"],
        exported=sorted(read), attempts=False, slot=params_slot,
    )  # fmt: skip
    sources = []
    for text in (v for v in child.dag.outputs.values() if isinstance(v, str) and "${" in v):
        for ref in find_references(text):
            found = next(
                (".".join(ref.path[:j]) for j in range(len(ref.path) - 1, 0, -1) if ".".join(ref.path[:j]) in names),
                None,
            )
            if ref.namespace == "outputs" and found is not None and found not in sources:
                sources.append(found)
    returning = inner.replace(run_id=scope.run_id, path=scope.path)
    returns_refs = TaskRefs(reads=[], sources=[t for t in child.tasks if t in sources], exported=refs.exported)
    returns_given = arguments(returning, returns_refs, param("task"))
    returns = step_template(
        build, returning, task, returns_refs, returns_given, name=build.name(f"{name}-outputs", f"{salt}#outputs"),
        step="outputs", mode=["--dag-outputs"], attempts=False,
    )  # fmt: skip
    done = depends_expression("none_failed", list(names.values()))
    template: dict[str, Any] = {
        "name": name,
        "metadata": {"annotations": {TASK_ANNOTATION: salt, STEP_ANNOTATION: "dag"}},
        "inputs": declare(given),
        "outputs": forwarded_outputs(OUTPUTS_STEP, refs.exported),
    }
    if child.dag.parallelism:
        template["parallelism"] = child.dag.parallelism
    template["dag"] = {
        "failFast": child.dag.fail_fast,
        "tasks": [
            {"name": PARAMS_STEP, "template": params, "arguments": {"parameters": forward(given)}},
            *tasks,
            {
                "name": OUTPUTS_STEP,
                "template": returns,
                "depends": f"{PARAMS_STEP}.Succeeded && " + (f"({done})" if len(names) == 1 else done),
                "arguments": {"parameters": returns_given},
            },
        ],
    }
    build.fill(slot, template)


def load_problem(scope: Scope, task: PlannedTask, exc: DagctlError) -> str:
    return f"{scope.label(task.id)} key 'subdag': the child DAG cannot be loaded: {exc}"
