"""Where the Python source of a ``python: module:function`` target next to a DAG file lives.

Shared by the checks (is the function defined there?) and the plan cache (has the file changed?), so both
look at the very same files. Pure path arithmetic: nothing is imported or read here.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def module_files(folder: Path, module: str) -> tuple[Path, Path]:
    """Where a ``python: module:function`` target next to the DAG would be: ``module.py`` or a package."""
    base = folder.joinpath(*module.split("."))
    return base.with_suffix(".py"), base / "__init__.py"
