"""What building an Argo manifest keeps track of: the DAG template being built (:class:`Scope`: the workflow's
own ``main``, or a sub-DAG's), the templates made so far and the problems and notes found (:class:`Build`), and
what one task reads (:class:`TaskRefs`). Pure."""

from __future__ import annotations

from dagctl.records import Record, field

from .names import OUTPUTS_PARAM, unique_name
from .options import OUTPUTS_DIR, param, task_output
from .when import workflow_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dagctl.dag.plan import Plan, PlannedTask

    from .options import ArgoOptions

PARAMS_STEP = "params"
"""The DAG task of a sub-DAG's template that computes its params (its other tasks read them)."""
OUTPUTS_STEP = "returns"
"""The DAG task of a sub-DAG's template that computes its outputs."""


class Scope(Record):
    """One DAG template: the plan whose tasks it holds, and how its steps reach params, files and the run."""

    plan: Plan
    dag_path: str | None
    """The DAG file as the image sees it (task specs name it: their folder holds python: modules)."""
    run_id: str
    """The run id its steps use (an Argo expression)."""
    names: dict[str, str]
    """Task id -> DAG task name in this template."""
    param_values: dict[str, Any] | None = None
    """The params' values known at export (the workflow's); None in a sub-DAG, whose are known when it runs."""
    param_step: str | None = None
    """The DAG task whose outputs are the params (a sub-DAG's); None: the workflow's parameters."""
    scheduled: bool = False
    path: str = ""
    """``prep/`` for the tasks of the sub-DAG of task ``prep``: how messages name them."""
    prefix: str = ""
    """What template names of this DAG's tasks start with."""

    def label(self, task_id: str) -> str:
        return f"task '{self.path}{task_id}'"

    def param_ref(self, name: str) -> str:
        return workflow_param(name) if self.param_step is None else task_output(self.param_step, name)

    def params_json(self) -> str | None:
        """The Argo reference of all params as one JSON object (a sub-DAG's), None for the workflow's."""
        return None if self.param_step is None else task_output(self.param_step, OUTPUTS_PARAM)


class Build:
    """The templates of a manifest as they are made, with unique names, and the problems and notes found."""

    def __init__(self, options: ArgoOptions, used: set[str]) -> None:
        self.options = options
        self.used = used
        self.templates: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.notes: list[str] = []

    def name(self, base: str, salt: str) -> str:
        """A template name of its own, from ``base`` (``salt`` makes the suffix of a clash)."""
        return unique_name(base, salt, self.used)

    def add(self, template: dict[str, Any]) -> str:
        self.templates.append(template)
        return str(template["name"])

    def slot(self) -> int:
        """A place for a template made after the templates it calls, so that it is listed before them."""
        self.templates.append({})
        return len(self.templates) - 1

    def fill(self, slot: int, template: dict[str, Any]) -> str:
        self.templates[slot] = template
        return str(template["name"])


class TaskRefs(Record):
    """What one task's steps are given: the params its templates read (DAG order), the upstream tasks whose
    outputs they read (inputs, in this order), the output keys it exports one by one, and its spec."""

    reads: list[str]
    sources: list[str]
    exported: list[str] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)


def arguments(scope: Scope, refs: TaskRefs, spec_value: str) -> list[dict[str, Any]]:
    """The arguments a DAG task in ``scope`` gives the template of its task: the spec, the params (a
    sub-DAG's, as one JSON object) and each input's outputs."""
    given: list[dict[str, Any]] = [{"name": "task", "value": spec_value}]
    params_json = scope.params_json()
    if params_json is not None:
        given.append({"name": "params", "value": params_json})
    given.extend(
        {"name": input_name(scope.names[source]), "value": task_output(scope.names[source], OUTPUTS_PARAM)}
        for source in refs.sources
    )
    return given


def input_name(task_name: str) -> str:
    return f"up-{task_name}"


def forward(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same arguments, passed on from a template's inputs to a template it calls."""
    return [{"name": a["name"], "value": param(a["name"])} for a in given]


def declare(given: list[dict[str, Any]], *more: str) -> dict[str, Any]:
    """The inputs of a template called with ``given`` (and ``more``)."""
    return {"parameters": [{"name": a["name"]} for a in given] + [{"name": m} for m in more]}


def exec_args(scope: Scope, task: PlannedTask, refs: TaskRefs, *mode: str) -> list[str]:
    """``dagctl exec-task`` arguments of a step of ``task`` (whose template has the inputs of :func:`arguments`),
    with ``mode`` (``--cell {{inputs.parameters.cell}}`` ...) before the run id."""
    args = ["--spec", param("task")]
    if scope.param_step is None:
        for name in refs.reads:
            args += ["-p", f"{name}={workflow_param(name)}"]
    else:
        args += ["--params-json", param("params")]
    for source in refs.sources:
        args += ["--input", f"{source}={param(input_name(scope.names[source]))}"]
    return [*args, *mode, "--run-id", scope.run_id, "--outputs-dir", OUTPUTS_DIR]


def references(plan: Plan, task: PlannedTask, upstream: set[str]) -> tuple[list[str], set[str]]:
    """(DAG params the task's templates and conditions read, in DAG order; upstream tasks whose outputs they
    read)."""
    from dagctl.dag.templating import find_references

    params: set[str] = set()
    sources: set[str] = set()
    texts = [task.run, task.params, task.env, task.cwd, plan.dag.env]
    if task.matrix is not None:  # lists known at export are resolved then: only an upstream output's is read
        texts.append([v for v in task.matrix.values() if isinstance(v, str) and "${outputs." in v])
    for text in _strings(texts):
        if "${" not in text:
            continue
        for ref in find_references(text):
            if ref.namespace == "params":
                params.update(".".join(ref.path[:j]) for j in range(len(ref.path), 0, -1))
            elif ref.namespace == "outputs":
                for j in range(len(ref.path) - 1, 0, -1):
                    if ".".join(ref.path[:j]) in upstream:
                        sources.add(".".join(ref.path[:j]))
                        break
    conditions = [str(task.repeat.get("until"))] if task.repeat is not None else []
    if task.precondition is not None and "when" in task.precondition:
        conditions.append(task.precondition["when"])  # checked by a step given the task's inputs
    if conditions:
        from dagctl.dag.conditions import compile_condition
    for condition in conditions:
        for root, key in compile_condition(condition).names:
            if root == "params" and key is not None:
                params.add(key)
            elif root == "outputs" and key in upstream:
                sources.add(key)
    return [p for p in plan.dag.params if p in params], sources


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
