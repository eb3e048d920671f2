"""What every dagctl command shares, in one place: how its usage line and help name values, and which of its
arguments complete what in a shell.

* **Usage lines** read ``dagctl run [OPTIONS] DAG`` and ``dagctl show [OPTIONS] [RUN]``: an argument is its
  name in capitals, in brackets when it may be left out (typer would write ``{dag}`` and ``[run]``).
* **Values** are named by what they are (``--since DURATION``, ``-p KEY=VALUE``, ``--dir DIR``), from
  :data:`VALUE_NAMES` by long option name, unless a declaration gives its own ``metavar=``; choices are
  listed (``--format [text|mermaid|dot]``). typer would write ``<str>``, ``<int range>``, ``<path>``.
* **Completion** (``dagctl --show-completion``, README.md): arguments named ``run`` complete run ids
  (``latest``, then newest first), ``dag`` and ``paths`` DAG files, ``task`` the tasks of the run given
  before it (:data:`COMPLETERS`); ``--executor`` and ``--status`` their values (:data:`OPTION_COMPLETERS`).
  Whoever adds a command gets these by naming things the same way.

:func:`finish` applies it to an app once its commands are registered (:func:`dagctl.cli.app.build_app`);
groups are created with ``cls=Group``. A test walks every command's help.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import ArgumentInfo, OptionInfo

VALUE_NAMES = {
    "--after": "TIME",
    "--allow-origin": "ORIGIN",
    "--as": "NAME",
    "--attempt": "N",
    "--broker": "URL",
    "--cell": "JSON",
    "--comment": "COMMENT",
    "--concurrency": "N",
    "--count": "N",
    "--cron": "EXPR",
    "--dag": "NAME",
    "--dags": "DIR",
    "--dir": "DIR",
    "--end": "TIME",
    "--env-file": "FILE",
    "--executor": "EXECUTOR",
    "--fail-after": "DURATION",
    "--format": "FORMAT",
    "--from": "TASK",
    "--gather": "JSON",
    "--grace": "DURATION",
    "--handler": "KIND",
    "--hash-id": "ID",
    "--host": "ADDRESS",
    "--image": "IMAGE",
    "--input": "TASK=JSON",
    "--iteration": "N",
    "--junit": "FILE",
    "--keep-last": "N",
    "--key": "KEY",
    "--limit": "N",
    "--logical-date": "TIME",
    "--loglevel": "LEVEL",
    "--max": "N",
    "--max-body": "BYTES",
    "--max-streams": "N",
    "--metrics-textfile": "FILE",
    "--name": "NAME",
    "--name-prefix": "PREFIX",
    "--namespace": "NAMESPACE",
    "--now": "TIME",
    "--older-than": "DURATION",
    "--only": "TASKS",
    "--output": "FILE",
    "--outputs-dir": "DIR",
    "--parallelism": "N",
    "--param": "KEY=VALUE",
    "--params-file": "FILE",
    "--params-json": "JSON",
    "--port": "PORT",
    "--previous": "JSON",
    "--pvc": "CLAIM",
    "--queues": "QUEUES",
    "--reason": "REASON",
    "--retry": "N",
    "--run-id": "RUN_ID",
    "--schedule": "ID",
    "--schedules": "DIR",
    "--shutdown-timeout": "SECONDS",
    "--since": "DURATION",
    "--spec": "JSON",
    "--start": "TIME",
    "--status": "STATUS",
    "--stream-idle": "DURATION",
    "--task-names": "JSON",
    "--templates": "DIR",
    "--tenant": "TENANT",
    "--timeout": "DURATION",
    "--token-file": "FILE",
    "--tz": "ZONE",
    "--until": "JSON",
    "--wait": "DURATION",
    "--width": "N",
    "--window": "DURATION",
    "--workflow-failures": "JSON",
    "--workflow-status": "STATUS",
}
"""The name of an option's value in help, by its long name (a declaration's own ``metavar=`` wins)."""

ARGUMENT_NAMES = {"paths": "PATH", "schedule_id": "SCHEDULE"}
"""Arguments whose name in capitals is not the best word (the rest: ``run`` is RUN, ``dag`` is DAG ...)."""


def _complete_runs(incomplete: str) -> list[str]:
    from .completion import run_ids

    return run_ids(incomplete)


def _complete_dag_files(incomplete: str) -> list[str]:
    from .completion import dag_files

    return dag_files(incomplete)


def _complete_tasks(ctx: typer.Context, incomplete: str) -> list[str]:
    from .completion import dag_task_ids, task_ids

    if "run" not in ctx.params:  # a TASK of a DAG file (exec-task), not of a run
        return dag_task_ids(ctx.params.get("dag"), incomplete)
    return task_ids(ctx.params["run"], incomplete, ctx.command.name)


def _complete_executors(incomplete: str) -> list[str]:
    from dagctl.run.executors.factory import EXECUTORS

    return list(EXECUTORS)


def _complete_statuses(incomplete: str) -> list[str]:
    from dagctl.store.runsummary import RUN_STATUSES

    return list(RUN_STATUSES)


OPTION_COMPLETERS: dict[str, Callable[..., list[str]]] = {
    "--executor": _complete_executors,
    "--status": _complete_statuses,
}
"""What the value of an option of this long name completes to (choices typer knows complete by themselves)."""

COMPLETERS: dict[str, Callable[..., list[str]]] = {
    "run": _complete_runs,
    "dag": _complete_dag_files,
    "paths": _complete_dag_files,
    "task": _complete_tasks,
}
"""What an argument of this name completes to (run ids, DAG files, the tasks of the run before it)."""


def _name_values(params: list[Any]) -> dict[str, str]:
    """Give every argument and value option a readable name for help (see the module docstring); return how
    each argument is written in the usage line (in brackets when it may be left out)."""
    usage: dict[str, str] = {}
    for param in params:
        if param.param_type_name == "argument":
            if getattr(param, "hidden", False):
                continue
            if param.metavar is not None:  # the declaration's own words, as they are
                usage[param.name] = param.metavar
                continue
            param.metavar = ARGUMENT_NAMES.get(param.name, param.name.upper()) + ("..." if param.nargs != 1 else "")
            usage[param.name] = param.metavar if param.required else f"[{param.metavar}]"
            continue
        if param.is_flag or param.count or param.metavar is not None:
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        choices = getattr(param.type, "choices", None)
        if choices:
            param.metavar = "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
        elif longs and longs[0] in VALUE_NAMES:
            param.metavar = VALUE_NAMES[longs[0]]
        else:
            param.metavar = (longs[0] if longs else param.opts[0]).lstrip("-").upper().replace("-", "_")
    return usage


class Command(TyperCommand):
    """A dagctl command: values named in help, arguments written plainly in the usage line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usage_names = _name_values(self.params)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces.extend(self.usage_names[p.name] for p in self.get_params(ctx) if p.name in self.usage_names)
        return pieces


class Group(TyperGroup):
    """A dagctl command group (the root, ``cache``, ``schedule``, ``export``): its options' values named."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_values(self.params)


def _wire_completion(callback: Callable[..., Any]) -> None:
    for parameter in inspect.signature(callback).parameters.values():
        declared = parameter.default
        if isinstance(declared, ArgumentInfo) and declared.autocompletion is None:
            declared.autocompletion = COMPLETERS.get(parameter.name)
        elif isinstance(declared, OptionInfo) and declared.autocompletion is None:
            longs = [d for d in declared.param_decls or () if d.startswith("--")]
            declared.autocompletion = OPTION_COMPLETERS.get(longs[0]) if longs else None


def finish(app: typer.Typer) -> typer.Typer:
    """Make every command of ``app`` (and of its groups) a :class:`Command`, with :data:`COMPLETERS` wired."""
    callbacks = [app.registered_callback.callback] if app.registered_callback is not None else []
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # typer's default: no other class asked for
            info.cls = Command
        callbacks.append(info.callback)
    for callback in callbacks:
        if callback is not None:
            _wire_completion(callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            finish(group.typer_instance)
    return app
