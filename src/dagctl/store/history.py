"""Run history on disk: find runs, read one run cheaply, detect dead owners, ask a run to stop.

Every run has a folder ``logs/runs/<run_id>/`` holding its own ``events.jsonl`` (a copy of the run's
lines of the global event log), so reading one run never scans the whole history, and run ids sort by
start time, so "the newest N runs" is a directory listing. Statuses are a pure fold of a run's events
(:func:`dagctl.store.reports.fold_run`); this module adds the one impure judgement: a run whose owner process
died without writing ``dag_done`` (or, once resumed, without writing another) is recorded as ``abandoned``,
exactly once, under the run's lock.

Readers record what they find when they can, and never fail for want of writing: on a read-only or full disk
a dead run reads as abandoned all the same (the next reader that can write records it). The end of a run that
a reader records goes to the run's events file and then to the global event log; a note in the run's folder
(:func:`~dagctl.store.layout.event_log_pending_file`) keeps the pair whole across a failure in between: the next
reader of the run copies the lines the global log lacks. A run folder that cannot be read (its events file a
directory, a FIFO or a device) is skipped with one warning by the listings, never blocked on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError, EnvironmentProblem, StateError, cannot
from dagctl.host import hostname, process_alive
from dagctl.protocols import Clock
from dagctl.settings import Settings

from . import layout
from .events import KEEPER_GONE, KEEPER_NOTE, SCHEMA_VERSION, format_ts, parse_ts
from .jsonl import JsonlWriter, iter_records, iter_with_offsets, open_for_reading
from .runcatalog import RunCatalog
from .runsummary import LIVE_STATUSES, RunSummary, fold_run

RUN_ID_RE = layout.RUN_ID_RE
FINISHED = frozenset({"success", "failed", "cancelled", "abandoned", "paused"})

log = logging.getLogger(__name__)
_DAMAGED = "skipping the run folder %s: %s — repair it, or move it out of %s"


@dataclass
class History:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @property
    def runs_dir(self) -> Path:
        return self.settings.runs_dir

    # ------------------------------------------------------------------ finding runs
    def run_ids(self) -> list[str]:
        """Every run folder on disk, newest first (a symbolic link named like a run is not one)."""
        return self.listing().ids

    def listing(self) -> layout.RunListing:
        """The runs folder read once (:func:`~dagctl.store.layout.scan_runs`): its run folders, the strays named
        like runs, the folders a prune moved aside."""
        try:
            return layout.scan_runs(self.runs_dir)
        except FileNotFoundError:
            return layout.RunListing([], [], [])
        except OSError as exc:  # a file where the folder should be, no permission, a symlink loop ...
            raise EnvironmentProblem(
                f"cannot read the runs folder {self.runs_dir} (DAGCTL_LOGS_DIR): {exc.strerror or exc}",
                hint="point DAGCTL_LOGS_DIR at a folder dagctl can read (its runs/ holds the runs)",
            ) from None

    def resolve(self, ref: str) -> str:
        """A full run id from ``latest`` (the newest run that has begun and is not a sub-DAG's: not the folder of
        a ``dagctl exec-task``, which records no events), a full id, a unique prefix, or a unique tail (``f97d2f``:
        how tables show run ids when the whole id does not fit)."""
        ids = self.run_ids()
        if not ids:
            raise StateError(f"no runs found in {self.runs_dir}", hint="run a DAG first, or set DAGCTL_LOGS_DIR")
        if ref == "latest":
            return next((i for i in ids if self._is_top_run(i)), ids[0])
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)] or [i for i in ids if ref and i.endswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StateError(
                f"unknown run '{ref}'",
                hint="see `dagctl runs` for run ids (a unique prefix, or the last characters, is enough)",
            )
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise StateError(
            f"run id prefix '{ref}' matches {len(matches)} runs: {shown}", hint="give more characters of the id"
        )

    def run_dir(self, run_id: str) -> Path:
        return layout.run_dir(self.runs_dir, run_id)

    def _is_top_run(self, run_id: str) -> bool:
        """Has this run begun (a first event), and not as a ``dag:`` task's child run (its first event says so)?"""
        try:
            first = next(iter_records(layout.events_file(self.run_dir(run_id))), None)
        except DagctlError:  # a damaged folder (its events file a directory, a FIFO ...): no run to show
            return False
        return first is not None and not first.get("parent_task")

    def events_of(self, run_id: str) -> list[dict[str, Any]]:
        path = layout.events_file(self.run_dir(run_id))
        if path.exists():
            return list(iter_records(path))
        # a folder without its own event file (written by an older dagctl): the slow way, once
        return [r for r in iter_records(self.settings.events_path) if r.get("run_id") == run_id]

    # ------------------------------------------------------------------ reading runs
    def summary(self, run_id: str, *, detect_abandoned: bool = True) -> RunSummary:
        """The run as its events tell it. With ``detect_abandoned`` (a reader that records what it finds) a run
        whose owner died is recorded ``abandoned`` (:meth:`_abandoned`), and lines its events file has that the
        global event log still lacks are copied there. Raises StateError for a folder without events, and
        EnvironmentProblem for one whose events file cannot be read (a directory, FIFO or device)."""
        if detect_abandoned:
            self.complete_event_log(run_id)
        events = self.events_of(run_id)
        if not events:
            raise StateError(
                f"run {run_id} has no recorded events",
                hint=f"if it started a moment ago, look again; if it stays so, its folder {self.run_dir(run_id)} "
                "is incomplete: remove it or run `dagctl prune`",
            )
        summary = fold_run(events)
        if detect_abandoned and summary.status in LIVE_STATUSES and self._owner_dead(summary):
            summary = self._abandoned(run_id, events, summary)
        return summary

    def summaries(
        self,
        *,
        dag: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[RunSummary]:
        """Newest first, filtered. Stops at the first run older than ``since`` (ids sort by start time).

        With ``dag``, ``status`` or ``tenant``, the run catalog (:mod:`~dagctl.store.runcatalog`) rules out the
        runs that cannot match, so only candidates are read; each is still checked against its summary."""
        cutoff = since.strftime("%Y%m%d-%H%M%S") if since else None
        if dag or status or tenant:
            catalog = RunCatalog(self.settings.run_catalog_path, self.runs_dir, self.clock)
            ids = catalog.candidates(dag=dag, tenant=tenant, status=status, since=cutoff or "")
        else:
            ids = self.run_ids()
        found = 0
        for run_id in ids:
            if cutoff and run_id[:15] < cutoff:
                break
            try:
                summary = self.summary(run_id)
            except StateError:
                continue  # a folder without events (being created, or damaged)
            except EnvironmentProblem as exc:  # one damaged folder does not hide every other run
                log.warning(_DAMAGED, self.run_dir(run_id), exc.message, self.runs_dir)
                continue
            if dag and summary.dag_name != dag:
                continue
            if tenant and summary.tenant_id != tenant:
                continue
            if status and summary.status != status:
                continue
            yield summary
            found += 1
            if limit is not None and found >= limit:
                return

    def latest_outputs(self, dag_name: str, task_ids: list[str]) -> dict[str, dict[str, Any]]:
        """For each task, the outputs of its newest successful run of ``dag_name`` (missing ones left out)."""
        wanted = set(task_ids)
        found: dict[str, dict[str, Any]] = {}
        for run_id in self.run_ids():
            if not wanted:
                break
            try:
                summary = self.summary(run_id, detect_abandoned=False)
            except (StateError, EnvironmentProblem):  # no events, or a damaged folder: no outputs to take
                continue
            if summary.dag_name != dag_name:
                continue
            for tid in list(wanted):
                task = summary.tasks.get(tid)
                if task is not None and task.status == "success":
                    found[tid] = self.outputs_of(run_id, tid)
                    wanted.discard(tid)
        return found

    def outputs_of(self, run_id: str, task_id: str) -> dict[str, Any]:
        path = layout.output_file(self.run_dir(run_id), task_id)
        try:
            data = json.loads(_read_file(path))
        except FileNotFoundError:
            return {}
        except EnvironmentProblem as exc:  # a directory, FIFO or device where the file should be
            raise StateError(f"outputs of task '{task_id}' in run {run_id} are unreadable: {exc.message}") from None
        except ValueError as exc:
            raise StateError(
                f"outputs of task '{task_id}' in run {run_id} are unreadable: {exc}", hint=f"check {path}"
            ) from None
        return data if isinstance(data, dict) else {}

    # ------------------------------------------------------------------ dead owners
    def _owner_dead(self, summary: RunSummary) -> bool:
        if not summary.pid or summary.host != hostname():
            return False  # another machine's run: we cannot tell, so we do not guess
        return not process_alive(summary.pid, summary.pid_start)

    def _abandoned(self, run_id: str, events: list[dict[str, Any]], summary: RunSummary) -> RunSummary:
        """The run whose owner died, recorded ``abandoned`` (:meth:`_record_abandoned`). When its folder cannot be
        written (a read-only or full disk), the same records are folded in memory: the reader shows the run as it
        will be recorded, and the next reader that can write records it."""
        try:
            self._record_abandoned(run_id)
        except (DagctlError, OSError) as exc:
            log.info("run %s: its process died; cannot record it abandoned now: %s", run_id, exc)
            path = layout.events_file(self.run_dir(run_id))
            records = abandonment(
                summary, last_seen=_last_seen(path, summary), now=self.clock.now(), keeper_gone=keeper_gone(events)
            )
            return fold_run([*events, *records])
        return fold_run(self.events_of(run_id))

    def _record_abandoned(self, run_id: str) -> None:
        """Record, once, that the run's owner died: under the run's lock, re-check that the run is still live (its
        last ``dag_done`` is not its end once a ``dag_resume`` followed it: the resuming process owns it then) and
        its owner dead, then append :func:`abandonment` (its unfinished tasks cancelled, ``dag_done`` abandoned),
        dated when the run was last seen alive. Raises when its folder cannot be written; nothing is recorded then."""
        path = layout.events_file(self.run_dir(run_id))
        with JsonlWriter(path) as writer, writer.locked():
            events = list(iter_records(path))
            summary = fold_run(events)
            if summary.status not in LIVE_STATUSES or not self._owner_dead(summary):
                return  # recorded by another reader meanwhile, or a live process goes on with it
            records = abandonment(
                summary, last_seen=_last_seen(path, summary), now=self.clock.now(), keeper_gone=keeper_gone(events)
            )
            with contextlib.suppress(OSError):  # the room its dead owner set aside: for these lines, then gone
                layout.reserve_file(path.parent).unlink(missing_ok=True)
            self._append_end(writer, records)

    def _append_end(self, writer: JsonlWriter, records: list[dict[str, Any]]) -> None:
        """Append the end of a run that no process writes any more (``records``, ending in ``dag_done``) to its
        events file, then to the global event log, as a pair no failure in between can split for good. The run's
        lock is held (``writer.locked()``).

        A torn last line its dead owner left is cut off first. Then a note says which lines the global log is to
        get (:func:`~dagctl.store.layout.event_log_pending_file`), the lines are appended to the run's file, and
        copied to the global log, and the note removed. If that copy fails (a full disk), the note stays and the
        next reader of the run copies them (:meth:`complete_event_log`). Raises, with nothing appended, when the
        note or the run's file cannot be written."""
        pending = layout.event_log_pending_file(writer.path.parent)
        if os.path.lexists(pending):
            self._copy_pending(writer.path, pending)  # an earlier end of this run first (resumed since)
        writer.cut_torn_tail()
        offset = os.stat(writer.path).st_size
        try:
            _write_note(pending, {"v": SCHEMA_VERSION, "offset": offset, "lines": len(records)})
        except OSError as exc:
            raise cannot("write", pending, exc) from None
        try:
            writer.append_many(records)
        except BaseException:
            with contextlib.suppress(OSError):
                pending.unlink()
            raise
        try:
            self._copy_pending(writer.path, pending)
        except (DagctlError, OSError) as exc:
            log.warning(
                "%s: recorded the end of run %s, but the event log %s lacks it for now: %s; the next command that "
                "reads the run adds it there",
                writer.path,
                records[-1].get("run_id"),
                self.settings.events_path,
                exc,
            )

    def complete_event_log(self, run_id: str) -> None:
        """Copy to the global event log the lines of the run's events file a note says it still lacks (a failure
        between the two appends of :meth:`_append_end`); best effort, under the run's lock: a reader that cannot
        write leaves it to the next one. Without such a note (nearly always) it costs one ``lstat``."""
        if not os.path.lexists(layout.event_log_pending_file(self.run_dir(run_id))):
            return
        path = layout.events_file(self.run_dir(run_id))
        try:
            with JsonlWriter(path) as writer, writer.locked():
                self._copy_pending(path, layout.event_log_pending_file(path.parent))
        except (DagctlError, OSError) as exc:
            log.debug("run %s: cannot complete the event log now: %s", run_id, exc)

    def _copy_pending(self, events: Path, pending: Path) -> None:
        """Under the run's lock: append to the global event log the lines of ``events`` the note ``pending`` names,
        then remove the note. A note that names no whole end of a run (left by a writer that failed before it
        appended them) is just removed. Raises when the global log cannot be written; the note stays then."""
        try:
            note = json.loads(_read_file(pending))
            offset, count = int(note["offset"]), int(note["lines"])
        except FileNotFoundError:
            return  # copied by another reader meanwhile
        except (DagctlError, ValueError, TypeError, KeyError):
            note = None
        if note is not None and offset >= 0 and count > 0:
            found = [record for _, _, record in islice(iter_with_offsets(events, offset), count)]
            if len(found) == count and found[-1].get("event") == "dag_done":
                with JsonlWriter(self.settings.events_path) as event_log:
                    event_log.append_many(found)
        pending.unlink(missing_ok=True)

    # ------------------------------------------------------------------ control
    @contextlib.contextmanager
    def claimed(self, run_id: str) -> Iterator[None]:
        """Hold ``run_id`` for this process: the one that goes on with a paused or abandoned run (``dagctl
        resume``), or ends one (``dagctl cancel`` of a paused run). An exclusive ``flock`` on the run folder's
        :data:`~dagctl.store.layout.RESUME_LOCK`, taken before the run's state is read and held while the
        resumed run goes on; the kernel drops it if the process dies, so a claim never outlives its holder."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.run_dir(run_id) / layout.RESUME_LOCK), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise StateError(
                f"run {run_id} is being resumed by another process already",
                hint=f"follow it with: dagctl logs {run_id} --follow (or dagctl show {run_id})",
            ) from None
        except OSError as exc:  # an environment problem (exit 3), not a wrong run id
            raise EnvironmentProblem(
                f"cannot claim run {run_id}: cannot write {lock.lock_file} (DAGCTL_LOGS_DIR): {exc.strerror or exc}",
                hint="going on with a run writes into its folder: make DAGCTL_LOGS_DIR writable, or point it elsewhere",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def cut_torn_tail(self, run_id: str) -> None:
        """Before a new process goes on with a run: cut off a torn last line its dead owner left in the run's
        events file (:meth:`~dagctl.store.jsonl.JsonlWriter.cut_torn_tail`), which would otherwise stay for good
        as a bad line between its lines and the new ones."""
        path = layout.events_file(self.run_dir(run_id))
        with JsonlWriter(path) as writer, writer.locked():
            writer.cut_torn_tail()

    def discard_unstarted(self, run_id: str) -> bool:
        """Remove the folder of a run that recorded no event (one whose start failed: a full disk): no half-made
        folder is left behind. A folder with events is kept. Whether it was removed."""
        import shutil

        folder = self.run_dir(run_id)
        try:
            if not folder.is_dir() or folder.is_symlink():
                return False
            if next(iter_records(layout.events_file(folder)), None) is not None:
                return False
            shutil.rmtree(folder)
        except (DagctlError, OSError) as exc:
            log.warning("cannot remove the unstarted run folder %s: %s", folder, exc)
            return False
        return True

    def request_cancel(self, run_id: str, reason: str) -> RunSummary:
        summary = self.summary(run_id)
        if summary.status == "paused":  # no process to ask: it is ended here, unless a resume has it
            with self.claimed(run_id):
                ended = self._cancel_paused(run_id, reason)
            self._cancel_paused_children(ended, reason)
            return ended
        if summary.status in FINISHED:
            raise StateError(
                f"run {run_id} already finished ({summary.status})",
                hint="only running runs can be cancelled; see `dagctl runs --status running`",
            )
        self._request(layout.cancel_file(self.run_dir(run_id)), reason)
        return summary

    def _cancel_paused(self, run_id: str, reason: str) -> RunSummary:
        """Record a paused run cancelled: ``dag_done`` ``cancelled``, under the run's lock, if it is still paused."""
        path = layout.events_file(self.run_dir(run_id))
        with JsonlWriter(path) as writer, writer.locked():
            summary = fold_run(list(iter_records(path)))
            if summary.status != "paused":
                raise StateError(f"run {run_id} is {summary.status} now", hint=f"see dagctl show {run_id}")
            now = self.clock.now()
            ts = format_ts(now)
            done: dict[str, Any] = {
                "v": SCHEMA_VERSION,
                "ts": ts,
                "timestamp": ts,
                "event": "dag_done",
                "run_id": run_id,
                "dag_name": summary.dag_name,
                **({"tenant_id": summary.tenant_id} if summary.tenant_id else {}),
                "status": "cancelled",
                "error": f"{reason} while it was paused",
                "tasks_succeeded": sum(1 for t in summary.tasks.values() if t.status == "success"),
                "tasks_failed": sum(1 for t in summary.tasks.values() if t.status == "failed"),
                "tasks_skipped": sum(1 for t in summary.tasks.values() if t.status == "skipped"),
                "tasks_cancelled": sum(1 for t in summary.tasks.values() if t.status == "cancelled"),
            }
            if summary.started is not None:
                done["duration_s"] = round(max(0.0, (now - summary.started).total_seconds()), 3)
            self._append_end(writer, [done])
        return summary

    def _cancel_paused_children(self, parent: RunSummary, reason: str) -> None:
        """The sub-DAG runs a paused parent left paused with it (its ``dag:`` tasks' child runs, and theirs): ended
        with it, or nothing would ever end them (``prune`` keeps paused runs for a resume that cannot come now)."""
        for task in parent.tasks.values():  # matrix cells too (train:3)
            child = task.child_run_id
            if not child:
                continue
            try:
                if self.summary(child).status == "paused":
                    self.request_cancel(child, f"{reason} (its parent run {parent.run_id} was cancelled)")
            except (StateError, OSError):  # gone, damaged, or resumed meanwhile: nothing to end
                continue

    def request_pause(self, run_id: str, reason: str) -> RunSummary:
        """Ask a running run to pause: its running tasks finish, nothing new starts, it is recorded paused."""
        summary = self.summary(run_id)
        refuse_child_run(summary, "pause")
        if summary.status == "paused":
            raise StateError(f"run {run_id} is paused already", hint=f"resume it with: dagctl resume {run_id}")
        if summary.status in FINISHED:
            raise StateError(f"run {run_id} is not running ({summary.status})", hint="only a running run can be paused")
        self._request(layout.pause_file(self.run_dir(run_id)), reason)
        return summary

    def _request(self, request: Path, reason: str) -> None:
        tmp = request.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reason": reason, "at": format_ts(self.clock.now())}))
        os.replace(tmp, request)


def refuse_child_run(summary: RunSummary, verb: str) -> None:
    """A sub-DAG's run is paused and resumed through its parent: paused alone, it failed its parent's ``dag:``
    task (``paused by dagctl pause``), and resumed alone, its success reached nobody."""
    if summary.parent_task and summary.parent_run_id:
        parent = summary.parent_run_id
        raise StateError(
            f"run {summary.run_id} is the sub-DAG run of task '{summary.parent_task}' of run {parent}",
            hint=f"{verb} that run instead: dagctl {verb} {parent}",
        )


def since_from_window(now: datetime, window_s: float | None) -> datetime | None:
    from datetime import timedelta

    return None if window_s is None else now - timedelta(seconds=window_s)


def started_at(run_id: str) -> datetime:
    """The start time encoded in a run id (UTC)."""
    return parse_ts(
        f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}.{run_id[16:19]}Z"
    )


