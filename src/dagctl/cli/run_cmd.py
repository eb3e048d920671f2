"""``dagctl run DAG.yaml``: run a DAG on this machine (or plan it with --dry-run)."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .render import echo, echo_err, echo_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dagctl.runner import RunControl, RunResult


@contextmanager
def interrupts(control: RunControl) -> Iterator[None]:
    """First SIGINT/SIGTERM: stop gracefully (terminate tasks, grace, kill). Second: kill at once."""
    from .signals import handle_signals

    def on_stop(signum: int, again: bool) -> None:
        if again:
            control.cancel(now=True)
            sys.stderr.write("dagctl: second interrupt: killing running tasks now\n")
        else:
            name = signal.Signals(signum).name
            control.cancel(f"interrupted by {name}", signal=signum)
            sys.stderr.write(f"dagctl: {name}: stopping; running tasks get SIGTERM then SIGKILL "
                             "(interrupt again to kill now)\n")

    with handle_signals(on_stop):
        yield


def print_summary(result: RunResult) -> None:
    """The source note's closing block, plus what a person needs next."""
    from .view import log_tail

    title = {"success": "DAG EXECUTION COMPLETE", "failed": "DAG EXECUTION FAILED",
             "cancelled": "DAG EXECUTION CANCELLED"}[result.status]
    failed = [t for t in result.tasks.values() if t.status == "failed"]
    for t in failed[:3]:
        tail = log_tail(t.log_path)
        if tail:
            echo_err(f"--- last lines of {t.id} ({t.log_path}) ---")
            for line in tail:
                echo_err(f"  {line}")
    lines = [
        title,
        f"DAG: {result.dag_name}",
        f"Run: {result.run_id}",
        f"Tasks Succeeded: {result.count('success')}",
        f"Tasks Failed: {result.count('failed')}",
        f"Tasks Skipped: {result.count('skipped')}",
    ]
    if result.count("cancelled"):
        lines.append(f"Tasks Cancelled: {result.count('cancelled')}")
    lines.append(f"Duration: {result.duration_s:.2f}s")
    if result.error:
        lines.append(f"Reason: {result.error}")
    for t in failed:
        lines.append(f"Failed: {t.id}: {t.error} (log: {t.log_path})")
    lines.append(f"Logs: {result.run_dir}")
    echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        dag: Path = typer.Argument(..., help="The DAG file to run."),
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the execution plan; run nothing."),
        param: list[str] = typer.Option([], "--param", "-p", help="Override a DAG param: -p key=value (repeatable)."),
        params_file: Path | None = typer.Option(None, "--params-file", help="YAML/JSON mapping of param overrides."),
        parallelism: int | None = typer.Option(None, "--parallelism", "-j", min=1, help="Max tasks at once."),
        timeout: str | None = typer.Option(None, "--timeout", help="Whole-run timeout, e.g. 30m."),
        fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop everything at the first failed task."),
        only: str | None = typer.Option(None, "--only", help="Run just these tasks (comma-separated); their "
                                        "upstream outputs come from the latest run that has them."),
        from_task: str | None = typer.Option(None, "--from", help="Run this task and everything downstream; "
                                             "upstream outputs come from the latest run that has them."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        as_json: bool = typer.Option(False, "--json", help="Print the plan (with --dry-run) or the final summary "
                                                           "as JSON."),
        executor: str | None = typer.Option(None, "--executor", "-x", help="Where tasks run: threads (this "
                                            "machine, the default) or celery (dagctl worker processes); env "
                                            "DAGCTL_EXECUTOR."),
        broker: str | None = typer.Option(None, "--broker", help="Redis URL for --executor celery (default: "
                                                                  "REDIS_URL)."),
    ) -> None:
        """Run a DAG on this machine: parallel where the graph allows, with retries and timeouts.

        Events go to ORCH_EVENTS_PATH (default logs/orchestrator_events.jsonl); task logs, outputs and a
        snapshot of the DAG to logs/runs/<run_id>/. Exit 0 ok, 1 a task failed, 2 bad input,
        130/143 interrupted.

        \b
        Examples:
          dagctl run configs/dags/diamond_pipeline.yaml
          dagctl run configs/dags/diamond_pipeline.yaml -p rows=1000 --parallelism 2
          dagctl run configs/dags/weekly_ops_chain.yaml --dry-run
        """
        from dagctl.durations import parse_duration
        from dagctl.errors import UsageError
        from dagctl.params import merge_params, parse_assignments
        from dagctl.plancache import load_plan
        from dagctl.settings import Settings

        settings = Settings.from_env()
        plan, remember_plan = load_plan(dag, cache_dir=settings.plan_cache_dir)
        overrides: dict[str, Any] = {}
        if params_file is not None:
            overrides.update(_read_params_file(params_file))
        overrides.update(parse_assignments(param))
        merge_params(plan.dag.params, overrides)  # fail on unknown keys before anything runs
        if dry_run:
            from . import plan_cmds

            plan_cmds.print_plan(plan, as_json=as_json)
            return
        run_timeout = None
        if timeout is not None:
            try:
                run_timeout = parse_duration(timeout)
            except ValueError as exc:
                raise UsageError(f"--timeout: {exc}") from None
        partial: dict[str, Any] = {}
        if only or from_task:
            from dagctl.history import History
            from dagctl.retrying import prepare_partial

            names = [t.strip() for t in (only or "").split(",") if t.strip()]
            select, reuse = prepare_partial(History(settings), plan, only=names, from_task=from_task)
            partial = {"select": select, "reuse_outputs": reuse}
        result = execute(plan, overrides, parallelism=parallelism, timeout=run_timeout, fail_fast=fail_fast or None,
                         quiet=quiet or as_json, executor=executor, broker=broker, **partial)
        remember_plan()  # a run happened: the next one of this unchanged file skips validation
        if as_json:
            echo_json(result.summary())
        elif not quiet:
            print_summary(result)
        raise typer.Exit(result.exit_code)


