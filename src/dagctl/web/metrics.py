"""``GET /metrics``: Prometheus exposition, from the same files the CLI reads.

Counters and histograms follow the event log and the scheduler's state log from where they ended when the
server started (each scrape reads only the lines appended since the last one), so they count what happened
while this server ran, as Prometheus counters do; ``rate()`` and ``increase()`` handle a restart. Gauges are
read at scrape time: runs still running among the newest run folders, the scheduler's claimed slots waiting
for a free run slot (queue depth) and running, and the server's own streams. Every series lives in a registry
of this app (no global registry).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dagctl.errors import DagctlError, cannot
from dagctl.store.events import parse_ts
from dagctl.store.jsonl import file_identity, iter_with_offsets
from dagctl.store.runsummary import LIVE_STATUSES

from .panel import Schedules
from .runindex import RunIndex

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUNNING_SCAN = 200
"""``dagctl_runs_running`` looks at this many of the newest runs."""
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def _line_start_at_or_before(path: Path, offset: int) -> int:
    """The start of the line holding byte ``offset - 1`` (``offset`` itself when a line ends just before it)."""
    if offset <= 0:
        return 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        pos = offset
        while pos > 0:
            size = min(65536, pos)
            block = os.pread(fd, size, pos - size)
            cut = block.rfind(b"\n")
            if cut >= 0:
                return pos - size + cut + 1
            pos -= size
        return 0
    finally:
        os.close(fd)


class Follower:
    """New records of a JSONL file, from where it ended when the follower was made. A file replaced by a
    compaction (another inode) or cut shorter is followed from its new end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.identity = file_identity(path)
        except OSError:  # unreadable now: each scrape says so (read), and counts from 0 once it can be read
            self.identity = None
        self.offset = self._end()

    def _end(self) -> int:
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return 0
        return _line_start_at_or_before(self.path, size)

    def read(self) -> list[dict[str, Any]]:
        """The records appended since the last read; none while the file does not exist; EnvironmentProblem
        (``cannot read PATH: why``) when it cannot be read."""
        try:
            return self._read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise cannot("read", self.path, exc) from None

    def _read(self) -> list[dict[str, Any]]:
        identity = file_identity(self.path)
        if identity != self.identity:
            created = self.identity is None  # every line of a file created since is new; a compacted one is not
            self.identity = identity
            self.offset = 0 if created else self._end()
        if os.stat(self.path).st_size < self.offset:
            self.offset = self._end()
        records = []
        for _start, end, record in iter_with_offsets(self.path, self.offset):
            records.append(record)
            self.offset = end
        return records


class Metrics:
    """The app's metrics; :meth:`exposition` brings them up to date and renders them."""

    def __init__(
        self,
        events_path: Path,
        state_path: Path,
        index: RunIndex,
        schedules: Schedules,
        *,
        extra: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.index = index
        self.schedules = schedules
        self.extra = extra
        self._lock = threading.Lock()
        self._events = Follower(events_path)
        self._state = Follower(state_path)
        r = self.registry
        self.runs = Counter("dagctl_runs", "Runs that ended, by DAG and status.", ["dag", "status"], registry=r)
        self.started = Counter("dagctl_runs_started", "Runs that started, by DAG.", ["dag"], registry=r)
        self.tasks = Counter("dagctl_tasks", "Tasks that ended, by DAG and status.", ["dag", "status"], registry=r)
        self.retries = Counter("dagctl_task_retries", "Failed task attempts that were retried.", ["dag"], registry=r)
        self.duration = Histogram(
            "dagctl_task_duration_seconds",
            "Duration of tasks that ended (task_ok, task_fail: the last attempt).",
            ["dag"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.lag = Histogram(
            "dagctl_scheduler_lag_seconds",
            "How long after its fire time the scheduler claimed a slot.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.running = Gauge("dagctl_runs_running", "Runs running or waiting (among the newest runs).", registry=r)
        self.queue = Gauge(
            "dagctl_scheduler_queue_depth", "Claimed scheduled runs waiting for a free run slot.", registry=r
        )
        self.sched_running = Gauge("dagctl_scheduler_running", "Scheduled runs running now.", registry=r)
        self.server = Gauge("dagctl_serve", "The server itself: open streams, runs it started.", ["what"], registry=r)

    def exposition(self) -> bytes:
        with self._lock:
            self._follow()
            self._gauges()
            return generate_latest(self.registry)

    def _follow(self) -> None:
        for rec in self._events.read():
            self.observe_event(rec)
        for rec in self._state.read():
            self.observe_state(rec)

    def observe_event(self, rec: dict[str, Any]) -> None:
        kind = rec.get("event")
        dag = str(rec.get("dag_name") or "")
        if kind == "dag_start":
            self.started.labels(dag).inc()
        elif kind == "dag_done":
            self.runs.labels(dag, str(rec.get("status") or "failed")).inc()
        elif kind == "task_retry":
            self.retries.labels(dag).inc()
        elif kind in ("task_ok", "task_fail", "task_skip", "task_cancel"):
            status = str(rec.get("status") or kind[5:])
            if kind == "task_skip" and status == "success":
                status = "reused"
            self.tasks.labels(dag, status).inc()
            took = rec.get("duration_s")
            if kind in ("task_ok", "task_fail") and isinstance(took, (int, float)) and not isinstance(took, bool):
                self.duration.labels(dag).observe(max(float(took), 0.0))

    def observe_state(self, rec: dict[str, Any]) -> None:
        if rec.get("event") != "schedule_enqueued" or rec.get("trigger", "schedule") != "schedule":
            return
        try:
            lag = (parse_ts(str(rec["ts"])) - parse_ts(str(rec["fire_utc"]))).total_seconds()
        except (KeyError, ValueError, TypeError):
            return
        self.lag.observe(max(lag, 0.0))

    def _gauges(self) -> None:
        running = 0
        for run_id in self.index.ids()[:RUNNING_SCAN]:
            try:
                running += self.index.summary(run_id).status in LIVE_STATUSES
            except DagctlError:
                continue
        self.running.set(running)
        try:
            fold = self.schedules.fold()
        except DagctlError:
            fold = None
        waiting = active = 0
        if fold is not None:
            for state in fold.schedules.values():
                for slot in state.open.values():
                    if slot.run_id:
                        active += 1
                    else:
                        waiting += 1
        self.queue.set(waiting)
        self.sched_running.set(active)
        for what, value in (self.extra() if self.extra else {}).items():
            self.server.labels(what).set(value)
