"""Which keys of a plan an Argo export maps, and which it refuses until it does: the one place to decide. Pure.

Every field of :class:`~dagctl.dag.plan.PlannedTask` and :class:`~dagctl.dag.plan.DagInfo` is in a table
here. :data:`TASK_FIELDS` and :data:`DAG_FIELDS` say where each mapped key goes (docs/argo.md has them as
tables); :data:`OPTIONAL_KEYS` are mapped when a plan carries them. A key in no table, or in
:data:`PENDING_KEYS` (``secrets:``, ``precondition:``, handlers ...; with how each will map), makes the
export refuse every task (or the DAG) that sets it, naming the task and the key: a key added to the DAG
format later is refused the same way until a mapping is written in :mod:`dagctl.export` and its key moves to
a table here. A mapped key that Argo cannot honour in some combination is refused there by the module that
maps it (an approval's ``timeout``, a ``dag:`` task's ``retries`` ...). A test fails when the plan has a key
that is in no table.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dagctl.dag.plan import Plan

TASK_FIELDS: dict[str, str] = {
    "id": "the DAG task's name (rewritten to fit Argo) and the dagctl.io/task annotation of its pod",
    "kind": "exec-task, through the task spec",
    "target": "exec-task, through the task spec",
    "run": "exec-task, through the task spec",
    "python": "exec-task, through the task spec",
    "workflow_ref": "exec-task, through the task spec (the registry comes from the image)",
    "params": "exec-task, through the task spec (templates rendered in the step)",
    "cwd": "exec-task, through the task spec",
    "isolation": "exec-task, through the task spec",
    "env": "container env (literal values; exec-task sets all of them, rendered)",
    "depends_on": "depends, and the upstream outputs passed as inputs",
    "trigger_rule": "depends expression",
    "when": "when, where Argo's when can express it",
    "retries": "retryStrategy.limit (retryPolicy Always)",
    "retry_delay": "retryStrategy.backoff.duration",
    "backoff": "retryStrategy.backoff.factor (rounded to a whole number)",
    "max_delay": "retryStrategy.backoff.cap",
    "timeout": "activeDeadlineSeconds of the template (rounded up), and exec-task's own timeout",
    "queue": "the dagctl.io/queue label of the pod (and nodeSelector with --queue-node-selector)",
    "order": "the order of the DAG tasks",
    "level": "derived from the graph; Argo derives it again",
    "downstream": "derived from the graph; Argo derives it again",
    "priority": "not mapped: Argo starts ready tasks in its own order",
    "matrix": "a DAG template of its own: withItems (lists known at export) or withParam (an upstream output), "
    "one exec-task --cell step per cell, then an exec-task --gather step",
    "max_parallel": "parallelism of the matrix's DAG template",
    "min_success": "the --gather step: it fails when fewer cells succeeded",
    "aggregate": "the --gather step computes it (dagctl.run.fanin)",
    "repeat": "a recursive DAG template: an iteration, an exec-task --until step, a suspend for the delay, the next",
    "subdag": "a DAG template holding the child's tasks, with --dag-params and --dag-outputs steps",
    "cache": "memoize of the step, keyed by dagctl's task cache key from an exec-task --cache-key step",
    "approval": "a suspend template (message, approvers, policy as annotations); timeout: refused",
    "retry_on_exit_codes": "retryStrategy.expression: lastRetry.exitCode in [the codes] (a step's exit code is its "
    "task's; a timeout is 124 there, and is not retried unless 124 is listed)",
    "precondition": "a DAG task before it running exec-task --precondition (file met); the task depends on it and "
    "runs when met is true, else it is Skipped (an approval gate's: refused)",
    "continue_on": "exec-task: a failure it allows ends the step with exit code 0, the reason in the step's "
    "output, so downstream runs as after a success, as in a run",
    "secrets": "from_env NAME: an env entry NAME with valueFrom.secretKeyRef (the Secret of --secret-name, key "
    "NAME), which exec-task reads, gives the task and masks; from_file: refused",
}
DAG_FIELDS: dict[str, str] = {
    "name": "metadata: generateName / name, and the dagctl.io/dag label",
    "tenant_id": "the dagctl.io/tenant annotation",
    "source_path": "the task spec (the DAG folder in the image) and the dagctl.io/dag-file annotation",
    "params": "spec.arguments.parameters",
    "env": "container env of every step",
    "workflows": "the task spec of workflow_ref tasks",
    "parallelism": "spec.parallelism",
    "timeout": "spec.activeDeadlineSeconds (rounded up)",
    "fail_fast": "failFast of the DAG template",
    "param_types": "the task spec: exec-task checks and types the params with them",
    "secrets": "as a task's, for every step",
    "env_files": "the task spec: exec-task reads the files from the DAG's folder in the image (or a volume mounted "
    "there), as dagctl run does",
}


PENDING_KEYS: dict[str, str] = {
    # keys of the DAG format that an export refuses (when set) until they have a mapping, with how they will map
    "notify": "notifications will become an exit handler (onExit)",
}
OPTIONAL_KEYS: dict[str, str] = {
    # keys a plan may carry (of the DAG or of a task), mapped when they are there
    # the DAG's and each task's description: annotations
    "description": "the workflows.argoproj.io/description annotation (a task's: dagctl.io/description of its pod)",
}
IGNORED_DAG_KEYS: dict[str, str] = {
    "outputs": "only read when the DAG runs as a sub-DAG of another (a dag: task's child: exported); an exported "
    "workflow returns nothing",
    "project_notify": "the notify: of the project's dagctl.yaml is for the runs dagctl starts; an exported "
    "workflow sends no notifications",
    "snapshot_path": "set only for a retry of a run (the earlier run's DAG text), which an export never is",
}


def unmapped(plan: Plan) -> Iterator[str]:
    """A line for every key a task or the DAG sets that this exporter does not know how to map, or maps only
    in part (a secret ``from_file``)."""
    for owner, secrets in [(f"DAG '{plan.dag.name}'", plan.dag.secrets)] + [
        (f"task '{t.id}'", t.secrets) for t in plan.tasks.values()
    ]:
        for name, source in secrets.items():
            if "from_env" not in source:
                yield (
                    f"{owner} secret '{name}': from_file cannot be exported to Argo — put the value in the "
                    "Kubernetes Secret and use from_env: NAME (exec-task reads it from the step's environment)"
                )
    for name in plan.dag.FIELDS:
        known = name in DAG_FIELDS or name in IGNORED_DAG_KEYS or name in OPTIONAL_KEYS
        if name == "notify" and not (plan.dag.notify or {}).get("events"):
            continue  # notify: {events: []} sends no messages: nothing to map
        if not known and is_set(getattr(plan.dag, name)):
            yield f"DAG '{plan.dag.name}' key '{name}': cannot be exported to Argo yet — {later(name)}"
    for task in plan.tasks.values():
        for name in task.FIELDS:
            if name not in TASK_FIELDS and name not in OPTIONAL_KEYS and is_set(getattr(task, name)):
                yield f"task '{task.id}' key '{name}': cannot be exported to Argo yet — {later(name)}"


def later(name: str) -> str:
    planned = PENDING_KEYS.get(name)
    return f"{planned}; remove it to export, or run the DAG with dagctl run" if planned else "remove it to export"


def is_set(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != {} and value != [] and value != ()
