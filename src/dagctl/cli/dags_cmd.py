"""``dagctl dags``: the DAGs of this project (``configs/dags/``, or ``--dir``), each with its last run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .render import STATUS_STYLES, echo_json, print_rows


def register(app: typer.Typer) -> None:
    @app.command("dags")
    def dags(
        folder: Path | None = typer.Option(
            None, "--dir", help="The folder of DAG files (default: configs/dags of this project, found from here up)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per DAG file."),
    ) -> None:
        """List the DAGs of this project: name, file, tasks, and how its last run went; files that do not load say why.

        `dagctl run NAME` runs one of them by its name.

        \b
        Examples:
          dagctl dags
          dagctl dags --dir pipelines/ --json | jq -r '.[] | select(.problem) | .file'
        """
        from dagctl.errors import UsageError

        from .dagref import dags_folder

        where = folder if folder is not None else dags_folder()
        if where is None:
            raise UsageError(
                "no configs/dags folder here or in a folder above", hint="give the DAG folder: dagctl dags --dir DIR"
            )
        if not where.is_dir():
            raise UsageError(f"--dir {where} is not a folder", hint="give the folder that holds the DAG files")
        found = [_entry(path, where) for path in _dag_files(where)]
        if as_json:
            echo_json(found)
            return
        if not found:
            from .render import echo_err

            echo_err(f"no DAG files (*.yaml, *.yml) in {where}")
            return
        rows = [
            [
                e["name"] or "?",
                e["file"],
                e["tasks"] if e["problem"] is None else "",
                "invalid" if e["problem"] else e["last_status"] or "never run",
                e["last_started"] or "",
                e["problem"] or e["description"] or "",
            ]
            for e in found
        ]
        print_rows(
            None,
            ["name", "file", "tasks", "last run", "started", "description"],
            rows,
            styles={**STATUS_STYLES, "invalid": "failed"},
            kinds=["text", "text", "fixed", "fixed", "fixed", "text"],
        )


def _dag_files(folder: Path) -> list[Path]:
    from dagctl.dag.loader import expand_paths
    from dagctl.dag.projectfile import PROJECT_CONFIG

    return [p for p in expand_paths([folder]) if p.name != PROJECT_CONFIG]


def _entry(path: Path, folder: Path) -> dict[str, Any]:
    """One DAG file: what it declares, or the first problem that stops it loading, and its last run."""
    from dagctl.dag.plancache import load_plan
    from dagctl.errors import DagctlError
    from dagctl.settings import Settings
    from dagctl.store.history import History

    settings = Settings.from_env()
    file = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
    entry: dict[str, Any] = {"name": None, "file": file, "tasks": None, "description": None, "problem": None}
    try:
        plan, remember = load_plan(path, cache_dir=settings.plan_cache_dir)
        remember()
        entry.update(name=plan.dag.name, tasks=len(plan.tasks), description=plan.dag.description)
    except DagctlError as exc:
        from dagctl.dag.loader import declared_name

        entry["problem"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        entry["name"] = declared_name(path)  # what it calls itself, though it does not load
    last = None
    if entry["name"] is not None:
        try:
            last = next(iter(History(settings).summaries(dag=entry["name"], limit=1)), None)
        except (DagctlError, OSError):
            last = None
    entry["last_run"] = last.run_id if last is not None else None
    entry["last_status"] = last.status if last is not None else None
    entry["last_started"] = (
        last.started.astimezone().strftime("%Y-%m-%d %H:%M:%S") if last is not None and last.started else None
    )
    return entry
