"""Trigger rules as Argo ``depends`` expressions. Pure.

Argo ends a task in one of ``Succeeded``, ``Failed`` (non-zero exit), ``Errored`` (anything else that went
wrong), ``Skipped`` (its ``when`` was false) or ``Omitted`` (its ``depends`` was false). dagctl's
``failed`` is Argo's Failed or Errored; dagctl's ``skipped`` is Skipped or Omitted. Each rule of
:mod:`dagctl.dag.triggers` becomes the expression below (for upstream tasks ``a`` and ``b``)::

    all_success   a.Succeeded && b.Succeeded
    all_done      (a.Succeeded || a.Failed || a.Errored || a.Skipped || a.Omitted) && (...b...)
    always        same as all_done
    all_failed    (a.Failed || a.Errored) && (b.Failed || b.Errored)
    one_success   a.Succeeded || b.Succeeded
    one_failed    a.Failed || a.Errored || b.Failed || b.Errored
    none_failed   (a.Succeeded || a.Skipped || a.Omitted) && (...b...)

A task whose expression is false is Omitted, which its own downstream tasks read as skipped: the same
propagation as dagctl's. One difference: Argo evaluates ``depends`` once every upstream task has finished,
so a ``one_success`` / ``one_failed`` task starts when the last upstream task ends, not at the first
success or failure (:data:`APPROXIMATE` names them).
"""

from __future__ import annotations

from collections.abc import Sequence

_FINISHED = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted")
_RESULTS: dict[str, tuple[tuple[str, ...], str]] = {
    # rule: (results that satisfy one upstream task, how the upstream tasks combine)
    "all_success": (("Succeeded",), "&&"),
    "all_done": (_FINISHED, "&&"),
    "always": (_FINISHED, "&&"),
    "all_failed": (("Failed", "Errored"), "&&"),
    "one_success": (("Succeeded",), "||"),
    "one_failed": (("Failed", "Errored"), "||"),
    "none_failed": (("Succeeded", "Skipped", "Omitted"), "&&"),
}
RULES = frozenset(_RESULTS)
APPROXIMATE: dict[str, str] = {
    "one_success": "Argo starts it once every upstream task has finished (dagctl: at the first success)",
    "one_failed": "Argo starts it once every upstream task has finished (dagctl: at the first failure)",
}


def depends_expression(rule: str, upstream: Sequence[str]) -> str:
    """The ``depends`` of a task with trigger rule ``rule`` whose upstream tasks have Argo names ``upstream``."""
    if rule not in _RESULTS:
        raise ValueError(f"unknown trigger rule {rule!r}")
    if not upstream:
        return ""
    results, joiner = _RESULTS[rule]
    clauses = [[f"{name}.{result}" for result in results] for name in upstream]
    if joiner == "||":
        return " || ".join(term for clause in clauses for term in clause)
    parts = [clause[0] if len(clause) == 1 else "(" + " || ".join(clause) + ")" for clause in clauses]
    if len(parts) == 1 and parts[0].startswith("("):
        return parts[0][1:-1]
    return " && ".join(parts)
