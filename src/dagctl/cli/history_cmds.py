"""``dagctl runs``, ``show``, ``cancel`` and ``retry``: what ran, what failed, why, and fix it (``logs``: its
own module, :mod:`dagctl.cli.logs_cmd`)."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import typer

from .render import STATUS_STYLES, echo, echo_err, echo_json, print_rows, short_run_id
from .run_options import AGAIN_BROKER_HELP, AGAIN_EXECUTOR_HELP

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from dagctl.report.notstarted import Unstarted
    from dagctl.store.history import History
    from dagctl.store.reports import RunSummary
    from dagctl.store.runsummary import TaskSummary


def _history() -> History:
    from dagctl.settings import Settings
    from dagctl.store.history import History

    return History(Settings.from_env())


def _local(when: datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else ""


def _local_in_run(when: datetime | None, run_start: datetime | None) -> str:
    """A task's start: the time alone on the day the run started (its header has the date), else date and time."""
    if when is None:
        return ""
    local = when.astimezone()
    if run_start is not None and local.date() == run_start.astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def _log_shown(log_path: str | None, run_dir: Path) -> str:
    """A task's log as ``show`` lists it: its path while the file is there (looked up by name in the run's folder,
    which may have moved), else ``-`` (a Python task that printed nothing has none)."""
    if not log_path:
        return ""
    return log_path if (run_dir / PurePath(log_path).name).exists() else "-"


def _dur(seconds: float | None) -> str:
    from dagctl.dag.durations import format_duration

    return format_duration(seconds) if seconds is not None else ""


def _summary_dict(s: RunSummary) -> dict[str, Any]:
    from dagctl.report.runjson import summary_dict

    return summary_dict(s)


def pause_line(run_id: str, paused: datetime | None, resumed: datetime | None, parent: str | None = None) -> str:
    """``show``'s line for one pause of a run: when, and for how long (or how to end it: a sub-DAG's run, paused
    with its ``parent`` run, goes on when that one is resumed)."""
    if paused is not None and resumed is not None:
        took = _dur((resumed - paused).total_seconds())
        return f"Paused:   {_local(paused)}   resumed {_local(resumed)} ({took} paused)"
    if parent is not None:
        return f"Paused:   {_local(paused)}   (with its parent run: dagctl resume {parent} goes on with it)"
    return f"Paused:   {_local(paused)}   (not resumed yet: dagctl resume {run_id})"


def _trigger(s: RunSummary) -> str:
    """How a run started; a sub-DAG's run names its parent run (by its tail) and task."""
    if s.parent_task and s.parent_run_id:
        return f"{s.parent_task} of {short_run_id(s.parent_run_id)}"
    return s.trigger or ""


def trigger_line(s: RunSummary) -> str:
    """``show``'s ``Trigger:``: how the run started, and the run it came from: ``manual``, ``retry of ID``,
    ``parent (sub-DAG run of ID, task T)``, ``schedule (schedule S)``."""
    text = s.trigger or "unknown"
    if s.parent_task and s.parent_run_id:
        text += f" (sub-DAG run of {s.parent_run_id}, task {s.parent_task})"
    elif s.parent_run_id:
        text += f" of {s.parent_run_id}" if s.trigger == "retry" else f" (after run {s.parent_run_id})"
    return text + (f" (schedule {s.schedule_id})" if s.schedule_id else "")


def task_rows(s: RunSummary) -> list[tuple[str, TaskSummary]]:
    """The rows of ``show``: each task in order, a matrix task's cells under it (indented, with values)."""
    cells: dict[str, list[TaskSummary]] = {}
    for t in s.tasks.values():
        if t.parent:
            cells.setdefault(t.parent, []).append(t)
    out: list[tuple[str, TaskSummary]] = []
    for tid, t in s.tasks.items():
        if t.parent:
            continue
        out.append((tid, t))
        for cell in sorted(with_cell_values(cells.get(tid, ()), t), key=lambda c: c.cell_index or 0):
            out.append((f"  {cell_label(cell)}", cell))
    return out


def with_cell_values(cells: Iterable[TaskSummary], task: TaskSummary | None) -> list[TaskSummary]:
    """Matrix cells with their values: a cell whose events do not give them (one whose outputs were reused or
    came from the task cache) gets them from its matrix task's value lists, as the run expanded them."""
    import dataclasses

    lists = task.matrix if task is not None and task.cells else None
    out = []
    for cell in cells:
        if not cell.matrix and lists and cell.cell_index is not None:
            values = cell_values(lists, cell.cell_index)
            cell = dataclasses.replace(cell, matrix=values) if values is not None else cell
        out.append(cell)
    return out


