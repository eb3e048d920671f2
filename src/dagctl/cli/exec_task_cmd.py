"""``dagctl exec-task DAG.yaml TASK``: run exactly one task with given inputs (a step of an exported workflow)."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

import typer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dagctl.clock import SystemClock
    from dagctl.dag.plan import DagInfo, Plan
    from dagctl.run.single import StepResult
    from dagctl.settings import Settings

EXEC_TASK_HELP = """Run one task of a DAG on its own, with the params and upstream outputs you give it.

It is one attempt, not a run: no retries, no trigger rule, no when:, no precondition:, no task cache (the
caller decides those), no events; a failure continue_on: allows exits 0 with the reason. The task's log goes
to logs/runs/<run_id>/ as in a run, and is copied to stdout as it is written. With --outputs-dir its outputs
are also written there (outputs.json, and values/<key> for each plain key), which is where an Argo step
exported by `dagctl export argo` reads them. Exit code: the task's (0 success, a shell task's own code, 1 a
Python task failed, 124 timed out, 130/143 interrupted); 2 bad input.

The steps an exported workflow adds around tasks use the same command: --cell (one cell of a matrix task),
--gather (a matrix task's fan-in), --iteration and --until (a loop's iteration and what follows it),
--cache-key (the key Argo's memoize stores the step under), --precondition (whether the task runs at all),
--handler (a DAG's handler, in the workflow's exit handler), --dag-params and --dag-outputs (a sub-DAG's
params and outputs). docs/argo.md has what each does.

\b
Examples:
  dagctl exec-task configs/dags/diamond_pipeline.yaml extract -p rows=50 --outputs-dir /tmp/extract
  dagctl exec-task configs/dags/diamond_pipeline.yaml by_region --input extract=@/tmp/extract/outputs.json
  dagctl exec-task --spec "$SPEC" --input extract='{"path": "/data/sales.csv"}' --run-id wf-1
  dagctl exec-task configs/dags/hyperparameter_search.yaml train --cell '{"lr": 0.01, "batch_size": 32}'
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
        params_json: str | None = typer.Option(
            None, "--params-json", help="Params as one JSON object (a sub-DAG's, from --dag-params); with -p, -p wins."
        ),
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
        cell: str | None = typer.Option(
            None, "--cell", help="A matrix task: run this cell (one item of the list the workflow fans out over)."
        ),
        iteration: int | None = typer.Option(None, "--iteration", min=1, help="A loop task: run this iteration."),
        gather: str | None = typer.Option(
            None, "--gather", help="A matrix task: its outputs from its cells' records (Argo's list), not a run."
        ),
        until: str | None = typer.Option(
            None, "--until", help="A loop task: decide what follows --iteration, whose outputs these are (JSON)."
        ),
        previous: str | None = typer.Option(None, "--previous", help="With --until: the iteration before's outputs."),
        cache_key: bool = typer.Option(False, "--cache-key", help="Write the attempt's task cache key, not a run."),
        precondition: bool = typer.Option(
            False, "--precondition", help="Check the task's precondition: (file met: true or false), not a run."
        ),
        handler: str | None = typer.Option(
            None, "--handler", help="Run the task as this handler (success, failure, exit) of a workflow that ended."
        ),
        workflow_status: str = typer.Option(
            "Succeeded", "--workflow-status", help="With --handler: Argo's {{workflow.status}}."
        ),
        workflow_failures: str = typer.Option(
            "[]", "--workflow-failures", help="With --handler: Argo's {{workflow.failures}} (JSON)."
        ),
        task_names: str = typer.Option(
            "{}", "--task-names", help="With --handler: Argo task name -> dagctl task id (JSON)."
        ),
        dag_params: bool = typer.Option(False, "--dag-params", help="A dag: task: its child's params, not a run."),
        dag_outputs: bool = typer.Option(
            False, "--dag-outputs", help="A dag: task: its child's outputs (child tasks' outputs as --input)."
        ),
    ) -> None:
        from dagctl.clock import SystemClock
        from dagctl.dag.params import parse_assignments
        from dagctl.errors import UsageError
        from dagctl.run.single import parse_inputs, write_outputs
        from dagctl.run.state import new_run_id
        from dagctl.settings import Settings

        from .render import echo_err

        settings = Settings.from_env()
        chosen = {"--gather": gather is not None, "--until": until is not None, "--cache-key": cache_key,
                  "--precondition": precondition, "--dag-params": dag_params, "--dag-outputs": dag_outputs}  # fmt: skip
        modes = [name for name, on in chosen.items() if on]
        if len(modes) > 1:
            raise UsageError(f"give one of {', '.join(modes)}", hint="each is a step of its own")
        plan, task_id, child = _the_task(dag, task, spec, settings)
        if child is not None and not modes:  # its child's tasks are what runs: many attempts, not one
            raise UsageError(
                f"task '{task_id}' is a dag: task, which runs a whole sub-DAG, not one attempt",
                hint="run the DAG with dagctl run (add --only to run part of it); an exported workflow's steps use "
                "--dag-params and --dag-outputs",
            )
        params: dict[str, object] = {}
        if params_json is not None:
            given = _json_object("--params-json", params_json)
            params.update((k, v) for k, v in given.items() if k in plan.dag.params or dag_outputs)
        params.update(parse_assignments(param))
        given_inputs = parse_inputs(inputs)
        clock = SystemClock()
        run_id = run_id or new_run_id(clock)
        settings.check_writable("logs")
        if modes:
            result = _step(
                modes[0], plan, task_id, child, settings=settings, run_id=run_id, params=params,
                inputs=given_inputs, logical_date=logical_date, clock=clock, cell=cell, iteration=iteration,
                records=gather, outputs=until, previous=previous,
            )  # fmt: skip
        else:
            extra_env = None
            if handler is not None:
                from dagctl.run.single import handler_env

                names = {str(k): str(v) for k, v in _json_object("--task-names", task_names).items()}
                extra_env = handler_env(handler, workflow_status, workflow_failures, names)
            result = _run(
                plan, task_id, settings=settings, run_id=run_id, params=params, inputs=given_inputs,
                attempt=retry + 1, logical_date=logical_date, clock=clock, cell=cell, iteration=iteration, quiet=quiet,
                extra_env=extra_env,
            )  # fmt: skip
        if outputs_dir is not None and result.status == "success":
            from dagctl.errors import cannot

            try:
                write_outputs(outputs_dir, result.outputs, result.files)
            except OSError as exc:
                raise cannot("write outputs to", outputs_dir, exc) from None
        keys = ", ".join(result.outputs) or "none"
        detail = f": {result.error}" if result.error else f"; outputs: {keys}"
        detail += f"; {result.reason}" if result.reason else ""
        log = f"; log {result.log_path}" if result.log_path else ""
        what = f" {modes[0]}" if modes else ""
        echo_err(
            f"dagctl exec-task{what}: {result.task_id} {result.status} in {result.duration_s:.2f}s "
            f"(exit {result.exit_code}){detail}{log}"
        )
        raise typer.Exit(result.exit_code)


