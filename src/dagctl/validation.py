"""Validate many files at once: every problem of every file, plus cross-file rules (unique DAG names)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import Problem, SpecError
from .loader import dag_from_document, expand_paths
from .yamlread import gc_paused, parse_document, read_text


def validate_paths(paths: Iterable[str | Path]) -> tuple[list[Problem], int]:
    """Return (problems, number of files checked). Never raises for file contents."""
    from .actions.registry import PROJECT_CONFIG, load_project_config
    from .checks import DEFAULT_CHECKS

    problems: list[Problem] = []
    files = expand_paths(paths)
    names: dict[str, tuple[str, int, int]] = {}
    for path in files:
        if path.name == PROJECT_CONFIG:
            try:
                load_project_config(path)
            except SpecError as exc:
                problems.extend(exc.problems)
            continue
        try:
            with gc_paused():
                doc = parse_document(read_text(path), str(path))
                spec = dag_from_document(doc, DEFAULT_CHECKS)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        line, col = doc.position(("name",))
        if spec.name in names:
            other = names[spec.name]
            problems.append(Problem(str(path), line, col,
                                    f"DAG name '{spec.name}' is already used by {other[0]}:{other[1]}:{other[2]}",
                                    "DAG names must be unique; rename one of them"))
        else:
            names[spec.name] = (str(path), line, col)
    return problems, len(files)
