"""Plans of DAG files, cached: a DAG that has not changed is not parsed and validated again on every run.

Validating a DAG file means YAML parsing, pydantic and the file checks; just importing pydantic costs more
than a short DAG takes to run. ``dagctl run`` of a file whose plan is cached reads one JSON file instead,
and imports neither YAML nor pydantic.

An entry is used only when everything the validation read is byte-for-byte the same: the DAG file, for
``python:`` tasks and handlers the module files next to it (present or absent, since the check reads them),
every ``dag:`` child file (and, in turn, its own children and modules: a child that stops loading is reported
before the run, as ``dagctl validate`` reports it), and for a DAG without ``notify:`` the project's
``dagctl.yaml`` (whose ``notify:`` the plan carries) and the places a nearer one would be. Those files are
fingerprinted right after the validation, not when the entry is stored after the run.
DAGs with ``workflow_ref`` tasks (in them or in a child) are never cached (their registry may come from
installed packages), nor are plans that JSON cannot hold exactly (a mapping with integer keys in ``params``),
nor files that are not regular files (``<(cat dag.yaml)``, ``/dev/stdin``: read once, never the same again).
Entries carry the dagctl version.
A cache that cannot be read or written is ignored: it is only ever a shortcut, never a source of truth.
``dagctl validate`` never uses it. Set ``DAGCTL_PLAN_CACHE=0`` to turn it off.

Entries live in ``<logs>/cache/plans/``, one per DAG path, written atomically (temp file + rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path

from dagctl.errors import SpecError

from .plan import DagInfo, Plan, PlannedTask
from .pysource import module_files

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FORMAT = 7
"""Bumped when validation gets stricter too (4: precondition conditions, DAG outputs; 5: cache: on a dag: task,
empty cache globs, ttl: 0, min_success above a literal matrix's cells, timeout:/retries: on a gate; 7: handlers
checked as tasks, sub-DAG files fingerprinted), so that a plan cached before is checked again instead of being
trusted."""


def load_plan(path: str | Path, *, cache_dir: Path | None) -> tuple[Plan, Callable[[], None]]:
    """The plan of the DAG file at ``path`` (from ``cache_dir`` when valid there), and ``remember()``.

    ``remember()`` stores a freshly validated plan in the cache; call it once the plan is really used (a
    command that stops at bad input writes nothing). Raises :class:`~dagctl.errors.SpecError` for a bad
    file, exactly as :func:`dagctl.dag.loader.load_dag`. The file is read once.
    """
    from .source import read_source

    file = Path(path)
    raw, regular = read_source(file)
    entry_path = _entry_path(cache_dir, file) if cache_dir is not None and regular else None
    if entry_path is not None:
        plan = _cached(entry_path, file, raw)
        if plan is not None:
            return plan, _nothing
    from .loader import load_dag
    from .plan import build_plan
    from .workflows import project_defaults

    plan = project_defaults(build_plan(load_dag(file, source=raw)))
    if entry_path is None:
        return plan, _nothing
    deps = _dependencies(file, plan)  # as validated: a file changed while the run goes on is checked next time

    def remember() -> None:
        if deps is not None and raw == _read(file):  # unchanged since it was validated
            _store(entry_path, file, raw, plan, deps)

    return plan, remember


def _nothing() -> None:
    pass


# ---------------------------------------------------------------------------------------------- entries
def _entry_path(cache_dir: Path, file: Path) -> Path:
    absolute = os.path.abspath(file)
    return cache_dir / f"{file.stem[:40]}-{zlib.crc32(absolute.encode()):08x}.json"


def _read(file: Path) -> bytes | None:
    try:
        return file.read_bytes()
    except OSError:
        return None


def _fingerprint(data: bytes | None) -> list[int] | None:
    return None if data is None else [len(data), zlib.crc32(data)]


def _dependencies(file: Path, plan: Plan) -> dict[str, list[int] | None] | None:
    """Fingerprints of the files the validation of ``file`` read besides the file itself; None when the plan
    must not be cached (a ``workflow_ref`` task, here or in a child)."""
    folder = file.resolve().parent
    deps: dict[str, list[int] | None] = {}
    every = [*plan.tasks.values(), *plan.handlers.values()]
    if any(t.workflow_ref for t in every):
        return None
    targets = [t.python for t in every if t.python]
    targets += [t.aggregate["python"] for t in every if t.aggregate and t.aggregate.get("python")]
    _modules(folder, targets, deps)
    children = [t.subdag for t in plan.tasks.values() if t.subdag is not None]
    if children and not _children(folder, children, deps, seen={file.resolve()}):
        return None
    if plan.dag.notify is None:  # the project's notify: applies: where dagctl.yaml is, and is not
        from .projectfile import PROJECT_CONFIG

        for place in (folder, *folder.parents):
            found = _read(place / PROJECT_CONFIG)
            deps[str(place / PROJECT_CONFIG)] = _fingerprint(found)
            if found is not None:
                break
    return deps


def _modules(folder: Path, targets: list[str], deps: dict[str, list[int] | None]) -> None:
    """Fingerprint the files ``module:function`` targets would be read from beside a DAG in ``folder``."""
    for module in sorted({target.partition(":")[0] for target in targets}):
        for candidate in module_files(folder, module):
            deps[str(candidate)] = _fingerprint(_read(candidate))


def _children(folder: Path, children: list[Any], deps: dict[str, list[int] | None], seen: set[Path]) -> bool:
    """Fingerprint the ``dag:`` children (paths relative to ``folder``, or inline DAGs) and, in turn, what their
    validation read: their modules and their own children, as :func:`dagctl.dag.checks.check_subdags` reads
    them. False when one of them has a ``workflow_ref`` task (such a plan is not cached)."""
    from .yamlread import parse_document, read_text

    for child in children:
        if isinstance(child, dict):  # inline: its dag: paths are relative to the file that holds it
            if not _children(folder, _subdags(child.get("tasks")), deps, seen):
                return False
            continue
        if not isinstance(child, str):
            continue
        path = (folder / child).resolve()
        data = _read(path)
        deps[str(path)] = _fingerprint(data)
        if data is None or path in seen:
            continue
        seen.add(path)
        try:
            doc = parse_document(read_text(path, data), str(path))
        except SpecError:  # changed since it was validated: its fingerprint is already stale
            continue
        spec = doc.data if isinstance(doc.data, dict) else {}
        tasks, handlers = spec.get("tasks"), spec.get("handlers")
        every = [*(tasks if isinstance(tasks, list) else [])]
        every += handlers.values() if isinstance(handlers, dict) else []
        if _has_workflow_ref(every):
            return False
        _modules(path.parent, _python_targets(every), deps)
        if not _children(path.parent, _subdags(tasks), deps, seen):
            return False
    return True


def _subdags(tasks: Any) -> list[Any]:
    """The ``dag:`` values of a DAG's ``tasks:`` as written (paths, inline DAGs)."""
    if not isinstance(tasks, list):
        return []
    return [t["dag"] for t in tasks if isinstance(t, dict) and t.get("dag") is not None]


