"""The typer application: one module per command group, wired here.

Only the module of the command being run is imported (``dagctl run`` does not load the scheduler's
code); help, completion and unknown commands get them all. :data:`COMMAND_MODULES` says which module
registers which command; a test keeps it true.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

from dagctl.settings import VERSION as __version__

from .conventions import Group, finish

HELP = """dagctl: run DAGs of shell, Python and workflow tasks from YAML, and schedule them with cron.

\b
Examples:
  dagctl validate configs/dags                     check every DAG file in a folder
  dagctl run configs/dags/diamond_pipeline.yaml    run a DAG (add --dry-run to see the plan)
  dagctl graph configs/dags/diamond_pipeline.yaml  draw the DAG (--format mermaid|dot)

Add --debug anywhere to see tracebacks. Exit codes: 0 ok, 1 a task failed, 2 bad input,
3 environment problem, 129/130/143 interrupted (SIGHUP/SIGINT/SIGTERM).
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dagctl {__version__}")
        raise typer.Exit()


def _show_completion(shell: str | None) -> None:
    if shell is not None:
        from .completion import script

        typer.echo(script(shell))
        raise typer.Exit()


def _install_completion(shell: str | None) -> None:
    if shell is not None:
        from .completion import install

        name, path = install(shell)
        typer.echo(f"dagctl: {name} completion installed in {path}; it takes effect in new shells", err=True)
        raise typer.Exit()


MODULES = (
    "validate_cmd",
    "run_cmd",
    "plan_cmds",
    "dags_cmd",
    "history_cmds",
    "logs_cmd",
    "control_cmds",
    "prune_cmd",
    "cache_cmd",
    "stats_cmd",
    "schedule_cmd",
    "backfill_cmd",
    "worker_cmd",
    "export_cmd",
    "exec_task_cmd",
    "serve_cmd",
)
"""In the order their commands are listed by ``dagctl --help``."""

COMMAND_MODULES = {
    "validate": "validate_cmd", "run": "run_cmd", "dags": "dags_cmd", "graph": "plan_cmds", "schema": "plan_cmds",
    "runs": "history_cmds", "show": "history_cmds", "logs": "logs_cmd", "cancel": "history_cmds",
    "retry": "history_cmds", "prune": "prune_cmd", "stats": "stats_cmd", "schedule": "schedule_cmd",
    "backfill": "backfill_cmd", "worker": "worker_cmd", "queue": "worker_cmd",
    "export": "export_cmd", "exec-task": "exec_task_cmd", "serve": "serve_cmd",
    "approve": "control_cmds", "reject": "control_cmds", "pause": "control_cmds", "resume": "control_cmds",
    "cache": "cache_cmd",
}  # fmt: skip


def command_of(args: Sequence[str]) -> str | None:
    """The command word of a command line (the root takes only flags, so it is the first non-flag)."""
    return next((a for a in args if not a.startswith("-")), None)


def build_app(args: Sequence[str] | None = None) -> typer.Typer:
    """The app; with ``args``, only the module that registers their command (all of them if unknown)."""
    app = typer.Typer(
        cls=Group,
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
        version: bool = typer.Option(
            False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
        show_completion: str | None = typer.Option(
            None,
            "--show-completion",
            metavar="[SHELL]",
            callback=_show_completion,
            is_eager=True,
            expose_value=False,
            help="Print the completion script of SHELL (bash, zsh, fish; default: this one): "
            "source <(dagctl --show-completion bash).",
        ),
        install_completion: str | None = typer.Option(
            None,
            "--install-completion",
            metavar="[SHELL]",
            callback=_install_completion,
            is_eager=True,
            expose_value=False,
            help="Install completion of commands, options, DAG files and run ids for SHELL (default: this one).",
        ),
    ) -> None:
        """dagctl: a local-first DAG runner and cron scheduler."""

    command = command_of(args) if args is not None else None
    wanted = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else MODULES
    for name in wanted:
        importlib.import_module(f"{__package__}.{name}").register(app)
    return finish(app)
