"""Retention: ``retention:`` of the project's ``dagctl.yaml``, applied by the scheduler at most once a day.

    retention: {keep_days: 30, keep_last: 100, cache_max: 2GiB}

``schedule --serve`` looks every minute (in a thread of its own: ticks go on while a pass runs, and a stop
waits for a pass to end, since a prune is all or nothing); ``schedule --once`` looks after its runs. The
``dagctl.yaml`` is the one the schedules folder is in (or the nearest parent folder's), read at each look, so an
edit needs no restart. A pass:

1. **claims the day**: under the lock of ``<logs>/retention.jsonl`` (the flock every JSONL writer takes) it
   reads the last ``retention_started`` record; if that is less than a day old by the injected clock, it
   stops there. Otherwise it appends ``retention_started`` with fsync, and releases the lock: another
   scheduler process (a ``--once`` from crontab next to a ``--serve``) then sees the claim. So there is at
   most one pass a day per logs folder, however many schedulers share it, and across restarts;
2. **prunes** through :func:`dagctl.store.prune.prune` (all or nothing: run folders and event-log lines
   together) when ``keep_days`` or ``keep_last`` is set: finished runs started more than ``keep_days`` ago,
   except the newest ``keep_last`` of each DAG (without ``keep_days``: every run beyond the newest ``keep_last``);
3. **trims the task cache** (``Settings.task_cache_dir``) to ``cache_max`` bytes, least recently used first;
4. appends ``retention_finished`` with what was removed, or the error.

A pass that fails (an append-only event log, a full disk) is logged and recorded, and not tried again before
the next day. The decision :func:`retention_due` is pure; this module does the IO around it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagctl.clock import SystemClock
from dagctl.dag.workflows import RetentionPolicy, find_project_config, load_project_config
from dagctl.errors import DagctlError
from dagctl.host import hostname
from dagctl.protocols import Clock
from dagctl.settings import Settings
from dagctl.store.events import SCHEMA_VERSION, format_ts, parse_ts
from dagctl.store.jsonl import JsonlWriter, iter_records_reverse

__all__ = ["CHECK_EVERY_S", "EVERY", "Retention", "RetentionReport", "retention_due"]

log = logging.getLogger("dagctl.scheduler")

EVERY = timedelta(days=1)
"""At most one pass in this long."""
CHECK_EVERY_S = 60.0
"""How often ``--serve`` looks whether a pass is due (reading dagctl.yaml and the end of the retention log)."""
LOG_NAME = "retention.jsonl"


def retention_due(last: datetime | None, now: datetime, every: timedelta = EVERY) -> bool:
    """Is a pass due at ``now``, the last having started at ``last``? A ``last`` more than ``every`` in the
    future (a clock set back) does not block passes for good."""
    return last is None or now - last >= every or last - now >= every


@dataclass
class RetentionReport:
    """What one pass did (the ``retention_finished`` record)."""

    started: str
    runs_removed: int = 0
    bytes_freed: int = 0
    events_dropped: int = 0
    kept_running: int = 0
    cache_entries_dropped: int = 0
    cache_bytes_freed: int = 0
    error: str | None = None

    def describe(self) -> str:
        text = (
            f"retention: removed {self.runs_removed} run(s) ({self.bytes_freed / 1048576:.1f} MiB, "
            f"{self.events_dropped} event line(s)), trimmed {self.cache_entries_dropped} cache entr"
            f"{'y' if self.cache_entries_dropped == 1 else 'ies'} ({self.cache_bytes_freed / 1048576:.1f} MiB)"
        )
        return text + (f"; failed: {self.error}" if self.error else "")


class Retention:
    """The retention passes of one scheduler: the policy is read from the ``dagctl.yaml`` found from
    ``config_dir`` (the schedules folder); the day is claimed in ``<logs>/retention.jsonl``."""

    def __init__(self, settings: Settings, config_dir: Path, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.config_dir = Path(config_dir)
        self.clock = clock or SystemClock()
        self.log_path = settings.logs_dir / LOG_NAME
        self.passes: list[RetentionReport] = []
        self._thread: threading.Thread | None = None
        self._next_look: float | None = None

    # ------------------------------------------------------------------ the policy and the claim

    def policy(self) -> RetentionPolicy | None:
        """The ``retention:`` of the project's dagctl.yaml; None without one (a broken file is logged)."""
        found = find_project_config(self.config_dir)
        if found is None:
            return None
        try:
            return load_project_config(found).retention
        except DagctlError as exc:
            log.error("retention: %s; no pass until it is fixed", str(exc).splitlines()[0])
            return None

    def last_started(self) -> datetime | None:
        """When the last pass started (the newest ``retention_started``), from the end of the log."""
        for record in iter_records_reverse(self.log_path):
            if record.get("event") == "retention_started":
                try:
                    return parse_ts(str(record.get("ts")))
                except ValueError:
                    continue
        return None

    def _claim(self, policy: RetentionPolicy) -> str | None:
        """Append ``retention_started`` if a pass is due (under the log's lock); its ``ts``, else None."""
        with JsonlWriter(self.log_path, fsync=True) as writer, writer.locked():
            now = self.clock.now()
            if not retention_due(self.last_started(), now):
                return None
            ts = format_ts(now)
            writer.append(
                {
                    "v": SCHEMA_VERSION,
                    "ts": ts,
                    "event": "retention_started",
                    "policy": {k: v for k, v in asdict(policy).items() if v is not None},
                    "host": hostname(),
                }
            )
            return ts

    # ------------------------------------------------------------------ one pass

    def run_if_due(self) -> RetentionReport | None:
        """Claim the day and apply the policy, if there is one and a pass is due; the report, else None.
        Never raises for a failing pass (it is logged and recorded); raises only if the claim itself fails."""
        policy = self.policy()
        if policy is None:
            return None
        started = self._claim(policy)
        if started is None:
            return None
        report = self._apply(policy, started)
        try:
            with JsonlWriter(self.log_path, fsync=True) as writer:
                writer.append(
                    {
                        "v": SCHEMA_VERSION,
                        "ts": format_ts(self.clock.now()),
                        "event": "retention_finished",
                        **_data(report),
                    }
                )
        except DagctlError as exc:
            log.error("retention: cannot record the end of the pass: %s", exc)
        (log.error if report.error else log.info)("%s", report.describe())
        self.passes.append(report)
        return report

    def _apply(self, policy: RetentionPolicy, started: str) -> RetentionReport:
        from dagctl.run.cache import CacheStore
        from dagctl.store.history import History
        from dagctl.store.prune import prune

        report = RetentionReport(started)
        errors = []
        if policy.prunes:
            days = policy.keep_days if policy.keep_days is not None else 0
            try:
                pruned = prune(
                    History(self.settings, self.clock),
                    older_than=timedelta(days=days),
                    keep_last=policy.keep_last or 0,
                )
            except (DagctlError, OSError) as exc:
                errors.append(f"prune: {_describe(exc)}")
            else:
                report.runs_removed, report.bytes_freed = len(pruned.removed), pruned.bytes_freed
                report.events_dropped, report.kept_running = pruned.events_dropped, len(pruned.kept_running)
        if policy.cache_max is not None:
            try:
                dropped = CacheStore(self.settings.task_cache_dir).evict(policy.cache_max)
            except OSError as exc:
                errors.append(f"task cache: {_describe(exc)}")
            else:
                report.cache_entries_dropped = len(dropped)
                report.cache_bytes_freed = sum(entry.size for entry in dropped)
        report.error = "; ".join(errors) or None
        return report

    # ------------------------------------------------------------------ in --serve: a thread of its own

    def poll(self) -> None:
        """Start a pass in a background thread if the last look was ``CHECK_EVERY_S`` ago and none runs."""
        mono = self.clock.monotonic()
        if (self._next_look is not None and mono < self._next_look) or self.busy:
            return
        self._next_look = mono + CHECK_EVERY_S
        self._thread = threading.Thread(target=self.run_guarded, name="dagctl-retention", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        """Wait for a pass in progress (a prune is all or nothing: it is not interrupted)."""
        if self.busy:
            log.info("stopping: waiting for the retention pass to finish")
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def run_guarded(self) -> RetentionReport | None:
        """:meth:`run_if_due`, with a failing claim (an unwritable logs folder) logged instead of raised: the
        scheduler's own work never stops for retention. ``--once`` calls this after its runs."""
        try:
            return self.run_if_due()
        except Exception as exc:
            log.error("retention: %s", _describe(exc))
            return None


def _data(report: RetentionReport) -> dict[str, Any]:
    return {k: v for k, v in asdict(report).items() if v is not None}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DagctlError):
        return exc.message.splitlines()[0] if exc.message else type(exc).__name__
    return str(exc) or type(exc).__name__