def _python_targets(tasks: list[Any]) -> list[str]:
    """The ``module:function`` of ``python:`` tasks and ``aggregate: {python: ...}`` fan-ins, as written."""
    found = []
    for task in tasks:
        if isinstance(task, dict):
            aggregate = task.get("aggregate")
            found += [task.get("python"), aggregate.get("python") if isinstance(aggregate, dict) else None]
    return [target for target in found if isinstance(target, str)]


def _has_workflow_ref(tasks: list[Any]) -> bool:
    return any(isinstance(t, dict) and t.get("workflow_ref") for t in tasks)


def _cached(entry_path: Path, file: Path, raw: bytes) -> Plan | None:
    from dagctl.settings import VERSION as __version__

    try:
        entry = json.loads(entry_path.read_bytes())
        if (
            entry.get("format") != FORMAT
            or entry.get("dagctl") != __version__
            or entry.get("file") != os.path.abspath(file)
            or entry.get("fingerprint") != _fingerprint(raw)
        ):
            return None
        if any(_fingerprint(_read(Path(dep))) != fp for dep, fp in entry["deps"].items()):
            return None
        plan = plan_from_data(entry["plan"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, torn or from another version: validate afresh
    return plan.replace(dag=plan.dag.replace(source_path=str(file)))


def _store(entry_path: Path, file: Path, raw: bytes, plan: Plan, deps: dict[str, list[int] | None]) -> None:
    from dagctl.settings import VERSION as __version__

    data = plan_to_data(plan)
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return
    if json.loads(text) != data:  # e.g. integer mapping keys would come back as strings
        return
    entry = {
        "format": FORMAT,
        "dagctl": __version__,
        "file": os.path.abspath(file),
        "fingerprint": _fingerprint(raw),
        "deps": deps,
    }
    body = json.dumps(entry, separators=(",", ":"))[:-1] + ',"plan":' + text + "}"
    tmp = entry_path.with_name(f".{entry_path.name}.{os.getpid()}.tmp")
    try:
        entry_path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(body)
        os.replace(tmp, entry_path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


# ---------------------------------------------------------------------------------------------- to and from JSON
_TASK_FIELDS = PlannedTask.FIELDS
"""A cached task is a list of values in this order: a third of the size of a dict per task, and about half
the time to read back (1,000 tasks: ~16 -> ~8 ms on the 2-core reference machine)."""
_TUPLES = tuple(_TASK_FIELDS.index(name) for name in ("depends_on", "downstream"))


def _row(t: PlannedTask) -> list[Any]:
    row = [getattr(t, name) for name in _TASK_FIELDS]
    for i in _TUPLES:
        row[i] = list(row[i])
    return row


def _task(row: list[Any]) -> PlannedTask:
    for i in _TUPLES:
        row[i] = tuple(row[i])
    return PlannedTask(*row)


def plan_to_data(plan: Plan) -> dict[str, Any]:
    return {
        "dag": plan.dag.to_dict(),
        "task_fields": list(_TASK_FIELDS),
        "tasks": [_row(t) for t in plan.tasks.values()],
        "levels": [list(level) for level in plan.levels],
        "handlers": {kind: _row(t) for kind, t in plan.handlers.items()},
    }


def plan_from_data(data: dict[str, Any]) -> Plan:
    if data["task_fields"] != list(_TASK_FIELDS):
        raise ValueError("the cached plan has other task fields")  # written by another dagctl: validate afresh
    tasks = {}
    for row in data["tasks"]:
        task = _task(row)
        tasks[task.id] = task
    handlers = {kind: _task(row) for kind, row in data.get("handlers", {}).items()}
    levels = tuple(tuple(level) for level in data["levels"])
    return Plan(dag=DagInfo(**data["dag"]), tasks=tasks, levels=levels, handlers=handlers)
