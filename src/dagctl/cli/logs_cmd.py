"""``dagctl logs``: a run's task logs, whole or followed while the run goes on, and why a task has none.

Which file is whose comes from the run's events: every attempt names its log (``log_path``), and a loop's
(``repeat:``) iterations each have their own (``fit~3.log``, ``fit~3@2.log``: :mod:`dagctl.store.layout`).
:func:`~dagctl.store.tasklogs.attempt_logs` lists them and :func:`pick_log` chooses one; ``show`` names the same one by
default."""

from __future__ import annotations

import sys
import threading
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import typer

from .history_cmds import _graph_of_run, _history, _snapshot_of_run, cell_label, task_rows, with_cell_values
from .render import echo, echo_err, echo_json, short_run_id

if TYPE_CHECKING:
    from dagctl.store.history import History
    from dagctl.store.reports import RunSummary
    from dagctl.store.runsummary import TaskSummary
    from dagctl.store.tasklogs import AttemptLog


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        run: str = typer.Argument("latest", help="Run id, a unique prefix, or 'latest'."),
        task: str | None = typer.Argument(None, help="A task id; without it, every task's last attempt."),
        attempt: int | None = typer.Option(
            None, "--attempt", "-a", min=1, help="Which attempt (default: last; a loop's: of its iteration)."
        ),
        iteration: int | None = typer.Option(
            None, "--iteration", min=1, help="A loop task (repeat:): which iteration (default: the last)."
        ),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing while the run is live."),
        as_json: bool = typer.Option(
            False,
            "--json",
            help="Print the logs as JSON: run_id, status, tasks (task, iteration, attempt, status, log, text).",
        ),
    ) -> None:
        """Print task logs of a run; --follow streams them until the run ends.

        \b
        Examples:
          dagctl logs latest report
          dagctl logs 20261121-1945 extract --attempt 2
          dagctl logs latest fit --iteration 3
          dagctl logs latest --follow
          dagctl logs latest --json | jq -r '.tasks[] | select(.status == "failed") | .text'
        """
        from dagctl.errors import DagctlError, StateError, UsageError
        from dagctl.store.tasklogs import attempt_logs

        if as_json and follow:
            raise UsageError("--json and --follow cannot be combined", hint="--json prints the logs as they are now")

        history = _history()
        run_id = history.resolve(run)
        s = history.summary(run_id)
        run_dir = history.run_dir(run_id)
        if task is not None and task not in s.tasks and not (follow and _may_start(history, s, task)):
            known = [t for t, info in s.tasks.items() if _last_log(run_dir, info) is not None]
            hint = f"tasks with logs: {', '.join(known) or 'none'}"
            raise StateError(f"task '{task}' has no attempts in run {run_id}", hint=hint)
        events = history.events_of(run_id)
        if follow:
            if task is not None and task not in s.tasks:
                echo_err(f"dagctl: task '{task}' has not started in run {run_id} yet; waiting for it")
            elif task is not None:
                try:  # a task that is no loop has no --iteration; what a live run has not run yet, it may
                    pick_log(task, attempt_logs(events, task), iteration=iteration, attempt=attempt, run_id=run_id)
                except StateError:
                    if s.finished:
                        raise
            _follow(history, run_id, task, iteration=iteration, attempt=attempt)
            return
        tasks = [task] if task else [t.task_id for _, t in task_rows(s)]  # a matrix task's cells under it
        found = []
        for tid in tasks:
            info = s.tasks[tid]
            refs = attempt_logs(events, tid)
            why: str | None = None
            try:
                ref = pick_log(tid, refs, iteration=iteration, attempt=attempt, run_id=run_id, run=s)
            except DagctlError as exc:
                if task:
                    raise
                ref, why = None, exc.message
            number = ref.attempt if ref else attempt or info.attempts or 1
            path = run_dir / (ref.name if ref else _plain_log_name(tid, number))
            if as_json:
                text = path.read_text(errors="replace") if path.exists() else None
                entry = {"task": tid, "iteration": ref.iteration if ref else None, "attempt": number}
                found.append({**entry, "status": info.status, "log": str(path), "text": text})
                if text is not None or not task:
                    continue
            elif not task:
                where = path if path.exists() else f"no log: {why or _why_no_log(history, s, info)}"
                echo(f"==> {tid} ({_which(ref, info.status)}) {where} <==")
            if path.exists():
                _copy(path)
            elif task and _wrote_nothing(history, s, info):  # as a shell task that printed nothing: exit 0
                echo_err(f"dagctl: task '{tid}' ({_which(ref, info.status)}) wrote nothing: {PYTHON_NO_LOG}")
            elif task:
                raise _no_log(history, s, info, ref)
        if as_json:
            echo_json({"run_id": run_id, "status": s.status, "tasks": found})


