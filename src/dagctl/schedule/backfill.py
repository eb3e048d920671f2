"""``dagctl backfill``: run every past slot of one schedule in a range, oldest first, each exactly once.

A slot whose run ended ``cancelled`` (stopped before it could finish) or ``lost`` (its process died, or its claim
was released) is run again: that run did not do its work. One that ended ``success`` or ``failed`` is not (``dagctl
retry RUN`` re-runs a failed run's failed tasks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import EXIT_FAILED, EXIT_OK, DagctlError, UsageError
from dagctl.protocols import Clock
from dagctl.run.state import RunControl, new_run_id
from dagctl.store.events import format_ts
from dagctl.store.state import Owner, RunFinished, RunStarted, ScheduleEnqueued, StateStore

from .files import ScheduleSpec
from .launchers import Launcher, RunOutcome, RunRequest
from .slots import Slot
from .tick import logical_date

RERUN = frozenset({"cancelled", "lost"})
"""Statuses of a slot's last run that backfill runs again."""


@dataclass
class BackfillItem:
    slot: Slot
    logical_date: str
    ran_before: dict[str, Any] | None = None  # {"run_id", "status"} when the slot was already claimed
    outcome: RunOutcome | None = None

    @property
    def to_run(self) -> bool:
        """Never claimed, or its last run was cancelled or lost."""
        return self.ran_before is None or self.ran_before.get("status") in RERUN


class Backfill:
    """Run every slot of one schedule in a range, oldest first, skipping slots already claimed.

    "Already claimed" means a ``schedule_enqueued`` record for the slot's key exists (by the scheduler or an
    earlier backfill), unless its last run ended cancelled or lost (:data:`RERUN`). That needs the schedule's
    history, so backfill reads the whole state log once (it is a manual command); each claim then re-checks the
    lines appended since, under the lock, so a backfill racing a scheduler (or another backfill) still runs each
    slot once.
    """

    def __init__(
        self,
        schedule: ScheduleSpec,
        store: StateStore,
        launcher: Launcher,
        *,
        clock: Clock | None = None,
        owner: Owner | None = None,
    ) -> None:
        self.schedule = schedule
        self.store = store
        self.launcher = launcher
        self.clock = clock or SystemClock()
        self.owner = owner or Owner.current()
        self._claimed: dict[str, dict[str, Any]] = {}
        self._offset = 0
        self.control: RunControl | None = None
        self.stopped = False

    def plan(self, start: datetime, end: datetime, *, max_slots: int) -> list[BackfillItem]:
        from .cron import latest_fires, parse_cron

        if end < start:
            raise UsageError("--end is before --start", hint="swap them")
        spec = parse_cron(self.schedule.cron, self.schedule.timezone)
        fires = latest_fires(spec, start - timedelta(microseconds=1), end, max_slots + 1)
        if len(fires) > max_slots:
            raise UsageError(
                f"more than {max_slots} slots of '{self.schedule.id}' between {start.isoformat()} and "
                f"{end.isoformat()}",
                hint="narrow the range, or raise --max",
            )
        self._scan()
        items = []
        for instant, minute in fires:
            slot = Slot(self.schedule.id, instant, minute)
            before = self._claimed.get(slot.key)
            items.append(BackfillItem(slot, logical_date(self.schedule, slot), dict(before) if before else None))
        return items

    def _scan(self) -> None:
        from dagctl.store.jsonl import iter_with_offsets

        sid = self.schedule.id
        for _start, end, record in iter_with_offsets(self.store.path, self._offset):
            self._offset = end
            if record.get("schedule_id") != sid or not isinstance(record.get("slot"), str):
                continue
            kind, key = record.get("event"), record["slot"]
            if kind == "schedule_enqueued":  # the newest claim of a slot is the one that counts
                self._claimed[key] = {"run_id": None, "status": "claimed"}
            elif kind in ("run_started", "run_finished") and key in self._claimed:
                entry = self._claimed[key]
                entry["run_id"] = record.get("run_id") or entry["run_id"]
                entry["status"] = record.get("status") or "running"

    def _claim(self, item: BackfillItem) -> bool:
        slot = item.slot
        with self.store.transaction() as txn:
            self._scan()
            before = self._claimed.get(slot.key)
            if before is not None and before.get("status") not in RERUN:  # claimed (again) since the plan
                item.ran_before = dict(before)
                return False
            txn.add(
                ScheduleEnqueued(
                    format_ts(self.clock.now()),
                    slot.schedule_id,
                    slot=slot.key,
                    fire_utc=format_ts(slot.fire_utc),
                    local_minute=slot.local_minute,
                    claimed_by=self.owner,
                    trigger="backfill",
                    dag=self.schedule.dag,
                    tenant=self.schedule.tenant,
                    timezone=self.schedule.timezone,
                )
            )
        self._claimed[slot.key] = {"run_id": None, "status": "claimed"}
        return True

    def run(self, items: Sequence[BackfillItem], on_item: Callable[[BackfillItem], None] | None = None) -> int:
        """Run the items not run before, one at a time, oldest first. Returns 0, or 1 if any run failed."""
        failed = False
        for item in items:
            if self.stopped:
                break
            if item.to_run and self._claim(item):
                request = RunRequest(self.schedule, item.slot, new_run_id(self.clock), "backfill")
                self.store.record(
                    RunStarted(
                        format_ts(self.clock.now()),
                        self.schedule.id,
                        slot=item.slot.key,
                        run_id=request.run_id,
                        dag=self.schedule.dag,
                        tenant=self.schedule.tenant,
                        logical_date=request.logical_date,
                    )
                )
                self.control = RunControl()
                if self.stopped:  # interrupted between the claim and here
                    self.control.cancel("backfill interrupted")
                try:
                    outcome = self.launcher(request, self.control)
                except DagctlError as exc:
                    outcome = RunOutcome("failed", request.run_id, error=str(exc).splitlines()[0])
                self.store.record(
                    RunFinished(
                        format_ts(self.clock.now()),
                        self.schedule.id,
                        slot=item.slot.key,
                        run_id=outcome.run_id or request.run_id,
                        status=outcome.status,
                        duration_s=outcome.duration_s,
                        error=outcome.error,
                    )
                )
                item.outcome = outcome
                failed = failed or outcome.status != "success"
            if on_item is not None:
                on_item(item)
        return EXIT_FAILED if failed else EXIT_OK

    def stop(self) -> None:
        """Stop after the current run (and ask it to cancel)."""
        self.stopped = True
        if self.control is not None:
            self.control.cancel("backfill interrupted")
