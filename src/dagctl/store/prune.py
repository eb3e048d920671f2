"""Forgetting old runs: delete their folders and compact the event log, all or nothing.

The decision is pure (:func:`choose_runs`); the rest is IO at the edge, under the logs folder's prune lock
(:data:`PRUNE_LOCK`: one prune at a time), in an order that never leaves half a prune behind:

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

A prune that was killed on the way (SIGKILL, a power cut) leaves moved-aside folders: they were chosen for
removal, so the next prune finishes the job, dropping their lines with its own and deleting them
(``leftovers_removed``). Nothing else is guessed at: a symbolic link named like a run is never followed nor
counted, and a run folder whose events file is no regular file (a directory, FIFO or device: dagctl never makes
one) is never read; both are left alone and named (``skipped``), and no read ever blocks.

The scheduler's state log is left alone: its records are the memory of which slots already ran.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dagctl.errors import DagctlError, EnvironmentProblem, cannot

from . import layout
from .history import RUN_ID_RE, History, started_at
from .jsonl import file_identity, open_for_reading, rewrite_atomic, scan_records
from .layout import events_file

log = logging.getLogger(__name__)

PRUNE_LOCK = "prune.lock"
"""In the logs folder: held (``flock``) by ``dagctl prune`` (and the scheduler's retention pass) while it prunes."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    dag_name: str
    state: str = "finished"
    """``finished`` (success, failed, cancelled, abandoned), ``running`` (or waiting: its process lives),
    ``paused`` (kept for ``dagctl resume``) or ``unreadable`` (its events file is no regular file: never read,
    never removed)."""
    parent: str | None = None
    """A sub-DAG's run: the run of its ``dag:`` task, which it lives and dies with."""
    problem: str = ""
    """Why an ``unreadable`` run folder is left alone."""

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
    leftovers_removed: list[str] = field(default_factory=list)
    """Folders an earlier prune moved aside and did not delete (it was killed, or could not), deleted by this one
    (with ``dry_run``: that would be)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(name, why)`` of what looks like an old run but is left alone: a symbolic link (or a file) named like a
    run, a run folder whose events file is no regular file."""


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


_HEAD_BYTES = 1 << 20
"""The most of a first line (``dag_start``) read directly; a longer one (huge params) is read by folding the run."""


def _info(history: History, run_id: str) -> RunInfo:
    """What prune needs of a run, from its first line and its last: the last line is ``dag_done`` once it ended
    (a pause writes one too, and a resume goes on after it, so an earlier ``dag_done`` says nothing). Two bounded
    reads of a regular file: a FIFO or device where the events file should be is never opened for reading."""
    history.complete_event_log(run_id)  # an end of the run its events file has and the event log lacks: added
    path = events_file(history.run_dir(run_id))
    try:
        fd = open_for_reading(path)
    except FileNotFoundError:
        return RunInfo(run_id, "")  # no events: an exec-task's folder, or a damaged one: old enough is old enough
    except DagctlError as exc:  # a directory, FIFO or device: not a folder dagctl made, so not one it removes
        why = f"{exc.message}; it is neither read nor removed: repair it, or remove it by hand"
        return RunInfo(run_id, "", "unreadable", problem=why)
    try:
        with open(fd, "rb") as fh:
            first = fh.readline(_HEAD_BYTES)
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - 4096))
            tail = fh.read()
    except OSError:
        return RunInfo(run_id, "")
    try:
        start = json.loads(first) if first.strip() else {}
    except ValueError:
        if len(first) < _HEAD_BYTES:
            return RunInfo(run_id, "")  # a damaged folder: old enough is old enough
        start = _start_of(history, run_id)
    if not isinstance(start, dict):
        return RunInfo(run_id, "")
    last = _last_record(tail)
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


