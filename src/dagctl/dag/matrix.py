"""Matrix fan-out: a task's ``matrix:`` becomes cells, one per combination of its values. Pure.

Cells are the cartesian product of the values, ordered by key order, then value order (the first key varies
slowest)::

    matrix: {lr: [0.001, 0.01], bs: [16, 32]}
    -> train:0 {lr: 0.001, bs: 16}, train:1 {lr: 0.001, bs: 32}, train:2 {lr: 0.01, bs: 16}, train:3 {...}

A cell's id is ``<task>:<index>`` (``:`` never appears in a task id, and needs no quoting in a shell). A
value list is a literal list, a list param (``${params.lrs}``, known when the run starts) or an upstream
output (``${outputs.UP.KEY}``, known when that task succeeds): :func:`resolve` turns any of them into lists.
"""

from __future__ import annotations

import itertools

from dagctl.errors import TemplateError

MAX_MATRIX_CELLS = 100_000
"""The most cells one matrix may expand to (a bigger one is an error with its location). Declared here, not
in :mod:`dagctl.dag.spec`, because a run reads it (to count cells) without importing pydantic or typing."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CELL_SEPARATOR = ":"


def cell_id(task_id: str, index: int) -> str:
    return f"{task_id}{CELL_SEPARATOR}{index}"


def split_cell_id(unit: str) -> tuple[str, int | None]:
    """``("train", 3)`` for ``train:3``; ``(unit, None)`` for a plain task id."""
    task, sep, index = unit.rpartition(CELL_SEPARATOR)
    if sep and index.isdigit():
        return task, int(index)
    return unit, None


def is_dynamic(matrix: Mapping[str, Any]) -> bool:
    """Does any value list come from an upstream output (known only during the run)?"""
    return any(isinstance(v, str) and "${outputs." in v for v in matrix.values())


def references_params(matrix: Mapping[str, Any]) -> bool:
    return any(isinstance(v, str) for v in matrix.values())


def resolve(matrix: Mapping[str, Any], render: Any) -> dict[str, list[Any]]:
    """Every key's values as a list. ``render(text)`` resolves a ``${...}`` string (keeping a list a list).

    Raises :class:`TemplateError` naming the key (and the param, for ``${params.NAME}``) when a value is not a
    non-empty list, or the matrix has too many cells: the run at its fan-out and the checks before a run
    (:mod:`dagctl.dag.matrixcheck`) say the same."""
    resolved: dict[str, list[Any]] = {}
    for key, values in matrix.items():
        param = _param_name(values) if isinstance(values, str) else None
        if isinstance(values, str):
            try:
                value = render(values)
            except TemplateError as exc:
                raise TemplateError(f"matrix key '{key}': {exc.message}", hint=exc.hint) from None
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                if param is not None:
                    raise TemplateError(
                        f"matrix key '{key}': param '{param}' is {type(value).__name__} {_short(value)}, not a list",
                        hint=f"give a list, e.g. -p '{param}=[1, 2]'",
                    )
                raise TemplateError(
                    f"matrix key '{key}': {values} gave {type(value).__name__} {_short(value)}, not a list",
                    hint="make the param or output a list, e.g. [0.001, 0.01]",
                )
            values = value
        if not values:
            if param is not None:
                raise TemplateError(
                    f"matrix key '{key}': param '{param}' is an empty list, so the task has no cells",
                    hint=f"give it at least one value, e.g. -p '{param}=[1, 2]'",
                )
            raise TemplateError(f"matrix key '{key}' has no values", hint="give at least one value")
        resolved[key] = list(values)
    count = cell_count(resolved)
    if count > MAX_MATRIX_CELLS:
        raise TemplateError(
            f"matrix expands to {count:,} cells, more than the {MAX_MATRIX_CELLS:,} allowed",
            hint="split the task, or fan out over fewer values",
        )
    return resolved


def _param_name(text: str) -> str | None:
    """``lrs`` for ``${params.lrs}`` (``cfg.lrs`` for ``${params.cfg.lrs}``, a default after ``:-`` left out):
    the param a value list names; None for other text."""
    inner = text.strip()
    if not (inner.startswith("${params.") and inner.endswith("}")) or inner.count("${") != 1:
        return None
    return inner[len("${params.") : -1].partition(":-")[0]


def cell_count(values: Mapping[str, list[Any]]) -> int:
    count = 1
    for v in values.values():
        count *= len(v)
    return count


def expand(values: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """The cells' values, in cell order."""
    keys = list(values)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(values[k] for k in keys))]


def describe(values: Mapping[str, Any]) -> str:
    """``lr=0.001 bs=16`` for a cell, for plain lines and tables."""
    return " ".join(f"{k}={_short(v, 20)}" for k, v in values.items())


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def min_success_problem(task_id: str, min_success: int | None, cells: int) -> str | None:
    """``what — how to fix`` when ``min_success`` asks for more cells than the matrix has (it can never be met),
    else None. The one wording of this problem: ``dagctl validate`` for literal lists, the start of a run (and
    its dry run) for lists from params, the fan-out for lists from an upstream output
    (:mod:`dagctl.dag.matrixcheck`)."""
    if min_success is None or min_success <= cells:
        return None
    return (
        f"task '{task_id}' min_success: {min_success} is more than the {cells} cell{'s' if cells != 1 else ''} of "
        f"its matrix — lower it to at most {cells}, or leave it out to need every cell"
    )