def _the_task(
    dag: Path | None, task: str | None, spec: str | None, settings: Settings
) -> tuple[Plan, str, DagInfo | None]:
    """The plan, the task's id and, for a ``dag:`` task, its child DAG: from --spec or from DAG TASK."""
    from dagctl.errors import UsageError
    from dagctl.run.single import planned_task, steps_of_spec

    if spec is not None:
        if dag is not None or task is not None:
            raise UsageError("give either --spec or DAG TASK, not both", hint="leave out DAG and TASK")
        return steps_of_spec(_spec_data(spec))
    if dag is None or task is None:
        raise UsageError("which task?", hint="give the DAG file and a task id: dagctl exec-task DAG.yaml TASK")
    from dagctl.dag.plancache import load_plan

    from .dagref import find_dag

    plan, remember = load_plan(find_dag(str(dag)), cache_dir=settings.plan_cache_dir)
    remember()
    planned = planned_task(plan, task)
    if planned.subdag is None:
        return plan, task, None
    from dagctl.run.subrun import child_plan

    return plan, task, child_plan(plan, planned).dag


def _step(
    mode: str,
    plan: Plan,
    task_id: str,
    child: DagInfo | None,
    *,
    settings: Settings,
    run_id: str,
    params: dict[str, Any],
    inputs: dict[str, dict[str, Any]],
    logical_date: str | None,
    clock: SystemClock,
    cell: str | None,
    iteration: int | None,
    records: str | None,
    outputs: str | None,
    previous: str | None,
) -> StepResult:
    """A step that is not a run of the task: a matrix's fan-in, a loop's verdict, a cache key, a precondition, a
    sub-DAG's params or outputs."""
    from dagctl.errors import UsageError
    from dagctl.run import single

    runs_dir = settings.runs_dir
    if mode == "--gather":
        return single.gather_cells(
            plan, task_id, records or "", runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, clock=clock
        )
    if mode == "--until":
        if iteration is None:
            raise UsageError("--until needs --iteration", hint="give the iteration whose outputs --until has")
        return single.loop_verdict(
            plan, task_id, _json_object("--until", outputs or ""), iteration=iteration, runs_dir=runs_dir,
            run_id=run_id, previous=_json_object("--previous", previous) if previous else None, params=params,
            inputs=inputs, logical_date=logical_date, clock=clock,
        )  # fmt: skip
    if mode == "--precondition":
        return single.check_precondition(
            plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, logical_date=logical_date,
            clock=clock,
        )  # fmt: skip
    if mode == "--cache-key":
        return single.task_cache_key(
            plan, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, cell=cell,
            iteration=iteration, logical_date=logical_date, clock=clock,
        )  # fmt: skip
    if child is None:
        raise UsageError(f"{mode}: task '{task_id}' is not a dag: task", hint=f"{mode} is for sub-DAG tasks")
    if mode == "--dag-params":
        return single.child_params(
            plan, child, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, clock=clock
        )
    return single.child_outputs(
        plan, child, task_id, runs_dir=runs_dir, run_id=run_id, params=params, inputs=inputs, clock=clock
    )


