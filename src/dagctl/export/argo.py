"""A plan as an Argo Workflow, WorkflowTemplate or CronWorkflow manifest, as plain dicts. Pure.

Every task becomes a DAG task (in the ``main`` DAG template) and a container template of its own whose
container runs ``dagctl exec-task`` in the image (:mod:`dagctl.run.single`) with the task spec, the params
it reads and the outputs of the upstream tasks it reads as parameters. A step writes its outputs to
``/tmp/dagctl/outputs`` (``outputs.json`` and ``values/<key>``); the template exports them as the output
parameter ``dagctl-outputs`` (and, for keys that a downstream ``when:`` compares, one parameter per key),
and downstream tasks receive them as ``{{tasks.X.outputs.parameters.dagctl-outputs}}``.

Which keys of a plan are mapped, and which are refused until they are, is :mod:`dagctl.export.keys`.
Nothing is dropped silently: what maps only approximately is returned as notes.
"""

from __future__ import annotations

import json
import math

from dagctl.errors import UsageError
from dagctl.records import Record, field

from .depends import APPROXIMATE, depends_expression
from .keys import IGNORED_DAG_KEYS, is_set, unmapped
from .names import ENTRYPOINT, OUTPUTS_PARAM, is_env_name, is_label_value, is_param_name, object_name, task_names
from .when import Refused, argo_when

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dagctl.dag.plan import DagInfo, Plan, PlannedTask

    from .cron import CronSettings

API_VERSION = "argoproj.io/v1alpha1"
KINDS = {"workflow": "Workflow", "workflow-template": "WorkflowTemplate", "cron-workflow": "CronWorkflow"}
DEFAULT_IMAGE = "dagctl:latest"
COMMAND = ["dagctl", "exec-task"]
OUTPUTS_DIR = "/tmp/dagctl/outputs"
"""Where a step writes its outputs, inside its container (see :func:`dagctl.run.single.write_outputs`)."""
VOLUME = "dagctl-runs"
MOUNT = "/dagctl"
"""Where ``--pvc`` is mounted; ``DAGCTL_LOGS_DIR`` is ``/dagctl/logs`` then, so steps share run folders."""
QUEUE_LABEL = "dagctl.io/queue"
TASK_ANNOTATION = "dagctl.io/task"
DESCRIPTION = "workflows.argoproj.io/description"


