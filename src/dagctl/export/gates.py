"""An approval gate as an Argo ``suspend`` template. Pure.

The workflow stops at the gate until someone resumes it::

    argo resume WF --node-field-selector displayName=go-ahead                       # approve
    argo node set WF --node-field-selector displayName=go-ahead --phase Failed \\
        --message "rejected: tests are red"                                       # reject

The message, approvers and policy are annotations of the template (``dagctl.io/approval-*``); Argo lets
anyone allowed to resume the workflow pass the gate. The message's ``${...}`` references are rendered with
what the export knows (:func:`approval_message`): the workflow's params (their values at export),
``${dag.name}`` and ``${task.id}``; the others (outputs, ``${run_id}``, env ...) are known only when the workflow
runs, stay as written, and a note says so. The gate's outputs are ``{"approved_by": []}`` unless
set before resuming (``argo node set ... --output-parameter dagctl-outputs='{"approved_by": ["ana"]}'``).
``approval.timeout`` is refused: a suspend template's ``duration`` resumes the workflow when it runs out,
which would approve what dagctl fails (or skips) at that time.
"""

from __future__ import annotations

import json

from .names import OUTPUTS_PARAM
from .options import STEP_ANNOTATION, TASK_ANNOTATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dagctl.dag.plan import PlannedTask

    from .scope import Build, Scope, TaskRefs

NOBODY: dict[str, list[str]] = {"approved_by": []}


def approval_message(scope: Scope, task: PlannedTask) -> tuple[str, list[str]]:
    """The gate's message with the references the export can resolve rendered as a run renders them (the
    workflow's params with their values at export, ``${dag.name}``, ``${task.id}``), and notes on the rest,
    which stay as written (an annotation is not rendered by Argo)."""
    from dagctl.dag.templating import TemplateContext, find_references, render
    from dagctl.errors import TemplateError

    text = str((task.approval or {}).get("message") or "")
    if "$" not in text:
        return text, []
    who = scope.label(task.id)
    params = scope.param_values  # None in a sub-DAG: its params are known when it runs
    extra = {"dag": {"name": scope.plan.dag.name}, "task": {"id": task.id}}
    context = TemplateContext(params=params or {}, env={}, outputs={}, extra=extra)
    try:
        references = find_references(text)
    except TemplateError:  # the DAG's checks report it
        return text, []
    parts: list[str] = []
    rendered: list[str] = []
    kept: list[str] = []
    end = 0
    for ref in references:
        parts.append(render(text[end : ref.start], context))  # literal text ($${ is ${)
        end = ref.end
        known = (ref.namespace == "params" and params is not None) or ref.name in ("dag.name", "task.id")
        try:
            value = render(ref.source, context) if known else None
        except TemplateError:  # a key the param's value does not have: as a run would fail, leave it
            value = None
        if value is None:
            parts.append(ref.source)
            kept.append(ref.source)
            continue
        parts.append(value)
        if ref.namespace == "params":
            rendered.append(ref.source)
    parts.append(render(text[end:], context))
    notes = []
    if rendered:
        notes.append(
            f"{who} approval: the message is written with the values at export of {', '.join(dict.fromkeys(rendered))}"
            "; argo submit -p does not change it: export again with -p"
        )
    if kept:
        notes.append(
            f"{who} approval: the message's {', '.join(dict.fromkeys(kept))} cannot be rendered in Argo (known only "
            "when the workflow runs); it is shown as written"
        )
    return "".join(parts), notes


def gate_problems(scope: Scope, task: PlannedTask) -> list[str]:
    spec = task.approval or {}
    who = scope.label(task.id)
    problems = []
    if spec.get("timeout"):
        problems.append(
            f"{who} key 'approval': timeout: cannot be exported — Argo's suspend resumes the workflow when its "
            "duration runs out, which approves the gate where dagctl fails (or skips) it; remove approval.timeout "
            "to export (the gate then waits until resumed), or run the DAG with dagctl run"
        )
    if "{{" in str(spec.get("message") or "") or "{{" in approval_message(scope, task)[0]:
        problems.append(f"{who} key 'approval': the message holds '{{{{', which Argo reads as a template — change it")
    if task.matrix is not None:
        problems.append(f"{who} key 'approval': a matrix of gates cannot be exported — gate the task after the matrix")
    return problems


def gate(build: Build, scope: Scope, task: PlannedTask, refs: TaskRefs, *, name: str) -> None:
    """Add the gate's suspend template ``name`` (its DAG task passes it nothing), and notes on its message."""
    spec = task.approval or {}
    message, notes = approval_message(scope, task)
    build.notes.extend(notes)
    annotations = {
        TASK_ANNOTATION: scope.path + task.id,
        STEP_ANNOTATION: "approval",
        "dagctl.io/approval-message": message,
        "dagctl.io/approvers": ", ".join(spec.get("approvers") or []) or "anyone",
        "dagctl.io/approval-policy": str(spec.get("policy") or "any"),
    }
    outputs: list[dict[str, Any]] = [
        {"name": OUTPUTS_PARAM, "valueFrom": {"supplied": {}, "default": json.dumps(NOBODY)}}
    ]
    outputs += [
        {"name": key, "valueFrom": {"supplied": {}, "default": "[]" if key == "approved_by" else ""}}
        for key in refs.exported
    ]
    build.add(
        {"name": name, "metadata": {"annotations": annotations}, "suspend": {}, "outputs": {"parameters": outputs}}
    )


def gate_note(scope: Scope, task: PlannedTask) -> str:
    spec = task.approval or {}
    approvers = ", ".join(spec.get("approvers") or [])
    who = f"approvers {approvers} (policy {spec.get('policy') or 'any'})" if approvers else "approvers"
    return (
        f"{scope.label(task.id)} approval: a suspend step; argo resume approves, argo node set --phase Failed rejects; "
        f"Argo does not check {who}: anyone allowed to resume the workflow passes the gate, and approved_by is [] "
        "unless set with argo node set --output-parameter"
    )
