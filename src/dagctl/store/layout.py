"""The one place that knows what is where inside a run folder (``logs/runs/<run_id>/``).

Writers (the runner, executors, workers) and readers (history, ``logs``, ``show``, ``retry``, prune) build
every path in a run folder with these functions, so the layout can change in one place::

    logs/runs/<run_id>/
        events.jsonl            the run's own copy of its events
        .space-reserve          room set aside for the run's last lines if the disk fills (gone once it ended)
        .alive                  the run's heartbeat: a write to it is a sign of life of the run's process
        .event-log-pending      lines of this run's events file the global event log still lacks (see history)
        dag.yaml                the DAG file as executed
        run.json                run id, DAG, params, trigger
        cancel.json             written by ``dagctl cancel``; the runner polls for it
        pause.json              written by ``dagctl pause``; the runner polls for it
        approvals/<task>.jsonl  the decisions of ``dagctl approve`` / ``reject`` on an approval gate
        <task>.log              first attempt's log; <task>@<n>.log for attempt n
        <task>~<i>.log          a loop's (``repeat:``) iteration i > 1; <task>~<i>@<n>.log for its attempt n
        outputs/<task>.json     outputs of a succeeded task
        outputs/<task>@<n>.out  ``$DAGCTL_OUTPUT`` of a shell attempt
        attempts/<task>@<n>.json, .result.json   an isolated Python attempt's request and result

Only real folders are runs: a symbolic link (or a file) named like a run is never followed nor counted
(:func:`scan_runs` names them apart, so ``prune`` can say it left them alone).

Paths that the hot path builds once per attempt are returned as ``str`` (cheaper than :class:`Path`).
``@`` and ``~`` never appear in a task id, so ``<task>@<n>`` and ``<task>~<i>`` are unambiguous. A matrix cell's
files are named by its cell id (``train:3.log``) in place of the task.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RUN_ID_RE = re.compile(r"^\d{8}-\d{6}\.\d{3}-[0-9a-f]{6}$")
"""What the name of a run folder looks like: ``20261121-194512.123-a1b2c3`` (its start time, then random)."""
RUN_EVENTS = "events.jsonl"
CANCEL_REQUEST = "cancel.json"
SNAPSHOT = "dag.yaml"
RUN_META = "run.json"
OUTPUTS = "outputs"
RESUME_LOCK = ".resume.lock"
"""In a run's folder: held (``flock``) by the process that goes on with the run, while it does."""
ATTEMPTS = "attempts"
PAUSE_REQUEST = "pause.json"
APPROVALS = "approvals"
SPACE_RESERVE = ".space-reserve"
ALIVE = ".alive"
EVENT_LOG_PENDING = ".event-log-pending"
PRUNING_PREFIX = ".pruning-"
"""A run folder that ``prune`` moved aside to delete it: ``.pruning-<token>-<run id>``; no reader lists it."""


