"""``dagctl schedule release SLOT_OR_RUN``: end a claim whose owner the scheduler cannot check.

A claim (an open slot) blocks its schedule (``overlap: skip`` skips, ``queue`` waits) until its run is recorded as
finished. When the owner process dies on this host, the next tick sees it and records the slot ``lost``. An owner on
another host cannot be checked: a container restarted with a new hostname on the same state volume leaves its claims
open for ever. Neither can an owner its record does not name (a hand-edited ``claimed_by``). Both are assumed alive,
because running a slot twice is worse than waiting; this is the operator's way out. The claim is recorded as
``run_finished`` with status ``lost`` and the reason, under the state lock, as the reaper would record it.

Refused for a claim whose owner is a live process on this host: stop that process, or wait for its run to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import UsageError
from dagctl.protocols import Clock
from dagctl.store.events import format_ts
from dagctl.store.state import OpenSlot, Owner, RunFinished, StateFold, StateStore

__all__ = ["Released", "find_claim", "release_claim", "release_refusal"]


@dataclass(frozen=True)
class Released:
    schedule_id: str
    slot: OpenSlot
    record: RunFinished

    def describe(self) -> str:
        run = f"run {self.slot.run_id}" if self.slot.run_id else "not started"
        return f"released {self.slot.key} ({run}, claimed by {self.slot.owner}): recorded as lost"


def find_claim(fold: StateFold, ref: str) -> tuple[str, OpenSlot] | None:
    """The open slot whose key or run id is ``ref``, with its schedule id."""
    for sid, state in fold.schedules.items():
        for slot in state.open.values():
            if ref in (slot.key, slot.run_id):
                return sid, slot
    return None


def release_refusal(slot: OpenSlot, here: Owner, *, alive: bool | None = None) -> str | None:
    """Why ``slot`` may not be released from ``here``: its owner is a live process on this host (``alive``: whether
    that process lives, default looked up). None when it may."""
    owner = slot.owner
    if not owner.known or owner.host != here.host:
        return None
    if alive is None:
        alive = not owner.is_dead(here.host)
    if not alive:
        return None
    return f"{slot.key} is held by {owner}, a live process on this host"


def release_claim(store: StateStore, ref: str, *, here: Owner | None = None, clock: Clock | None = None) -> Released:
    """Record the open slot ``ref`` (a slot key or a run id) as finished ``lost``; :class:`UsageError` (exit 2) when
    there is no such open claim, or its owner is alive on this host."""
    here = here or Owner.current()
    with store.transaction() as txn:
        found = find_claim(txn.fold, ref)
        if found is None:
            raise UsageError(f"no open claim {ref!r} in {store.path}", hint=_open_claims_hint(txn.fold))
        sid, slot = found
        refusal = release_refusal(slot, here)
        if refusal is not None:
            raise UsageError(
                refusal,
                hint=f"stop that process first (kill {slot.owner.pid}) or wait for its run to end; "
                "a claim is released when its run ends",
            )
        local = slot.owner.known and slot.owner.host == here.host
        gone = "had died" if local else f"cannot be checked from {here.host}"
        record = RunFinished(
            format_ts((clock or SystemClock()).now()),
            sid,
            slot=slot.key,
            run_id=slot.run_id,
            status="lost",
            error=f"released with dagctl schedule release on {here.host}: its owner, {slot.owner}, {gone}",
        )
        txn.add(record)
    return Released(sid, slot, record)


def _open_claims_hint(fold: Any) -> str:
    keys = sorted(slot.key for state in fold.schedules.values() for slot in state.open.values())
    if not keys:
        return "nothing is claimed now (dagctl schedule list shows what runs)"
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return f"give a slot key or run id of an open claim: {shown}"
