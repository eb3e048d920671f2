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
from .security import FULL, READ
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
    token_epochs: dict[str, int] = field(default_factory=lambda: {FULL: 0, READ: 0})
    """Counts the changes of each token (SIGHUP): a stream let in by one ends when it changes (:meth:`streaming`)."""
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

    def epoch(self, access: str) -> tuple[str, int]:
        """What a stream let in with ``access`` (its token: full or read-only) keeps, for :meth:`streaming`."""
        return access, self.token_epochs.get(access, 0)

    def streaming(self, epoch: tuple[str, int]) -> bool:
        """Whether a stream opened at ``epoch`` (:meth:`epoch` then) may go on: the server is not stopping and the
        token it was let in with is still in force."""
        return self.token_epochs.get(epoch[0], 0) == epoch[1] and not self.stopping.is_set()

    def stop(self) -> None:
        """Ask every open stream to end (from any thread)."""
        self.stopping.set()
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.watcher.wake_all)

    def reload_token(self) -> bool:
        """SIGHUP: read ``--token-file`` (and ``--read-token-file``) again, so a rotated token applies without a
        restart (sessions made with the old one end with it). A file that holds no usable token now, or the same
        token as the other file, is logged, and the token read before stays. True when a token changed."""
        config = self.config
        token = self._read_again(config.token_file, config.token, "token", "--token-file")
        read_token = self._read_again(config.read_token_file, config.read_token, "read-only token", "--read-token-file")
        if read_token is not None and read_token == token:
            log.error("tokens not reloaded, the ones read before still apply: the read-only token is the token")
            token, read_token = config.token, config.read_token
        pairs = ((FULL, config.token, token), (READ, config.read_token, read_token))
        changed = [kind for kind, old, new in pairs if new != old]
        if not changed:
            return False
        self.config = dataclasses.replace(config, token=token, read_token=read_token)  # each request sees one pair
        for kind in changed:
            self.token_epochs[kind] = self.token_epochs.get(kind, 0) + 1
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.watcher.wake_all)  # streams opened with an old token end now
        return True

    @staticmethod
    def _read_again(path: Path | None, current: str | None, what: str, flag: str) -> str | None:
        """The token in ``path`` now; ``current`` when there is no file, or it holds no usable token (logged)."""
        if path is None:
            return current
        from .security import read_token_file

        try:
            token = read_token_file(path, flag)
        except UsageError as exc:
            log.error("%s not reloaded, the one read before still applies: %s", what, exc)
            return current
        if token == current:
            log.info("%s file %s unchanged", what, path)
        else:
            log.info("%s reloaded from %s: the previous one, its sessions and its open streams end here", what, path)
        return token

    def server_gauges(self) -> dict[str, float]:
        return {
            "streams_open": self.slots.open,
            "streams_refused": self.slots.refused,
            "runs_started": len(self.launcher.launches()),
            "runs_starting_or_running": self.launcher.running(),
            "summaries_cached": self.index.cached,
        }
