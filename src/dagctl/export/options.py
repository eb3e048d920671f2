"""What an Argo export is asked for (:class:`ArgoOptions`), and the fixed names and paths of its manifests. Pure."""

from __future__ import annotations

import json

from dagctl.records import Record, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
STEP_ANNOTATION = "dagctl.io/step"
"""What a template adds around a task's attempts: cell, gather, iteration, until, cache-key, params, outputs,
approval (a task's own step has none)."""
DESCRIPTION = "workflows.argoproj.io/description"
CACHE_CONFIG_MAP = "dagctl-task-cache"
"""The ConfigMap Argo keeps memoized steps in (cached tasks)."""


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
    secret_name: str = "dagctl-secrets"
    """The Kubernetes Secret that holds the values of ``secrets: {X: {from_env: NAME}}``, under the key NAME."""


def spec_text(spec: dict[str, Any]) -> str:
    """The task spec as compact JSON in which Argo finds no ``{{``: a ``{`` that would start one is written
    ``\\u007b`` (which JSON reads back as ``{``), so a command holding ``{{...}}`` reaches the step as written."""
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
    while "{{" in text:  # outside strings compact JSON never has "{{" ('{' is followed by '"' or '}')
        text = text.replace("{{", "\\u007b{")
    return text


def duration(seconds: float) -> str:
    """A Go duration: ``30s``, ``1500ms``."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def param(name: str) -> str:
    """``{{inputs.parameters.NAME}}``."""
    return f"{{{{inputs.parameters.{name}}}}}"


def task_output(task: str, name: str) -> str:
    """``{{tasks.TASK.outputs.parameters.NAME}}``."""
    return f"{{{{tasks.{task}.outputs.parameters.{name}}}}}"
