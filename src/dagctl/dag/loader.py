"""Path -> DagSpec, with every problem of the file reported at its ``file:line:column``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dagctl.host import gc_paused

from .spec import DagSpec
from .specread import dag_from_document
from .yamlread import parse_document, read_text

if TYPE_CHECKING:
    from .specread import Checker

YAML_SUFFIXES = (".yaml", ".yml")


def load_dag(path: str | Path, *, checks: Iterable[Checker] | None = None, source: bytes | None = None) -> DagSpec:
    """Load and validate a DAG file. Raises :class:`~dagctl.errors.SpecError` listing every problem.

    ``source``: the file's bytes, when the caller has read them already (a pipe such as ``<(cat dag.yaml)``
    cannot be read twice)."""
    from .checks import DEFAULT_CHECKS

    with gc_paused():
        doc = parse_document(read_text(path, source), str(path))
        return dag_from_document(doc, DEFAULT_CHECKS if checks is None else checks)


def load_dag_text(text: str, file: str = "<string>") -> DagSpec:
    from .checks import DEFAULT_CHECKS

    with gc_paused():
        return dag_from_document(parse_document(text, file), DEFAULT_CHECKS)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their *.yaml / *.yml files (sorted, recursive)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file()))
        else:
            found.append(p)
    return found


def declared_name(path: Path) -> str | None:
    """The ``name:`` a DAG file declares, read even when the file does not load as a DAG (None when even that
    cannot be read): how a list of DAG files names a broken one."""
    from dagctl.errors import DagctlError

    from .yamlread import read_document

    try:
        data = read_document(path).data
    except (DagctlError, OSError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None
