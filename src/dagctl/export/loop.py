"""A ``repeat:`` task as a recursive DAG template: one iteration, what follows it, and the next. Pure.

::

    fit (iteration, previous)        DAG template
      run     fit-iteration          exec-task --iteration N (retries, timeout: per iteration, as in a run)
      until   fit-until              exec-task --until: until: evaluated by dagctl.run.loops.decide with this
                                     iteration's outputs, the previous ones and N; exits 1 when the loop fails
                                     (max_iterations without until, on_max: fail), else says again or not
      delay   fit-delay              suspend for repeat.delay, when again (only when delay is set)
      next    fit (N+1, outputs)     when again: the same template, one level deeper
    outputs: next's when it ran, else run's (an expression), so downstream tasks read the last iteration's

Argo nests one DAG node per iteration, so ``max_iterations`` is also how deep the workflow's node tree gets.
"""

from __future__ import annotations

from .names import OUTPUTS_PARAM
from .options import STEP_ANNOTATION, TASK_ANNOTATION, duration, param, task_output
from .scope import declare, forward
from .steps import step_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dagctl.dag.plan import PlannedTask

    from .scope import Build, Scope, TaskRefs

FIRST = [{"name": "iteration", "value": "1"}, {"name": "previous", "value": "{}"}]
"""What the DAG task of a loop gives its template, besides the task's arguments."""
AGAIN = "'{{tasks.until.outputs.parameters.again}}' == 'true'"


def loop(
    build: Build, scope: Scope, task: PlannedTask, refs: TaskRefs, given: list[dict[str, Any]], *, name: str
) -> None:
    """Add the loop's templates: ``name`` (recursive; called with ``given`` and :data:`FIRST`), its iteration's,
    its verdict's and, with a delay, its pause's."""
    from .memo import unit

    slot = build.slot()
    salt = scope.path + task.id
    iteration = unit(
        build, scope, task, refs, given, name=build.name(f"{name}-iteration", f"{salt}#iteration"),
        step="iteration", inputs=["iteration"], mode=["--iteration", param("iteration")],
    )  # fmt: skip
    until = step_template(
        build, scope, task, refs, given, name=build.name(f"{name}-until", f"{salt}#until"), step="until",
        inputs=["iteration", "previous", "outputs"],
        mode=["--iteration", param("iteration"), "--previous", param("previous"), "--until", param("outputs")],
        files=[("again", "again"), ("next", "next")], exported=(), attempts=False,
    )  # fmt: skip
    passed = forward(given)
    this = [{"name": "iteration", "value": param("iteration")}]
    tasks: list[dict[str, Any]] = [
        {"name": "run", "template": iteration, "arguments": {"parameters": [*passed, *this]}},
        {
            "name": "until",
            "template": until,
            "depends": "run.Succeeded",
            "arguments": {
                "parameters": [
                    *passed,
                    *this,
                    {"name": "previous", "value": param("previous")},
                    {"name": "outputs", "value": task_output("run", OUTPUTS_PARAM)},
                ]
            },
        },
    ]
    before_next = "until"
    delay = float((task.repeat or {}).get("delay") or 0.0)
    if delay > 0:
        pause = build.name(f"{name}-delay", f"{salt}#delay")
        build.add(
            {
                "name": pause,
                "metadata": {"annotations": {TASK_ANNOTATION: salt, STEP_ANNOTATION: "delay"}},
                "suspend": {"duration": duration(delay)},
            }
        )
        tasks.append({"name": "delay", "template": pause, "depends": "until.Succeeded", "when": AGAIN})
        before_next = "delay"
    following = [
        {"name": "iteration", "value": task_output("until", "next")},
        {"name": "previous", "value": task_output("run", OUTPUTS_PARAM)},
    ]
    tasks.append(
        {
            "name": "next",
            "template": name,
            "depends": f"{before_next}.Succeeded",
            "arguments": {"parameters": [*passed, *following]},
            "when": AGAIN,
        }
    )
    outputs = [
        {"name": key, "valueFrom": {"expression": last_iteration(key)}} for key in (OUTPUTS_PARAM, *refs.exported)
    ]
    build.fill(
        slot,
        {
            "name": name,
            "metadata": {"annotations": {TASK_ANNOTATION: salt, STEP_ANNOTATION: "repeat"}},
            "inputs": declare(given, "iteration", "previous"),
            "outputs": {"parameters": outputs},
            "dag": {"tasks": tasks},
        },
    )


def last_iteration(key: str) -> str:
    """The expression of output ``key`` of a loop's template: the next level's when it ran, else this one's."""
    return (
        "tasks['until'].outputs.parameters['again'] == 'true' ? "
        f"tasks['next'].outputs.parameters['{key}'] : tasks['run'].outputs.parameters['{key}']"
    )
