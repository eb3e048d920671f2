"""Checks that need a fully typed DagSpec: template references (in tasks and in the DAG's ``outputs:``),
``when:`` conditions (and ``precondition: {when: ...}``), workflow names.

Each check takes the parsed document (for positions) and the spec, and yields Problems. They run after
the structural checks pass, so they can rely on unique ids and an acyclic graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dagctl.errors import DagctlError, Problem, SpecError

from .plan import ancestors
from .spec import DagSpec, TaskSpec
from .specread import Checker, _pydantic_problems
from .yamlread import Document


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


def _condition(message: str, text: str, key: str) -> tuple[str, str]:
    """A condition's problem without the ``when: <text>:`` the condition parser starts it with (however it
    quotes the text: as written, repr'd, cut at 60 characters), for a message that names ``key`` itself."""
    what, hint = _split(message)
    for echo in (f"when: {text}: ", f"when: {text!r}: ", f"when: {text[:60]}…: ", f"when: {text[:60]}: "):
        if what.startswith(echo):
            return what[len(echo) :], hint
    return what.removeprefix("when: "), hint.replace("or remove when:", f"or remove {key}")


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
        if task.approval is not None:  # rendered when the gate is reached, as the task's own text
            fields["approval.message"] = task.approval.message
        for key, value in fields.items():
            for path, text in _strings(value, (*base, *key.split("."))):
                if "${" not in text:
                    continue
                if upstream is None:
                    upstream = ancestors(deps, task.id)
                shell = key == "run" and isinstance(task.run, str)  # a command string is shell-quoted
                for message in reference_problems(
                    text,
                    params=params,
                    upstream=upstream,
                    task_ids=ids,
                    shell=shell,
                    matrix=list(task.matrix) if task.matrix is not None else None,
                    loop=task.repeat is not None,
                ):
                    what, hint = _split(message)
                    yield doc.problem(path, f"task '{task.id}' {key}: {what}", hint)
        if task.when is not None:  # "" too: an empty condition is a mistake, not "always"
            if upstream is None:
                upstream = ancestors(deps, task.id)
            for message in condition_problems(task.when, params=params, upstream=upstream):
                what, hint = _condition(message, _one_line(task.when), "when:")
                yield doc.problem((*base, "when"), f"task '{task.id}' when: {what}", hint)
        if task.precondition is not None and task.precondition.when is not None:
            if upstream is None:
                upstream = ancestors(deps, task.id)
            condition = task.precondition.when  # read at run time as a when: condition is
            for message in condition_problems(condition, params=params, upstream=upstream):
                what, hint = _condition(message, _one_line(condition), "precondition:")
                yield doc.problem((*base, "precondition", "when"), f"task '{task.id}' precondition: when: {what}", hint)
        if task.repeat is not None:
            if upstream is None:
                upstream = ancestors(deps, task.id)
            until = task.repeat.until
            for message in condition_problems(until, params=params, upstream=upstream, loop=task.id):
                what, hint = _condition(message, _one_line(until), "repeat:")
                yield doc.problem((*base, "repeat", "until"), f"task '{task.id}' repeat: until: {what}", hint)
        if task.matrix is not None:
            if upstream is None:
                upstream = ancestors(deps, task.id)
            yield from _matrix_problems(doc, spec, task, base, upstream)
    yield from _output_problems(doc, spec, params, ids)
    yield from _handler_problems(doc, spec, params, ids)


def _handler_problems(doc: Document, spec: DagSpec, params: list[str], ids: list[str]) -> Iterable[Problem]:
    """``handlers:`` run once every task has ended, so their templates may read the outputs of any task of the
    DAG (a task that did not succeed has none), and everything a task's templates can read."""
    from .templating import reference_problems

    for kind, handler in spec.handlers.items():
        fields = {"run": handler.run, "params": handler.params, "env": handler.env, "cwd": handler.cwd}
        for key, value in fields.items():
            for path, text in _strings(value, ("handlers", kind, key)):
                if "${" not in text:
                    continue
                shell = key == "run" and isinstance(handler.run, str)
                for message in reference_problems(text, params=params, upstream=ids, task_ids=ids, shell=shell):
                    what, hint = _split(message)
                    if what.startswith("unknown task ") and hint == "check the task id":
                        hint = f"name a task of this DAG: {', '.join(ids)}"
                    yield doc.problem(path, f"handler {kind} {key}: {what}", hint)


