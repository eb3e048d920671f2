"""``dagctl approve``, ``reject``, ``pause`` and ``resume``: people steering a run from any shell.

They work through files in the run's folder, as ``dagctl cancel`` does, so any shell that sees the same
logs folder can decide, pause or resume a run; nothing needs a server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .render import echo, echo_err, echo_json
from .run_options import AGAIN_BROKER_HELP, AGAIN_EXECUTOR_HELP

if TYPE_CHECKING:
    from dagctl.store.history import History
    from dagctl.store.runsummary import RunSummary


def _history() -> History:
    from dagctl.settings import Settings
    from dagctl.store.history import History

    return History(Settings.from_env())


def _who(name: str | None) -> str:
    import getpass

    return name or getpass.getuser()


def _decide(run: str, task: str, decision: str, who: str | None, text: str | None, as_json: bool) -> None:
    from dagctl.clock import SystemClock
    from dagctl.store.approvals import decide
    from dagctl.store.events import format_ts

    history = _history()
    run_id = history.resolve(run)
    summary = history.summary(run_id)
    if summary.finished and summary.status != "paused":
        from dagctl.errors import UsageError

        raise UsageError(f"run {run_id} is {summary.status}: it waits for nobody")
    from dagctl.store.approvals import waiting_gate

    gate = waiting_gate(summary, task)
    by = _who(who)
    approvers = [str(a) for a in gate.get("approvers") or []]  # type: ignore[attr-defined]
    state, deciders = decide(
        history.run_dir(run_id),
        task,
        decision=decision,
        by=by,
        text=text,
        approvers=approvers,
        policy=str(gate.get("policy") or "any"),
        ts=format_ts(SystemClock().now()),
    )
    if as_json:
        echo_json({"run_id": run_id, "task": task, "decision": decision, "by": by, "gate": state})
        return
    if state == "pending":
        still = [a for a in approvers if a not in deciders]
        echo(f"{by} approved {task} of run {run_id}; still waiting for: {', '.join(still)}")
    else:
        echo(f"{task} of run {run_id} {state} by {', '.join(deciders)}")


def pending_pause(summary: RunSummary, when: str) -> str:
    """The line for a run asked to pause that still runs: what it waits for (its running tasks, sub-DAG runs)."""
    running = [uid for uid, t in summary.tasks.items() if t.status == "running" and not t.cells]
    waits = f"for its running tasks to finish ({', '.join(running[:5])}{', ...' if len(running) > 5 else ''})"
    return (
        f"dagctl: run {summary.run_id} has not paused {when}: it waits {waits if running else 'for its tasks to end'}; "
        f"the pause stays requested (see dagctl show {summary.run_id})"
    )


def register(app: typer.Typer) -> None:
    @app.command("approve")
    def approve(
        run: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
        task: str = typer.Argument(..., help="The approval gate (a task with approval:)."),
        as_name: str | None = typer.Option(None, "--as", help="Who approves (default: your user name)."),
        comment: str | None = typer.Option(None, "--comment", help="Recorded with the decision."),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    ) -> None:
        """Approve a waiting approval gate; the run goes on (with policy: all, once every approver has).

        \b
        Example:
          dagctl approve latest deploy --as ana --comment "checked the diff"
        """
        _decide(run, task, "approve", as_name, comment, as_json)

    @app.command("reject")
    def reject(
        run: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
        task: str = typer.Argument(..., help="The approval gate."),
        reason: str = typer.Option(..., "--reason", help="Why: recorded, and shown as the task's error."),
        as_name: str | None = typer.Option(None, "--as", help="Who rejects (default: your user name)."),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    ) -> None:
        """Reject a waiting approval gate: the gate fails, and downstream tasks follow their trigger rules.

        \b
        Example:
          dagctl reject latest deploy --reason "tests are red"
        """
        if not reason.strip():
            from dagctl.errors import UsageError

            raise UsageError("--reason is empty", hint='say why, e.g. --reason "tests are red"')
        _decide(run, task, "reject", as_name, reason.strip(), as_json)

    @app.command("pause")
    def pause(
        run: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
        wait: str = typer.Option(
            "30s", "--wait", help="How long to wait for the run to pause (30s, 2m; 0: only ask); exit 1 if not."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the outcome as JSON: run_id, requested, status, paused."
        ),
    ) -> None:
        """Pause a running run: its running tasks finish, nothing new starts, and it is recorded paused.

        Its process exits 0; `dagctl resume RUN` goes on with the same run later. Sub-DAG runs of its running
        `dag:` tasks pause with it. Exits 1 when the run has not paused within --wait (it waits for its running
        tasks; the pause stays requested), so `dagctl pause RUN && ...` goes on only once nothing runs.

        \b
        Examples:
          dagctl pause latest && dagctl resume latest
          dagctl pause latest --wait 0 --json
        """
        import getpass

        from dagctl.host import hostname

        from .argcheck import seconds

        wait_s = seconds(wait, "--wait")
        history = _history()
        run_id = history.resolve(run)
        history.request_pause(run_id, f"paused by dagctl pause ({getpass.getuser()}@{hostname()})")
        if not as_json:
            echo_err(f"dagctl: pause requested for run {run_id}; running tasks finish first")
        summary = history.summary(run_id)
        tick = threading.Event()
        for _ in range(int(max(wait_s, 0) / 0.1)):
            if summary.status not in ("running", "waiting"):
                break
            tick.wait(0.1)
            summary = history.summary(run_id)
        status = summary.status
        pending = status in ("running", "waiting") and wait_s > 0  # asked to wait_s, and it still runs
        if as_json:
            echo_json({"run_id": run_id, "requested": True, "status": status, "paused": status == "paused"})
        elif status not in ("running", "waiting"):
            echo(f"run {run_id} {status}")
        elif pending:
            echo_err(pending_pause(summary, f"within {wait_s:g}s"))
        if pending:
            from dagctl.errors import EXIT_FAILED

            raise typer.Exit(EXIT_FAILED)

    @app.command("resume")
    def resume(
        run: str = typer.Argument(..., help="A paused (or abandoned) run: id, unique prefix, or 'latest'."),
        parallelism: int | None = typer.Option(None, "--parallelism", "-j", min=1, help="Max tasks at once."),
        executor: str | None = typer.Option(None, "--executor", "-x", help=AGAIN_EXECUTOR_HELP),
        broker: str | None = typer.Option(None, "--broker", help=AGAIN_BROKER_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON."),
        junit: Path | None = typer.Option(
            None, "--junit", help="After the run, write it as a JUnit XML report to this file (docs/ci.md)."
        ),
        metrics_textfile: Path | None = typer.Option(
            None, "--metrics-textfile", help="After the run, write its Prometheus metrics to this file (docs/ci.md)."
        ),
    ) -> None:
        """Go on with a paused or abandoned run, in the same run id, from where it stopped.

        Tasks, matrix cells and loop iterations that succeeded are kept; the rest run; approval gates that
        waited wait again (decisions made meanwhile count). Tasks run where the run ran them (threads or Celery
        workers) unless --executor says otherwise.

        \b
        Example:
          dagctl resume latest
          dagctl resume latest --junit reports/dagctl.xml
        """
        from dagctl.run.resume import claim_run, prepare_resume

        from .run_main import again_on, check_ci_outputs, execute_and_report, on_workers

        check_ci_outputs(junit, metrics_textfile)
        history = _history()
        run_id = history.resolve(run)
        with claim_run(history, run_id):  # one process goes on with a run: read its state under the claim
            prepared = prepare_resume(history, run_id)
            on = again_on(prepared.executor, executor, broker, history.settings)
            kept = len(prepared.reuse)
            announce = f"dagctl: resuming run {prepared.run_id}{on_workers(on)}; {kept} finished task(s) kept"
            _, code = execute_and_report(
                prepared.spec,
                prepared.params,
                quiet=quiet,
                as_json=as_json,
                settings=history.settings,
                junit=junit,
                metrics_textfile=metrics_textfile,
                announce=None if quiet or as_json else announce,
                executor=on,
                broker=broker,
                parent_run_id=prepared.parent,
                parallelism=parallelism,
                **prepared.run_options(),
            )
        raise typer.Exit(code)
