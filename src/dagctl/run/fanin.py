"""Fan-in: a matrix task's cells gathered into its outputs, by the task's ``aggregate:`` strategy.

The matrix task's outputs are always ``{"cells": [{"matrix": {...}, "status": ..., "outputs": {...}}, ...]}`` in
cell order, plus what the strategy computes:

=========  ====================================================================================================
collect    nothing more (the default)
best       ``best``: the winning succeeded cell by ``metric`` (``order: max`` or ``min``); ties: the first cell
worst      ``worst``: the losing cell, the same way
average    ``mean``: ``{metric: mean over succeeded cells that have it}`` for each of ``metrics``
vote       ``winner`` (the most common value of ``key``; ties: the value seen first) and ``counts``
python     whatever ``module:function(cells)`` returns (a dict), merged in
=========  ====================================================================================================

Pure apart from the ``python`` strategy, which imports the function like a ``python:`` task does.
"""

from __future__ import annotations

from dagctl.errors import TaskError
from dagctl.store.events import finite_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any


def _ranked(cells: Sequence[Mapping[str, Any]], metric: str) -> list[tuple[float, int]]:
    ranked = []
    for index, cell in enumerate(cells):
        if cell.get("status") != "success":
            continue
        value = finite_number((cell.get("outputs") or {}).get(metric))
        if value is not None:
            ranked.append((value, index))
    return ranked


def _pick(cells: Sequence[Mapping[str, Any]], metric: str, highest: bool, task: str) -> dict[str, Any]:
    ranked = _ranked(cells, metric)
    if not ranked:
        raise TaskError(f"matrix task '{task}': no succeeded cell has a numeric output '{metric}' to compare")
    best_value = max(v for v, _ in ranked) if highest else min(v for v, _ in ranked)
    index = next(i for v, i in ranked if v == best_value)
    return {**dict(cells[index]), "index": index}


def aggregate(
    task: str,
    cells: Sequence[Mapping[str, Any]],
    spec: Mapping[str, Any] | None,
    call: Callable[[str, list[dict[str, Any]]], Any] | None = None,
) -> dict[str, Any]:
    """The matrix task's outputs. ``call(target, cells)`` runs a ``python`` strategy's function.

    Raises :class:`TaskError` (the task fails with that message) when the strategy cannot decide."""
    out: dict[str, Any] = {"cells": [dict(c) for c in cells]}
    strategy = (spec or {}).get("strategy") or "collect"
    if strategy == "collect":
        return out
    if strategy in ("best", "worst"):
        order_max = (spec or {}).get("order", "max") == "max"
        highest = order_max if strategy == "best" else not order_max
        out[strategy] = _pick(cells, str((spec or {})["metric"]), highest, task)
        return out
    if strategy == "average":
        means: dict[str, float | None] = {}
        for metric in (spec or {}).get("metrics") or []:
            values = [v for v, _ in _ranked(cells, metric)]
            means[metric] = sum(values) / len(values) if values else None
        out["mean"] = means
        return out
    if strategy == "vote":
        key = str((spec or {})["key"])
        counts: dict[str, int] = {}
        for cell in cells:
            if cell.get("status") == "success" and key in (cell.get("outputs") or {}):
                vote = str(cell["outputs"][key])
                counts[vote] = counts.get(vote, 0) + 1
        if not counts:
            raise TaskError(f"matrix task '{task}': no succeeded cell has an output '{key}' to vote on")
        top = max(counts.values())
        out["winner"] = next(v for v, n in counts.items() if n == top)
        out["counts"] = counts
        return out
    if strategy == "python":
        if call is None:
            raise TaskError(f"matrix task '{task}': the python aggregate cannot run here")
        result = call(str((spec or {})["python"]), [dict(c) for c in cells])
        if not isinstance(result, dict):
            raise TaskError(
                f"matrix task '{task}': aggregate python: {spec and spec.get('python')} returned "
                f"{type(result).__name__}, not a dict"
            )
        out.update(result)
        return out
    raise TaskError(f"matrix task '{task}': unknown aggregate strategy {strategy!r}")
