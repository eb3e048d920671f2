"""``dagctl run DAG.yaml``: the typer command, built from :data:`dagctl.cli.run_options.RUN_OPTIONS`.

Its work is :func:`dagctl.cli.run_main.run_command`, which everyday command lines reach without typer
(see :mod:`dagctl.cli.run_main`); both parsers come from the same declaration of the options.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from . import run_main
from .run_options import RUN_HELP, RUN_OPTIONS, RunOption

_TYPES: dict[str, Any] = {"str": str, "path": Path, "int": int}


def _parameter(option: RunOption) -> inspect.Parameter:
    value_type = _TYPES[option.type]
    if option.kind == "argument":
        default: Any = typer.Argument(..., help=option.help)
        annotation: Any = value_type
    elif option.kind == "flag":
        default, annotation = typer.Option(False, *option.flags, help=option.help), bool
    elif option.kind == "repeated":
        default, annotation = typer.Option([], *option.flags, help=option.help), list[value_type]  # type: ignore[valid-type]
    else:
        default = typer.Option(None, *option.flags, help=option.help, min=option.minimum)
        annotation = value_type | None
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def register(app: typer.Typer) -> None:
    def run(**options: Any) -> None:
        raise typer.Exit(run_main.run_command(**options))

    run.__signature__ = inspect.Signature([_parameter(o) for o in RUN_OPTIONS])  # type: ignore[attr-defined]
    run.__doc__ = RUN_HELP
    app.command("run")(run)
