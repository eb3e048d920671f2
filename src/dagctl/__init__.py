"""dagctl: a local-first DAG runner and cron scheduler driven by YAML files.

The library API works without the CLI::

    import dagctl
    spec = dagctl.load_dag("configs/dags/diamond_pipeline.yaml")
    plan = dagctl.build_plan(spec)

Heavy modules are imported lazily so ``dagctl --version`` stays fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: dagctl run never imports typing (see dagctl.records)

__version__ = "0.1.0"

__all__ = [
    "DagSpec",
    "DagctlError",
    "Plan",
    "RunControl",
    "RunResult",
    "Settings",
    "SpecError",
    "TaskSpec",
    "__version__",
    "build_plan",
    "load_dag",
    "run_dag",
]

_LAZY = {
    "load_dag": ("dagctl.loader", "load_dag"),
    "build_plan": ("dagctl.plan", "build_plan"),
    "Plan": ("dagctl.plan", "Plan"),
    "DagSpec": ("dagctl.spec", "DagSpec"),
    "TaskSpec": ("dagctl.spec", "TaskSpec"),
    "DagctlError": ("dagctl.errors", "DagctlError"),
    "SpecError": ("dagctl.errors", "SpecError"),
    "run_dag": ("dagctl.api", "run_dag"),
    "RunResult": ("dagctl.runner", "RunResult"),
    "RunControl": ("dagctl.runner", "RunControl"),
    "Settings": ("dagctl.settings", "Settings"),
}

if TYPE_CHECKING:
    from typing import Any

    from .api import run_dag
    from .errors import DagctlError, SpecError
    from .loader import load_dag
    from .plan import Plan, build_plan
    from .runner import RunControl, RunResult
    from .settings import Settings
    from .spec import DagSpec, TaskSpec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'dagctl' has no attribute {name!r}")
