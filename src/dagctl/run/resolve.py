"""Turn a planned task plus the run so far into a fully resolved :class:`Attempt` (templating happens here)."""

from __future__ import annotations

import os
from pathlib import Path

from dagctl.errors import DagctlError, TemplateError
from dagctl.store.layout import log_path, shell_output_path

from .attempts import Attempt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dagctl.dag.plan import Plan, PlannedTask

    from .environment import RunEnvironment


class AttemptFactory:
    """Resolves commands, params, env and callables for one run. Caches workflow lookups."""

    def __init__(
        self,
        plan: Plan,
        run_id: str,
        run_dir: Path,
        params: dict[str, Any],
        grace: float = 5.0,
        logical_date: str | None = None,
        base_env: Mapping[str, str] | None = None,
        environment: RunEnvironment | None = None,
    ) -> None:
        self.plan = plan
        self.run_id = run_id
        self.run_dir = run_dir
        self.params = params
        self.grace = grace
        self.logical_date = logical_date
        self.base_env: Mapping[str, str] = dict(os.environ) if base_env is None else base_env
        self.environment = environment
        """``.env`` files and secrets of the run (:mod:`dagctl.run.environment`); None when it has none."""
        self._targets: dict[str, tuple[str, list[str]]] = {}
        self._has_templates: dict[str, bool] = {}
        self._dag_dir: Path | None = None

    @property
    def dag_dir(self) -> Path:
        if self._dag_dir is None:
            src = self.plan.dag.source_path
            self._dag_dir = Path(src).resolve().parent if src else Path.cwd()
        return self._dag_dir

    def callable_for(self, task: PlannedTask) -> tuple[str, list[str]]:
        if task.python is not None:
            if "python" not in self._targets:
                self._targets["python"] = ("", [str(self.dag_dir)])
            return task.python, self._targets["python"][1]
        name = str(task.workflow_ref)
        if name not in self._targets:
            from dagctl.dag.workflows import resolve_workflow

            target = resolve_workflow(name, dag_workflows=self.plan.dag.workflows, dag_dir=self.dag_dir)
            self._targets[name] = (target.callable, list(target.search_path))
        return self._targets[name]

    def _templated(self, task: PlannedTask) -> bool:
        """Does anything this task renders contain ``${``? (Cached: most tasks in big DAGs do not.)"""
        cached = self._has_templates.get(task.id)
        if cached is None:
            blob = repr((task.run, task.params, task.env, task.cwd, self.plan.dag.env, task.repeat))
            cached = self._has_templates[task.id] = "${" in blob
        return cached

    def log_path(self, task_id: str, attempt: int = 1) -> str:
        return log_path(self.run_dir, task_id, attempt)

    def _extra(
        self, task: PlannedTask, attempt: int, matrix: Mapping[str, Any] | None, iteration: int | None
    ) -> dict[str, Any]:
        """What a task's templates know of the run and of itself, besides params, env and outputs."""
        extra: dict[str, Any] = {
            "logical_date": self.logical_date or "",
            "attempt": attempt,
            "dag": {"name": self.plan.dag.name},
            "task": {"id": task.id},
        }
        if matrix is not None:
            extra["matrix"] = dict(matrix)
        if iteration is not None:
            extra["iteration"] = iteration
        return extra

    def render_text(
        self,
        task: PlannedTask,
        text: str,
        attempt: int,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        matrix: Mapping[str, Any] | None = None,
    ) -> str:
        """A text of the task's own (an approval gate's ``message:``) rendered as its ``run:`` would be: with
        params, env, upstream outputs, and ``${dag.name}``, ``${task.id}``, ``${logical_date}``, ``${matrix.*}``.
        TemplateError when a reference cannot be resolved."""
        from dagctl.dag.templating import TemplateContext, render

        extra = self._extra(task, attempt, matrix, None)
        ctx = TemplateContext(params=self.params, env=self.base_env, outputs=outputs, run_id=self.run_id, extra=extra)
        return render(text, ctx)

    def build_unit(
        self,
        task: PlannedTask,
        attempt: int,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        unit: str | None = None,
        matrix: Mapping[str, Any] | None = None,
        iteration: int = 1,
    ) -> Attempt:
        """The attempt a run starts for one unit: the task, a matrix cell (``unit`` ``train:3`` with its ``matrix``
        values) or a loop's ``iteration``. The runner and the dry run's cache prediction both build through here,
        so a prediction keys exactly the attempt the run would key."""
        uid = unit or task.id
        return self.build(
            task,
            attempt,
            outputs,
            unit=iteration_unit(uid, iteration),
            matrix=matrix,
            iteration=iteration if task.repeat is not None else None,
        )

    def build(
        self,
        task: PlannedTask,
        attempt: int,
        outputs: Mapping[str, Mapping[str, Any]],
        *,
        unit: str | None = None,
        matrix: Mapping[str, Any] | None = None,
        iteration: int | None = None,
    ) -> Attempt:
        """Raise TemplateError / DagctlError when the task cannot even be described (no retry helps).

        ``unit`` names the attempt's files and id when it is not the task's own: a matrix cell (``train:3``,
        whose ``matrix`` values templates read as ``${matrix.KEY}``) or a loop's later iteration."""
        dag = self.plan.dag
        run_dir = str(self.run_dir)
        unit = unit or task.id
        output_path = shell_output_path(run_dir, unit, attempt)
        env: dict[str, str] = dict(self.environment.files) if self.environment is not None else {}
        command: str | list[str] | None = task.run
        cwd = task.cwd
        if self._templated(task):
            from dagctl.dag.templating import TemplateContext, render, render_argv, render_value  # only ${...} needs it

            extra = self._extra(task, attempt, matrix, iteration)
            for source in (dag.env, task.env):
                for key, value in source.items():
                    ctx = TemplateContext(
                        params=self.params,
                        env={**self.base_env, **env},
                        outputs=outputs,
                        run_id=self.run_id,
                        extra=extra,
                    )
                    env[key] = render(value, ctx)
            ctx = TemplateContext(
                params=self.params, env={**self.base_env, **env}, outputs=outputs, run_id=self.run_id, extra=extra
            )
            params = render_value(dict(task.params), ctx)
            if isinstance(task.run, str):
                command = render(task.run, ctx, shell_quote=True)
            elif task.run is not None:
                command = render_argv(task.run, ctx)
            cwd = render(task.cwd, ctx) if task.cwd else None
        else:
            env.update(dag.env)
            env.update(task.env)
            params = dict(task.params)
        if self.environment is not None:
            env.update(self.environment.secrets_of(task.id))  # never templated: a secret is only an env var
        env["DAGCTL_RUN_ID"] = self.run_id
        env["DAGCTL_DAG_NAME"] = dag.name
        env["DAGCTL_TASK_ID"] = task.id
        env["DAGCTL_ATTEMPT"] = str(attempt)
        env["DAGCTL_OUTPUT"] = output_path
        env["DAGCTL_RUN_DIR"] = run_dir
        if self.logical_date:
            env["DAGCTL_LOGICAL_DATE"] = self.logical_date
        if unit != task.id:
            env["DAGCTL_UNIT"] = unit
        if matrix is not None:
            import json

            env["DAGCTL_MATRIX"] = json.dumps(matrix, default=str)
            for key, value in matrix.items():
                env[f"DAGCTL_MATRIX_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        if iteration is not None:
            env["DAGCTL_ITERATION"] = str(iteration)
        inputs: dict[str, dict[str, Any]] = {}
        for upstream in task.depends_on:
            produced = outputs.get(upstream)
            inputs[upstream] = dict(produced) if produced else {}
            if produced:
                for key, value in produced.items():
                    params[f"{upstream}__{key}"] = value
        target: str | None = None
        search_path: list[str] = []
        if task.kind in ("python", "workflow_ref"):
            target, search_path = self.callable_for(task)
        return Attempt(
            attempt_id=f"{self.run_id}/{unit}/{attempt}",
            run_id=self.run_id,
            dag_name=dag.name,
            task_id=task.id,
            attempt=attempt,
            kind=task.kind,  # type: ignore[arg-type]
            command=command,
            callable=target,
            search_path=search_path,
            params=params,
            inputs=inputs,
            env=env,
            cwd=cwd,
            timeout=task.timeout,
            isolation=task.isolation,  # type: ignore[arg-type]
            log_path=self.log_path(unit, attempt),
            output_path=output_path,
            run_dir=run_dir,
            queue=task.queue,
            grace=self.grace,
        )


def iteration_unit(unit: str, iteration: int) -> str:
    """What names a unit's log and output files: the task or cell, then ``fit~2``, ``fit~3`` ... for a loop."""
    return unit if iteration == 1 else f"{unit}~{iteration}"


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, (TemplateError, DagctlError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
