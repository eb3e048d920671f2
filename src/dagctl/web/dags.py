"""The DAG files the server may run (one folder, ``--dags``), validation of YAML text, and run params.

A DAG is named in a request by its ``name:`` or by its file's path relative to the folder; either way the file
is inside the folder (:func:`dagctl.web.security.contained`). Plans come through the plan cache, as for
``dagctl run``, so listing a folder of unchanged files reads no YAML.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagctl.dag.checks import DEFAULT_CHECKS
from dagctl.dag.loader import YAML_SUFFIXES, declared_name, expand_paths
from dagctl.dag.params import merge_params, parse_assignments
from dagctl.dag.plan import Plan
from dagctl.dag.plancache import load_plan
from dagctl.dag.projectfile import PROJECT_CONFIG
from dagctl.dag.spec import DagSpec
from dagctl.dag.specread import dag_from_document
from dagctl.dag.yamlread import parse_document
from dagctl.errors import DagctlError, SpecError, UsageError
from dagctl.host import gc_paused

from .errors import Conflict, problem_dict
from .security import contained


@dataclass(frozen=True)
class DagEntry:
    """One file of the DAG folder: its plan's facts, or why it does not load."""

    file: str
    path: Path
    name: str | None = None
    tenant_id: str | None = None
    params: Mapping[str, Any] | None = None
    tasks: int = 0
    problem: str | None = None

    def to_dict(self, same_name_as: list[str] | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "tenant_id": self.tenant_id,
            "params": dict(self.params or {}),
            "tasks": self.tasks,
            "valid": self.problem is None,
            "problem": self.problem,
            "same_name_as": same_name_as or [],
        }


def same_names(entries: list[DagEntry]) -> dict[str, list[str]]:
    """For each file whose ``name:`` another file of the folder declares too, those other files (pure): such a
    DAG cannot be started by its name, only by its file."""
    by_name: dict[str, list[str]] = {}
    for entry in entries:
        if entry.name is not None:
            by_name.setdefault(entry.name, []).append(entry.file)
    return {
        entry.file: [f for f in by_name[entry.name] if f != entry.file]
        for entry in entries
        if entry.name is not None and len(by_name[entry.name]) > 1
    }


def entry_of(path: Path, file: str, plan: Plan) -> DagEntry:
    spec = plan.dag
    return DagEntry(
        file=file,
        path=path,
        name=spec.name,
        tenant_id=spec.tenant_id,
        params=dict(spec.params),
        tasks=len(plan.tasks),
    )


class DagCatalog:
    """The DAG files under ``folder`` (recursive), each loaded once per version of the file. Thread-safe."""

    def __init__(self, folder: Path, cache_dir: Path | None) -> None:
        self.folder = folder
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int], DagEntry]] = {}

    def entries(self) -> list[DagEntry]:
        """Every DAG file of the folder whose real path is inside it: a symlink leading out is neither listed nor
        run, by name or by file (docs/serve.md, Security)."""
        found: list[DagEntry] = []
        listed = expand_paths([self.folder]) if self.folder.is_dir() else []
        files = [p for p in listed if p.name != PROJECT_CONFIG and self._inside(p)]
        for path in files:
            found.append(self._entry(path))
        with self._lock:  # forget files that went away
            for gone in set(self._entries) - set(files):
                del self._entries[gone]
        return found

    def _entry(self, path: Path) -> DagEntry:
        try:
            st = os.stat(path)
        except OSError as exc:
            return DagEntry(file=self._relative(path), path=path, problem=f"{path}: {exc.strerror or exc}")
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        file = self._relative(path)
        try:
            plan, remember = load_plan(path, cache_dir=self.cache_dir)
            remember()
            entry = entry_of(path, file, plan)
        except DagctlError as exc:
            entry = DagEntry(file=file, path=path, name=declared_name(path), problem=str(exc).splitlines()[0])
        with self._lock:
            self._entries[path] = (stamp, entry)
        return entry

    def _inside(self, path: Path) -> bool:
        try:
            contained(self.folder, self._relative(path), "DAG file")
        except UsageError:
            return False
        return True

    def name_of(self, ref: str) -> str:
        """The ``name:`` of the DAG ``ref`` names (a file relative to the folder); a name as it is."""
        if not ref.endswith(YAML_SUFFIXES):
            return ref
        path = contained(self.folder, ref, "DAG file")
        for entry in self.entries():
            if entry.name is not None and os.path.realpath(entry.path) == str(path):
                return entry.name
        raise UsageError(f"no DAG file '{ref}' in {self.folder}", hint="see GET /api/dags for the DAG files")

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return path.as_posix()

    def resolve(self, ref: str) -> Path:
        """The file of the DAG named ``ref`` (its ``name:``, or its path relative to the folder); a
        :class:`~dagctl.web.errors.Conflict` naming every file when several declare that name (a copy made to
        become a new version and not renamed yet must not be run in place of the other one)."""
        entries = self.entries()
        named = [entry for entry in entries if entry.name == ref]
        if len(named) > 1:
            files = ", ".join(e.file for e in named)
            raise Conflict(
                f"DAG name '{ref}' is ambiguous: {len(named)} files declare it: {files}",
                hint=f'name it by its file (e.g. {{"dag": "{named[0].file}"}}), or give each file a name of its own',
            )
        if named:  # an invalid one: loading it says every problem it has
            return named[0].path
        if ref.endswith(YAML_SUFFIXES):
            path = contained(self.folder, ref, "DAG file")
            if path.is_file():
                return path
        names = [e.name for e in entries if e.name]
        close = difflib.get_close_matches(ref, names, n=1)
        known = ", ".join(names) or f"none in {self.folder}"
        hint = f"did you mean '{close[0]}'?" if close else f"known DAGs: {known}"
        raise UsageError(f"unknown DAG '{ref}' in {self.folder}", hint=hint)


def check_params(
    plan_params: Mapping[str, Any],
    given: Mapping[str, Any],
    types: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """``given`` (JSON values) as the ``-p key=value`` strings ``dagctl run`` will get, checked as it checks them.

    Strings pass as they are; other values as JSON (``5``, ``true``, ``[1, 2]``), which ``dagctl run`` reads
    back with the type of the param's default. Unknown names, values of the wrong type and values outside a
    typed declaration (``types``: ``{type: int, max: 1000}``, a required param left out) raise the CLI's
    :class:`UsageError`."""
    texts = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in given.items()}
    assignments = [f"{k}={v}" for k, v in texts.items()]
    parsed = parse_assignments(assignments)
    if list(parsed) != list(texts):
        bad = next(k for k in texts if k not in parsed)
        raise UsageError(f"param name {bad!r} is not valid", hint="a param name has no '=' and is not empty")
    merge_params(plan_params, parsed, types=types)
    return parsed


def validate_text(text: str, file: str) -> dict[str, Any]:
    """Every problem of a DAG given as YAML text, each with its line and column; and the DAG when it is valid."""
    try:
        with gc_paused():
            spec: DagSpec = dag_from_document(parse_document(text, file), DEFAULT_CHECKS)
    except SpecError as exc:
        return {"valid": False, "problems": [problem_dict(p) for p in exc.problems]}
    return {
        "valid": True,
        "problems": [],
        "dag": {
            "name": spec.name,
            "description": spec.description,
            "tenant_id": spec.tenant_id,
            "params": dict(spec.params),
            "tasks": [t.id for t in spec.tasks],
        },
    }