def _one_line(condition: str) -> str:
    """A condition as the parser echoes it in its messages (line breaks are spaces)."""
    return condition.replace("\r", " ").replace("\n", " ").strip()


_TASK_CONTEXT = ("logical_date", "attempt", "dag", "task")
"""Namespaces a task's templates can read and the DAG's ``outputs:`` cannot. Those are resolved once the run is
over from its params, its tasks' outputs, the environment and the run id only
(:func:`dagctl.run.subrun.render_outputs`), so these have no value there."""


def _output_problems(doc: Document, spec: DagSpec, params: list[str], ids: list[str]) -> Iterable[Problem]:
    """The DAG's ``outputs:``: every task runs before they are resolved, so any task of the DAG may be named,
    and only a task that is not in it is a problem (as are references to what only a task knows)."""
    from .templating import find_references, reference_problems

    for path, text in _strings(spec.outputs, ("outputs",)):
        if "${" not in text:
            continue
        label = f"outputs {'.'.join(map(str, path[1:]))}"
        for message in reference_problems(text, params=params, upstream=ids, task_ids=ids):
            what, hint = _split(message)
            if what.startswith("unknown task ") and hint == "check the task id":
                hint = f"name a task of this DAG: {', '.join(ids)}"
            yield doc.problem(path, f"{label}: {what}", hint)
        try:
            refs = find_references(text)
        except DagctlError:
            continue  # reported above
        for ref in refs:
            if ref.namespace in _TASK_CONTEXT and ref.default is None:
                yield doc.problem(
                    path,
                    f"{label}: {ref.source} at column {ref.start + 1} has no value in a DAG's outputs",
                    "they can read ${params.NAME}, ${outputs.TASK.KEY}, ${env.NAME} and ${run_id}",
                )


def _matrix_problems(
    doc: Document, spec: DagSpec, task: Any, base: tuple[Any, ...], upstream: set[str]
) -> Iterable[Problem]:
    """A matrix's value lists: literal lists checked now (with the size), references to a list param or an
    upstream output checked as far as they can be before the run."""
    from .spec import MAX_MATRIX_CELLS
    from .templating import find_references

    count = 1
    named: dict[str, str] = {}  # DAGCTL_MATRIX_<KEY> -> the key that sets it
    for key, values in (task.matrix or {}).items():
        where = (*base, "matrix", key)
        first = named.setdefault(key.upper(), key)
        if first != key:  # both would set one environment variable: the last one's value wins
            yield doc.problem(
                where,
                f"task '{task.id}' matrix keys '{first}' and '{key}' differ only in case: both would set "
                f"$DAGCTL_MATRIX_{key.upper()}, and one value would be lost",
                "rename one of them",
            )
        if isinstance(values, list):
            if not values:
                yield doc.problem(where, f"task '{task.id}' matrix key '{key}' has no values", "give at least one")
            count *= max(1, len(values))
            continue
        refs = find_references(values) if "${" in values else []
        if len(refs) != 1 or refs[0].source != values.strip():
            yield doc.problem(
                where,
                f"task '{task.id}' matrix key '{key}': {values!r} is neither a list nor one ${{...}} reference",
                "write a list [a, b], or ${params.NAME} (a list param), or ${outputs.TASK.KEY}",
            )
            continue
        ref = refs[0]
        if ref.namespace == "params":
            default = spec.params.get(ref.path[0]) if ref.path else None
            if not ref.path or ref.path[0] not in spec.params:
                yield doc.problem(
                    where, f"task '{task.id}' matrix key '{key}': unknown param in {values}", "declare it"
                )
            elif len(ref.path) == 1 and not isinstance(default, list):
                yield doc.problem(
                    where,
                    f"task '{task.id}' matrix key '{key}': param '{ref.path[0]}' is a "
                    f"{type(default).__name__}, not a list",
                    "give the param a list as its default, e.g. [1, 2]",
                )
            elif isinstance(default, list):
                count *= max(1, len(default))
        elif ref.namespace == "outputs":
            task_ref = ref.path[0] if ref.path else ""
            if len(ref.path) < 2 or task_ref not in upstream:
                yield doc.problem(
                    where,
                    f"task '{task.id}' matrix key '{key}': {values} must name an output of an upstream task",
                    "write ${outputs.TASK.KEY} with TASK in depends_on",
                )
        else:
            yield doc.problem(
                where,
                f"task '{task.id}' matrix key '{key}': {values} — only params and outputs can give a list",
                "use ${params.NAME} or ${outputs.TASK.KEY}",
            )
    if count > MAX_MATRIX_CELLS:
        yield doc.problem(
            (*base, "matrix"),
            f"task '{task.id}' matrix expands to {count:,} cells, more than the {MAX_MATRIX_CELLS:,} allowed",
            "fan out over fewer values, or split the task",
        )