def execute(dag: Any, params: dict[str, Any], *, quiet: bool, executor: str | None = None,
            broker: str | None = None, **options: Any) -> RunResult:
    """Run ``dag`` (a Plan or a DagSpec) with the right view: live table on a TTY, plain lines otherwise.

    ``executor`` (else ``DAGCTL_EXECUTOR``): ``threads`` (default) or ``celery`` (``broker`` else ``REDIS_URL``).
    """
    import os

    from dagctl.api import run_dag
    from dagctl.plan import Plan, build_plan
    from dagctl.runner import RunControl

    from .view import PlainView

    plan = dag if isinstance(dag, Plan) else build_plan(dag)
    control = RunControl()
    sinks: list[Any] = []
    live = None
    if not quiet:
        if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
            from .render import LiveView

            live = LiveView(plan.dag.name, len(plan.tasks))
            sinks.append(live)
        else:
            sinks.append(PlainView())
    chosen = make_executor(executor, broker)  # before the run: a dead broker is exit 3 within seconds
    with interrupts(control):
        if live is not None:
            live.start()
        try:
            return run_dag(plan, params=params, sinks=sinks, control=control, executor=chosen, **options)
        finally:
            if live is not None:
                live.stop()
            if chosen is not None:
                chosen.shutdown(wait=False)


def make_executor(name: str | None, broker: str | None) -> Any:
    """The executor for ``--executor`` / ``DAGCTL_EXECUTOR``; None means run_dag's default thread pool."""
    from dagctl.executors.factory import make_executor as build

    return build(name, broker)


def _read_params_file(path: Path) -> dict[str, Any]:
    from dagctl.errors import SpecError
    from dagctl.yamlread import read_document

    doc = read_document(path)
    if not isinstance(doc.data, dict):
        raise SpecError([doc.problem((), "params file must be a mapping of name: value",
                                     "write one 'name: value' per line")])
    return dict(doc.data)
