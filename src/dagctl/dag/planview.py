"""Pure views of a Plan: dry-run lines, JSON, and graph drawings (text levels, Mermaid, Graphviz dot)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .durations import format_duration
from .plan import Plan, PlannedTask

_KIND_LABEL = {"run": "shell", "python": "python", "workflow_ref": "workflow", "dag": "sub-DAG", "approval": "gate"}


def _deps(t: PlannedTask) -> str:
    return ", ".join(t.depends_on) if t.depends_on else "none"


CELLS_SHOWN = 12
"""A dry run lists this many cells of a matrix task, then how many more."""


def plan_lines(
    plan: Plan,
    params: Mapping[str, Any] | None = None,
    notes: Mapping[str, str] | None = None,
    *,
    selected: Sequence[str] | None = None,
    reused: Mapping[str, Any] | None = None,
) -> list[str]:
    """The dry-run text: the source note's layout plus level, retries and timeout; matrix cells, loops and
    sub-DAGs under their task. ``params``: the run's params (default: the DAG's). ``selected`` (``run --only``
    / ``--from``): the tasks that would run, the only ones listed; ``reused``: the upstream tasks whose outputs
    an earlier run gives them."""
    dag = plan.dag
    params = dag.params if params is None else params
    tasks = _shown(plan, selected)
    levels = _levels(plan, tasks)
    width = max((len(lv) for lv in levels), default=0)
    count = f"{len(tasks)} of {len(plan.tasks)} selected" if selected is not None else str(len(tasks))
    lines = [
        f"DRY RUN: DAG '{dag.name}'",
        f"Tenant: {dag.tenant_id}",
        f"Tasks: {count} in {len(levels)} level{'s' if len(levels) != 1 else ''} (up to {width} in parallel)",
        "",
        "Execution Plan:",
    ]
    pad = len(str(len(plan.tasks)))
    for t in tasks:
        extras = [f"level {t.level}", f"retries {t.retries}", f"timeout {format_duration(t.timeout)}"]
        if t.when:
            extras.append(f"when {t.when}")
        if t.trigger_rule != "all_success":
            extras.append(f"trigger {t.trigger_rule}")
        lines.append(
            f"  {t.order:>{pad}}. {t.id} ({_KIND_LABEL[t.kind]}: {t.target}, depends_on: {_deps(t)})"
            f" [{', '.join(extras)}]"
        )
        extra = [*_composition(t, params), *([notes[t.id]] if notes and t.id in notes else [])]
        lines.extend(f"  {' ' * pad}    {line}" for line in extra)
    if selected is not None:
        kept, left = _rest(plan, selected, reused)
        lines.append("")
        lines.append(
            f"Reused: {', '.join(kept)} (outputs of the newest run in which each succeeded)" if kept else "Reused: none"
        )
        if left:
            lines.append(f"Not run: {', '.join(left)} (recorded as skipped: not selected)")
    return lines


def _rest(plan: Plan, selected: Sequence[str], reused: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """The tasks a selection does not run, in plan order: those whose outputs are reused, and the others."""
    chosen, reused = set(selected), reused or {}
    kept = [tid for tid in plan.tasks if tid in reused]
    return kept, [tid for tid in plan.tasks if tid not in chosen and tid not in reused]


def _shown(plan: Plan, selected: Sequence[str] | None) -> list[PlannedTask]:
    """The tasks a dry run lists: all, or the selected ones, in plan order."""
    if selected is None:
        return list(plan.tasks.values())
    chosen = set(selected)
    return [t for t in plan.tasks.values() if t.id in chosen]


def _levels(plan: Plan, tasks: list[PlannedTask]) -> list[list[str]]:
    """The plan's levels, holding only ``tasks`` (empty levels dropped)."""
    if len(tasks) == len(plan.tasks):
        return [list(level) for level in plan.levels]
    ids = {t.id for t in tasks}
    return [kept for kept in ([tid for tid in level if tid in ids] for level in plan.levels) if kept]


def _composition(t: PlannedTask, params: Mapping[str, Any]) -> list[str]:
    from . import matrix
    from .matrixcheck import preview

    lines = []
    if t.matrix is not None:
        cells, note = preview(t, params)
        cap = f", at most {t.max_parallel} at once" if t.max_parallel else ""
        strategy = (t.aggregate or {}).get("strategy", "collect")
        lines.append(f"matrix: {note}{cap}; aggregate: {strategy}")
        for index, values in enumerate((cells or [])[:CELLS_SHOWN]):
            lines.append(f"  {matrix.cell_id(t.id, index)}  {matrix.describe(values)}")
        if cells and len(cells) > CELLS_SHOWN:
            lines.append(f"  ... and {len(cells) - CELLS_SHOWN} more cells")
    if t.repeat is not None:
        r = t.repeat
        lines.append(f"repeat until: {r.get('until')} (at most {r.get('max_iterations')} iterations)")
    if t.subdag is not None:
        lines.append(f"sub-DAG: {t.subdag if isinstance(t.subdag, str) else 'inline'} (runs as a linked run)")
    return lines


