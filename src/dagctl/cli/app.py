"""The typer application: one module per command group, wired here."""

from __future__ import annotations

import typer

from dagctl import __version__

HELP = """dagctl: run DAGs of shell, Python and workflow tasks from YAML, and schedule them with cron.

\b
Examples:
  dagctl validate configs/dags           check every DAG file in a folder
  dagctl run configs/dags/etl.yaml       run a DAG (add --dry-run to see the plan)
  dagctl graph configs/dags/etl.yaml     draw the DAG (--format mermaid|dot)

Add --debug anywhere to see tracebacks. Exit codes: 0 ok, 1 a task failed, 2 bad input,
3 environment problem, 130/143 interrupted.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dagctl {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="dagctl",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain click help: rich's help renderer costs ~200 ms per call
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                     help="Print the version and exit."),
    ) -> None:
        """dagctl: a local-first DAG runner and cron scheduler."""

    from . import history_cmds, plan_cmds, prune_cmd, run_cmd, schedule_cmd, stats_cmd, validate_cmd

    validate_cmd.register(app)
    run_cmd.register(app)
    plan_cmds.register(app)
    history_cmds.register(app)
    prune_cmd.register(app)
    stats_cmd.register(app)
    schedule_cmd.register(app)
    from . import worker_cmd  # dagctl worker and dagctl queue (Celery)

    worker_cmd.register(app)
    return app
