"""``handlers:`` of a DAG as the workflow's exit handler (``spec.onExit``). Pure.

Argo runs the ``onExit`` template after the workflow, whatever its outcome, with ``{{workflow.status}}``
(``Succeeded``, ``Failed`` or ``Error``) and ``{{workflow.failures}}`` (a JSON list of the failed nodes). It is a
DAG template of one task per handler, each running ``exec-task --handler KIND`` with those two, which gives the
handler the environment a run gives it (``DAGCTL_RUN_STATUS``, ``DAGCTL_FAILED_TASKS``, ``DAGCTL_HANDLER``,
:func:`dagctl.run.single.handler_env`)::

    on-success   when {{workflow.status}} == Succeeded
    on-failure   when {{workflow.status}} != Succeeded
    on-exit      after the others, always

A ``cancel`` handler is refused: Argo reports a stopped workflow as Failed, so it cannot be told apart (a
``failure`` handler runs then). A handler that reads task outputs is refused: an exit handler cannot reach them.
"""

from __future__ import annotations

import json

from .options import spec_text
from .scope import Scope, TaskRefs, arguments, references
from .steps import step_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .scope import Build

WHEN = {"success": "{{workflow.status}} == Succeeded", "failure": "{{workflow.status}} != Succeeded"}
"""The ``when`` of each kind of handler (``exit`` has none: it always runs, after the others)."""
DONE = ("Succeeded", "Failed", "Errored", "Skipped")


def handler_problems(scope: Scope) -> list[str]:
    plan, problems = scope.plan, []
    for kind, handler in plan.handlers.items():
        where = f"DAG '{plan.dag.name}' handler '{kind}'"
        if kind == "cancel":
            problems.append(
                f"{where}: cannot be exported to Argo — Argo reports a stopped workflow as Failed, so a cancel "
                "cannot be told from a failure; use a failure: handler (it runs then), or run the DAG with dagctl run"
            )
        elif references(plan, handler, set(plan.tasks))[1]:
            problems.append(
                f"{where}: reads task outputs, which an Argo exit handler cannot reach — pass what it needs in a "
                "file on the shared volume (--pvc), or run the DAG with dagctl run"
            )
    return problems


def exit_handler(build: Build, scope: Scope, reads: set[str]) -> str | None:
    """Add the exit handler's templates to ``build``; its name (None when the DAG has no handlers, or when one
    cannot be exported: the problems are in ``build``). The params the handlers read are added to ``reads``."""
    from dagctl.run.single import task_spec

    plan = scope.plan
    if not plan.handlers:
        return None
    problems = handler_problems(scope)
    if problems:
        build.problems.extend(problems)
        return None
    names = {argo: tid for tid, argo in scope.names.items()}  # for DAGCTL_FAILED_TASKS
    tasks: list[dict[str, Any]] = []
    for kind in ("success", "failure", "exit"):
        handler = plan.handlers.get(kind)
        if handler is None:
            continue
        alone = plan.replace(tasks={handler.id: handler}, handlers={}, levels=((handler.id,),))
        own = scope.replace(plan=alone, names={handler.id: f"on-{kind}"})
        refs = TaskRefs(reads=references(alone, handler, set())[0], sources=[], exported=[])
        reads.update(refs.reads)
        given = arguments(own, refs, spec_text(task_spec(alone, handler.id, params=refs.reads)))
        mode = [
            "--handler", kind, "--workflow-status", "{{workflow.status}}",
            "--workflow-failures", "{{workflow.failures}}", "--task-names", json.dumps(names, sort_keys=True),
        ]  # fmt: skip
        template = step_template(
            build, own, handler, refs, given, name=build.name(f"on-{kind}", f"#handler:{kind}"), mode=mode,
            exported=(),
        )  # fmt: skip
        task: dict[str, Any] = {"name": f"on-{kind}", "template": template, "arguments": {"parameters": given}}
        if kind in WHEN:
            task["when"] = WHEN[kind]
        else:
            others = [t["name"] for t in tasks]
            if others:
                task["depends"] = " && ".join("(" + " || ".join(f"{o}.{d}" for d in DONE) + ")" for o in others)
        tasks.append(task)
    return build.add({"name": build.name("exit-handler", "#handlers"), "dag": {"tasks": tasks}})
