"""A matrix a run would refuse, found before it starts: its cells from literal lists and list params are known
then. Pure.

A param that is not a list, or an empty one, a matrix of more than :data:`~dagctl.dag.matrix.MAX_MATRIX_CELLS`
cells, or a ``min_success`` above the number of cells used to fail the task once the run reached it (exit 1),
while the dry run said "cannot expand" and exited 0. Now both stop before anything runs, exit 2, with one line
naming the task, the key and the param: the runner calls :func:`check_static_cells` as it starts, the dry run's
:func:`preview` raises the same error. A matrix fed by an upstream output is known only at its fan-out, where
:func:`check_min_success` fails the task with the same words.
"""

from __future__ import annotations

from dagctl.errors import TemplateError, UsageError

from .matrix import cell_count, expand, is_dynamic, min_success_problem, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from .plan import PlannedTask


def static_values(task: PlannedTask, params: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """The value lists of ``task``'s matrix when they are known before the run (literal lists and list params), or
    None when an upstream output gives values (known at the fan-out). Raises :class:`UsageError` (exit 2, one line
    naming the task, the key and the param) for a matrix the run would fail: :func:`~dagctl.dag.matrix.resolve`'s
    problems (a param that is not a list or is an empty one, too many cells), and a ``min_success`` above the
    number of cells. A run checks this before it starts anything (:meth:`dagctl.run.runner.Runner`), and so does
    its dry run (:func:`preview`)."""
    matrix = task.matrix or {}
    if is_dynamic(matrix):
        return None
    from .templating import TemplateContext, render_value

    ctx = TemplateContext(params=params, env={}, outputs={})
    try:
        resolved = resolve(matrix, lambda text: render_value(text, ctx))
    except TemplateError as exc:
        raise UsageError(f"task '{task.id}' {exc.message}", hint=exc.hint) from None
    check_min_success(task, cell_count(resolved))
    return resolved


def check_min_success(task: PlannedTask, cells: int) -> None:
    """:func:`min_success_problem` as a :class:`UsageError`."""
    problem = min_success_problem(task.id, task.min_success, cells)
    if problem is not None:
        what, _, hint = problem.partition(" — ")
        raise UsageError(what, hint=hint)


def check_static_cells(tasks: Iterable[PlannedTask], params: Mapping[str, Any]) -> None:
    """:func:`static_values` of every matrix task among ``tasks``: the first problem raised, before a run starts."""
    for task in tasks:
        if task.matrix is not None:
            static_values(task, params)


def preview(task: PlannedTask, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, str]:
    """For a dry run: the cells when they are known before the run (``None`` when an upstream output gives
    the values), and a one-line note. A matrix the run would refuse raises, as the run does
    (:func:`static_values`)."""
    values = static_values(task, params)
    if values is None:
        sources = ", ".join(v for v in (task.matrix or {}).values() if isinstance(v, str) and "${outputs." in v)
        return None, f"expands when the run reaches it, from {sources}"
    keys = " x ".join(f"{k} ({len(v)})" for k, v in values.items())
    cells = expand(values)
    return cells, f"{len(cells)} cells: {keys}"
