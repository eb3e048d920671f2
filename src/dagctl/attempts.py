"""Turn a planned task plus the run so far into a fully resolved :class:`Attempt` (templating happens here)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DagctlError, TemplateError
from .executors.base import Attempt
from .plan import Plan, PlannedTask
from .templating import TemplateContext, render, render_argv, render_value


def log_name(task_id: str, attempt: int) -> str:
    """``<task>.log`` for the first attempt, ``<task>@<n>.log`` after (``@`` is never in an id)."""
    return f"{task_id}.log" if attempt == 1 else f"{task_id}@{attempt}.log"


@dataclass
class AttemptFactory:
    """Resolves commands, params, env and callables for one run. Caches workflow lookups."""

    plan: Plan
    run_id: str
    run_dir: Path
    params: dict[str, Any]
    grace: float = 5.0
    logical_date: str | None = None
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _targets: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def dag_dir(self) -> Path:
        src = self.plan.dag.source_path
        return Path(src).resolve().parent if src else Path.cwd()

    def callable_for(self, task: PlannedTask) -> tuple[str, list[str]]:
        spec = task.spec
        if spec.python is not None:
            return spec.python, [str(self.dag_dir)]
        name = str(spec.workflow_ref)
        if name not in self._targets:
            from .actions.registry import resolve_workflow

            target = resolve_workflow(name, dag_workflows=self.plan.dag.workflows, dag_dir=self.dag_dir)
            self._targets[name] = (target.callable, list(target.search_path))
        return self._targets[name]

    def build(self, task: PlannedTask, attempt: int, outputs: Mapping[str, Mapping[str, Any]]) -> Attempt:
        """Raise TemplateError / DagctlError when the task cannot even be described (no retry helps)."""
        spec = task.spec
        dag = self.plan.dag
        extra = {
            "logical_date": self.logical_date or "",
            "attempt": attempt,
            "dag": {"name": dag.name},
            "task": {"id": task.id},
        }
        env: dict[str, str] = {}
        for source in (dag.env, spec.env):
            for key, value in source.items():
                env[key] = render(value, TemplateContext(params=self.params, env={**self.base_env, **env},
                                                         outputs=outputs, run_id=self.run_id, extra=extra))
        ctx = TemplateContext(params=self.params, env={**self.base_env, **env}, outputs=outputs,
                              run_id=self.run_id, extra=extra)
        log_path = self.run_dir / log_name(task.id, attempt)
        output_path = self.run_dir / "outputs" / f"{task.id}@{attempt}.out"
        env.update({
            "DAGCTL_RUN_ID": self.run_id,
            "DAGCTL_DAG_NAME": dag.name,
            "DAGCTL_TASK_ID": task.id,
            "DAGCTL_ATTEMPT": str(attempt),
            "DAGCTL_OUTPUT": str(output_path),
            "DAGCTL_RUN_DIR": str(self.run_dir),
        })
        if self.logical_date:
            env["DAGCTL_LOGICAL_DATE"] = self.logical_date
        params = render_value(dict(spec.params), ctx)
        for upstream in task.depends_on:
            for key, value in (outputs.get(upstream) or {}).items():
                params[f"{upstream}__{key}"] = value
        command: str | list[str] | None = None
        target: str | None = None
        search_path: list[str] = []
        if spec.run is not None:
            command = render(spec.run, ctx, shell_quote=True) if isinstance(spec.run, str) else render_argv(
                spec.run, ctx)
        else:
            target, search_path = self.callable_for(task)
        cwd = render(spec.cwd, ctx) if spec.cwd else None
        return Attempt(
            attempt_id=f"{self.run_id}/{task.id}/{attempt}",
            run_id=self.run_id,
            dag_name=dag.name,
            task_id=task.id,
            attempt=attempt,
            kind=task.kind,  # type: ignore[arg-type]
            command=command,
            callable=target,
            search_path=search_path,
            params=params,
            inputs={u: dict(outputs.get(u) or {}) for u in task.depends_on},
            env=env,
            cwd=cwd,
            timeout=task.timeout,
            isolation=spec.isolation.value,
            log_path=str(log_path),
            output_path=str(output_path),
            run_dir=str(self.run_dir),
            queue=spec.queue,
            grace=self.grace,
        )


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, (TemplateError, DagctlError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
