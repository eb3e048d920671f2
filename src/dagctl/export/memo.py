"""The template that runs one unit of a task (the task, one matrix cell, one loop iteration) and, for a task
with ``cache:``, Argo's memoization keyed by dagctl's own task cache key. Pure.

Argo looks a memoized step up before it runs, by a key known then; dagctl's key (:func:`dagctl.run.cache.
cache_key`) is a hash of the rendered command, params, env, upstream outputs, the module's source and the
``inputs`` files, known only in the image. So a cached unit is a DAG template of two steps::

    key   exec-task --cache-key: the key of the attempt the next step would run (same arguments)
    run   the unit's container, memoize: {key: <key>, maxAge: <ttl>, cache: {configMap: dagctl-task-cache}}

A hit gives the step's outputs without running it, as a cache hit of ``dagctl run`` does.
"""

from __future__ import annotations

from .names import OUTPUTS_PARAM
from .options import CACHE_CONFIG_MAP, STEP_ANNOTATION, TASK_ANNOTATION, duration, param, task_output
from .scope import declare, forward
from .steps import forwarded_outputs, step_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from dagctl.dag.plan import PlannedTask

    from .scope import Build, Scope, TaskRefs

KEY_PARAM = "cache-key"


def unit(
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
) -> str:
    """The template ``name`` running one attempt of ``task`` (see :func:`~dagctl.export.steps.step_template`),
    memoized by its task cache key when the task has ``cache:``."""
    if task.cache is None:
        return step_template(
            build, scope, task, refs, given, name=name, step=step, inputs=inputs, mode=mode, files=files,
            exported=exported,
        )  # fmt: skip
    slot = build.slot()
    key = step_template(
        build, scope, task, refs, given, name=build.name(f"{name}-cache-key", f"{scope.path}{task.id}#key"),
        step="cache-key", inputs=inputs, mode=[*mode, "--cache-key"], files=[(KEY_PARAM, KEY_PARAM)], exported=(),
        attempts=False,
    )  # fmt: skip
    run = step_template(
        build, scope, task, refs, given, name=build.name(f"{name}-run", f"{scope.path}{task.id}#run"), step=step,
        inputs=[*inputs, KEY_PARAM], mode=mode, files=files, exported=exported,
    )  # fmt: skip
    ttl = task.cache.get("ttl")
    build.templates[-1]["memoize"] = {
        "key": param(KEY_PARAM),
        "maxAge": duration(float(ttl)) if ttl else "",
        "cache": {"configMap": {"name": CACHE_CONFIG_MAP}},
    }
    passed = [*forward(given), *forward([{"name": i} for i in inputs])]
    keys = [*(refs.exported if exported is None else exported), *(out for out, _ in files)]
    annotations = {TASK_ANNOTATION: scope.path + task.id, STEP_ANNOTATION: "cache"}
    return build.fill(
        slot,
        {
            "name": name,
            "metadata": {"annotations": annotations},
            "inputs": declare(given, *inputs),
            "outputs": forwarded_outputs("run", keys),
            "dag": {
                "tasks": [
                    {"name": "key", "template": key, "arguments": {"parameters": passed}},
                    {
                        "name": "run",
                        "template": run,
                        "depends": "key.Succeeded",
                        "arguments": {
                            "parameters": [*passed, {"name": KEY_PARAM, "value": task_output("key", KEY_PARAM)}]
                        },
                    },
                ]
            },
        },
    )


def cache_note(scope: Scope, task: PlannedTask) -> str:
    return (
        f"{scope.label(task.id)} cache: Argo memoizes the step in the ConfigMap {CACHE_CONFIG_MAP}, keyed by dagctl's "
        f"task cache key (computed by a step before it); a hit restores the {OUTPUTS_PARAM} but not the log, and "
        "dagctl's cache folder, --refresh and --no-cache are not used"
    )
