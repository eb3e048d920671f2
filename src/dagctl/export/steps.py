"""Container templates that run ``dagctl exec-task``: a task's attempts, and the steps added around them. Pure.

A step writes its outputs to ``/tmp/dagctl/outputs`` (``outputs.json``, ``values/<key>`` and the files of
:attr:`dagctl.run.single.StepResult.files`); its template exports ``outputs.json`` as the output parameter
``dagctl-outputs``, the keys other templates compare or fan out over one by one, and the files it is asked for.
"""

from __future__ import annotations

import math

from .names import OUTPUTS_PARAM, is_env_name
from .options import COMMAND, MOUNT, OUTPUTS_DIR, QUEUE_LABEL, STEP_ANNOTATION, TASK_ANNOTATION, VOLUME, duration
from .scope import declare, exec_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from dagctl.dag.plan import DagInfo, PlannedTask

    from .options import ArgoOptions
    from .scope import Build, Scope, TaskRefs


def step_template(
    build: Build,
    scope: Scope,
    task: PlannedTask,
    refs: TaskRefs,
    given: list[dict[str, Any]],
    *,
    name: str,
    step: str | None = None,
    inputs: Sequence[str] = (),
    mode: Sequence[str] = (),
    files: Sequence[tuple[str, str]] = (),
    exported: Sequence[str] | None = None,
    attempts: bool = True,
    slot: int | None = None,
) -> str:
    """Add the container template ``name`` running ``dagctl exec-task`` for ``task``, called with ``given`` (and
    ``inputs``), with ``mode`` among its arguments; return its name. ``attempts``: it runs the task's attempts
    (retries, timeout, queue, log); otherwise it is a step ``step`` added around them. It exports
    ``dagctl-outputs``, the keys ``exported`` (default: the task's), and each (parameter, file) of ``files``.
    ``slot``: put it there (:meth:`~dagctl.export.scope.Build.slot`)."""
    options = build.options
    args = exec_args(scope, task, refs, *mode)
    retried = attempts and task.retries > 0
    if retried:
        args += ["--retry", "{{retries}}"]
    if scope.scheduled:
        args += ["--logical-date", "{{workflow.scheduledTime}}"]
    container: dict[str, Any] = {"image": options.image, "command": list(COMMAND), "args": args}
    env = container_env(scope.plan.dag, task, options)
    if env:
        container["env"] = env
    if options.pvc:
        container["volumeMounts"] = [{"name": VOLUME, "mountPath": MOUNT}]
    metadata: dict[str, Any] = {"annotations": {TASK_ANNOTATION: scope.path + task.id}}
    if step:
        metadata["annotations"][STEP_ANNOTATION] = step
    description = getattr(task, "description", None)
    if attempts and isinstance(description, str) and description:
        metadata["annotations"]["dagctl.io/description"] = description
    template: dict[str, Any] = {"name": name, "metadata": metadata}
    if attempts and task.queue:
        metadata["labels"] = {QUEUE_LABEL: task.queue}
        if options.queue_node_selector:
            template["nodeSelector"] = {QUEUE_LABEL: task.queue}
    template["inputs"] = declare(given, *inputs)
    outputs = [{"name": OUTPUTS_PARAM, "valueFrom": {"path": f"{OUTPUTS_DIR}/outputs.json", "default": "{}"}}]
    outputs += [
        {"name": key, "valueFrom": {"path": f"{OUTPUTS_DIR}/values/{key}", "default": ""}}
        for key in (refs.exported if exported is None else exported)
    ]
    outputs += [{"name": out, "valueFrom": {"path": f"{OUTPUTS_DIR}/{file}", "default": ""}} for out, file in files]
    template["outputs"] = {"parameters": outputs}
    if retried:
        template["retryStrategy"] = retry_strategy(task)
    if attempts and task.timeout:
        template["activeDeadlineSeconds"] = math.ceil(task.timeout)
    template["container"] = container
    return build.add(template) if slot is None else build.fill(slot, template)


def retry_strategy(task: PlannedTask) -> dict[str, Any]:
    factor = max(1, math.floor(task.backoff + 0.5))
    backoff = {"duration": duration(task.retry_delay), "factor": factor, "cap": duration(task.max_delay)}
    strategy: dict[str, Any] = {"limit": task.retries, "retryPolicy": "Always", "backoff": backoff}
    if task.retry_on_exit_codes is not None:  # Argo's lastRetry.exitCode is a string ("-1" when there is none)
        codes = ", ".join(f"'{code}'" for code in task.retry_on_exit_codes)
        strategy["expression"] = f"lastRetry.exitCode in [{codes}]"
    return strategy


def container_env(dag: DagInfo, task: PlannedTask, options: ArgoOptions) -> list[dict[str, Any]]:
    """Env entries Kubernetes sets: the DAG's and the task's literal values (a value with ``${...}`` is only
    rendered and set by exec-task, which sets every entry), and for each secret ``from_env: NAME`` (DAG's and
    task's) an entry ``NAME`` read from the Kubernetes Secret ``options.secret_name`` (key ``NAME``): exec-task
    then reads it as ``dagctl run`` would, gives it to the task under the secret's name and masks it."""
    env: list[dict[str, Any]] = []
    if options.pvc:
        env.append({"name": "DAGCTL_LOGS_DIR", "value": f"{MOUNT}/logs"})
    for key, value in {**dag.env, **task.env}.items():
        if is_env_name(key) and "${" not in value and "{{" not in value:
            env.append({"name": key, "value": value})
    sources = sorted({s["from_env"] for s in (*dag.secrets.values(), *task.secrets.values()) if "from_env" in s})
    env.extend(
        {"name": name, "valueFrom": {"secretKeyRef": {"name": options.secret_name, "key": name}}} for name in sources
    )
    return env


def forwarded_outputs(task: str, keys: Sequence[str]) -> dict[str, Any]:
    """Outputs of a DAG template that are the outputs of its DAG task ``task``: ``dagctl-outputs`` and ``keys``."""
    from .options import task_output

    return {
        "parameters": [
            {"name": key, "valueFrom": {"parameter": task_output(task, key)}} for key in (OUTPUTS_PARAM, *keys)
        ]
    }
