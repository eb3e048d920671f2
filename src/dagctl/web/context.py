"""Everything the routes share, wired once per app by :func:`dagctl.web.app.create_app` (no globals)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagctl.dag.yamlread import read_document
from dagctl.errors import DagctlError, StateError, UsageError
from dagctl.protocols import Clock
from dagctl.report.graph import TaskGraph, graph_of_document
from dagctl.store import layout
from dagctl.store.history import History
from dagctl.store.runsummary import RunSummary

from .config import ServeSettings
from .dags import DagCatalog
from .launch import Launch, Launcher
from .metrics import Metrics
from .panel import Schedules
from .runindex import RunIndex
from .sse import StreamSlots
from .templates import TemplateStore
from .watch import FileWatcher

GRAPHS_KEPT = 256

log = logging.getLogger(__name__)


@dataclass
class WebContext:
    config: ServeSettings
    clock: Clock
    history: History
    index: RunIndex
    dags: DagCatalog
    templates: TemplateStore
    schedules: Schedules
    launcher: Launcher
    slots: StreamSlots
    watcher: FileWatcher
    metrics: Metrics
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the server is stopping: every stream ends (cleanly, with its last event sent)."""
    token_epoch: int = 0
    """Counts token changes (SIGHUP): a stream opened under an earlier token ends (:meth:`streaming`)."""
    loop: asyncio.AbstractEventLoop | None = None
    _graphs: OrderedDict[str, TaskGraph | None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique prefix or ``latest``; also a run this server has just started."""
        try:
            return self.index.resolve(ref)
        except StateError:
            if self.launcher.by_run_id(ref) is None:
                raise
            self._launch_of(ref)
            return ref

    def summary_or_launch(self, run_id: str) -> RunSummary | Launch:
        """The run's summary; or, for a run this server started that has no events yet, its launch."""
        try:
            return self.index.summary(run_id)
        except StateError:
            if self.launcher.by_run_id(run_id) is None:
                raise
            return self._launch_of(run_id)

    def _launch_of(self, run_id: str) -> Launch:
        """The launch that speaks for a run without events (:meth:`Launch.stands_for_run`); the StateError of an
        unknown run otherwise, saying so of a run this server saw run whose folder is gone."""
        launch = self.launcher.by_run_id(run_id)
        if launch is not None and launch.stands_for_run():
            return launch
        raise StateError(f"unknown run '{run_id}': it ran, but its folder is gone (pruned?)", hint="see the runs list")

    def with_resume_error(self, run: dict[str, Any]) -> dict[str, Any]:
        """``run`` (a run's JSON) with ``resume_error`` when it is paused or abandoned and the ``dagctl resume`` this
        server started last for it ended without going on with it: what that said."""
        launch = self.launcher.by_run_id(str(run.get("run_id")))
        if launch is None or launch.kind != "resume" or run.get("status") not in ("paused", "abandoned"):
            return run
        if launch.done.is_set() and not launch.ran_its_run():
            run["resume_error"] = launch.failure()[0]
        return run

    def graph(self, run_id: str) -> TaskGraph | None:
        """The DAG a run executed (its ``dag.yaml`` snapshot), None when the snapshot is gone or unreadable."""
        with self._lock:
            if run_id in self._graphs:
                self._graphs.move_to_end(run_id)
                return self._graphs[run_id]
        snapshot = layout.snapshot_file(self.history.run_dir(run_id))
        try:
            graph = graph_of_document(read_document(snapshot).data)
        except (DagctlError, OSError):
            return None  # not written yet (keep asking), or gone
        with self._lock:
            self._graphs[run_id] = graph
            while len(self._graphs) > GRAPHS_KEPT:
                self._graphs.popitem(last=False)
        return graph

    @staticmethod
    def graph_of_file(path: Path) -> TaskGraph | None:
        """The DAG of a DAG file (a run that is starting has no snapshot yet); None when it cannot be read."""
        try:
            return graph_of_document(read_document(path).data)
        except (DagctlError, OSError):
            return None

    def streaming(self, epoch: int) -> bool:
        """Whether a stream opened at ``epoch`` (:attr:`token_epoch` then) may go on: the server is not stopping
        and the token it was let in with is still the token."""
        return self.token_epoch == epoch and not self.stopping.is_set()

    def stop(self) -> None:
        """Ask every open stream to end (from any thread)."""
        self.stopping.set()
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.watcher.wake_all)

    def reload_token(self) -> bool:
        """SIGHUP: read ``--token-file`` again, so a rotated token applies without a restart (sessions made with
        the old one end with it). A file that holds no usable token now is logged, and the token read before stays.
        True when the token changed."""
        path = self.config.token_file
        if path is None:
            return False
        from .security import read_token_file

        try:
            token = read_token_file(path)
        except UsageError as exc:
            log.error("token not reloaded, the one read before still applies: %s", exc)
            return False
        if token == self.config.token:
            log.info("token file %s unchanged", path)
            return False
        self.config = dataclasses.replace(self.config, token=token)  # one assignment: each request sees one token
        self.token_epoch += 1
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.watcher.wake_all)  # streams opened with the old token end now
        log.info("token reloaded from %s: the previous token, its sessions and its open streams end here", path)
        return True

    def server_gauges(self) -> dict[str, float]:
        return {
            "streams_open": self.slots.open,
            "streams_refused": self.slots.refused,
            "runs_started": len(self.launcher.launches()),
            "runs_starting_or_running": self.launcher.running(),
            "summaries_cached": self.index.cached,
        }