UNFINISHED_TASK = frozenset({"running", "retrying", "waiting", "queued"})
"""Task states that a run's death leaves behind: :func:`abandonment` records them cancelled."""


def keeper_gone(events: list[dict[str, Any]]) -> bool:
    """Did the run say, last time it spoke of its keeper, that it had none (:data:`~.events.KEEPER_GONE`)?"""
    for record in reversed(events):
        message = record.get("message")
        if record.get("event") == "run_warning" and isinstance(message, str) and message.startswith(KEEPER_NOTE):
            return message.startswith(KEEPER_GONE)
    return False


def abandonment(
    summary: RunSummary, *, last_seen: datetime | None, now: datetime, keeper_gone: bool = False
) -> list[dict[str, Any]]:
    """What to append to a run whose owner process died: a ``task_cancel`` for every task (and matrix cell) it
    left unfinished (the keeper stopped their processes, unless ``keeper_gone``: the run said it had none), then
    ``dag_done`` ``abandoned``; all dated ``last_seen`` (the run's last sign of life, never after ``now``), so
    the run's times end where it ended, not when someone looked. Pure."""
    ts_at = min(last_seen, now) if last_seen is not None else now
    if summary.started is not None:
        ts_at = max(ts_at, summary.started)
    ts = format_ts(ts_at)
    base = {"v": SCHEMA_VERSION, "ts": ts, "timestamp": ts, "run_id": summary.run_id, "dag_name": summary.dag_name}
    if summary.tenant_id:
        base["tenant_id"] = summary.tenant_id
    seen = ts_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    why = f"its run's process {summary.pid} on {summary.host} died (last seen alive {seen}); " + (
        (
            "its keeper was gone, so it may still be running: its processes are listed by "
            f"grep -l DAGCTL_RUN_ID={summary.run_id} /proc/*/environ (stop each group: kill -- -PGID)"
        )
        if keeper_gone and summary.executor in (None, "threads", "inline")
        else "the keeper stopped it"
        if summary.executor in (None, "threads", "inline")
        else f"its {summary.executor} worker stops it once the run's lease lapses (DAGCTL_COORDINATOR_LEASE)"
    )
    records: list[dict[str, Any]] = []
    for tid, task in summary.tasks.items():
        if task.status not in UNFINISHED_TASK:
            continue
        unit: dict[str, Any] = {"task_id": task.parent, "cell": tid} if task.parent else {"task_id": tid}
        if task.attempts:
            unit["attempt"] = task.attempts
        if task.iteration:
            unit["iteration"] = task.iteration
        took = (ts_at - task.started).total_seconds() if task.started and task.status == "running" else None
        records.append(
            {
                **base,
                "event": "task_cancel",
                **unit,
                "status": "cancelled",
                "reason": why,
                **({"duration_s": round(max(took, 0.0), 3)} if took is not None else {}),
                **({"log_path": task.log_path} if task.log_path else {}),
            }
        )
    done = {
        **base,
        "event": "dag_done",
        "status": "abandoned",
        "error": f"owner process {summary.pid} on {summary.host} died without finishing the run "
        f"(last seen alive {seen})",
        "tasks_succeeded": sum(1 for t in summary.tasks.values() if t.status == "success"),
        "tasks_failed": sum(1 for t in summary.tasks.values() if t.status == "failed"),
        "tasks_skipped": sum(1 for t in summary.tasks.values() if t.status == "skipped"),
        "tasks_cancelled": sum(1 for t in summary.tasks.values() if t.status == "cancelled") + len(records),
    }
    if summary.started is not None:
        done["duration_s"] = round(max(0.0, (ts_at - summary.started).total_seconds()), 3)
    records.append(done)
    return records