def pick_log(
    unit: str,
    refs: list[AttemptLog],
    *,
    iteration: int | None,
    attempt: int | None,
    run_id: str,
    run: RunSummary | None = None,
) -> AttemptLog | None:
    """The attempt whose log ``dagctl logs`` prints: the last one (the log ``show`` names); with ``iteration``,
    that iteration's last; with ``attempt``, that attempt of the iteration (a loop's attempts count afresh in
    each). None when the run has no attempt of ``unit`` at all (it says why elsewhere). Raises a one-line
    :class:`StateError` (or :class:`UsageError`) naming what there is when the one asked for is not there.
    ``run``: the run's summary, to say where an iteration a retried loop did not run again ran."""
    from dagctl.errors import StateError, UsageError

    if not refs:
        return None
    loop = any(r.iteration is not None for r in refs)
    if iteration is not None and not loop:
        raise UsageError(
            f"task '{unit}' of run {run_id} is not a loop (repeat:): it has no iterations",
            hint="leave out --iteration (--attempt N picks an attempt)",
        )
    its = sorted({r.iteration for r in refs if r.iteration is not None})
    if iteration is not None and iteration not in its:
        hint = f"its iterations in this run: {_spans(its)}"
        if run is not None and run.trigger == "retry" and run.parent_run_id and iteration < its[0]:
            hint = (
                f"this retry went on from iteration {its[0]}; the ones before ran in run {run.parent_run_id}: "
                f"dagctl logs {short_run_id(run.parent_run_id)} {unit} --iteration {iteration}"
            )
        raise StateError(f"task '{unit}' ran no iteration {iteration} in run {run_id}", hint=hint)
    wanted = iteration if iteration is not None else refs[-1].iteration
    chosen = [r for r in refs if r.iteration == wanted]
    if attempt is None:
        return chosen[-1]
    match = next((r for r in chosen if r.attempt == attempt), None)
    if match is None:
        where = f" in iteration {wanted}" if wanted is not None else ""
        raise StateError(
            f"task '{unit}' has no attempt {attempt}{where} in run {run_id}",
            hint=f"its attempts{where}: {_spans(sorted(r.attempt for r in chosen))}",
        )
    return match


def _spans(numbers: list[int]) -> str:
    """``1-3, 5`` for ``[1, 2, 3, 5]``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _which(ref: AttemptLog | None, status: str | None = None) -> str:
    """A log header's words for an attempt: ``iteration 3, attempt 1, failed``; only the status without one."""
    words = [f"iteration {ref.iteration}"] if ref is not None and ref.iteration is not None else []
    words += [f"attempt {ref.attempt}"] if ref is not None else []
    return ", ".join([*words, *([status] if status else [])])


def _wanted(ref: AttemptLog, iteration: int | None, attempt: int | None) -> bool:
    return (iteration is None or ref.iteration == iteration) and (attempt is None or ref.attempt == attempt)


def _plain_log_name(unit: str, attempt: int) -> str:
    from dagctl.store.layout import log_name

    return log_name(unit, attempt)


def _last_log(run_dir: Path, t: TaskSummary) -> Path | None:
    """The log file ``show`` names for a task, if it is there."""
    path = run_dir / PurePath(t.log_path).name if t.log_path else None
    return path if path is not None and path.exists() else None


def _may_start(history: History, s: RunSummary, unit: str) -> bool:
    """Can ``unit`` still start in the run: is it live and its DAG's task (or a cell of its matrix task)?"""
    from dagctl.dag.matrix import split_cell_id

    if s.finished:
        return False
    graph = _graph_of_run(history, s.run_id)
    return graph is not None and split_cell_id(unit)[0] in graph.order


# --------------------------------------------------------------------------------------------- no log


def cells_of(s: RunSummary, task_id: str) -> list[TaskSummary]:
    """A matrix task's cells in the run, in order, with their values (none for any other task)."""
    cells = [t for t in s.tasks.values() if t.parent == task_id]
    return sorted(with_cell_values(cells, s.tasks.get(task_id)), key=lambda c: c.cell_index or 0)


