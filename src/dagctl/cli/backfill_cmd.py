"""``dagctl backfill ID --start ISO --end ISO``: run a schedule's past slots that were not run yet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .render import echo, echo_err, echo_json
from .schedule_common import (
    DEFAULT_DIR,
    DIR_HELP,
    default_timezone,
    find_schedule,
    parse_when,
    released,
    state_errors,
)
from .signals import handle_signals

if TYPE_CHECKING:
    from dagctl.schedule.backfill import BackfillItem


def register(app: typer.Typer) -> None:
    @app.command("backfill")
    def backfill(
        schedule_id: str = typer.Argument(..., help="The schedule to backfill."),
        start: str = typer.Option(
            ...,
            "--start",
            help="First slot time (inclusive), ISO-8601; without an offset it is read in the schedule's timezone.",
        ),
        end: str = typer.Option(..., "--end", help="Last slot time (inclusive), ISO-8601."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List the slots and what would happen."),
        dry_run_n: bool = typer.Option(False, "-n", hidden=True),  # the old short form: -n is --limit elsewhere
        directory: Path = typer.Option(DEFAULT_DIR, "--dir", "-d", help=DIR_HELP),
        max_slots: int = typer.Option(1000, "--max", min=1, help="Refuse ranges with more slots than this."),
        as_json: bool = typer.Option(
            False,
            "--json",
            help="At the end, print the slots (logical_date, action, status, run_id) and counts as JSON.",
        ),
    ) -> None:
        """Run every slot of a schedule in a time range, oldest first, skipping slots already run.

        Each run gets its slot time as ${logical_date} (ISO-8601 in the schedule's timezone). Slots are
        claimed in the state store like the scheduler's, so nothing runs twice. A slot whose run was
        cancelled or lost runs again; one that succeeded or failed does not. Runs go one at a time.
        Exit 0 all ran fine, 1 a run failed or was cancelled, 2 bad input.

        \b
        Examples:
          dagctl backfill diamond_nightly --start 2026-03-01 --end 2026-03-07T23:59 --dry-run
          dagctl backfill diamond_nightly --start 2026-03-01T00:00:00Z --end 2026-03-02T00:00:00Z
          dagctl backfill diamond_nightly --start 2026-03-01 --end 2026-03-02 --json | jq '.counts'
        """
        from dagctl.clock import SystemClock
        from dagctl.errors import UsageError, exit_code_of_signal
        from dagctl.schedule.backfill import Backfill
        from dagctl.schedule.cron import parse_cron
        from dagctl.schedule.files import ScheduleSource
        from dagctl.schedule.launchers import make_launcher
        from dagctl.settings import Settings
        from dagctl.store.state import StateStore

        dry_run = dry_run or dry_run_n
        settings = Settings.from_env()
        if not dry_run:
            settings.check_writable("logs", "events", "state")
        schedules = ScheduleSource(directory, default_timezone=default_timezone()).load()
        schedule = find_schedule(schedules, schedule_id)
        zone = parse_cron(schedule.cron, schedule.timezone).zone
        first, last = parse_when(start, zone, "--start"), parse_when(end, zone, "--end", latest=True)
        if last > SystemClock().now():
            raise UsageError("--end is in the future", hint="backfill runs past slots; the scheduler runs the rest")
        launcher, release = make_launcher(settings, once=True)
        with state_errors(), StateStore(settings.state_path) as store, released(release):
            job = Backfill(schedule, store, launcher)
            items = job.plan(first, last, max_slots=max_slots)

            def show(item: BackfillItem) -> None:
                if as_json:
                    return
                if item.outcome is not None:
                    error = f": {item.outcome.error}" if item.outcome.error else ""
                    echo(f"{item.logical_date}  {item.outcome.status}  run {item.outcome.run_id}{error}{_again(item)}")
                elif item.ran_before is not None:
                    run = item.ran_before.get("run_id") or "-"
                    echo(f"{item.logical_date}  skipped  already ran: run {run} {item.ran_before.get('status')}")

            if dry_run and as_json:
                echo_json(_document(schedule.id, items, dry_run=True, interrupted=False))
                return
            if dry_run:
                for item in items:
                    if item.to_run:
                        echo(f"{item.logical_date}  would run{_again(item)}")
                    else:
                        show(item)
                todo = sum(1 for i in items if i.to_run)
                echo_err(
                    f"backfill {schedule.id}: {_count(len(items), 'slot')}, {todo} to run, {len(items) - todo} "
                    "already ran (dry run)"
                )
                return
            stopped: list[int] = []

            def on_stop(signum: int, _again: bool) -> None:
                stopped.append(signum)
                job.stop()

            with handle_signals(on_stop):
                code = job.run(items, on_item=show)
        if as_json:
            echo_json(_document(schedule.id, items, dry_run=False, interrupted=bool(stopped)))
        else:
            echo_err(summary(schedule.id, items, interrupted=bool(stopped)))
        if stopped:
            code = exit_code_of_signal(stopped[0])
        raise typer.Exit(code)


def summary(schedule_id: str, items: list[BackfillItem], *, interrupted: bool) -> str:
    """The last line of a backfill: ``backfill h: 3 ran (1 failed, 1 cancelled), 1 skipped (already ran)``."""
    ran = [i.outcome.status for i in items if i.outcome is not None]
    skipped = sum(1 for i in items if i.outcome is None and not i.to_run)
    ended = [f"{ran.count(status)} {status}" for status in ("failed", "cancelled") if ran.count(status)]
    not_run = len(items) - len(ran) - skipped  # left when interrupted
    return (
        f"backfill {schedule_id}: {len(ran)} ran"
        + (f" ({', '.join(ended)})" if ended else "")
        + f", {skipped} skipped (already ran)"
        + (f", {not_run} not run" if not_run else "")
        + (", interrupted" if interrupted else "")
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _again(item: BackfillItem) -> str:
    """`` again (run R was cancelled)`` for a slot run again; empty otherwise."""
    before = item.ran_before
    if before is None or not item.to_run:
        return ""
    return f" again (run {before.get('run_id') or '-'} was {before.get('status')})"


def _document(schedule_id: str, items: list[BackfillItem], *, dry_run: bool, interrupted: bool) -> dict[str, Any]:
    """``backfill --json``: every slot with what happened to it (or would), and the counts (``failed``: runs that did
    not succeed, cancelled ones included). ``previous`` is the slot's earlier run (run_id, status) when it is run
    again because that run was cancelled or lost."""
    slots: list[dict[str, Any]] = []
    for item in items:
        slot: dict[str, Any] = {"logical_date": item.logical_date}
        previous = dict(item.ran_before) if item.ran_before is not None and item.to_run else None
        if item.outcome is not None:
            slot.update(action="ran", status=item.outcome.status, run_id=item.outcome.run_id, error=item.outcome.error)
        elif item.ran_before is not None and not item.to_run:
            before = item.ran_before
            slot.update(action="skipped", status=before.get("status"), run_id=before.get("run_id"), error=None)
        else:
            slot.update(action="would_run" if dry_run else "not_run", status=None, run_id=None, error=None)
        slot["previous"] = previous
        slots.append(slot)
    counts = {action: sum(1 for s in slots if s["action"] == action) for action in ("ran", "skipped", "would_run")}
    counts["failed"] = sum(1 for s in slots if s["action"] == "ran" and s["status"] != "success")  # or cancelled
    return {"schedule": schedule_id, "dry_run": dry_run, "interrupted": interrupted, "slots": slots, "counts": counts}
