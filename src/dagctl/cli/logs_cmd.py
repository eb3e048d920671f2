"""``dagctl logs``: a run's task logs, whole or followed while the run goes on, and why a task has none."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .history_cmds import _history, _snapshot_of_run, cell_label, task_rows
from .render import echo, echo_err, echo_json, short_run_id

if TYPE_CHECKING:
    from dagctl.store.history import History
    from dagctl.store.reports import RunSummary
    from dagctl.store.runsummary import TaskSummary


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        run: str = typer.Argument("latest", help="Run id, a unique prefix, or 'latest'."),
        task: str | None = typer.Argument(None, help="A task id; without it, every task's last attempt."),
        attempt: int | None = typer.Option(None, "--attempt", "-a", min=1, help="Which attempt (default: last)."),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing while the run is live."),
        as_json: bool = typer.Option(
            False, "--json", help="Print the logs as JSON: run_id, status, tasks (task, attempt, status, log, text)."
        ),
    ) -> None:
        """Print task logs of a run; --follow streams them until the run ends.

        \b
        Examples:
          dagctl logs latest report
          dagctl logs 20261121-1945 extract --attempt 2
          dagctl logs latest --follow
          dagctl logs latest --json | jq -r '.tasks[] | select(.status == "failed") | .text'
        """
        from dagctl.errors import StateError, UsageError
        from dagctl.store.layout import log_name

        if as_json and follow:
            raise UsageError("--json and --follow cannot be combined", hint="--json prints the logs as they are now")

        history = _history()
        run_id = history.resolve(run)
        s = history.summary(run_id)
        run_dir = history.run_dir(run_id)
        if task is not None and task not in s.tasks:
            known = [t for t, info in s.tasks.items() if (run_dir / log_name(t, info.attempts or 1)).exists()]
            hint = f"tasks with logs: {', '.join(known) or 'none'}"
            raise StateError(f"task '{task}' has no attempts in run {run_id}", hint=hint)
        if follow:
            _follow(history, run_id, task, attempt)
            return
        tasks = [task] if task else [t.task_id for _, t in task_rows(s)]  # a matrix task's cells under it
        found = []
        for tid in tasks:
            info = s.tasks[tid]
            number = attempt or info.attempts or 1
            path = run_dir / log_name(tid, number)
            if as_json:
                text = path.read_text(errors="replace") if path.exists() else None
                found.append({"task": tid, "attempt": number, "status": info.status, "log": str(path), "text": text})
                if text is not None or not task:
                    continue
            elif not task:
                where = path if path.exists() else f"no log: {_why_no_log(history, s, info)}"
                echo(f"==> {tid} (attempt {number}, {info.status}) {where} <==")
            if path.exists():
                _copy(path)
            elif task:
                cells = cells_of(s, tid)
                raise StateError(
                    f"no log for task '{tid}' attempt {number} in run {run_id}: {_why_no_log(history, s, info)}",
                    hint=f"dagctl logs {info.child_run_id}"
                    if info.child_run_id
                    else f"ask for a cell's log: dagctl logs {short_run_id(run_id)} {cells[0].task_id}"
                    if cells
                    else None,
                )
        if as_json:
            echo_json({"run_id": run_id, "status": s.status, "tasks": found})


def cells_of(s: RunSummary, task_id: str) -> list[TaskSummary]:
    """A matrix task's cells in the run, in order (none for any other task)."""
    return sorted((t for t in s.tasks.values() if t.parent == task_id), key=lambda c: c.cell_index or 0)