def plan_as_dict(
    plan: Plan,
    params: Mapping[str, Any] | None = None,
    notes: Mapping[str, str] | None = None,
    *,
    selected: Sequence[str] | None = None,
    reused: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``run --dry-run --json``; its ``params`` are ``params``, the values the run would use (the DAG's defaults
    merged with ``-p`` and ``--params-file``; default: the DAG's defaults). With ``selected`` (``--only`` /
    ``--from``): ``tasks`` and ``levels`` hold the selected tasks only, and ``selected``, ``reused`` (task -> the
    outputs an earlier run gives it) and ``not_run`` are added."""
    from . import matrix
    from .matrixcheck import preview

    dag = plan.dag
    params = dag.params if params is None else params
    tasks = _shown(plan, selected)
    data: dict[str, Any] = {
        "dag": dag.name,
        "tenant_id": dag.tenant_id,
        "file": dag.source_path,
        "params": dict(params),
        "levels": _levels(plan, tasks),
        "tasks": [
            {
                "order": t.order,
                "id": t.id,
                "level": t.level,
                "kind": t.kind,
                "target": t.run if t.kind == "run" else t.target,
                "depends_on": list(t.depends_on),
                "retries": t.retries,
                "retry_delay_s": t.retry_delay,
                "backoff": t.backoff,
                "max_delay_s": t.max_delay,
                "timeout_s": t.timeout,
                "when": t.when,
                "trigger_rule": t.trigger_rule,
                **(
                    {
                        "matrix": t.matrix,
                        "cells": [
                            {"id": matrix.cell_id(t.id, i), "matrix": values}
                            for i, values in enumerate(preview(t, params)[0] or [])
                        ]
                        or None,
                    }
                    if t.matrix is not None
                    else {}
                ),
                **({"repeat": t.repeat} if t.repeat is not None else {}),
                **({"dag": t.subdag} if t.subdag is not None else {}),
                **({"cache": notes[t.id]} if notes and t.id in notes else {}),
            }
            for t in tasks
        ],
    }
    if selected is not None:
        kept, left = _rest(plan, selected, reused)
        data["selected"] = [t.id for t in tasks]
        data["reused"] = {tid: dict((reused or {})[tid]) for tid in kept}
        data["not_run"] = left
    return data


def graph_text(plan: Plan) -> str:
    lines = [f"{plan.dag.name}: {len(plan.tasks)} tasks in {len(plan.levels)} levels"]
    for n, level in enumerate(plan.levels):
        lines.append(f"level {n}")
        for tid in level:
            t = plan.tasks[tid]
            arrow = f"  <- {', '.join(t.depends_on)}" if t.depends_on else ""
            lines.append(f"  {tid} [{_KIND_LABEL[t.kind]}]{arrow}")
    return "\n".join(lines)


def _label(text: str) -> str:
    return json.dumps(text)[1:-1].replace("'", "&#39;")


def graph_mermaid(plan: Plan) -> str:
    ids = {tid: f"t{n}" for n, tid in enumerate(plan.tasks)}
    lines = ["flowchart TD"]
    for tid, node in ids.items():
        lines.append(f'    {node}["{_label(tid)}"]')
    for tid, t in plan.tasks.items():
        for dep in t.depends_on:
            lines.append(f"    {ids[dep]} --> {ids[tid]}")
    return "\n".join(lines)


def graph_dot(plan: Plan) -> str:
    lines = [f"digraph {json.dumps(plan.dag.name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for tid in plan.tasks:
        lines.append(f"    {json.dumps(tid)};")
    for tid, t in plan.tasks.items():
        for dep in t.depends_on:
            lines.append(f"    {json.dumps(dep)} -> {json.dumps(tid)};")
    lines.append("}")
    return "\n".join(lines)


def graph_dict(plan: Plan) -> dict[str, Any]:
    """``dagctl graph --json``: the tasks (in file order), their levels and the edges upstream -> downstream."""
    return {
        "dag": plan.dag.name,
        "file": plan.dag.source_path,
        "levels": [list(level) for level in plan.levels],
        "tasks": [
            {
                "id": t.id,
                "kind": _KIND_LABEL[t.kind],
                "level": t.level,
                "depends_on": list(t.depends_on),
                "downstream": list(t.downstream),
            }
            for t in plan.tasks.values()
        ],
        "edges": [[dep, t.id] for t in plan.tasks.values() for dep in t.depends_on],
    }
