"""Forgetting old runs: delete their folders and compact the event log, all or nothing.

The decision is pure (:func:`choose_runs`); the rest is IO at the edge, in an order that never leaves
half a prune behind:

1. the chosen run folders are *moved aside* (renamed to ``runs/.pruning-<token>-<run id>``, which no reader
   lists); a failure moves back the ones already moved;
2. the event log is compacted with :func:`dagctl.store.jsonl.rewrite_atomic`, dropping those runs' lines (and
   those of runs older than the cutoff whose folder is already gone), and the lines that are not JSON
   (counted: ``bad_lines_dropped``); it copies whatever other dagctl processes appended while we were
   reading, so pruning is safe next to running DAGs and schedulers. If the
   compaction fails (an append-only log, ``chattr +a``; a full disk), the folders are moved back and the
   error is raised: nothing was removed;
3. only then are the moved folders deleted. A folder that cannot be deleted stays under its hidden name,
   listed in ``left_behind``; its runs are already gone from every view.

The scheduler's state log is left alone: its records are the memory of which slots already ran.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dagctl.errors import DagctlError, EnvironmentProblem, cannot

from .history import RUN_ID_RE, History, started_at
from .jsonl import file_identity, rewrite_atomic, scan_records
from .layout import events_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    dag_name: str
    state: str = "finished"
    """``finished`` (success, failed, cancelled, abandoned), ``running`` (or waiting: its process lives) or
    ``paused`` (kept for ``dagctl resume``)."""
    parent: str | None = None
    """A sub-DAG's run: the run of its ``dag:`` task, which it lives and dies with."""

    @property
    def finished(self) -> bool:
        return self.state == "finished"


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    kept_paused: list[str] = field(default_factory=list)
    """Paused runs old enough to go, kept because ``dagctl resume`` would go on with them (cancel one to let it go)."""
    bytes_freed: int = 0
    events_dropped: int = 0
    """Lines of the removed runs dropped from the event log (with ``dry_run``: that would be)."""
    bad_lines_dropped: int = 0
    """Lines of the event log that are not JSON objects (torn or damaged), dropped by the compaction."""
    left_behind: list[str] = field(default_factory=list)
    """Moved-aside folders of removed runs that could not be deleted (remove them by hand)."""


def choose_runs(runs: Sequence[RunInfo], *, now: datetime, older_than: timedelta, keep_last: int = 0) -> list[str]:
    """Run ids to remove: started before ``now - older_than``, finished, and not among the newest
    ``keep_last`` runs of their DAG. A folder of no DAG (no events: a ``dagctl exec-task``'s, or a damaged one) is
    no DAG's run to keep. ``runs`` may come in any order.

    A sub-DAG's run goes with the run of its ``dag:`` task, whatever its own age, and does not count among its
    DAG's ``keep_last``: removing it alone left a kept parent pointing at a run that is gone (``show``, ``logs``,
    and ``retry``, which reuses what the child finished). One whose parent's folder is gone is a run of its own."""
    cutoff = now - older_than
    known = {run.run_id: run for run in runs}
    root_of = {run.run_id: _root(run, known) for run in runs}
    unfinished = {root_of[run.run_id] for run in runs if not run.finished}  # a family with a live run stays
    newest_first = sorted(runs, key=lambda r: r.run_id, reverse=True)
    seen: dict[str, int] = {}
    chosen: set[str] = set()
    for run in newest_first:
        if root_of[run.run_id] != run.run_id:
            continue
        rank = seen.get(run.dag_name, 0) if run.dag_name else keep_last
        seen[run.dag_name] = rank + 1
        if rank < keep_last or run.run_id in unfinished:
            continue
        if started_at(run.run_id) < cutoff:
            chosen.add(run.run_id)
    return [run.run_id for run in newest_first if root_of[run.run_id] in chosen]


def _root(run: RunInfo, known: dict[str, RunInfo]) -> str:
    """The id of the top-level run ``run`` belongs to (its own, unless a sub-DAG's run whose parent is there)."""
    seen = {run.run_id}
    while run.parent is not None and run.parent in known and run.parent not in seen:
        run = known[run.parent]
        seen.add(run.run_id)
    return run.run_id


def _info(history: History, run_id: str) -> RunInfo:
    """What prune needs of a run, from its first line and its last: the last line is ``dag_done`` once it ended
    (a pause writes one too, and a resume goes on after it, so an earlier ``dag_done`` says nothing)."""
    path = events_file(history.run_dir(run_id))
    try:
        with path.open("rb") as fh:
            first = fh.readline()
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = fh.read()
        start = json.loads(first) if first.strip() else {}
        last = _last_record(tail)
    except (OSError, ValueError):
        return RunInfo(run_id, "")  # a damaged folder: old enough is old enough
    if not isinstance(start, dict):
        return RunInfo(run_id, "")
    dag = str(start.get("dag_name") or "")
    parent = start.get("parent_run_id") if start.get("parent_task") else None
    parent = parent if isinstance(parent, str) else None
    if last is not None and last.get("event") == "dag_done":
        status = last.get("status")
    else:  # still going, or its process died: the history says which (and records the death once)
        try:
            status = history.summary(run_id).status
        except (DagctlError, OSError):
            status = "failed"
    state = "paused" if status == "paused" else "running" if status in ("running", "waiting") else "finished"
    return RunInfo(run_id, dag, state, parent)