def task_kind(data: Any, task_id: str) -> str | None:
    """What kind of task ``task_id`` (or the matrix task of a cell) is in a DAG file's YAML data: ``run`` (shell),
    ``python``, ``workflow_ref``, ``dag`` or ``approval``; None when the data does not say."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    for item in tasks if isinstance(tasks, list) else ():
        if isinstance(item, dict) and item.get("id") in (task_id, task_id.rsplit(":", 1)[0]):
            return next((k for k in ("run", "python", "workflow_ref", "dag", "approval") if k in item), None)
    return None


def reused(t: TaskSummary) -> bool:
    """Was the task (or cell) not run in its run, its outputs taken from an earlier run (``retry``, ``run --only``,
    ``--from``: a ``task_skip`` with status success)?"""
    return t.status == "success" and t.started is None and not t.attempts and not t.cached and not t.approval


def why_no_log(t: TaskSummary, cells: list[TaskSummary], kind: str | None, origin: str | None = None) -> str:
    """Why a task of a run has no log file, from what the run recorded. ``cells``: a matrix task's cells;
    ``kind``: the task's kind in the run's DAG (:func:`task_kind`), None when unknown; ``origin``: for a task
    whose outputs were reused, the run that ran it (None: unknown)."""
    if cells or t.cells:
        listed = "; ".join(cell_label(c) + (", reused" if reused(c) else "") for c in cells)
        return "it is a matrix task; each of its cells has a log of its own" + (f" ({listed})" if listed else "")
    if t.child_run_id:
        return f"it ran as sub-DAG run {t.child_run_id}, whose tasks have the logs"
    if t.approval or kind == "approval":
        return "it is an approval gate, which runs nothing and writes no log"
    if t.cached:
        return "its outputs came from the task cache, whose entry kept no log"
    if reused(t):
        where = f"run {origin}" if origin else "an earlier run"
        return f"it was not run in this run: its outputs were reused from {where}"
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
    if s.executor not in (None, "threads", "inline") and t.status in ("running", "retrying"):
        return (
            f"it runs on a {s.executor} worker, which sends its log back when the attempt ends "
            f"(dagctl logs {short_run_id(s.run_id)} {t.task_id} --follow prints it then)"
        )
    if s.executor == "celery" and s.status == "abandoned" and t.started is not None:
        return (
            f"it ran on a celery worker, and this run's coordinator died before the worker could send its log back: "
            f"the worker keeps it for 7 days at <DAGCTL_WORKER_DIR>/runs/{s.run_id}/ (its own log names the path)"
        )
    cells = cells_of(s, t.task_id)
    if reused(t):
        return why_no_log(t, cells, None, origin_of(history, s, t.task_id))
    simple = cells or t.cells or t.child_run_id or t.approval or t.cached or t.started is None
    return why_no_log(t, cells, None if simple else task_kind(_snapshot_of_run(history, s.run_id), t.task_id))


PYTHON_NO_LOG = "a Python task's log file is made when it first prints or logs"


def _wrote_nothing(history: History, s: RunSummary, t: TaskSummary) -> bool:
    """A Python task that ran here and printed nothing: its log file was never made (nothing is wrong)."""
    if t.started is None or reused(t) or t.cached or t.child_run_id or t.approval or t.cells or cells_of(s, t.task_id):
        return False
    if s.executor not in (None, "threads", "inline"):
        return False
    return task_kind(_snapshot_of_run(history, s.run_id), t.task_id) == "python"


def _no_log(history: History, s: RunSummary, t: TaskSummary, ref: AttemptLog | None) -> Exception:
    """The error of ``dagctl logs RUN TASK`` for a task without a log: why, and where to look instead."""
    from dagctl.errors import StateError

    tid, run_id = t.task_id, s.run_id
    if reused(t):
        origin = origin_of(history, s, tid)
        return StateError(
            f"task '{tid}' was not run in run {run_id}: its outputs were reused from "
            + (f"run {origin}" if origin else "an earlier run, whose folder is gone"),
            hint=f"dagctl logs {short_run_id(origin)} {tid}" if origin else None,
        )
    cells = cells_of(s, tid)
    ran = [c for c in cells if not reused(c)]
    hint = f"dagctl logs {t.child_run_id}" if t.child_run_id else None
    if ran:
        hint = f"ask for a cell's log: dagctl logs {short_run_id(run_id)} {ran[0].task_id}"
    elif cells:
        first = cells[0].task_id
        origin = origin_of(history, s, first)
        if origin:
            hint = f"its cells' outputs were reused from run {origin}: dagctl logs {short_run_id(origin)} {first}"
    which = f" attempt {ref.attempt}" if ref is not None else ""
    which = f" iteration {ref.iteration}{which}" if ref is not None and ref.iteration is not None else which
    return StateError(f"no log for task '{tid}'{which} in run {run_id}: {_why_no_log(history, s, t)}", hint=hint)


def origin_of(history: History, s: RunSummary, unit: str) -> str | None:
    """The run in which a task or cell that run ``s`` reused (:func:`reused`) ran, and wrote its log: through
    the runs it was reused from (a retry's parent; the earlier child run of a retried parent's ``dag:`` task;
    else the newest earlier run of the DAG in which it succeeded, as ``run --only`` / ``--from`` take it). None
    when none is found (pruned)."""
    from dagctl.errors import DagctlError

    seen = {s.run_id}
    current = s
    while True:
        earlier = _reused_from(history, current, unit)
        if earlier is None or earlier in seen:
            return None
        seen.add(earlier)
        try:
            current = history.summary(earlier, detect_abandoned=False)
        except DagctlError:
            return None
        t = current.tasks.get(unit)
        if t is None or not reused(t):
            return earlier if t is not None else None


def _reused_from(history: History, s: RunSummary, unit: str) -> str | None:
    """The run ``s`` took ``unit``'s outputs from (which may have reused them in turn)."""
    from dagctl.errors import DagctlError

    try:
        if s.trigger == "retry" and s.parent_run_id and not s.parent_task:
            return s.parent_run_id
        if s.parent_task and s.parent_run_id:  # a child run: its parent's retry reused the child run before
            parent = history.summary(s.parent_run_id, detect_abandoned=False)
            if parent.trigger == "retry" and parent.parent_run_id:
                before = history.summary(parent.parent_run_id, detect_abandoned=False).tasks.get(s.parent_task)
                if before is not None and before.child_run_id and before.child_run_id != s.run_id:
                    return before.child_run_id
    except DagctlError:
        return None
    for run_id in history.run_ids():  # newest first: the newest earlier run of the DAG in which it succeeded
        if run_id >= s.run_id:
            continue
        try:
            other = history.summary(run_id, detect_abandoned=False)
        except DagctlError:
            continue
        t = other.tasks.get(unit)
        if other.dag_name == s.dag_name and t is not None and t.status == "success":
            return run_id
    return None