def _last_seen(path: Path, summary: RunSummary) -> datetime | None:
    """When the run last showed a sign of life: its last event, or a later write to its events file, to its
    :func:`~dagctl.store.layout.alive_file` (its heartbeat: a run of silent tasks writes nothing else for hours)
    or to the log of a task it left running (a task's output stops when the keeper stops it, soon after the owner
    died). :func:`abandonment` keeps it between the run's start and now."""
    from datetime import timezone

    times = [t for t in (summary.ended, summary.started) if t is not None]
    for task in summary.tasks.values():
        times.extend(t for t in (task.started, task.ended) if t is not None)
    files = [
        path,
        layout.alive_file(path.parent),
        *(Path(t.log_path) for t in summary.tasks.values() if t.log_path and t.status in UNFINISHED_TASK),
    ]
    for file in files:
        with contextlib.suppress(OSError):
            times.append(datetime.fromtimestamp(file.stat().st_mtime, tz=timezone.utc))
    return max(times) if times else None


def _read_file(path: Path) -> bytes:
    """The bytes of the regular file ``path``. FileNotFoundError when missing; never blocks on a FIFO, and a
    directory, FIFO or device is an EnvironmentProblem naming the path (:func:`.jsonl.open_for_reading`)."""
    fd = open_for_reading(path)
    with open(fd, "rb") as fh:
        return fh.read()


def _write_note(path: Path, note: dict[str, Any]) -> None:
    """Write a small JSON file whole or not at all (a temporary file renamed over it)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(note))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