def _last_record(tail: bytes) -> dict[str, object] | None:
    for line in reversed(tail.splitlines()):
        if line.strip():
            try:
                found = json.loads(line)
            except ValueError:  # a torn last line: the run was cut off while writing it
                return None
            return found if isinstance(found, dict) else None
    return None


def prune(history: History, *, older_than: timedelta, keep_last: int = 0, dry_run: bool = False) -> PruneReport:
    """Remove finished runs older than ``older_than`` (keeping the newest ``keep_last`` per DAG): their folders
    and their lines in the event log, together or not at all (see the module docstring). Running and paused runs
    stay, and a sub-DAG's run stays as long as its parent does.

    Raises :class:`~dagctl.errors.EnvironmentProblem` (exit 3) when the folders cannot be moved aside or the
    event log cannot be compacted; then nothing was removed."""
    now = history.clock.now()
    infos = [_info(history, rid) for rid in history.run_ids()]
    report = PruneReport()
    report.removed = choose_runs(infos, now=now, older_than=older_than, keep_last=keep_last)
    cutoff = now - older_than
    old = [i for i in infos if started_at(i.run_id) < cutoff]
    report.kept_running = [i.run_id for i in old if i.state == "running"]
    report.kept_paused = [i.run_id for i in old if i.state == "paused"]
    for run_id in report.removed:
        report.bytes_freed += _size(history.run_dir(run_id))
    path = history.settings.events_path
    orphan = _orphans(history, cutoff)
    if dry_run:
        report.events_dropped, report.bad_lines_dropped = _compact(path, set(report.removed), orphan, write=False)
        return report
    moved = _move_aside(history, report.removed)
    try:
        report.events_dropped, report.bad_lines_dropped = _compact(path, set(report.removed), orphan)
    except BaseException as exc:
        _move_back(moved)
        raise _compaction_failed(path, exc) from exc
    for aside in moved.values():
        try:
            shutil.rmtree(aside)
        except OSError as exc:
            log.warning("cannot delete %s: %s", aside, exc.strerror or exc)
            report.left_behind.append(str(aside))
    return report


def _compaction_failed(path: Path, exc: BaseException) -> BaseException:
    if isinstance(exc, OSError):
        problem = cannot("compact the event log", path, exc)
        problem.message += "; nothing was removed"
        return problem
    if isinstance(exc, DagctlError):
        return EnvironmentProblem(
            f"cannot compact the event log {path}: {exc.message}; nothing was removed",
            hint=exc.hint or "is it append-only (lsattr)? make it writable, or prune later",
        )
    return exc


def _move_aside(history: History, run_ids: list[str]) -> dict[Path, Path]:
    """Rename each run folder to a hidden name in the same folder; {original: moved}. All or none."""
    token = secrets.token_hex(3)
    moved: dict[Path, Path] = {}
    for run_id in run_ids:
        folder = history.run_dir(run_id)
        aside = folder.with_name(f".pruning-{token}-{run_id}")
        try:
            os.rename(folder, aside)
        except FileNotFoundError:
            continue  # removed meanwhile (another prune): nothing to do for it
        except OSError as exc:
            _move_back(moved)
            raise EnvironmentProblem(
                f"cannot move {folder} aside to remove it: {exc.strerror or exc}; nothing was removed",
                hint="check the permissions of the runs folder (DAGCTL_LOGS_DIR/runs)",
            ) from exc
        moved[folder] = aside
    return moved


def _move_back(moved: dict[Path, Path]) -> None:
    for folder, aside in moved.items():
        try:
            os.rename(aside, folder)
        except OSError as exc:  # only if the folder is gone from under us too: say where the run is
            log.error("cannot move %s back to %s: %s", aside, folder, exc.strerror or exc)


def _orphans(history: History, cutoff: datetime) -> Callable[[object], bool]:
    """Is ``run_id`` a run started before ``cutoff`` whose folder is gone (deleted by hand, or by a prune of an
    older dagctl that failed to compact)? Its lines are dropped with the removed runs'."""
    seen: dict[str, bool] = {}

    def orphan(run_id: object) -> bool:
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
            return False
        if run_id not in seen:
            seen[run_id] = started_at(run_id) < cutoff and not history.run_dir(run_id).exists()
        return seen[run_id]

    return orphan


def _compact(path: Path, removed: set[str], orphan: Callable[[object], bool], *, write: bool = True) -> tuple[int, int]:
    """Drop the lines of ``removed`` (and orphaned) runs and the unparseable lines; ``(run lines, bad lines)``."""
    identity = file_identity(path)
    if identity is None:
        return 0, 0
    kept, dropped, bad, end = [], 0, 0, 0
    for _, end_offset, record in scan_records(path):
        end = end_offset
        if record is None:
            bad += 1
        elif record.get("run_id") in removed or orphan(record.get("run_id")):
            dropped += 1
        else:
            kept.append(record)
    if write and (dropped or bad):
        rewrite_atomic(path, kept, keep_tail_from=end, expected_identity=identity)
    return dropped, bad


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
