"""A plan as an Argo Workflow, WorkflowTemplate or CronWorkflow manifest, as plain dicts. Pure.

Every task becomes a DAG task of the ``main`` DAG template (:mod:`~dagctl.export.dagscope`), calling a
template that runs ``dagctl exec-task`` in the image (:mod:`dagctl.run.single`) with the task spec, the params
it reads and the outputs of the upstream tasks it reads as parameters; a matrix, a loop, a sub-DAG, a cached
task or an approval gate calls templates of its own (:mod:`~dagctl.export.fanout`, :mod:`~dagctl.export.loop`,
:mod:`~dagctl.export.subdag`, :mod:`~dagctl.export.memo`, :mod:`~dagctl.export.gates`). A step writes its outputs
to ``/tmp/dagctl/outputs`` (``outputs.json`` and ``values/<key>``); the template exports them as the output
parameter ``dagctl-outputs`` (and, for keys that a downstream ``when:`` compares or a matrix fans out over,
one parameter per key), and downstream tasks receive them as ``{{tasks.X.outputs.parameters.dagctl-outputs}}``.

Which keys of a plan are mapped, and which are refused until they are, is :mod:`dagctl.export.keys`.
Nothing is dropped silently: what maps only approximately is returned as notes.
"""

from __future__ import annotations

import math

from dagctl.errors import UsageError
from dagctl.records import Record

from .dagscope import walk
from .handlers import exit_handler
from .keys import IGNORED_DAG_KEYS, is_set, unmapped
from .names import ENTRYPOINT, is_param_name, object_name, task_names
from .options import (
    API_VERSION,
    DEFAULT_IMAGE,
    DESCRIPTION,
    KINDS,
    OUTPUTS_DIR,
    VOLUME,
    ArgoOptions,
    duration,
    spec_text,
)
from .scope import Build, Scope

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dagctl.dag.plan import DagInfo, Plan

    from .cron import CronSettings

__all__ = [
    "API_VERSION", "DEFAULT_IMAGE", "KINDS", "OUTPUTS_DIR", "ArgoExport", "ArgoOptions", "ExportError", "duration",
    "export_plan", "spec_text",
]  # fmt: skip


class ArgoExport(Record):
    manifest: dict[str, Any]
    notes: list[str]
    """What Argo does differently from dagctl for this DAG, one line each."""
    task_names: dict[str, str]
    """dagctl task id -> Argo task name."""


