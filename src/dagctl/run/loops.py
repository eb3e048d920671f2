"""``repeat:``: run a task again until a condition holds, at most ``max_iterations`` times.

After each iteration that succeeds, ``until`` is evaluated with the usual ``when:`` scope plus
``outputs.<task>`` (this iteration's outputs), ``previous.<task>`` (the last iteration's; empty on the first)
and ``iteration`` (from 1). True ends the loop with the task succeeded; false runs the next iteration after
``delay``; reaching ``max_iterations`` without it fails the task, unless ``on_max: succeed``. An iteration
that fails is retried like any attempt; the loop fails when its retries are used up. Downstream tasks see
the outputs of the last iteration.
"""

from __future__ import annotations

from dagctl.errors import DagctlError
from dagctl.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class Verdict(Record):
    again: bool
    """Run another iteration."""
    failed: bool
    reason: str
    delay: float = 0.0


def decide(
    spec: Mapping[str, Any],
    task: str,
    base: Mapping[str, Any],
    outputs: dict[str, Any],
    previous: dict[str, Any] | None,
    n: int,
) -> Verdict:
    """What follows iteration ``n`` of the loop task ``task`` that produced ``outputs``. ``base`` is the
    ``when:`` scope of the run (params, outputs of finished tasks, env ...)."""
    from dagctl.dag.conditions import compile_condition

    maximum = int(spec.get("max_iterations") or 1)
    scope = {
        **base,
        "outputs": {**base["outputs"], task: outputs},
        "previous": {task: previous or {}},
        "iteration": n,
    }
    try:
        done = compile_condition(str(spec.get("until"))).evaluate(scope)
    except DagctlError as exc:
        return Verdict(False, True, f"repeat: until: {str(exc).removeprefix('when: ')}")  # once, not 'until: when:'

    if done:
        return Verdict(False, False, f"until met at iteration {n}")
    if n >= maximum:
        if spec.get("on_max") == "succeed":
            return Verdict(False, False, f"max_iterations {maximum} reached (on_max: succeed)")
        return Verdict(False, True, f"repeat: max_iterations {maximum} reached without until being true")
    return Verdict(True, False, f"iteration {n} of at most {maximum}: until is false", float(spec.get("delay") or 0.0))
