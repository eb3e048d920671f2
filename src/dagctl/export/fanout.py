"""A matrix task as a DAG template of its own: its cells, one step per item, and a fan-in step. Pure.

::

    train                      DAG template (parallelism: max_parallel; failFast as the DAG's)
      cells   train-cell       withItems: the cells' values (lists known at export: literal lists and list
                               params, with the export's -p values), or withParam: an upstream output
                               (a one-key matrix over ${outputs.UP.KEY}); exec-task --cell '{{item}}'
      gather  train-gather     depends on cells having finished, however; exec-task --gather with Argo's
                               list of the cells' records -> the task's outputs (cells, best, ...)

Each cell runs, retries and times out on its own, as ``train:<index>`` (its log, ``$DAGCTL_UNIT``,
``${matrix.KEY}``); the step finds its index among the cells from its item. A cell that succeeded writes a
record (index, values, outputs) that Argo gathers into a list; the fan-in step counts them against
``min_success`` and applies ``aggregate:`` with :mod:`dagctl.run.fanin`, so the downstream tasks read the
same ``${outputs.train.best...}`` as in a run.
"""

from __future__ import annotations

import json

from dagctl.errors import DagctlError

from .options import STEP_ANNOTATION, TASK_ANNOTATION, param, task_output
from .scope import declare, forward
from .steps import forwarded_outputs, step_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dagctl.dag.plan import PlannedTask

    from .scope import Build, Scope, TaskRefs

CELL_PARAM = "dagctl-cell"
GATHER_DEPENDS = "cells.Succeeded || cells.Failed || cells.Errored"


def static_cells(scope: Scope, task: PlannedTask) -> tuple[dict[str, list[Any]] | None, list[dict[str, Any]]]:
    """(the matrix's lists, its cells) when they are known at export, else (None, []). Raises
    :class:`~dagctl.errors.DagctlError` when they cannot be resolved."""
    from dagctl.dag import matrix
    from dagctl.dag.templating import TemplateContext, render_value

    spec = task.matrix or {}
    if matrix.is_dynamic(spec):
        return None, []
    if scope.param_values is None and matrix.references_params(spec):
        raise DagctlError(
            "its lists come from params of a sub-DAG, which are known only when the sub-DAG runs",
            hint="write the lists in the matrix, or fan out over an upstream output",
        )
    ctx = TemplateContext(params=scope.param_values or {}, env={}, outputs={})
    values = matrix.resolve(spec, lambda text: render_value(text, ctx))
    if "{{" in json.dumps(values):
        raise DagctlError("a value holds '{{', which Argo reads as a template", hint="change the value")
    return values, matrix.expand(values)


def dynamic_source(task: PlannedTask, upstream: set[str]) -> tuple[str, str] | None:
    """(upstream task, output key) of a one-key matrix whose list is exactly ``${outputs.UP.KEY}``, else None."""
    from dagctl.dag.templating import find_references

    spec = task.matrix or {}
    if len(spec) != 1:
        return None
    (text,) = spec.values()
    if not isinstance(text, str):
        return None
    refs = find_references(text)
    if len(refs) != 1 or refs[0].source != text or refs[0].namespace != "outputs" or refs[0].default is not None:
        return None
    path = refs[0].path
    for j in range(len(path) - 1, 0, -1):
        if ".".join(path[:j]) in upstream:
            return ".".join(path[:j]), ".".join(path[j:])
    return None


def fan_out(
    build: Build,
    scope: Scope,
    task: PlannedTask,
    refs: TaskRefs,
    given: list[dict[str, Any]],
    *,
    name: str,
    items: list[dict[str, Any]] | None,
) -> None:
    """Add the matrix task's templates: ``name`` (the DAG template its DAG task calls, with ``given`` and, for a
    list from an upstream output, ``items``), its cells' and its fan-in's."""
    from .memo import unit

    slot = build.slot()
    salt = scope.path + task.id
    cell = unit(
        build, scope, task, refs, given, name=build.name(f"{name}-cell", f"{salt}#cell"), step="cell",
        inputs=["cell"], mode=["--cell", param("cell")], files=[(CELL_PARAM, "cell")], exported=(),
    )  # fmt: skip
    gather = step_template(
        build, scope, task, refs, given, name=build.name(f"{name}-gather", f"{salt}#gather"), step="gather",
        inputs=["cells"], mode=["--gather", param("cells")], attempts=False,
    )  # fmt: skip
    cells: dict[str, Any] = {"name": "cells", "template": cell}
    if items is not None:
        cells["withItems"] = items
    else:
        cells["withParam"] = param("items")
    cells["arguments"] = {"parameters": [*forward(given), {"name": "cell", "value": "{{item}}"}]}
    fan_in = {
        "name": "gather",
        "template": gather,
        "depends": GATHER_DEPENDS,
        "arguments": {"parameters": [*forward(given), {"name": "cells", "value": task_output("cells", CELL_PARAM)}]},
    }
    template: dict[str, Any] = {
        "name": name,
        "metadata": {"annotations": {TASK_ANNOTATION: scope.path + task.id, STEP_ANNOTATION: "matrix"}},
        "inputs": declare(given, *([] if items is not None else ["items"])),
        "outputs": forwarded_outputs("gather", refs.exported),
    }
    if task.max_parallel:
        template["parallelism"] = task.max_parallel
    template["dag"] = {"failFast": scope.plan.dag.fail_fast, "tasks": [cells, fan_in]}
    build.fill(slot, template)
