"""Checks that need a fully typed DagSpec: template references, ``when:`` conditions, workflow names.

Each check takes the parsed document (for positions) and the spec, and yields Problems. They run after
the structural checks pass, so they can rely on unique ids and an acyclic graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dagctl.errors import DagctlError, Problem

from .plan import ancestors
from .spec import DagSpec
from .yamlread import Document

Checker = Callable[[Document, DagSpec], Iterable[Problem]]
"""A check: the parsed document (for positions) and the typed spec in, problems out."""


def _strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _split(message: str) -> tuple[str, str]:
    what, _, hint = message.partition(" — ")
    return what, hint or "fix the reference"


def check_templates(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    from .conditions import condition_problems
    from .templating import reference_problems

    params = list(spec.params)
    ids = [t.id for t in spec.tasks]
    deps = {t.id: list(t.depends_on) for t in spec.tasks}
    for key in ("env",):
        for path, text in _strings(getattr(spec, key), (key,)):
            if "${" not in text:
                continue
            for message in reference_problems(text, params=params, upstream=(), task_ids=ids):
                yield doc.problem(path, *_split(message))
    for i, task in enumerate(spec.tasks):
        upstream: set[str] | None = None  # computed only for tasks that use templates: O(tasks) each
        base = ("tasks", i)
        fields = {"run": task.run, "params": task.params, "env": task.env, "cwd": task.cwd}
        for key, value in fields.items():
            for path, text in _strings(value, (*base, key)):
                if "${" not in text:
                    continue
                if upstream is None:
                    upstream = ancestors(deps, task.id)
                for message in reference_problems(text, params=params, upstream=upstream, task_ids=ids):
                    what, hint = _split(message)
                    yield doc.problem(path, f"task '{task.id}' {key}: {what}", hint)
        if task.when:
            if upstream is None:
                upstream = ancestors(deps, task.id)
            for message in condition_problems(task.when, params=params, upstream=upstream):
                what, hint = _split(message.removeprefix(f"when: {task.when}: "))
                yield doc.problem((*base, "when"), f"task '{task.id}' when: {what}", hint)


def check_workflows(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    from .workflows import resolve_workflow

    dag_dir = Path(doc.file).resolve().parent
    for i, task in enumerate(spec.tasks):
        if task.workflow_ref is None:
            continue
        try:
            resolve_workflow(task.workflow_ref, dag_workflows=spec.workflows, dag_dir=dag_dir)
        except DagctlError as exc:
            what, hint = _split(str(exc))
            yield doc.problem(("tasks", i, "workflow_ref"), f"task '{task.id}': {what}", hint)


def _local_module(folder: Path, module: str) -> Path | None:
    from .pysource import module_files  # the plan cache fingerprints the very same files

    for candidate in module_files(folder, module):
        if candidate.is_file():
            return candidate
    return None


def _defined_names(path: Path) -> set[str] | None:
    """Top-level names a module defines, read with ast (never imported); None if it cannot be parsed
    or defines names dynamically (``from x import *``, ``__getattr__``)."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return None if "__getattr__" in names else names


def check_python_targets(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    """``python: module:function`` next to the DAG: the module file must define the function.

    Read with ast, never imported (importing runs code). Modules that are not next to the DAG file are
    left to run time: they may come from an installed package.
    """
    import difflib

    folder = Path(doc.file).resolve().parent
    modules: dict[str, tuple[Path | None, set[str] | None]] = {}  # one read per module, not per task
    for i, task in enumerate(spec.tasks):
        if task.python is None:
            continue
        module, _, func = task.python.partition(":")
        if module not in modules:
            found = _local_module(folder, module)
            modules[module] = (found, _defined_names(found) if found else None)
        path, names = modules[module]
        if path is None:
            continue
        if names is None or func in names:
            continue
        public = sorted(n for n in names if not n.startswith("_"))
        close = difflib.get_close_matches(func, public, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"it defines: {', '.join(public) or 'nothing public'}"
        yield doc.problem(("tasks", i, "python"), f"task '{task.id}': {path.name} has no function '{func}'", hint)


DEFAULT_CHECKS: tuple[Checker, ...] = (check_templates, check_workflows, check_python_targets)