def run_dir(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / run_id


def events_file(run: Path) -> Path:
    return run / RUN_EVENTS


def snapshot_file(run: Path) -> Path:
    return run / SNAPSHOT


def meta_file(run: Path) -> Path:
    return run / RUN_META


def reserve_file(run: Path) -> Path:
    """Room set aside on the run folder's disk for its last lines (:class:`dagctl.store.sinks.JsonlSink`)."""
    return run / SPACE_RESERVE


def alive_file(run: Path) -> Path:
    """Its modification time is when the run's process was last seen alive (a sign of life besides its events)."""
    return run / ALIVE


def event_log_pending_file(run: Path) -> Path:
    """Which lines of the run's events file still have to be copied to the global event log: written before the
    lines that record the end of a dead (or paused) run, removed once the global log has them too."""
    return run / EVENT_LOG_PENDING


def cancel_file(run: Path) -> Path:
    return run / CANCEL_REQUEST


def pause_file(run: Path) -> Path:
    return run / PAUSE_REQUEST


def approvals_file(run: Path, task_id: str) -> Path:
    return run / APPROVALS / f"{task_id}.jsonl"


def outputs_dir(run: Path) -> Path:
    return run / OUTPUTS


def output_file(run: Path, task_id: str) -> Path:
    """The outputs of a succeeded task, as JSON."""
    return run / OUTPUTS / f"{task_id}.json"


def attempt_stem(task_id: str, attempt: int) -> str:
    return f"{task_id}@{attempt}"


def log_name(task_id: str, attempt: int) -> str:
    """``<task>.log`` for the first attempt, ``<task>@<n>.log`` after."""
    return f"{task_id}.log" if attempt == 1 else f"{task_id}@{attempt}.log"


def iteration_stem(unit: str, iteration: int | None) -> str:
    """What names the files of a loop's (``repeat:``) iteration: the task or cell itself for the first (and for a
    task that is no loop: ``iteration`` None), ``<unit>~<i>`` for iteration i after it."""
    return unit if iteration is None or iteration <= 1 else f"{unit}~{iteration}"


def iteration_log_name(unit: str, iteration: int | None, attempt: int) -> str:
    """The log of ``attempt`` of a loop's ``iteration`` (attempts count afresh in each): ``fit.log``, ``fit@2.log``,
    ``fit~3.log``, ``fit~3@2.log``; for ``iteration`` None (no loop), :func:`log_name`'s."""
    return log_name(iteration_stem(unit, iteration), attempt)


def log_path(run: str | Path, task_id: str, attempt: int) -> str:
    return f"{run}/{log_name(task_id, attempt)}"


def shell_output_path(run: str | Path, task_id: str, attempt: int) -> str:
    """``$DAGCTL_OUTPUT`` of a shell attempt."""
    return f"{run}/{OUTPUTS}/{task_id}@{attempt}.out"


def attempt_files(run: Path, task_id: str, attempt: int) -> tuple[Path, Path]:
    """An isolated Python attempt: the request the child reads and the result it writes."""
    stem = attempt_stem(task_id, attempt)
    return run / ATTEMPTS / f"{stem}.json", run / ATTEMPTS / f"{stem}.result.json"


class RunListing:
    """What :func:`scan_runs` found (a plain class: ``typing`` stays out of ``dagctl run``'s imports)."""

    __slots__ = ("ids", "pruning", "strays")

    def __init__(self, ids: list[str], strays: list[str], pruning: list[str]) -> None:
        self.ids = ids
        """The run folders, newest first."""
        self.strays = strays
        """Names that look like runs but are no folders (a symbolic link, a file): never followed nor counted."""
        self.pruning = pruning
        """Names of run folders a prune moved aside (:data:`PRUNING_PREFIX`) and did not delete."""


def scan_runs(runs_dir: Path) -> RunListing:
    """The run folders of ``runs_dir``, the strays among its run-like names, and what prunes moved aside. One
    directory read: whether an entry is a folder (and not a link to one) comes with it on the usual file systems.
    Raises OSError when the folder cannot be read (FileNotFoundError when there is none)."""
    ids: list[str] = []
    strays: list[str] = []
    pruning: list[str] = []
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            name = entry.name
            if RUN_ID_RE.match(name):
                try:
                    real = entry.is_dir(follow_symlinks=False)
                except OSError:  # gone meanwhile
                    continue
                (ids if real else strays).append(name)
            elif name.startswith(PRUNING_PREFIX):
                pruning.append(name)
    ids.sort(reverse=True)
    strays.sort(reverse=True)
    pruning.sort()
    return RunListing(ids, strays, pruning)


def run_ids(runs_dir: Path) -> list[str]:
    """The ids of the run folders in ``runs_dir``, newest first: a directory listing, no file opened."""
    try:
        return scan_runs(runs_dir).ids
    except (FileNotFoundError, NotADirectoryError):
        return []