class ArgoOptions(Record):
    """How to export, on top of what the plan says (``dagctl export argo`` flags)."""

    kind: str = "Workflow"
    image: str = DEFAULT_IMAGE
    namespace: str | None = None
    name_prefix: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    """Param overrides, as ``-p`` gives them (checked and typed against the DAG's params)."""
    dag_path: str | None = None
    """The DAG file as the image sees it (default: the plan's source path)."""
    pvc: str | None = None
    queue_node_selector: bool = False


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
    from dagctl.dag.plan import ancestors

    kind = "CronWorkflow" if cron is not None else options.kind
    if kind not in KINDS.values() or (kind == "CronWorkflow" and cron is None):
        raise UsageError(
            f"cannot export kind {kind!r} this way", hint="use Workflow or WorkflowTemplate, or give a schedule"
        )
    problems: list[str] = list(unmapped(plan))
    notes: list[str] = list(cron.notes) if cron is not None else []
    notes.extend(
        f"DAG key '{name}': {why}" for name, why in IGNORED_DAG_KEYS.items() if is_set(getattr(plan.dag, name, None))
    )
    names = task_names(plan.tasks)
    deps = {tid: t.depends_on for tid, t in plan.tasks.items()}
    upstream = {tid: ancestors(deps, tid) for tid in plan.tasks}
    values = merge_params(plan.dag.params, cron.params if cron else {}, options.params)
    whens: dict[str, str] = {}
    exported: dict[str, set[str]] = {tid: set() for tid in plan.tasks}
    for tid, task in plan.tasks.items():
        if not task.when:
            continue
        try:
            translated = argo_when(task.when, task_names=names, upstream=upstream[tid], params=plan.dag.params)
        except Refused as exc:
            problems.append(f"task '{tid}' when: {task.when}: {exc.what} — {exc.hint}")
            continue
        except UsageError as exc:  # a TemplateError: the loader reports these first
            problems.append(f"task '{tid}' when: {exc}")
            continue
        whens[tid] = translated.expression
        for source, key in translated.outputs:
            exported[source].add(key)
    dag_tasks, templates = [], []
    tolerant: list[str] = []  # tasks that may run, and succeed, after an upstream failure
    used_params: set[str] = set()
    for tid, task in plan.tasks.items():
        reads, sources = _references(plan, task, upstream[tid])
        bad = [p for p in reads if not is_param_name(p)]
        problems.extend(
            f"task '{tid}' reads param '{p}', which cannot be an Argo parameter name — rename it: letters, "
            "digits, _ and -"
            for p in bad
        )
        used_params.update(reads)
        inputs = [*task.depends_on, *(s for s in plan.tasks if s in sources and s not in task.depends_on)]
        dag_task, template = _task(plan, task, names, reads, inputs, options, cron is not None)
        if tid in whens:
            dag_task["when"] = whens[tid]
        template["outputs"]["parameters"].extend(
            {"name": key, "valueFrom": {"path": f"{OUTPUTS_DIR}/values/{key}", "default": ""}}
            for key in sorted(exported[tid])
        )
        if task.queue and not is_label_value(task.queue):
            problems.append(
                f"task '{tid}' queue: '{task.queue}' cannot be a Kubernetes label value — use at most 63 letters, "
                "digits, _ . -, starting and ending with a letter or digit"
            )
        notes.extend(_task_notes(task))
        if task.depends_on and task.trigger_rule not in ("all_success", "none_failed"):
            tolerant.append(tid)
        dag_tasks.append(dag_task)
        templates.append(template)
    if tolerant:
        notes.append(
            f"trigger rules of {', '.join(repr(t) for t in tolerant)}: after an upstream failure Argo may report the "
            "workflow Succeeded (it judges a workflow by its last tasks); dagctl reports the run failed"
        )
    arguments = _arguments(plan.dag, values, used_params, problems, notes)
    if problems:
        raise ExportError(problems)
    spec: dict[str, Any] = {"entrypoint": ENTRYPOINT}
    if arguments:
        spec["arguments"] = {"parameters": arguments}
    if plan.dag.timeout:
        spec["activeDeadlineSeconds"] = math.ceil(plan.dag.timeout)
    if plan.dag.parallelism:
        spec["parallelism"] = plan.dag.parallelism
    if options.pvc:
        spec["volumes"] = [{"name": VOLUME, "persistentVolumeClaim": {"claimName": options.pvc}}]
    if plan.dag.fail_fast:
        notes.append("options.fail_fast: Argo's failFast starts no new task after a failure but lets running ones end")
    main = {"name": ENTRYPOINT, "dag": {"failFast": plan.dag.fail_fast, "tasks": dag_tasks}}
    spec["templates"] = [main, *templates]
    manifest = _manifest(kind, plan.dag, spec, options, cron)
    return ArgoExport(manifest=manifest, notes=notes, task_names=names)