class ExportError(UsageError):
    """Parts of the DAG that cannot be exported, one line each: what, where (task and key), how to fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)

    def __str__(self) -> str:
        return "\n".join(self.problems)


def export_plan(plan: Plan, options: ArgoOptions, cron: CronSettings | None = None) -> ArgoExport:
    """The manifest of ``plan``; with ``cron`` a CronWorkflow. Raises :class:`ExportError` listing everything
    that cannot be exported."""
    from dagctl.dag.params import merge_params

    kind = "CronWorkflow" if cron is not None else options.kind
    if kind not in KINDS.values() or (kind == "CronWorkflow" and cron is None):
        raise UsageError(
            f"cannot export kind {kind!r} this way", hint="use Workflow or WorkflowTemplate, or give a schedule"
        )
    names = task_names(plan.tasks)
    build = Build(options, used={ENTRYPOINT, *names.values()})
    build.problems.extend(unmapped(plan))
    build.notes.extend(cron.notes if cron is not None else [])
    build.notes.extend(
        f"DAG key '{name}': {why}" for name, why in IGNORED_DAG_KEYS.items() if is_set(getattr(plan.dag, name, None))
    )
    types = {k: {n: v for n, v in spec.items() if n != "required"} for k, spec in plan.dag.param_types.items()}
    values = merge_params(plan.dag.params, cron.params if cron else {}, options.params, types=types)
    scope = Scope(
        plan=plan,
        dag_path=options.dag_path or plan.dag.source_path,
        run_id="{{workflow.name}}",
        names=names,
        param_values=values,
        scheduled=cron is not None,
    )
    tasks, walked = walk(build, scope)
    on_exit = exit_handler(build, scope, walked.reads)
    problems, notes = build.problems, build.notes
    arguments = _arguments(plan.dag, values, walked.reads | walked.when_params, problems, notes)
    if problems:
        raise ExportError(problems)
    spec: dict[str, Any] = {"entrypoint": ENTRYPOINT}
    if arguments:
        spec["arguments"] = {"parameters": arguments}
    if on_exit is not None:
        spec["onExit"] = on_exit
    if plan.dag.timeout:
        spec["activeDeadlineSeconds"] = math.ceil(plan.dag.timeout)
    if plan.dag.parallelism:
        spec["parallelism"] = plan.dag.parallelism
    if options.pvc:
        spec["volumes"] = [{"name": VOLUME, "persistentVolumeClaim": {"claimName": options.pvc}}]
    if plan.dag.fail_fast:
        notes.append("options.fail_fast: Argo's failFast starts no new task after a failure but lets running ones end")
    main = {"name": ENTRYPOINT, "dag": {"failFast": plan.dag.fail_fast, "tasks": tasks}}
    spec["templates"] = [main, *build.templates]
    manifest = _manifest(kind, plan.dag, spec, options, cron)
    return ArgoExport(manifest=manifest, notes=notes, task_names=names)


# ---------------------------------------------------------------------------------------------- the DAG
def _arguments(
    dag: DagInfo, values: dict[str, Any], used: set[str], problems: list[str], notes: list[str]
) -> list[dict[str, Any]]:
    from dagctl.dag.templating import format_value

    arguments = []
    for name, value in values.items():
        if not is_param_name(name):
            if name not in used:
                notes.append(f"param '{name}': no task reads it and it cannot be an Argo parameter name; left out")
            continue
        text = format_value(value)
        if "{{" in text:
            problems.append(f"param '{name}': its value holds '{{{{', which Argo reads as a template — change it")
            continue
        if name in used and dag.params.get(name) is None:
            notes.append(f"param '{name}' has no default: Argo passes it as empty text unless it is given")
        arguments.append({"name": name, "value": text})
    return arguments


def _manifest(
    kind: str, dag: DagInfo, spec: dict[str, Any], options: ArgoOptions, cron: CronSettings | None
) -> dict[str, Any]:
    stem = options.name_prefix + dag.name
    metadata: dict[str, Any] = {}
    if kind == "Workflow":
        metadata["generateName"] = object_name(stem, 57) + "-"
    elif kind == "WorkflowTemplate":
        metadata["name"] = object_name(stem, 63)
    if options.namespace:
        metadata["namespace"] = options.namespace
    labels = {"app.kubernetes.io/managed-by": "dagctl", "dagctl.io/dag": object_name(dag.name, 63)}
    annotations = {"dagctl.io/dag-file": options.dag_path or dag.source_path or "", "dagctl.io/tenant": dag.tenant_id}
    description = getattr(dag, "description", None)
    if isinstance(description, str) and description:
        annotations[DESCRIPTION] = description
    if cron is None:
        metadata["labels"], metadata["annotations"] = labels, annotations
        return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    if cron.tenant:
        annotations["dagctl.io/tenant"] = cron.tenant
    if cron.description:
        annotations[DESCRIPTION] = cron.description
    metadata["name"] = object_name(options.name_prefix + cron.name, 52)
    metadata["labels"], metadata["annotations"] = labels, annotations
    cron_spec = dict(cron.spec)
    # the runs get the labels too: through workflowSpec.workflowMetadata, which Hera's CronWorkflow keeps
    # (it drops the CronWorkflow spec's own workflowMetadata)
    cron_spec["workflowSpec"] = {**spec, "workflowMetadata": {"labels": dict(labels), "annotations": dict(annotations)}}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": cron_spec}