def task_kind(data: Any, task_id: str) -> str | None:
    """What kind of task ``task_id`` (or the matrix task of a cell) is in a DAG file's YAML data: ``run`` (shell),
    ``python``, ``workflow_ref``, ``dag`` or ``approval``; None when the data does not say."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    for item in tasks if isinstance(tasks, list) else ():
        if isinstance(item, dict) and item.get("id") in (task_id, task_id.rsplit(":", 1)[0]):
            return next((k for k in ("run", "python", "workflow_ref", "dag", "approval") if k in item), None)
    return None


def why_no_log(t: TaskSummary, cells: list[TaskSummary], kind: str | None) -> str:
    """Why a task of a run has no log file, from what the run recorded. ``cells``: a matrix task's cells;
    ``kind``: the task's kind in the run's DAG (:func:`task_kind`), None when unknown."""
    if cells or t.cells:
        listed = f" ({'; '.join(cell_label(c) for c in cells)})" if cells else ""
        return f"it is a matrix task; each of its cells has a log of its own{listed}"
    if t.child_run_id:
        return f"it ran as sub-DAG run {t.child_run_id}, whose tasks have the logs"
    if t.approval or kind == "approval":
        return "it is an approval gate, which runs nothing and writes no log"
    if t.cached:
        return "its outputs came from the task cache, whose entry kept no log"
    if t.started is None and t.status in ("skipped", "cancelled"):
        return f"it never started ({t.status}" + (f": {t.reason})" if t.reason else ")")
    if t.started is None and t.status in ("failed", "timeout"):
        return f"it failed before it started: {t.error or 'no error was recorded'}"
    if kind == "python":
        return "Python tasks write a log only when they log"
    if kind in ("run", "workflow_ref"):
        return "its log file is gone (a shell task always writes one: was it deleted?)"
    return "a Python task writes a log only when it logs (a shell task's log may have been deleted)"


def _why_no_log(history: History, s: RunSummary, t: TaskSummary) -> str:
    cells = cells_of(s, t.task_id)
    simple = cells or t.cells or t.child_run_id or t.approval or t.cached or t.started is None
    return why_no_log(t, cells, None if simple else task_kind(_snapshot_of_run(history, s.run_id), t.task_id))


def _copy(path: Path) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(65536):
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _follow(history: History, run_id: str, task: str | None, attempt: int | None) -> None:
    """Stream new log lines (one task) or state changes (whole run) until the run has ended."""
    from dagctl.store.events import parse_event
    from dagctl.store.jsonl import iter_with_offsets
    from dagctl.store.layout import events_file, log_name

    from .view import describe, local_time

    run_dir = history.run_dir(run_id)
    tick = threading.Event()
    events_offset = 0
    log_offset = 0
    current = attempt or 0
    while True:
        ended = False
        for _, end, record in iter_with_offsets(events_file(run_dir), events_offset):
            events_offset = end
            if record.get("event") == "dag_done":
                ended = True
            if task is None:
                line = describe(parse_event(record))  # type: ignore[arg-type]
                if line:
                    echo(f"{local_time(record['ts'])} {line}")
            elif (
                record.get("task_id") == task
                and record.get("event") == "task_start"
                and attempt is None
                and record.get("attempt", 1) != current
            ):
                current, log_offset = record.get("attempt", 1), 0
        if task is not None and current:
            path = run_dir / log_name(task, current)
            try:
                with path.open("rb") as fh:
                    fh.seek(log_offset)
                    data = fh.read()
            except FileNotFoundError:
                data = b""
            if data:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                log_offset += len(data)
        if ended:
            s = history.summary(run_id, detect_abandoned=False)
            echo_err(f"dagctl: run {run_id} {s.status}")
            return
        if history.summary(run_id).status == "abandoned":
            echo_err(f"dagctl: run {run_id} abandoned (its process died)")
            return
        if _reader_gone():
            return  # as a broken pipe: nothing more to say, exit 0
        tick.wait(0.2)


def _reader_gone() -> bool:
    """Has the reader of stdout gone away (``dagctl logs -f RUN | head -1``)? Without this, following a quiet task
    waits for its next line (or the run's end) to learn it from a broken pipe. A pipe without a reader polls
    as POLLERR, a hung-up terminal or socket as POLLHUP; files never do."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # errors and hang-ups are reported whatever the mask
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture), or no poll here
        return False