def check_workflows(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    from .workflows import resolve_workflow

    dag_dir = Path(doc.file).resolve().parent
    for path, who, task in _every_task(spec):
        if task.workflow_ref is None:
            continue
        try:
            resolve_workflow(task.workflow_ref, dag_workflows=spec.workflows, dag_dir=dag_dir)
        except DagctlError as exc:
            what, hint = _split(str(exc))
            yield doc.problem((*path, "workflow_ref"), f"{who}: {what}", hint)


def _every_task(spec: DagSpec) -> Iterator[tuple[tuple[Any, ...], str, TaskSpec]]:
    """The tasks and then the handlers of ``spec``: where each is in the file, and how a message names it."""
    for i, task in enumerate(spec.tasks):
        yield ("tasks", i), f"task '{task.id}'", task
    for kind, handler in spec.handlers.items():
        yield ("handlers", kind), f"handler {kind}", handler


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


def python_targets(spec: DagSpec) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """Every ``module:function`` the DAG's tasks and handlers call, with where it is written and what a message
    calls it: ``python:`` tasks and handlers, and ``aggregate: {strategy: python}`` fan-ins (the plan cache
    fingerprints the modules of all of them)."""
    for path, who, task in _every_task(spec):
        if task.python is not None:
            yield (*path, "python"), who, task.python
        if task.aggregate is not None and task.aggregate.strategy == "python" and task.aggregate.python:
            yield (*path, "aggregate", "python"), f"{who} aggregate", task.aggregate.python


def check_python_targets(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    """``python: module:function`` (and ``aggregate: {python: ...}``) next to the DAG: the module file must
    define the function.

    Read with ast, never imported (importing runs code). Modules that are not next to the DAG file are
    left to run time: they may come from an installed package.
    """
    import difflib

    folder = Path(doc.file).resolve().parent
    modules: dict[str, tuple[Path | None, set[str] | None]] = {}  # one read per module, not per task
    for path, who, target in python_targets(spec):
        module, _, func = target.partition(":")
        if module not in modules:
            local = _local_module(folder, module)
            modules[module] = (local, _defined_names(local) if local else None)
        found, names = modules[module]
        if found is None:
            continue
        if names is None or func in names:
            continue
        public = sorted(n for n in names if not n.startswith("_"))
        close = difflib.get_close_matches(func, public, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"it defines: {', '.join(public) or 'nothing public'}"
        yield doc.problem(path, f"{who}: {found.name} has no function '{func}'", hint)


def check_subdags(doc: Document, spec: DagSpec) -> Iterable[Problem]:
    """Every ``dag:`` child loads (recursively), takes the params it is given, and no file includes itself."""
    here = Path(doc.file).resolve() if doc.file and not doc.file.startswith("<") else None
    yield from _subdag_problems(doc, spec, [here] if here is not None else [])


def _subdag_problems(doc: Document | _ChildDoc, spec: DagSpec, chain: list[Path]) -> Iterator[Problem]:
    from pydantic import ValidationError

    from dagctl.host import gc_paused

    from .plan import build_plan
    from .spec import DagSpec as Spec
    from .specread import dag_from_document
    from .yamlread import parse_document, read_text

    base = chain[-1].parent if chain else Path.cwd()
    for i, task in enumerate(spec.tasks):
        if task.dag is None:
            continue
        where = ("tasks", i, "dag")
        if isinstance(task.dag, str):
            child_path = (base / task.dag).resolve()
            if child_path in chain:
                loop = " -> ".join(p.name for p in [*chain[chain.index(child_path) :], child_path])
                yield doc.problem(where, f"task '{task.id}': sub-DAG include cycle: {loop}", "break the cycle")
                continue
            if not child_path.is_file():
                yield doc.problem(
                    where, f"task '{task.id}': sub-DAG file {task.dag} not found (looked in {base})", "fix the path"
                )
                continue
            try:
                with gc_paused():
                    child_doc = parse_document(read_text(child_path), str(child_path))
                    child = dag_from_document(child_doc, [c for c in DEFAULT_CHECKS if c is not check_subdags])
            except SpecError as exc:
                yield doc.problem(
                    where,
                    f"task '{task.id}': sub-DAG {task.dag} is invalid: {exc.problems[0] if exc.problems else exc}",
                    "run dagctl validate on it",
                )
                continue
            deeper = list(_subdag_problems(_ChildDoc(doc, where), child, [*chain, child_path]))
            yield from deeper
        else:
            data = {"name": f"{spec.name}.{task.id}", **task.dag.model_dump()}
            try:
                child = Spec.model_validate(data)
                build_plan(child)
            except ValidationError as exc:
                # worded as in a DAG file (no pydantic class names), reported at the dag: key that holds it
                found = _pydantic_problems(Document(file=doc.file, data=data), exc, Spec)
                what, hint = (found[0].message, found[0].hint) if found else (str(exc).splitlines()[0], "")
                yield doc.problem(where, f"task '{task.id}': inline sub-DAG: {what}", hint or "fix the inline DAG")
                continue
            except SpecError as exc:
                yield doc.problem(where, f"task '{task.id}': inline sub-DAG: {exc}", "fix the inline DAG")
                continue
            yield from _subdag_problems(_ChildDoc(doc, where), child, chain)
        unknown = sorted(set(task.params) - set(child.params))
        if unknown:
            yield doc.problem(
                ("tasks", i, "params"),
                f"task '{task.id}': the sub-DAG declares no param '{unknown[0]}' (known: "
                f"{', '.join(sorted(child.params)) or 'none'})",
                "declare it under the sub-DAG's params:, or do not pass it",
            )
        else:
            yield from _child_param_problems(doc, task, i, child)


def _child_param_problems(doc: Document | _ChildDoc, task: TaskSpec, i: int, child: DagSpec) -> Iterator[Problem]:
    """The child run checks its params when it starts: a value written here that does not fit the child's typed
    declaration, or a required param not passed at all, fails it every time, so it is reported now. Values with
    ``${...}`` are known only then."""
    from .params import param_problems, split_params

    defaults, types = split_params(child.params)
    if not types:
        return
    literal = {k: v for k, v in task.params.items() if "${" not in repr(v)}
    for key, error in param_problems(defaults, literal, types):
        if key in literal:
            yield doc.problem(
                ("tasks", i, "params", key), f"task '{task.id}': sub-DAG {error.message}", "fix the value"
            )
        elif key not in task.params:  # (a templated value may well fit)
            yield doc.problem(
                ("tasks", i, "dag"), f"task '{task.id}': sub-DAG {error.message}", f"pass it under params: ({key}: ...)"
            )


class _ChildDoc:
    """Problems found deeper in a chain of sub-DAGs are reported at the ``dag:`` key that leads there."""

    def __init__(self, doc: Document | _ChildDoc, where: tuple[Any, ...]) -> None:
        self.doc, self.where = doc, where
        self.file: str = doc.file

    def problem(self, path: tuple[Any, ...], message: str, hint: str = "") -> Problem:
        return self.doc.problem(self.where, message, hint)


DEFAULT_CHECKS: tuple[Checker, ...] = (check_templates, check_workflows, check_python_targets, check_subdags)
