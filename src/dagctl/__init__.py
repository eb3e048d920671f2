"""dagctl: a local-first DAG runner and cron scheduler driven by YAML files.

The library API works without the CLI::

    import dagctl
    spec = dagctl.load_dag("configs/dags/diamond_pipeline.yaml")
    plan = dagctl.build_plan(spec)

Heavy modules are imported lazily so ``dagctl --version`` stays fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: dagctl run never imports typing (see dagctl.records)

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
    "index_by",
    "last_runs",
    "load_dag",
    "load_events",
    "per_tenant_load",
    "record_event",
    "run_dag",
    "summarize_dags",
    "summarize_schedules",
    "summarize_tasks",
]

_LAZY = {
    "load_dag": ("dagctl.dag.loader", "load_dag"),
    "build_plan": ("dagctl.dag.plan", "build_plan"),
    "Plan": ("dagctl.dag.plan", "Plan"),
    "DagSpec": ("dagctl.dag.spec", "DagSpec"),
    "TaskSpec": ("dagctl.dag.spec", "TaskSpec"),
    "DagctlError": ("dagctl.errors", "DagctlError"),
    "SpecError": ("dagctl.errors", "SpecError"),
    "run_dag": ("dagctl.run.api", "run_dag"),
    "RunResult": ("dagctl.run.state", "RunResult"),
    "RunControl": ("dagctl.run.state", "RunControl"),
    "Settings": ("dagctl.settings", "Settings"),
    "record_event": ("dagctl.store.state", "record_event"),
    "last_runs": ("dagctl.store.state", "last_runs"),
    "index_by": ("dagctl.store.state", "index_by"),
    "load_events": ("dagctl.analytics", "load_events"),
    "summarize_tasks": ("dagctl.analytics", "summarize_tasks"),
    "summarize_dags": ("dagctl.analytics", "summarize_dags"),
    "summarize_schedules": ("dagctl.analytics", "summarize_schedules"),
    "per_tenant_load": ("dagctl.analytics", "per_tenant_load"),
}

if TYPE_CHECKING:
    from typing import Any

    from dagctl.analytics import load_events, per_tenant_load, summarize_dags, summarize_schedules, summarize_tasks
    from dagctl.dag.loader import load_dag
    from dagctl.dag.plan import Plan, build_plan
    from dagctl.dag.spec import DagSpec, TaskSpec
    from dagctl.run.api import run_dag
    from dagctl.run.state import RunControl, RunResult
    from dagctl.store.state import index_by, last_runs, record_event

    from .errors import DagctlError, SpecError
    from .settings import VERSION as __version__
    from .settings import Settings


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .settings import VERSION

        return VERSION
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'dagctl' has no attribute {name!r}")