def cell_values(lists: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    """The values of cell ``index`` of a matrix with these value lists (the first key varies slowest, as
    :func:`dagctl.dag.matrix.expand` orders the cells); None when the lists do not have such a cell."""
    if not all(isinstance(v, list) and v for v in lists.values()):
        return None
    values: dict[str, Any] = {}
    rest = index
    for key in reversed(list(lists)):
        rest, at = divmod(rest, len(lists[key]))
        values[key] = lists[key][at]
    return dict(reversed(values.items())) if rest == 0 and index >= 0 else None


def tries(t: TaskSummary) -> str | int:
    """``show``'s TRIES: the attempts a task made, or how many iterations a loop (``repeat:``) reached (``6 it.``)."""
    if t.iteration is not None:
        return f"{t.iteration} it."
    return t.attempts or ""


def cell_label(cell: TaskSummary) -> str:
    """A matrix cell with its values: ``train:1 [lr=0.01, bs=32]``."""
    from dagctl.report.fmt import with_values

    return with_values(cell.task_id, cell.matrix)


def task_note(t: TaskSummary, approved: Sequence[str] = ()) -> str:
    """What the ``error / reason`` column says of a task: its error, why it was skipped, and what kind of
    unit it is (cached, a loop's iterations, a sub-DAG's run, an approval gate's state). ``approved``: who has
    approved a gate that still waits (``policy: all`` waits for the others)."""
    notes = [n for n in (t.error, t.reason) if n]
    if t.cached:
        notes.append("from the cache")
    if t.iteration and t.iteration > 1 and not t.reason:
        notes.append(f"iteration {t.iteration}")
    if t.child_run_id and not any(t.child_run_id in n for n in notes):  # an error may name it already
        notes.append(f"sub-DAG run {t.child_run_id}")
    if t.approval:
        decision, by = t.approval.get("decision"), ", ".join(t.approval.get("by") or [])
        if decision:
            notes.append(f"{decision} by {by}" if by else str(decision))
        else:
            left = [a for a in t.approval.get("approvers") or [] if a not in approved]
            who = ", ".join(left) or "anyone"
            done = f" ({', '.join(approved)} approved)" if approved else ""
            notes.append(f"waits for {who}{done}: {t.approval.get('message') or 'approval'}")
    return "; ".join(notes)


def _counts(s: RunSummary) -> str:
    """Tasks succeeded/failed/skipped, as the run's summary and the dashboard count them (a matrix task once,
    not once per cell)."""
    c = s.counts
    return f"{c.get('success', 0)}/{c.get('failed', 0)}/{c.get('skipped', 0)}"


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs(
        dag: str | None = typer.Option(None, "--dag", help="Only runs of this DAG."),
        status: str | None = typer.Option(
            None, "--status", help="success, failed, cancelled, abandoned, running, waiting (for approval), paused."
        ),
        tenant: str | None = typer.Option(None, "--tenant", help="Only runs of this tenant."),
        since: str | None = typer.Option(None, "--since", help="Only runs started in this window, e.g. 24h."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
        trend: bool = typer.Option(
            False, "--trend", help="Duration per run as a sparkline, with the median and each run's slowest task."
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """List runs, newest first; --trend shows how long they took, run after run.

        \b
        Examples:
          dagctl runs
          dagctl runs --dag diamond_pipeline --status failed --since 24h
          dagctl runs --dag diamond_pipeline --trend
        """
        from dagctl.dag.durations import parse_duration
        from dagctl.errors import UsageError

        from .argcheck import run_status

        status = run_status(status)
        history = _history()
        cutoff = None
        if since:
            if since.strip().replace(".", "", 1).isdigit():  # 24: hours to the dashboard, seconds to a duration
                raise UsageError(f"--since {since} has no unit", hint=f"write --since {since.strip()}h (or m, s, d)")
            try:
                seconds = parse_duration(since)
            except ValueError as exc:
                raise UsageError(f"--since: {exc}") from None
            from dagctl.store.history import since_from_window

            cutoff = since_from_window(history.clock.now(), seconds)
        if trend:
            _print_trend(history, dag=dag, status=status, tenant=tenant, since=cutoff, limit=limit, as_json=as_json)
            return
        found = list(history.summaries(dag=dag, status=status, tenant=tenant, since=cutoff, limit=limit))
        if as_json:
            echo_json([_summary_dict(s) for s in found])
            return
        if not found:
            matching = " matching the filters" if dag or status or tenant or since else ""
            echo_err(f"no runs found{matching} in {history.runs_dir} (DAGCTL_LOGS_DIR moves it)")
            return
        rows = [
            [s.run_id, s.dag_name, s.status, _local(s.started), _dur(s.duration_s), _counts(s), _trigger(s)]
            for s in found
        ]
        print_rows(
            None,
            ["run", "dag", "status", "started", "duration", "ok/fail/skip", "trigger"],
            rows,
            styles=STATUS_STYLES,
            kinds=["run", "text", "fixed", "fixed", "fixed", "fixed", "text"],
        )

    @app.command("show")
    def show(
        run: str = typer.Argument("latest", help="Run id, a unique prefix, or 'latest'."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        gantt: bool = typer.Option(
            False, "--gantt", help="Draw the run's timeline: every attempt, queued and retry waits, critical path."
        ),
        fmt: str = typer.Option(
            "text", "--format", help="With --gantt: text (the terminal), svg or html (a standalone file on stdout)."
        ),
        width: int | None = typer.Option(
            None, "--width", min=40, help="With --gantt: columns (text, default: the terminal's) or pixels (1000)."
        ),
        junit: Path | None = typer.Option(
            None, "--junit", help="Also write the run as a JUnit XML report to this file (docs/ci.md)."
        ),
    ) -> None:
        """Show one run: params, trigger, timings, and every task with its status, attempts and log.

        --gantt draws where the time went instead: a line per task, one bar per attempt.

        \b
        Examples:
          dagctl show latest
          dagctl show 20261121-1945 --json
          dagctl show latest --gantt
          dagctl show latest --gantt --format svg > run.svg
        """
        history = _history()
        if junit is not None:
            from .ci_outputs import write_junit

            write_junit(history, history.resolve(run), junit)
        if gantt or fmt != "text":
            _print_gantt(history, history.resolve(run), fmt, width, as_json=as_json)
            return
        s = history.summary(history.resolve(run))
        never = _unstarted_of(history, s)
        if as_json:
            from dagctl.report.notstarted import unstarted_json

            echo_json({**_summary_dict(s), "unstarted_tasks": unstarted_json(never)})
            return
        lines = [
            f"Run:      {s.run_id}",
            f"DAG:      {s.dag_name} (tenant {s.tenant_id})" + (f"  file {s.dag_file}" if s.dag_file else ""),
            f"Status:   {s.status}" + (f" — {s.error}" if s.error else ""),
            f"Trigger:  {trigger_line(s)}",
            f"Started:  {_local(s.started)}"
            + (f"   ended {_local(s.ended)}" if s.ended else "")
            + (f"   took {_dur(s.duration_s)}" if s.duration_s is not None else ""),
            f"Host:     {s.host} pid {s.pid}",
            f"Params:   {json.dumps(dict(s.params or {}), default=str)}",
            f"Logs:     {s.run_dir or history.run_dir(s.run_id)}",
        ]
        parent = s.parent_run_id if s.parent_task else None
        lines[5:5] = [pause_line(s.run_id, paused, resumed, parent) for paused, resumed in s.pauses]  # before Host:
        if s.parent_task and s.parent_run_id:
            lines.insert(4, f"Parent:   task {s.parent_task} of run {s.parent_run_id} (dagctl show {s.parent_run_id})")
        pending = _pending_pause(s, Path(s.run_dir or history.run_dir(s.run_id)))
        if pending:
            lines.insert(3, pending)  # right after Status:
        echo("\n".join(lines))
        folder = Path(s.run_dir or history.run_dir(s.run_id))
        approved = _approved_so_far(s, folder)
        shown = task_rows(s)
        rows: list[list[Any]] = [
            [
                label,
                t.status,
                tries(t),
                _local_in_run(t.started, s.started),
                _dur(t.duration_s),
                "" if t.exit_code is None else t.exit_code,
                task_note(t, approved.get(t.task_id, ())),
                _log_shown(t.log_path, folder),
            ]
            for label, t in shown
        ]
        rows += [[tid, status, "", "", "", "", note, ""] for tid, status, note in never]
        headers = ["task", "status", "tries", "started", "duration", "exit", "error / reason", "log"]
        kinds = ["text", "fixed", "fixed", "fixed", "fixed", "fixed", "text", "path"]
        _fit_cell_labels(rows, [t for _, t in shown], headers, kinds)
        print_rows(None, headers, rows, styles=STATUS_STYLES, kinds=kinds)
        children = [t.child_run_id for t in s.tasks.values() if t.child_run_id]
        if children:
            echo("Sub-DAG runs: " + ", ".join(f"dagctl show {c}" for c in children))
        waiting = [t for t in s.tasks.values() if t.status == "waiting" and t.approval]
        for t in waiting:
            echo(f"Waiting for approval: dagctl approve {s.run_id} {t.task_id}  (or: dagctl reject ... --reason TEXT)")

    @app.command("cancel")
    def cancel(
        run: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
        wait: str = typer.Option(
            "30s", "--wait", help="How long to wait for the run to stop (30s, 2m; 0: only ask); exit 1 if not."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the outcome as JSON: run_id, requested, status, stopped."
        ),
    ) -> None:
        """Stop a running run from another terminal, as Ctrl+C would: tasks terminated, recorded cancelled.

        Exits 1 when the run has not stopped within --wait (the cancel stays requested).

        \b
        Examples:
          dagctl cancel latest
          dagctl cancel latest --wait 2m
          dagctl cancel latest --wait 0 --json
        """
        import getpass

        from dagctl.errors import StateError
        from dagctl.host import hostname

        from .argcheck import seconds

        wait_s = seconds(wait, "--wait")
        history = _history()
        reason = f"cancelled by dagctl cancel ({getpass.getuser()}@{hostname()})"
        try:
            run_id = history.resolve(run)
        except StateError:  # not a run here: with QUEUE_BACKEND=redis, maybe one queued for (or run by) workers
            if history.settings.queue_backend != "redis":
                raise
            from dagctl.run.executors.celery_queue import cancel_queued_run

            outcome = cancel_queued_run(run, reason, broker=history.settings.redis_url)
            if outcome is None:
                raise
            if as_json:
                echo_json({"run_id": outcome.run_id or run, "requested": True, "queue_job": outcome.job_id})
            else:
                echo(outcome.describe())
            return
        history.request_cancel(run_id, reason)  # a paused run has no process to ask: it is cancelled at once
        if not as_json:
            echo_err(f"dagctl: cancel requested for run {run_id}")
        status = _wait_while(history, run_id, ("running", "waiting"), wait_s)  # waiting for approval: it runs on
        if status == "paused" and wait_s > 0:  # it paused before it saw the request: no process is left to see it
            history.request_cancel(run_id, reason)
            status = history.summary(run_id).status
        stopped = status not in ("running", "waiting")
        if as_json:
            echo_json({"run_id": run_id, "requested": True, "status": status, "stopped": stopped})
        elif stopped:
            echo(f"run {run_id} {status}")
        elif wait_s > 0:
            echo_err(f"dagctl: run {run_id} is still stopping after {wait_s:g}s (its tasks get SIGTERM, then SIGKILL)")
        if not stopped and wait_s > 0:  # asked to wait, and it still runs: `dagctl cancel RUN && ...` must not go on
            from dagctl.errors import EXIT_FAILED

            raise typer.Exit(EXIT_FAILED)

    @app.command("retry")
    def retry(
        run: str = typer.Argument("latest", help="Run id, a unique prefix, or 'latest'."),
        from_task: str | None = typer.Option(None, "--from", help="Re-run this task and everything downstream."),
        use_current: bool = typer.Option(
            False, "--use-current", help="Use the DAG file as it is now, not the snapshot the run executed."
        ),
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
        """Re-run what failed: succeeded tasks are not run again and their outputs are reused.

        The new run is linked to the old one (trigger retry, parent run id) and runs the old run's DAG
        snapshot with the same params, on the executor the old run used unless --executor says otherwise.

        \b
        Examples:
          dagctl retry latest
          dagctl retry 20261121-1945 --from report
          dagctl retry latest --junit reports/dagctl.xml
        """
        from dagctl.run.resume import prepare_retry
        from dagctl.run.state import new_run_id

        from .run_main import again_on, check_ci_outputs, execute_and_report, on_workers

        check_ci_outputs(junit, metrics_textfile)
        history = _history()
        # checks that the logs folder and the event log can be written (exit 3) before anything is announced
        prepared = prepare_retry(history, history.resolve(run), from_task=from_task, use_current=use_current)
        on = again_on(prepared.executor, executor, broker, history.settings)
        reused = ", ".join(prepared.reuse) or "none"
        announce = f"dagctl: retrying run {prepared.parent} as a new run{on_workers(on)}; reusing outputs of: {reused}"
        new_id = new_run_id(history.clock)
        try:
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
                trigger="retry",
                parent_run_id=prepared.parent,
                parallelism=parallelism,
                run_id=new_id,
                **prepared.run_options(),
            )
        except BaseException:
            history.discard_unstarted(new_id)  # a start that failed (the disk filled) leaves no half-made folder
            raise
        raise typer.Exit(code)


def _print_gantt(history: History, run_id: str, fmt: str, width: int | None, *, as_json: bool) -> None:
    """``show --gantt``: the run's timeline on the terminal, or as SVG / HTML on stdout."""
    from dagctl.errors import UsageError
    from dagctl.report.timeline import build_timeline

    if fmt not in ("text", "svg", "html"):
        raise UsageError(f"--format {fmt!r} is not a timeline format", hint="use --format text, svg or html")
    if as_json:
        raise UsageError("--json and --gantt cannot be combined", hint="use --gantt --format svg for a file")
    summary = history.summary(run_id)  # marks a run whose owner died as abandoned first
    timeline = build_timeline(
        history.events_of(run_id), graph=_graph_of_run(history, run_id), now=history.clock.now()
    ).replace(status=summary.status)
    if fmt == "text":
        import shutil

        from .render import TermStyle, gantt_lines

        columns = width or shutil.get_terminal_size((100, 24)).columns
        echo("\n".join(gantt_lines(timeline, columns, TermStyle.of(sys.stdout))))
        return
    from dagctl.report.svg import timeline_html, timeline_svg

    pixels = width or 1000
    document = timeline_svg(timeline, width=pixels) if fmt == "svg" else timeline_html(timeline, width=pixels)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        sys.stdout.write(document)
    except UnicodeEncodeError:  # an output that cannot hold a character: XML's own reference for it, lossless
        sys.stdout.write(document.encode(encoding, "xmlcharrefreplace").decode(encoding))


def _fit_cell_labels(rows: list[list[Any]], units: list[TaskSummary], headers: list[str], kinds: list[str]) -> None:
    """On a terminal too narrow for ``show``'s task column, a matrix cell's label would lose its end, the part that
    tells the cells apart (``  cel…``): there it is its id alone, cut at its start if need be (``  …s:3``).
    ``rows`` start with the rows of ``units`` (:func:`task_rows`); their labels are changed in place."""
    from . import render

    width = render.terminal_columns()
    if width is None:
        return
    text = [["" if c is None else str(c) for c in row] for row in rows]
    _, fitted, _ = render.fit_table([h.upper() for h in headers], text, kinds, width)
    room = max((render.text_width(row[0]) for row in fitted), default=0)
    for row, cut, unit in zip(rows, fitted, units, strict=False):
        if unit.parent is not None and cut[0] != row[0]:
            row[0] = "  " + render.clip_start(unit.task_id, max(room - 2, 4))


def _pending_pause(s: RunSummary, run_dir: Path) -> str | None:
    """``show``'s line for a run asked to pause that has not yet: when it was asked, and what it waits for."""
    if s.status not in ("running", "waiting"):
        return None
    from dagctl.store.events import parse_ts
    from dagctl.store.layout import pause_file

    try:
        request = json.loads(pause_file(run_dir).read_text())
        asked = _local(parse_ts(str(request.get("at"))))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError):  # unreadable, yet a request all the same
        asked = "-"
    running = [uid for uid, t in s.tasks.items() if t.status == "running" and not t.cells]
    waits = f"its running tasks finish ({', '.join(running)})" if running else "its tasks end"
    return f"Pausing:  requested {asked}; it pauses once {waits}"


def _approved_so_far(s: RunSummary, run_dir: Path) -> dict[str, list[str]]:
    """Gate -> who has approved it, for the gates of the run that still wait (``policy: all`` waits for every
    approver): read from the gates' decision files, as the run reads them."""
    from dagctl.errors import DagctlError
    from dagctl.store.approvals import gate_state, read_decisions

    found: dict[str, list[str]] = {}
    for t in s.tasks.values():
        if t.status == "waiting" and t.approval and t.approval.get("policy") == "all":
            approvers = [str(a) for a in t.approval.get("approvers") or []]
            with contextlib.suppress(OSError, DagctlError):
                _, found[t.task_id] = gate_state(read_decisions(run_dir, t.task_id), approvers, "all")
    return found


def _unstarted_of(history: History, s: RunSummary) -> list[Unstarted]:
    """The tasks of the run's DAG (its snapshot) it has not started, as ``show`` lists them after the others."""
    from dagctl.report.notstarted import unstarted_tasks

    def dag_task_ids() -> tuple[str, ...]:
        graph = _graph_of_run(history, s.run_id)
        return graph.order if graph is not None else ()

    return unstarted_tasks(s, dag_task_ids)


def _graph_of_run(history: History, run_id: str) -> Any:
    """The DAG's edges from the run's snapshot of its DAG file; None when it is gone or unreadable."""
    from dagctl.report.graph import graph_of_document

    data = _snapshot_of_run(history, run_id)
    return None if data is None else graph_of_document(data)


def _snapshot_of_run(history: History, run_id: str) -> Any:
    """The YAML data of the run's snapshot of its DAG file; None when it is gone or unreadable."""
    from dagctl.errors import DagctlError
    from dagctl.store.layout import snapshot_file

    path = snapshot_file(history.run_dir(run_id))
    if not path.exists():
        return None
    from dagctl.dag.yamlread import read_document

    try:
        return read_document(path).data
    except (DagctlError, OSError, ValueError):
        return None


def _print_trend(history: History, *, as_json: bool, limit: int, dag: str | None, **filters: Any) -> None:
    """``runs --trend``: per DAG, the duration of its runs as a sparkline; with --dag, every run as a row too."""
    from dagctl.report.trend import ASCII_SPARKS, SPARKS, duration_trend, headline, overview_row, run_rows

    from .render import TermStyle, print_table

    found = [s for s in history.summaries(dag=dag, **filters) if s.finished]
    by_dag: dict[str, list[RunSummary]] = {}
    for s in found:
        runs = by_dag.setdefault(s.dag_name, [])
        if len(runs) < limit:
            runs.append(s)
    trends = [duration_trend(runs, name) for name, runs in by_dag.items()]
    if as_json:
        echo_json([t.as_json() for t in trends])
        return
    if not trends:
        echo_err("no finished runs found" + (f" of DAG {dag}" if dag else ""))
        return
    style = TermStyle.of(sys.stdout)
    sparks = SPARKS if style.unicode else ASCII_SPARKS
    if dag is None:
        print_table(
            style.text("Duration of recent runs (oldest → newest)"),
            [("dag", "left"), ("runs", "right"), ("trend", "left"), ("median", "right"), ("last", "right"),
             ("slowest task of the last run", "left")],
            [overview_row(t, sparks) for t in trends],
            caption="one DAG in detail: dagctl runs --dag NAME --trend",
            kinds=["text", "fixed", "fixed", "fixed", "fixed", "text"],
            drop=(5, 1),  # the slowest task, the number of runs
        )  # fmt: skip
        return
    print_table(
        style.text(headline(trends[0], sparks)),
        [("run", "left"), ("started", "left"), ("status", "left"), ("", "left"), ("duration", "right"),
         ("vs median", "right"), ("slowest task", "left")],
        run_rows(trends[0], sparks),
        status_column=2,
        kinds=["run", "fixed", "fixed", "fixed", "fixed", "fixed", "text"],
        drop=(5, 6),  # vs median (the headline has the median), the slowest task
    )  # fmt: skip


def _wait_while(history: History, run_id: str, statuses: tuple[str, ...], wait: float) -> str:
    """The run's status once it is none of ``statuses``, or after ``wait`` seconds (0: at once)."""
    tick = threading.Event()
    for _ in range(max(int(wait / 0.1), 0)):
        status = history.summary(run_id).status
        if status not in statuses:
            return status
        tick.wait(0.1)
    return history.summary(run_id).status
