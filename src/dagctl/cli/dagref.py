"""A DAG named on the command line: a file's path, or the name of a file under ``configs/dags/``.

``dagctl run diamond_pipeline`` runs ``configs/dags/diamond_pipeline.yaml``, looked up from the working
directory, then from each folder above it (the nearest project wins), so the name works from anywhere inside a
project, as ``git`` finds its repository. A path (anything with a ``/``), a file that exists, and ``-`` or
``/dev/stdin`` are used as given.
"""

from __future__ import annotations

import os
from pathlib import Path

DAGS_FOLDER = Path("configs") / "dags"
SUFFIXES = (".yaml", ".yml")


def dags_folder(cwd: Path | None = None) -> Path | None:
    """The nearest project's DAG folder: ``configs/dags`` of the working folder or of the first folder above it
    that has one; None when there is none."""
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / DAGS_FOLDER).is_dir():
            return folder / DAGS_FOLDER
    return None


def candidates(name: str) -> list[str]:
    """The file names a DAG ``name`` may have in :data:`DAGS_FOLDER`: as given when it has a suffix, else with one."""
    return [name] if name.endswith(SUFFIXES) else [name + suffix for suffix in SUFFIXES]


def find_dag(arg: str, *, cwd: Path | None = None) -> str:
    """The path of the DAG file ``arg`` names (``arg`` itself unless it is a bare name found under a project's
    ``configs/dags/``). Raises a one-line :class:`~dagctl.errors.SpecError` for a bare name found nowhere."""
    if not arg or "/" in arg or os.sep in arg or arg == "-" or os.path.lexists(arg):
        return arg
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        for name in candidates(arg):
            path = folder / DAGS_FOLDER / name
            if path.is_file():
                return str(path.relative_to(here)) if folder == here else str(path)
    from dagctl.errors import Problem, SpecError

    looked = " or ".join(f"{DAGS_FOLDER / name}" for name in candidates(arg))
    raise SpecError(
        [Problem(arg, 1, 1, "file not found", f"no such file here, and no {looked} in this folder or above it")]
    )
