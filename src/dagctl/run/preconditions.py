"""``precondition:`` of a task: checked before it runs; unmet, the task is skipped with the reason.

One place decides what a precondition sees and when it is met, for a run (:mod:`dagctl.run.runner`, which
checks a command on a thread of its own) and for ``dagctl exec-task --precondition`` (a step of an exported
workflow, :func:`dagctl.run.single.check_precondition`):

* ``run: COMMAND`` (or the plain string form): ``/bin/sh -c COMMAND`` in the task's ``cwd`` with dagctl's
  environment, the DAG's and the task's ``env:`` (as written, not rendered), ``DAGCTL_RUN_ID`` and
  ``DAGCTL_TASK_ID``; met when it exits 0 within :data:`TIMEOUT_S`. Its output is not kept.
* ``when: CONDITION``: the condition over ``params``, the upstream ``outputs``, ``env``, ``run_id`` and
  ``logical_date``, as ``when:`` reads them; a condition that cannot be evaluated fails the task.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

TIMEOUT_S = 60.0
"""The longest a precondition command may take; longer counts as unmet."""


def command_env(
    environ: Mapping[str, str], dag_env: Mapping[str, str], task_env: Mapping[str, str], run_id: str, task_id: str
) -> dict[str, str]:
    """The environment of a precondition command."""
    return {**environ, **dag_env, **task_env, "DAGCTL_RUN_ID": run_id, "DAGCTL_TASK_ID": task_id}


def check_command(command: str, *, cwd: str | None, env: Mapping[str, str]) -> tuple[bool, str]:
    """Run a precondition command: (met, the reason when it is not)."""
    import subprocess

    try:
        done = subprocess.run(
            ["/bin/sh", "-c", command], cwd=cwd, env=dict(env), capture_output=True, timeout=TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"precondition: `{command}`: {exc}"
    return done.returncode == 0, f"precondition: `{command}` exited {done.returncode}"


def check_condition(condition: str, scope: Mapping[str, Any]) -> tuple[bool, str]:
    """Evaluate a precondition condition: (met, the reason when it is not). A DagctlError when it cannot be
    evaluated (the task then fails, as with ``when:``)."""
    from dagctl.dag.conditions import compile_condition

    return bool(compile_condition(condition).evaluate(scope)), f"precondition: {condition} is false"
