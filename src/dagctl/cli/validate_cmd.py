"""``dagctl validate PATH...``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dagctl.errors import Problem


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        paths: list[Path] = typer.Argument(..., help="DAG files or folders (searched for *.yaml, *.yml)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print warnings (problems are always printed)."),
        as_json: bool = typer.Option(
            False,
            "--json",
            help="Print the outcome as JSON: checked, valid, problems and warnings (file, line, column, message, "
            "hint).",
        ),
    ) -> None:
        """Check DAG files and report every problem as FILE:LINE:COL: what — how to fix.

        Warnings (valid, but probably not meant: a schedule that fires less than once a year, a cache inputs glob
        that matches no file from here) are printed as FILE:LINE:COL: warning: what — how to check, and do not
        change the exit code.

        Exit 0 all valid, 2 a problem was found (or no file to check).

        \b
        Examples:
          dagctl validate configs/dags
          dagctl validate my_dag.yaml other.yaml
          dagctl validate configs --json | jq '.problems[].message'
        """
        from dagctl.errors import UsageError
        from dagctl.schedule.validation import validate_paths

        from .render import echo_err, echo_json

        found = validate_paths(paths)
        problems, warnings, count = found.problems, found.warnings, found.checked
        warnings = [*warnings, *_input_warnings(paths, {p.file for p in problems})]
        if count == 0:  # even with --quiet: checking nothing is not a success
            raise UsageError(
                "no DAG or schedule files found in " + ", ".join(map(str, paths)),
                hint="give .yaml/.yml files, or folders that hold them",
            )
        if as_json:
            echo_json(
                {
                    "checked": count,
                    "valid": not problems,
                    "problems": [p.to_dict() for p in problems],
                    "warnings": [w.to_dict() for w in warnings],
                }
            )
            if problems:
                raise typer.Exit(2)
            return
        for p in problems:
            echo_err(str(p))
        for w in [] if quiet else warnings:  # valid, so they never change the exit code
            echo_err(str(w.replace(message="warning: " + w.message)))
        if problems:
            files = len({p.file for p in problems})
            echo_err(
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {files} "
                f"file{'s' if files != 1 else ''} ({count} checked)"
            )
            raise typer.Exit(2)


def _input_warnings(paths: Iterable[Path], invalid: set[str]) -> list[Problem]:
    """Cache ``inputs`` globs of the valid DAG files among ``paths`` that match no file: relative to the folder the
    task's command runs in (this one, or its ``cwd:``), as a run resolves them (:func:`dagctl.run.cache.inputs_base`).
    Such a glob keys nothing, so the task is served from the cache when the files it reads change."""
    from dagctl.dag.loader import expand_paths
    from dagctl.dag.plan import build_plan
    from dagctl.dag.specread import dag_from_document
    from dagctl.dag.yamlread import parse_document, read_text
    from dagctl.errors import DagctlError, Problem
    from dagctl.run.cache import unmatched_inputs

    found: list[Problem] = []
    for path in expand_paths(paths):
        if str(path) in invalid:
            continue
        try:
            text = read_text(path)
            if "inputs" not in text:  # most files: no second parse
                continue
            doc = parse_document(text, str(path))
            if not isinstance(doc.data, dict) or "tasks" not in doc.data:
                continue  # a schedule file, a project file
            spec = dag_from_document(doc)
            plan = build_plan(spec)
        except (DagctlError, OSError):
            continue
        for index, written in enumerate(spec.tasks):
            missing = unmatched_inputs(plan.tasks[written.id], dag_dir=path.resolve().parent)
            if missing is None:
                continue
            globs, base = missing
            for glob in globs:
                where = _glob_path(doc.data, index, glob)
                line, column = doc.position(where)
                found.append(
                    Problem(
                        str(path),
                        line,
                        column,
                        f"task '{written.id}' cache inputs '{glob}' match no file in {base}, so the cache is off for "
                        "it",
                        "write it relative to that folder (the task's cwd:, else where dagctl runs for a run: task, "
                        "the DAG's folder for a Python task in a thread), or absolute; fine if an upstream task "
                        "makes them",
                    )
                )
    return found


def _glob_path(data: dict[str, object], index: int, glob: str) -> tuple[str | int, ...]:
    """Where ``glob`` is written: the task's own ``cache: {inputs}``, or ``defaults: {cache: {inputs}}``."""
    bases: tuple[tuple[str | int, ...], ...] = (("tasks", index), ("defaults",))
    for base in bases:
        node: object = data
        for key in (*base, "cache", "inputs"):
            if isinstance(node, dict):
                node = node.get(key)
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                node = None
        if isinstance(node, list) and glob in node:
            return (*base, "cache", "inputs", node.index(glob))
    return ("tasks", index)
