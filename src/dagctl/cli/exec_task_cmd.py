"""``dagctl exec-task DAG.yaml TASK``: run exactly one task with given inputs (a step of an exported workflow)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import typer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.clock import SystemClock

EXEC_TASK_HELP = """Run one task of a DAG on its own, with the params and upstream outputs you give it.

It is one attempt, not a run: no retries, no trigger rule, no when: (the caller decides those), no events.
The task's log goes to logs/runs/<run_id>/ as in a run, and is copied to stdout as it is written. With
--outputs-dir its outputs are also written there (outputs.json, and values/<key> for each plain key), which
is where an Argo step exported by `dagctl export argo` reads them. Exit code: the task's (0 success, a shell
task's own code, 1 a Python task failed, 124 timed out, 130/143 interrupted); 2 bad input.

\b
Examples:
  dagctl exec-task configs/dags/diamond_pipeline.yaml extract -p rows=50 --outputs-dir /tmp/extract
  dagctl exec-task configs/dags/diamond_pipeline.yaml by_region --input extract=@/tmp/extract/outputs.json
  dagctl exec-task --spec "$SPEC" --input extract='{"path": "/data/sales.csv"}' --run-id wf-1
"""


def register(app: typer.Typer) -> None:
    @app.command("exec-task", help=EXEC_TASK_HELP)
    def exec_task(
        dag: Path | None = typer.Argument(None, help="The DAG file (leave out with --spec)."),
        task: str | None = typer.Argument(None, help="The task to run."),
        spec: str | None = typer.Option(
            None, "--spec", help="The task as JSON, as `dagctl export argo` passes it (or @FILE), instead of DAG TASK."
        ),
        param: list[str] = typer.Option([], "--param", "-p", help="Override a DAG param: -p key=value (repeatable)."),
        inputs: list[str] = typer.Option(
            [], "--input", "-i", help="Outputs of an upstream task: TASK=JSON or TASK=@FILE (repeatable)."
        ),
        outputs_dir: Path | None = typer.Option(
            None, "--outputs-dir", help="Also write the outputs here: outputs.json and values/<key>."
        ),
        run_id: str | None = typer.Option(None, "--run-id", help="Run folder to use (default: a new run id)."),
        retry: int = typer.Option(0, "--retry", min=0, help="Attempts made before this one (Argo's {{retries}})."),
        logical_date: str | None = typer.Option(None, "--logical-date", help="${logical_date} of the task."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not copy the task's log to stdout."),
    ) -> None:
        from dagctl.clock import SystemClock
        from dagctl.dag.params import parse_assignments
        from dagctl.errors import UsageError
        from dagctl.run.attempts import CancelToken
        from dagctl.run.single import parse_inputs, plan_of_spec, run_task, write_outputs
        from dagctl.run.state import new_run_id
        from dagctl.settings import Settings

        from .render import echo_err
        from .signals import handle_signals

        settings = Settings.from_env()
        if spec is not None:
            if dag is not None or task is not None:
                raise UsageError("give either --spec or DAG TASK, not both", hint="leave out DAG and TASK")
            plan, task_id = plan_of_spec(_spec_data(spec))
        else:
            if dag is None or task is None:
                raise UsageError("which task?", hint="give the DAG file and a task id: dagctl exec-task DAG.yaml TASK")
            from dagctl.dag.plancache import load_plan

            plan, remember = load_plan(dag, cache_dir=settings.plan_cache_dir)
            remember()
            task_id = task
        params = parse_assignments(param)
        given = parse_inputs(inputs)
        clock = SystemClock()
        run_id = run_id or new_run_id(clock)
        settings.check_writable("logs")
        token = CancelToken()
        names = {2: "SIGINT", 15: "SIGTERM"}

        def on_stop(signum: int, again: bool) -> None:
            token.cancel(now=again, reason=names.get(signum, "SIGTERM"))

        stop = threading.Event()
        log = settings.runs_dir / run_id / _log_name(task_id, retry + 1)
        follower = None if quiet else threading.Thread(target=_copy_log, args=(log, stop, clock), daemon=True)
        if follower is not None:
            follower.start()
        try:
            with handle_signals(on_stop):
                result = run_task(
                    plan,
                    task_id,
                    runs_dir=settings.runs_dir,
                    run_id=run_id,
                    params=params,
                    inputs=given,
                    attempt=retry + 1,
                    logical_date=logical_date,
                    clock=clock,
                    cancel=token,
                    grace=settings.grace_s,
                )
        finally:
            stop.set()
            if follower is not None:
                follower.join(5)
        if outputs_dir is not None and result.status == "success":
            from dagctl.errors import cannot

            try:
                write_outputs(outputs_dir, result.outputs)
            except OSError as exc:
                raise cannot("write outputs to", outputs_dir, exc) from None
        keys = ", ".join(result.outputs) or "none"
        detail = f": {result.error}" if result.error else f"; outputs: {keys}"
        echo_err(
            f"dagctl exec-task: {result.task_id} {result.status} in {result.duration_s:.2f}s "
            f"(exit {result.exit_code}){detail}; log {result.log_path}"
        )
        raise typer.Exit(result.exit_code)


def _spec_data(text: str) -> object:
    import json

    from dagctl.errors import UsageError

    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--spec: cannot read {text[1:]}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--spec is not JSON ({exc})", hint="pass what `dagctl export argo` wrote") from None


def _log_name(task_id: str, attempt: int) -> str:
    from dagctl.store.layout import log_name

    return log_name(task_id, attempt)


def _copy_log(path: Path, stop: threading.Event, clock: SystemClock) -> None:
    """Copy what the task writes to its log to stdout, as it is written, until ``stop`` (then the rest)."""
    offset = 0
    while True:
        ended = stop.is_set()
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except OSError:
            data = b""
        if data:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            offset += len(data)
        if ended:
            return
        clock.wait(stop, 0.1)