def _copy(path: Path) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(65536):
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------- --follow


def _follow(history: History, run_id: str, unit: str | None, *, iteration: int | None, attempt: int | None) -> None:
    """Stream new log lines (one task or cell) or state changes (whole run) until the run has ended. A task's
    log is followed from attempt to attempt and, for a loop, from iteration to iteration (only those asked
    for, with ``--attempt`` / ``--iteration``): each time one begins, what is left of the one before is
    printed, then the new one from its start (a line on stderr names it)."""
    from dagctl.store.events import parse_event
    from dagctl.store.jsonl import iter_with_offsets
    from dagctl.store.layout import events_file
    from dagctl.store.tasklogs import attempt_log, unit_of

    from .plain import describe, local_time

    run_dir = history.run_dir(run_id)
    tick = threading.Event()
    events_offset = 0
    log: Path | None = None
    log_offset = 0
    caught_up = False  # the first read of the events only finds where the run is: the latest attempt
    while True:
        ended = False
        for _, end, record in iter_with_offsets(events_file(run_dir), events_offset):
            events_offset = end
            if record.get("event") == "dag_done":
                ended = True
            if unit is None:
                line = describe(parse_event(record))  # type: ignore[arg-type]
                if line:
                    echo(f"{local_time(record['ts'])} {line}")
                continue
            ref = attempt_log(record, unit) if record.get("event") == "task_start" and unit_of(record) == unit else None
            if ref is None or not _wanted(ref, iteration, attempt):
                continue
            if run_dir / ref.name != log:
                if log is not None and caught_up:
                    log_offset += _copy_from(log, log_offset)  # the end of the one before, then the new one
                log, log_offset = run_dir / ref.name, 0
                if caught_up:
                    echo_err(f"dagctl: {unit} {_which(ref)}: {log}")
        caught_up = True
        if log is not None:
            log_offset += _copy_from(log, log_offset)
        if ended:
            s = history.summary(run_id, detect_abandoned=False)
            if unit is not None and log is None:
                echo_err(f"dagctl: task '{unit}' did not start in run {run_id}")
            echo_err(f"dagctl: run {run_id} {s.status}")
            return
        if history.summary(run_id).status == "abandoned":
            echo_err(f"dagctl: run {run_id} abandoned (its process died)")
            return
        if _reader_gone():
            return  # as a broken pipe: nothing more to say, exit 0
        tick.wait(0.2)


def _copy_from(path: Path, offset: int) -> int:
    """Copy what ``path`` has after ``offset`` to stdout; how many bytes (0 while it is not there)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return 0
    if data:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return len(data)


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
