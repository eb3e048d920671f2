"""Where a project's ``dagctl.yaml`` is: the DAG file's folder or its nearest parent that has one.

Kept apart from :mod:`dagctl.dag.workflows` (which reads the file, and needs the DAG spec to check it) so
that a run can ask "is there a project file at all?" without importing pydantic.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_CONFIG = "dagctl.yaml"


def find_project_config(start: Path) -> Path | None:
    """The ``dagctl.yaml`` in ``start`` (a folder, or a file's folder) or its nearest parent that has one."""
    folder = Path(start).resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate_dir in (folder, *folder.parents):
        candidate = candidate_dir / PROJECT_CONFIG
        if candidate.is_file():
            return candidate
    return None
