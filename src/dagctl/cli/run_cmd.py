"""``dagctl run DAG.yaml``: the typer command, built from :data:`dagctl.cli.run_options.RUN_OPTIONS`.

Its work is :func:`dagctl.cli.run_main.run_command`, which everyday command lines reach without typer
(see :mod:`dagctl.cli.run_main`); both parsers come from the same declaration of the options.

An option's other spellings (``--dag FILE`` for the DAG argument, hidden short flags) are parameters of
their own here, named ``<name>_option`` and ``<name>_hidden``, folded back into one keyword by :func:`merge`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from . import run_main
from .conventions import COMPLETERS
from .run_options import RUN_HELP, RUN_OPTIONS, RunOption

_TYPES: dict[str, Any] = {"str": str, "path": Path, "int": int}


def _option(option: RunOption, name: str, flags: tuple[str, ...], *, hidden: bool = False) -> inspect.Parameter:
    value_type = _TYPES[option.type]
    common: dict[str, Any] = {"help": option.help, "hidden": hidden}
    annotation: Any
    if option.kind == "flag":
        default, annotation = typer.Option(False, *flags, **common), bool
    elif option.kind == "repeated":
        default = typer.Option([], *flags, metavar=option.metavar, **common)
        annotation = list[value_type]  # type: ignore[valid-type]
    elif option.kind == "argument":  # --dag FILE
        common["help"] = "The DAG file, as an option: the design notes' spelling of the argument."
        default = typer.Option(None, *flags, metavar="FILE", autocompletion=COMPLETERS["dag"], **common)
        annotation = value_type | None
    else:
        default = typer.Option(None, *flags, metavar=option.metavar, min=option.minimum, **common)
        annotation = value_type | None
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def parameters(option: RunOption) -> list[inspect.Parameter]:
    """The typer parameters of one declared option: itself, then its other spellings."""
    if option.kind != "argument":
        found = [_option(option, option.name, option.flags)]
    else:  # optional for the parser, since --dag may give it instead; merge() insists on one of the two
        argument = typer.Argument(None, help=option.help, metavar=option.metavar, show_default=False)
        found = [
            inspect.Parameter(
                option.name, inspect.Parameter.KEYWORD_ONLY, default=argument, annotation=_TYPES[option.type] | None
            )
        ]
        if option.flags:
            found.append(_option(option, f"{option.name}_option", option.flags))
    if option.hidden:
        found.append(_option(option, f"{option.name}_hidden", option.hidden, hidden=True))
    return found


def merge(given: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``run_command`` from the typer parameters of :func:`parameters`."""
    from dagctl.errors import UsageError

    merged: dict[str, Any] = {}
    for option in RUN_OPTIONS:
        value = given[option.name]
        for other in (given.get(f"{option.name}_option"), given.get(f"{option.name}_hidden")):
            if option.kind == "argument" and value is not None and other is not None:
                raise UsageError(
                    "the DAG file is given twice (as the argument and with --dag)",
                    hint="give it once: dagctl run FILE, or dagctl run --dag FILE",
                )
            if option.kind == "flag":
                value = value or bool(other)
            elif option.kind == "repeated":
                value = [*value, *(other or [])]
            elif value is None:
                value = other
        if option.kind == "argument" and value is None:
            raise UsageError("missing the DAG file to run", hint="dagctl run FILE (or dagctl run --dag FILE)")
        merged[option.name] = value
    return merged


def register(app: typer.Typer) -> None:
    def run(**options: Any) -> None:
        raise typer.Exit(run_main.run_command(**merge(options)))

    run.__signature__ = inspect.Signature([p for o in RUN_OPTIONS for p in parameters(o)])  # type: ignore[attr-defined]
    run.__doc__ = RUN_HELP
    app.command("run")(run)
