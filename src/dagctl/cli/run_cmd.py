"""``dagctl run DAG.yaml``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        dag: Path = typer.Argument(..., help="The DAG file to run."),
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the execution plan; run nothing."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Run a DAG.

        \b
        Examples:
          dagctl run configs/dags/weekly_ops_chain.yaml --dry-run
          dagctl run configs/dags/diamond_pipeline.yaml --dry-run --json
        """
        from dagctl import build_plan, load_dag

        from . import plan_cmds

        plan = build_plan(load_dag(dag))
        if dry_run:
            plan_cmds.print_plan(plan, as_json=as_json)
            return
        raise typer.Exit(0)
