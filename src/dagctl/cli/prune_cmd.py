"""``dagctl prune``: remove old runs and compact the event log."""

from __future__ import annotations

import typer

from .render import echo, echo_json


def register(app: typer.Typer) -> None:
    @app.command("prune")
    def prune(
        older_than: str = typer.Option(..., "--older-than", help="Remove runs started before this, e.g. 30d."),
        keep_last: int = typer.Option(0, "--keep-last", min=0, help="Always keep the newest N runs of each DAG."),
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would be removed; remove nothing."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Remove old run folders and compact logs/orchestrator_events.jsonl atomically.

        Safe while other dagctl processes run: running runs are never removed, and lines appended to the
        event log during compaction are kept.

        \b
        Examples:
          dagctl prune --older-than 30d --keep-last 5 --dry-run
          dagctl prune --older-than 90d
        """
        from datetime import timedelta

        from dagctl.dag.durations import parse_duration
        from dagctl.errors import UsageError
        from dagctl.settings import Settings
        from dagctl.store.history import History
        from dagctl.store.prune import prune as do_prune

        try:
            age = timedelta(seconds=parse_duration(older_than))
        except ValueError as exc:
            raise UsageError(f"--older-than: {exc}") from None
        report = do_prune(History(Settings.from_env()), older_than=age, keep_last=keep_last, dry_run=dry_run)
        if as_json:
            echo_json(
                {
                    "dry_run": dry_run,
                    "removed": report.removed,
                    "bytes_freed": report.bytes_freed,
                    "events_dropped": report.events_dropped,
                    "kept_running": report.kept_running,
                }
            )
            return
        verb = "would remove" if dry_run else "removed"
        echo(
            f"{verb} {len(report.removed)} run(s), {report.bytes_freed / 1048576:.1f} MiB"
            + ("" if dry_run else f", {report.events_dropped} event line(s)")
        )
        for run_id in report.removed[:20]:
            echo(f"  {run_id}")
        if len(report.removed) > 20:
            echo(f"  ... and {len(report.removed) - 20} more")
        for run_id in report.kept_running:
            echo(f"kept {run_id}: still running")
