"""Approval gates on disk: the decisions people make with ``dagctl approve`` / ``reject``, from any shell.

Each gate of a run has an append-only file ``logs/runs/<run>/approvals/<task>.jsonl`` (see
:mod:`dagctl.store.layout`). :func:`decide` appends one decision under the file's lock after checking, in
the same locked step, that the gate still waits and that this person may decide: two people deciding at
the same moment record exactly one outcome, and the second is told what happened. The run's process reads
the file (:func:`read_decisions`) and records the outcome in its events. :func:`gate_state` is the pure
judgement over the decisions.
"""

from __future__ import annotations

from pathlib import Path

from dagctl.errors import DagctlError, UsageError

from . import layout
from .jsonl import JsonlWriter, iter_records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from .runsummary import RunSummary

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def waiting_gate(summary: RunSummary, task: str, *, not_waiting: type[DagctlError] = UsageError) -> dict[str, object]:
    """The approval record of the gate ``task`` of a run, which must wait for a decision: UsageError when the
    run has no such gate, ``not_waiting`` when the gate does not wait (decided, skipped ...)."""
    info = summary.tasks.get(task)
    if info is None or info.approval is None:
        gates = [t for t, s in summary.tasks.items() if s.approval is not None]
        raise UsageError(
            f"run {summary.run_id} has no approval gate '{task}'",
            hint=f"its gates: {', '.join(gates)}" if gates else "this run has no approval gates",
        )
    if info.status != "waiting":
        decided = info.approval.get("decision")
        what = f"{decided} by {', '.join(info.approval.get('by') or [])}" if decided else info.status
        raise not_waiting(f"{task} of run {summary.run_id} is not waiting for approval (it is {what})")
    return dict(info.approval)


def gate_state(decisions: Sequence[Mapping[str, Any]], approvers: Sequence[str], policy: str) -> tuple[str, list[str]]:
    """``(state, who decided)``: any rejection rejects; ``any`` needs one approval, ``all`` every approver's."""
    approved: list[str] = []
    for d in decisions:
        who = str(d.get("by", ""))
        if d.get("decision") == "reject":
            return REJECTED, [who]
        if d.get("decision") == "approve" and who not in approved:
            approved.append(who)
    if policy == "all":
        if approvers and all(a in approved for a in approvers):
            return APPROVED, [a for a in approvers]
        return PENDING, approved
    return (APPROVED, approved[:1]) if approved else (PENDING, [])


def read_decisions(run_dir: Path, task_id: str) -> list[dict[str, Any]]:
    return list(iter_records(layout.approvals_file(run_dir, task_id)))


def decide(
    run_dir: Path,
    task_id: str,
    *,
    decision: str,
    by: str,
    text: str | None,
    approvers: Sequence[str],
    policy: str,
    ts: str,
) -> tuple[str, list[str]]:
    """Record ``by``'s decision (``approve`` / ``reject``) on a waiting gate; the gate's state after it.

    Raises :class:`UsageError` (exit 2) when the gate has decided already, ``by`` may not decide, or has."""
    if approvers and by not in approvers:
        raise UsageError(
            f"'{by}' is not an approver of {task_id} (approvers: {', '.join(approvers)})",
            hint="decide as one of them with --as NAME",
        )
    path = layout.approvals_file(run_dir, task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with JsonlWriter(path, fsync=True) as writer, writer.locked():
        earlier = list(iter_records(path))
        state, who = gate_state(earlier, approvers, policy)
        if state != PENDING:
            raise UsageError(
                f"{task_id} is already {state} (by {', '.join(who)})", hint="a gate is decided once; see dagctl show"
            )
        if decision == "approve" and any(d.get("by") == by and d.get("decision") == "approve" for d in earlier):
            raise UsageError(f"{by} has approved {task_id} already", hint="policy all waits for the other approvers")
        record = {"v": 1, "ts": ts, "decision": decision, "by": by}
        if text:
            record["comment" if decision == "approve" else "reason"] = text
        writer.append(record)
        return gate_state([*earlier, record], approvers, policy)