def _start_of(history: History, run_id: str) -> dict[str, object]:
    """The DAG and parent of a run whose first line is too long to read whole (the slow way: fold the run)."""
    try:
        summary = history.summary(run_id, detect_abandoned=False)
    except (DagctlError, OSError):
        return {}
    return {"dag_name": summary.dag_name, "parent_run_id": summary.parent_run_id, "parent_task": summary.parent_task}


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
    stay, and a sub-DAG's run stays as long as its parent does. Folders an interrupted prune moved aside are
    deleted too; symbolic links and unreadable run folders are left alone and named.

    Raises :class:`~dagctl.errors.EnvironmentProblem` (exit 3) when another prune holds the runs folder, when
    the folders cannot be moved aside or the event log cannot be compacted; then nothing was removed."""
    with _prune_lock(history, dry_run):
        return _prune(history, older_than=older_than, keep_last=keep_last, dry_run=dry_run)


def _prune(history: History, *, older_than: timedelta, keep_last: int, dry_run: bool) -> PruneReport:
    now = history.clock.now()
    cutoff = now - older_than
    listing = history.listing()
    infos = [_info(history, rid) for rid in listing.ids]
    report = PruneReport()
    report.removed = choose_runs(infos, now=now, older_than=older_than, keep_last=keep_last)
    old = [i for i in infos if started_at(i.run_id) < cutoff]
    report.kept_running = [i.run_id for i in old if i.state == "running"]
    report.kept_paused = [i.run_id for i in old if i.state == "paused"]
    report.skipped = [(name, STRAY) for name in listing.strays if started_at(name) < cutoff]
    report.skipped += [(i.run_id, i.problem) for i in old if i.state == "unreadable"]
    leftovers = [history.runs_dir / name for name in listing.pruning]
    report.leftovers_removed = [str(path) for path in leftovers]
    for run_id in report.removed:
        report.bytes_freed += _size(history.run_dir(run_id))
    report.bytes_freed += sum(_size(path) for path in leftovers)
    gone = set(report.removed) | {rid for rid in map(_leftover_run, listing.pruning) if rid}  # their lines go too
    path = history.settings.events_path
    orphan = _orphans(history, cutoff)
    if dry_run:
        report.events_dropped, report.bad_lines_dropped = _compact(path, gone, orphan, write=False)
        return report
    moved = _move_aside(history, report.removed)
    try:
        report.events_dropped, report.bad_lines_dropped = _compact(path, gone, orphan)
    except BaseException as exc:
        _move_back(moved)
        raise _compaction_failed(path, exc) from exc
    for aside in [*moved.values(), *leftovers]:
        try:
            _delete(aside)
        except OSError as exc:
            log.warning("cannot delete %s: %s", aside, exc.strerror or exc)
            report.left_behind.append(str(aside))
    report.leftovers_removed = [str(p) for p in leftovers if str(p) not in report.left_behind]
    return report


STRAY = "a symbolic link (or a file) named like a run, not a run folder: never followed; remove it by hand if unwanted"


def _leftover_run(name: str) -> str | None:
    """The run id of a moved-aside folder ``.pruning-<token>-<run id>``."""
    run_id = name[-len("20261121-194512.123-a1b2c3") :]  # the name ends with it (see _move_aside)
    return run_id if RUN_ID_RE.match(run_id) else None


@contextlib.contextmanager
def _prune_lock(history: History, dry_run: bool) -> Iterator[None]:
    """One prune at a time in a runs folder: another one's moved-aside folders are not leftovers, and its
    compaction must not race ours. A dry run only reads, and takes no lock."""
    if dry_run or not history.runs_dir.is_dir():
        yield
        return
    from filelock import FileLock, Timeout

    lock_path = history.settings.logs_dir / PRUNE_LOCK
    lock = FileLock(str(lock_path), timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise EnvironmentProblem(
            f"another prune is removing runs from {history.runs_dir} now (it holds {lock_path})",
            hint="let it finish (a dagctl prune, or a scheduler's retention pass), then prune again",
        ) from None
    except OSError as exc:
        raise cannot("write", lock_path, exc) from None
    try:
        yield
    finally:
        lock.release()


def _delete(path: Path) -> None:
    """Delete a moved-aside run folder; a symbolic link (a stray an older prune moved) is unlinked, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


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
        aside = folder.with_name(f"{layout.PRUNING_PREFIX}{token}-{run_id}")
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
    """The bytes of the regular files under ``folder``; symbolic links are not followed (their target is not the
    run's, and is not deleted with it)."""
    if folder.is_symlink():
        return 0
    total = 0
    for root, _dirs, files in os.walk(folder):  # never enters a link to a folder
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                if stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total