def _run(
    plan: Plan,
    task_id: str,
    *,
    settings: Settings,
    run_id: str,
    params: dict[str, Any],
    inputs: dict[str, dict[str, Any]],
    attempt: int,
    logical_date: str | None,
    clock: SystemClock,
    cell: str | None,
    iteration: int | None,
    quiet: bool,
    extra_env: dict[str, str] | None = None,
) -> StepResult:
    """One attempt of the task, its log copied to stdout as it is written (unless ``quiet``)."""
    from dagctl.run.attempts import CancelToken
    from dagctl.run.single import run_task

    from .signals import handle_signals

    token = CancelToken()
    names = {2: "SIGINT", 15: "SIGTERM"}

    def on_stop(signum: int, again: bool) -> None:
        token.cancel(now=again, reason=names.get(signum, "SIGTERM"))

    stop = threading.Event()
    log: list[tuple[Path, Callable[[str], str]]] = []
    follower = None if quiet else threading.Thread(target=_copy_log, args=(log, stop, clock), daemon=True)
    if follower is not None:
        follower.start()
    try:
        with handle_signals(on_stop):
            return run_task(
                plan, task_id, runs_dir=settings.runs_dir, run_id=run_id, params=params, inputs=inputs,
                attempt=attempt, logical_date=logical_date, clock=clock, cancel=token, grace=settings.grace_s,
                cell=cell, iteration=iteration, on_log=lambda path, mask: log.append((Path(path), mask)),
                extra_env=extra_env,
            )  # fmt: skip
    finally:
        stop.set()
        if follower is not None:
            follower.join(5)


def _json_object(option: str, text: str) -> dict[str, Any]:
    import json

    from dagctl.errors import UsageError

    stripped = text.strip()
    if stripped.startswith("{{") and stripped.endswith("}}"):  # a reference Argo left unresolved: nothing
        return {}
    try:
        value = json.loads(stripped)
    except ValueError as exc:
        raise UsageError(f"{option}: not JSON ({exc})", hint="give one JSON object") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: a JSON {type(value).__name__}, not an object", hint="give one JSON object")
    return value


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


def _copy_log(log: list[tuple[Path, Callable[[str], str]]], stop: threading.Event, clock: SystemClock) -> None:
    """Copy what the task writes to its log (``log[0]``, once it is known) to stdout, as it is written, until
    ``stop`` (then the rest). Whole lines, each masked (a secret is never shown, even while the task runs);
    the file stays open, so the masked copy that replaces it when the attempt ends is not read twice."""
    handle = None
    pending = b""
    try:
        while True:
            ended = stop.is_set()
            if handle is None and log:
                with contextlib.suppress(OSError):
                    handle = log[0][0].open("rb")
            data = b""
            if handle is not None:
                with contextlib.suppress(OSError):
                    data = handle.read()
            pending += data
            cut = len(pending) if ended else pending.rfind(b"\n") + 1
            if cut and log:
                chunk, pending = pending[:cut], pending[cut:]
                text = log[0][1](chunk.decode("utf-8", "surrogateescape"))
                sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
                sys.stdout.flush()
            if ended:
                return
            clock.wait(stop, 0.1)
    finally:
        if handle is not None:
            handle.close()
