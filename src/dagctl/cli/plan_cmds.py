"""``dagctl graph`` and ``dagctl schema``, and the dry-run plan printer."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .render import echo, echo_json

if TYPE_CHECKING:
    from dagctl.dag.plan import Plan


class GraphFormat(str, enum.Enum):
    TEXT = "text"
    MERMAID = "mermaid"
    DOT = "dot"


def print_plan(
    plan: Plan,
    *,
    as_json: bool,
    params: dict[str, Any] | None = None,
    notes: dict[str, str] | None = None,
    selected: list[str] | None = None,
    reused: dict[str, dict[str, Any]] | None = None,
) -> None:
    """The dry run's plan; with ``selected`` (``--only`` / ``--from``) just those tasks, and what is reused."""
    from dagctl.dag.planview import plan_as_dict, plan_lines

    if as_json:
        echo_json(plan_as_dict(plan, params, notes, selected=selected, reused=reused))
    else:
        echo("\n".join(plan_lines(plan, params, notes, selected=selected, reused=reused)))


def register(app: typer.Typer) -> None:
    @app.command("graph")
    def graph(
        dag: Path = typer.Argument(..., help="The DAG file to draw."),
        fmt: GraphFormat = typer.Option(GraphFormat.TEXT, "--format", help="text, mermaid or dot."),
        fmt_f: GraphFormat | None = typer.Option(None, "-f", hidden=True),  # the old short form: -f is --follow
        as_json: bool = typer.Option(False, "--json", help="Print the tasks, levels and edges as JSON."),
    ) -> None:
        """Draw a DAG: levels in the terminal, or Mermaid / Graphviz source.

        \b
        Examples:
          dagctl graph configs/dags/diamond_pipeline.yaml
          dagctl graph configs/dags/diamond_pipeline.yaml --format dot | dot -Tsvg > dag.svg
          dagctl graph configs/dags/diamond_pipeline.yaml --json | jq '.edges'
        """
        from dagctl import build_plan, load_dag
        from dagctl.dag.planview import graph_dict, graph_dot, graph_mermaid, graph_text
        from dagctl.errors import UsageError

        fmt = fmt_f if fmt_f is not None else fmt
        if as_json and fmt is not GraphFormat.TEXT:
            raise UsageError(f"--json and --format {fmt.value} cannot be combined", hint="pick one")
        from .dagref import find_dag

        plan = build_plan(load_dag(find_dag(str(dag))))
        if as_json:
            echo_json(graph_dict(plan))
            return
        render = {GraphFormat.TEXT: graph_text, GraphFormat.MERMAID: graph_mermaid, GraphFormat.DOT: graph_dot}
        echo(render[fmt](plan))

    @app.command("schema")
    def schema() -> None:
        """Print the JSON Schema of DAG files, for editor completion and checks.

        \b
        Example:
          dagctl schema > dagctl.schema.json
        """
        from dagctl.dag.schema import dag_json_schema

        echo_json(dag_json_schema())
