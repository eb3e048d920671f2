"""``dagctl validate PATH...``."""

from __future__ import annotations

from pathlib import Path

import typer


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

        Warnings (valid, but probably not meant: a schedule that fires less than once a year) are printed as
        FILE:LINE:COL: warning: what — how to check, and do not change the exit code.

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
