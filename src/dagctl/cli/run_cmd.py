"""``dagctl run DAG.yaml``: the typer command. Its work is :func:`dagctl.cli.run_main.run_command`, which
everyday command lines reach without typer (see :mod:`dagctl.cli.run_main`)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import run_main


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        dag: Path = typer.Argument(..., help="The DAG file to run."),
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the execution plan; run nothing."),
        param: list[str] = typer.Option([], "--param", "-p", help="Override a DAG param: -p key=value (repeatable)."),
        params_file: Path | None = typer.Option(None, "--params-file", help="YAML/JSON mapping of param overrides."),
        parallelism: int | None = typer.Option(None, "--parallelism", "-j", min=1, help="Max tasks at once."),
        timeout: str | None = typer.Option(None, "--timeout", help="Whole-run timeout, e.g. 30m."),
        fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop everything at the first failed task."),
        only: str | None = typer.Option(
            None,
            "--only",
            help="Run just these tasks (comma-separated); their "
            "upstream outputs come from the latest run that has them.",
        ),
        from_task: str | None = typer.Option(
            None,
            "--from",
            help="Run this task and everything downstream; upstream outputs come from the latest run that has them.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        as_json: bool = typer.Option(
            False, "--json", help="Print the plan (with --dry-run) or the final summary as JSON."
        ),
        executor: str | None = typer.Option(
            None,
            "--executor",
            "-x",
            help="Where tasks run: threads (this "
            "machine, the default) or celery (dagctl worker processes); env "
            "DAGCTL_EXECUTOR.",
        ),
        broker: str | None = typer.Option(
            None, "--broker", help="Redis URL for --executor celery (default: REDIS_URL)."
        ),
    ) -> None:
        """Run a DAG on this machine: parallel where the graph allows, with retries and timeouts.

        Events go to ORCH_EVENTS_PATH (default logs/orchestrator_events.jsonl); task logs, outputs and a
        snapshot of the DAG to logs/runs/<run_id>/. Exit 0 ok, 1 a task failed, 2 bad input,
        130/143 interrupted.

        \b
        Examples:
          dagctl run configs/dags/diamond_pipeline.yaml
          dagctl run configs/dags/diamond_pipeline.yaml -p rows=1000 --parallelism 2
          dagctl run configs/dags/weekly_ops_chain.yaml --dry-run
        """
        raise typer.Exit(
            run_main.run_command(
                dag,
                dry_run=dry_run,
                param=param,
                params_file=params_file,
                parallelism=parallelism,
                timeout=timeout,
                fail_fast=fail_fast,
                only=only,
                from_task=from_task,
                quiet=quiet,
                as_json=as_json,
                executor=executor,
                broker=broker,
            )
        )
