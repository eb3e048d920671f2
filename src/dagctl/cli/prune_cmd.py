"""``dagctl prune``: remove old runs and compact the event log."""

from __future__ import annotations

import typer

from .render import echo, echo_json


def register(app: typer.Typer) -> None:
    @app.command("prune")
    def prune(
        older_than: str = typer.Option(..., "--older-than", help="Remove runs started before this, e.g. 30d."),
        keep_last: int = typer.Option(0, "--keep-last", min=0, help="Always keep the newest N runs of each DAG."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed; remove nothing."),
        dry_run_n: bool = typer.Option(False, "-n", hidden=True),  # the old short form: -n is --limit elsewhere
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Remove old run folders and compact logs/orchestrator_events.jsonl atomically.

        Safe while other dagctl processes run: running and paused runs are never removed (nor a sub-DAG's run
        while its parent stays; --keep-last counts top-level runs), and lines appended to the
        event log during compaction are kept. All or nothing: the log is compacted before the folders are
        deleted, and if it cannot be (append-only, full disk) nothing is removed (exit 3). Lines of the log
        that are not JSON (torn, damaged) are dropped by the compaction and counted. Folders an interrupted
        prune left moved aside (.pruning-*) are deleted; a symbolic link named like a run, or a run folder whose
        events file is not a file, is never followed nor removed: it is named, for you to look at.

        \b
        Examples:
          dagctl prune --older-than 30d --keep-last 5 --dry-run
          dagctl prune --older-than 90d
        """
        from datetime import timedelta

        from dagctl.settings import Settings
        from dagctl.store.history import History
        from dagctl.store.prune import prune as do_prune

        from .argcheck import seconds

        dry_run = dry_run or dry_run_n
        age = timedelta(seconds=seconds(older_than, "--older-than", example="30d"))
        history = History(Settings.from_env())
        report = do_prune(history, older_than=age, keep_last=keep_last, dry_run=dry_run)
        if as_json:
            echo_json(
                {
                    "dry_run": dry_run,
                    "removed": report.removed,
                    "bytes_freed": report.bytes_freed,
                    "events_dropped": report.events_dropped,
                    "bad_lines_dropped": report.bad_lines_dropped,
                    "kept_running": report.kept_running,
                    "kept_paused": report.kept_paused,
                    "left_behind": report.left_behind,
                    "leftovers_removed": report.leftovers_removed,
                    "skipped": [{"name": name, "reason": why} for name, why in report.skipped],
                }
            )
            return
        verb = "would remove" if dry_run else "removed"
        bad = report.bad_lines_dropped
        echo(
            f"{verb} {len(report.removed)} run(s), {report.bytes_freed / 1048576:.1f} MiB, "
            f"{report.events_dropped} event line(s)"
            + (f", {bad} unparseable line(s) of the event log {'would be ' if dry_run else ''}dropped" if bad else "")
        )
        for run_id in report.removed[:20]:
            echo(f"  {run_id}")
        if len(report.removed) > 20:
            echo(f"  ... and {len(report.removed) - 20} more")
        for run_id in report.kept_running:
            echo(f"kept {run_id}: still running")
        for run_id in report.kept_paused:
            echo(f"kept {run_id}: paused (dagctl resume {run_id} goes on with it; dagctl cancel {run_id} lets it go)")
        if report.leftovers_removed:
            did = "would finish" if dry_run else "finished"
            echo(f"{did} removing {len(report.leftovers_removed)} folder(s) an interrupted prune had moved aside")
        for name, why in report.skipped:
            echo(f"left {history.runs_dir / name} alone: {why}")
        for folder in report.left_behind:
            echo(f"could not delete {folder}: remove it by hand (its run is gone from the history)")
