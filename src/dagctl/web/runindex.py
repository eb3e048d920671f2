"""Run summaries for a server: :class:`~dagctl.store.history.History`, with what it read kept while still true.

The CLI reads a run's events once per command; a dashboard asks for the same fifty runs every few seconds. A
run's summary is a pure fold of its events file, so it is kept with the file's size and mtime and used again
until the file changes; the list of run folders is kept until the folder changes. A running run's owner is
still checked on every read (a dead owner makes the run ``abandoned``, recorded once, as ``dagctl runs``
does). At most ``capacity`` summaries are kept (least recently used go first), so memory stays bounded
whatever the history.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import EnvironmentProblem, StateError
from dagctl.host import hostname, process_alive
from dagctl.protocols import Clock
from dagctl.report.runjson import summary_dict
from dagctl.store import layout
from dagctl.store.history import RUN_ID_RE, History
from dagctl.store.runsummary import LIVE_STATUSES, RunSummary, check_run_status

log = logging.getLogger(__name__)

CAPACITY = 2048
LISTING_MAX_AGE_S = 5.0
"""A folder listing is trusted this long at most, even when the folder looks unchanged (coarse mtimes)."""

Stamp = tuple[int, int]


def _stamp(path: os.PathLike[str] | str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def check_status(value: str | None, name: str = "status") -> str | None:
    """A run status filter: the error ``dagctl runs --status`` gives (:func:`check_run_status`), naming ``name``."""
    return check_run_status(value, name)


class RunIndex:
    """Summaries of the runs in ``history``'s folder, read through a bounded cache. Thread-safe."""

    def __init__(self, history: History, *, clock: Clock | None = None, capacity: int = CAPACITY) -> None:
        self.history = history
        self.clock = clock or SystemClock()
        self.capacity = capacity
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[Stamp, RunSummary]] = OrderedDict()
        self._dicts: dict[str, tuple[RunSummary, dict[str, Any]]] = {}
        self._listing: tuple[tuple[int, int, int], float, list[str]] | None = None
        self._host = hostname()
        self._warned: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.reads = 0
        """How many times a run's events were read (tests check the cache)."""

    # ------------------------------------------------------------------ finding runs
    def ids(self) -> list[str]:
        """Every run id on disk, newest first (a cached listing while the folder is unchanged)."""
        runs_dir = self.history.runs_dir
        try:
            st = os.stat(runs_dir)
        except OSError:
            return []
        key = (st.st_mtime_ns, st.st_nlink, st.st_size)
        now = self.clock.monotonic()
        with self._lock:
            listing = self._listing
            if listing is not None and listing[0] == key and now - listing[1] < LISTING_MAX_AGE_S:
                return listing[2]
        ids = self.history.run_ids()
        with self._lock:
            self._listing = (key, now, ids)
        return ids

    def resolve(self, ref: str) -> str:
        """A full run id from a full id (cheap), ``latest`` or a unique prefix; StateError when unknown."""
        if RUN_ID_RE.match(ref) and os.path.isdir(self.history.run_dir(ref)):
            return ref
        if ref == "latest":
            ids = self.ids()
            if ids:
                return ids[0]
        return self.history.resolve(ref)

    # ------------------------------------------------------------------ reading runs
    def summary(self, run_id: str) -> RunSummary:
        """The run's summary (StateError when it has no events file yet: never the slow scan of the whole log)."""
        path = layout.events_file(self.history.run_dir(run_id))
        stamp = _stamp(path)
        if stamp is None:  # being created (or written by a dagctl too old to keep a run's own events)
            raise StateError(f"run {run_id} has no events yet", hint="it may be starting; try again in a moment")
        with self._lock:
            hit = self._cache.get(run_id)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(run_id)
                summary = hit[1]
                if summary.status not in LIVE_STATUSES or not self._owner_dead(summary):
                    return summary
        self.reads += 1
        summary = self.history.summary(run_id)  # records ``abandoned`` when the owner died
        # keyed by the stamp from before the read: lines appended meanwhile make the next read see a change
        with self._lock:
            self._cache[run_id] = (stamp, summary)
            self._cache.move_to_end(run_id)
            while len(self._cache) > self.capacity:
                gone, _ = self._cache.popitem(last=False)
                self._dicts.pop(gone, None)
        return summary

    def as_dict(self, summary: RunSummary) -> dict[str, Any]:
        """``dagctl show --json`` of ``summary``, made once per version of the run (a fresh top-level dict: the
        caller may drop keys; the values inside are shared and must not be changed)."""
        with self._lock:
            made = self._dicts.get(summary.run_id)
        if made is None or made[0] is not summary:
            made = (summary, summary_dict(summary))
            with self._lock:
                if summary.run_id in self._cache:
                    self._dicts[summary.run_id] = made
        return dict(made[1])

    def summaries(
        self,
        *,
        dag: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> Iterator[RunSummary]:
        """Newest first, filtered, as :meth:`History.summaries`: folders without events are left out, and so is a
        folder that cannot be read (logged once), as the CLI leaves it out. ``before``: only runs older than that
        run id (the next page of a listing whose last run it is)."""
        cutoff = since.strftime("%Y%m%d-%H%M%S") if since else None
        found = 0
        for run_id in self.ids():
            if before is not None and run_id >= before:
                continue  # a page after the one that ended with ``before`` (ids sort by start time)
            if cutoff and run_id[:15] < cutoff:
                break
            try:
                summary = self.summary(run_id)
            except StateError:
                continue  # being created, or damaged
            except EnvironmentProblem as exc:  # one damaged folder does not hide every other run (as the CLI)
                self._skipped(run_id, exc)
                continue
            if (dag and summary.dag_name != dag) or (tenant and summary.tenant_id != tenant):
                continue
            if status and summary.status != status:
                continue
            yield summary
            found += 1
            if limit is not None and found >= limit:
                return

    def _skipped(self, run_id: str, exc: EnvironmentProblem) -> None:
        """Log a run folder left out of a listing, once per folder and problem (a dashboard lists every 3 s)."""
        key = (run_id, exc.message)
        with self._lock:
            if key in self._warned:
                return
            self._warned[key] = None
            while len(self._warned) > self.capacity:
                self._warned.popitem(last=False)
        log.warning(
            "skipping the run folder %s: %s — repair it, or move it out of %s",
            self.history.run_dir(run_id),
            exc.message,
            self.history.runs_dir,
        )

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._cache.pop(run_id, None)
            self._dicts.pop(run_id, None)

    def _owner_dead(self, summary: RunSummary) -> bool:
        if not summary.pid or summary.host != self._host:
            return False
        return not process_alive(summary.pid, summary.pid_start)

    @property
    def cached(self) -> int:
        return len(self._cache)