# ---------------------------------------------------------------------------------------------- one task
def _task(
    plan: Plan,
    task: PlannedTask,
    names: dict[str, str],
    reads: list[str],
    inputs: list[str],
    options: ArgoOptions,
    scheduled: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from dagctl.run.single import task_spec

    name = names[task.id]
    spec = task_spec(plan, task.id, params=reads, source_path=options.dag_path or plan.dag.source_path)
    arguments: list[dict[str, Any]] = [{"name": "task", "value": spec_text(spec)}]
    args = ["--spec", "{{inputs.parameters.task}}"]
    for param in reads:
        args += ["-p", f"{param}={{{{workflow.parameters.{param}}}}}"]
    for source in inputs:
        input_name = f"up-{names[source]}"
        arguments.append(
            {"name": input_name, "value": f"{{{{tasks.{names[source]}.outputs.parameters.{OUTPUTS_PARAM}}}}}"}
        )
        args += ["--input", f"{source}={{{{inputs.parameters.{input_name}}}}}"]
    args += ["--run-id", "{{workflow.name}}", "--outputs-dir", OUTPUTS_DIR]
    if task.retries:
        args += ["--retry", "{{retries}}"]
    if scheduled:
        args += ["--logical-date", "{{workflow.scheduledTime}}"]
    dag_task: dict[str, Any] = {"name": name, "template": name}
    if task.depends_on:
        dag_task["depends"] = depends_expression(task.trigger_rule, [names[u] for u in task.depends_on])
    dag_task["arguments"] = {"parameters": arguments}
    container: dict[str, Any] = {"image": options.image, "command": list(COMMAND), "args": args}
    env = _container_env(plan.dag, task, options)
    if env:
        container["env"] = env
    if options.pvc:
        container["volumeMounts"] = [{"name": VOLUME, "mountPath": MOUNT}]
    metadata: dict[str, Any] = {"annotations": {TASK_ANNOTATION: task.id}}
    description = getattr(task, "description", None)
    if isinstance(description, str) and description:
        metadata["annotations"]["dagctl.io/description"] = description
    template: dict[str, Any] = {"name": name, "metadata": metadata}
    if task.queue:
        metadata["labels"] = {QUEUE_LABEL: task.queue}
        if options.queue_node_selector:
            template["nodeSelector"] = {QUEUE_LABEL: task.queue}
    template["inputs"] = {"parameters": [{"name": a["name"]} for a in arguments]}
    template["outputs"] = {
        "parameters": [{"name": OUTPUTS_PARAM, "valueFrom": {"path": f"{OUTPUTS_DIR}/outputs.json", "default": "{}"}}]
    }
    if task.retries:
        template["retryStrategy"] = _retry_strategy(task)
    if task.timeout:
        template["activeDeadlineSeconds"] = math.ceil(task.timeout)
    template["container"] = container
    return dag_task, template


def spec_text(spec: dict[str, Any]) -> str:
    """The task spec as compact JSON in which Argo finds no ``{{``: a ``{`` that would start one is written
    ``\\u007b`` (which JSON reads back as ``{``), so a command holding ``{{...}}`` reaches the step as written."""
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
    while "{{" in text:  # outside strings compact JSON never has "{{" ('{' is followed by '"' or '}')
        text = text.replace("{{", "\\u007b{")
    return text


def _retry_strategy(task: PlannedTask) -> dict[str, Any]:
    factor = max(1, math.floor(task.backoff + 0.5))
    backoff = {"duration": duration(task.retry_delay), "factor": factor, "cap": duration(task.max_delay)}
    return {"limit": task.retries, "retryPolicy": "Always", "backoff": backoff}


def duration(seconds: float) -> str:
    """A Go duration: ``30s``, ``1500ms``."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def _container_env(dag: DagInfo, task: PlannedTask, options: ArgoOptions) -> list[dict[str, Any]]:
    """Env entries Kubernetes sets: the DAG's and the task's literal values (a value with ``${...}`` is only
    rendered and set by exec-task, which sets every entry). Secrets, once the DAG format has them, become
    ``valueFrom.secretKeyRef`` entries here."""
    env: list[dict[str, Any]] = []
    if options.pvc:
        env.append({"name": "DAGCTL_LOGS_DIR", "value": f"{MOUNT}/logs"})
    for key, value in {**dag.env, **task.env}.items():
        if is_env_name(key) and "${" not in value and "{{" not in value:
            env.append({"name": key, "value": value})
    return env


def _task_notes(task: PlannedTask) -> Iterator[str]:
    who = f"task '{task.id}'"
    if task.depends_on and task.trigger_rule in APPROXIMATE:
        yield f"{who} trigger_rule {task.trigger_rule}: {APPROXIMATE[task.trigger_rule]}"
    if task.retries and task.backoff != math.floor(task.backoff + 0.5):
        yield f"{who} backoff {task.backoff:g}: Argo takes whole factors; exported as {math.floor(task.backoff + 0.5)}"
    if task.timeout and task.timeout != math.ceil(task.timeout):
        yield f"{who} timeout {task.timeout:g}s: Argo takes whole seconds; exported as {math.ceil(task.timeout)}"


# ---------------------------------------------------------------------------------------------- the DAG
def _references(plan: Plan, task: PlannedTask, upstream: set[str]) -> tuple[list[str], set[str]]:
    """(DAG params the task's templates read, in DAG order; upstream tasks whose outputs they read)."""
    from dagctl.dag.templating import find_references

    params: set[str] = set()
    sources: set[str] = set()
    for text in _strings((task.run, task.params, task.env, task.cwd, plan.dag.env)):
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
