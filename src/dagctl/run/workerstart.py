"""``dagctl worker``: start a Celery worker in this process with dagctl's tasks (:mod:`dagctl.run.worker`).

:func:`start_worker` checks the broker and the worker's folder before it takes work, refuses a name a live worker
already has, and makes a task handed back at a shutdown one line in Celery's log (no traceback).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from dagctl.errors import EnvironmentProblem

from .executors.celery_config import CeleryConfig, connect
from .worker import make_worker_app


def _check_name_free(ledger: Any, nodename: str) -> None:
    """Refuse a name a live worker has: two workers under one name hid each other in ``dagctl queue`` and one's
    stop removed the other from the list of live workers. "Another worker is live" is the environment (exit 3)."""
    info = ledger.worker(nodename)
    if info is None:
        return
    host, pid = info.get("host"), info.get("pid")
    if host == socket.gethostname() and isinstance(pid, int) and not _announcer_alive(pid, info.get("seen")):
        return  # killed a moment ago (its entry expires within DAGCTL_WORKER_LEASE), or restarted as this process
    raise EnvironmentProblem(
        f"a dagctl worker named {nodename} is already running (pid {pid} on {host}, seen {info.get('seen', '?')})",
        hint="give this one another --name, or stop that one first",
    )


def _announcer_alive(pid: int, seen: object) -> bool:
    """Whether the process that announced itself as ``pid`` on this host (last at ``seen``) may still run. Not
    this process (a restarted container's worker is PID 1 again, as was the one that crashed), nor a process
    that started after the announcement (the PID was reused)."""
    if pid == os.getpid() or not _pid_alive(pid):
        return False
    started = _process_started(pid)
    if started is None or not isinstance(seen, str):
        return True
    from dagctl.store.events import parse_ts

    try:
        announced = parse_ts(seen).timestamp()
    except ValueError:
        return True
    return started <= announced + _START_SLACK_S


_START_SLACK_S = 2.0
"""A process's start time read from ``/proc`` is exact to a second (the boot time is in whole seconds)."""


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (Linux ``/proc``); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
        with open("/proc/stat", encoding="ascii", errors="replace") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _no_traceback_for_handbacks(record: logging.LogRecord) -> bool:
    """Celery logs a rejected task with its traceback; a task handed back at a shutdown is routine: one line."""
    from celery.exceptions import Reject

    if record.exc_info and record.exc_info[0] is not None and issubclass(record.exc_info[0], Reject):
        record.exc_info, record.exc_text = None, None
    return True


def worker_nodename(name: str | None) -> str:
    """Celery's node name: ``NAME@host``; the default ``dagctl-<pid>`` keeps two local workers apart."""
    name = name or f"dagctl-{os.getpid()}"
    return name if "@" in name else f"{name}@{socket.gethostname()}"


def start_worker(
    config: CeleryConfig,
    *,
    name: str | None = None,
    concurrency: int = 2,
    queues: list[str] | None = None,
    loglevel: str = "WARNING",
    shutdown_timeout: float | None = None,
) -> int:
    """Run a Celery worker in this process until it is stopped; return its exit code.

    SIGTERM is Celery's warm shutdown: take no new work, let running tasks finish. With
    ``shutdown_timeout``, tasks still running that many seconds later are stopped and handed back to the
    queue (a cold shutdown: SIGQUIT to this process).
    """
    from celery import signals

    from .brokerguard import quiet_connection_loss_warning, survive_broker_restarts
    from .executors.celery_ledger import Ledger

    app = make_worker_app(config)
    ledger = Ledger(connect(config), config)
    ledger.ping()
    nodename = worker_nodename(name)
    _check_name_free(ledger, nodename)
    if config.worker_dir:  # its own folder, checked before it takes work (the default one is made per worker)
        from dagctl.settings import check_folder

        check_folder(Path(config.worker_dir), "DAGCTL_WORKER_DIR")
    survive_broker_restarts()  # kombu's Redis transport, in this process only
    logging.getLogger("celery.app.trace").addFilter(_no_traceback_for_handbacks)  # inherited by the pool processes
    timer: list[threading.Timer] = []

    def on_shutdown(sender: Any = None, how: str = "", **_: Any) -> None:
        if shutdown_timeout is not None and how == "Warm" and not timer:
            t = threading.Timer(shutdown_timeout, os.kill, (os.getpid(), signal.SIGQUIT))
            t.daemon = True
            timer.append(t)
            t.start()

    signals.worker_shutting_down.connect(on_shutdown, weak=False)
    signals.worker_ready.connect(quiet_connection_loss_warning, weak=False)
    try:
        worker = app.Worker(
            hostname=nodename,
            concurrency=concurrency,
            queues=queues or [config.queue],
            loglevel=loglevel,
            pool_cls="prefork",
            optimization="fair",
            without_gossip=True,
            without_mingle=True,
            without_heartbeat=True,
            quiet=True,
        )
        worker.start()
        return int(worker.exitcode or 0)
    finally:
        signals.worker_shutting_down.disconnect(on_shutdown)
        signals.worker_ready.disconnect(quiet_connection_loss_warning)
        for t in timer:
            t.cancel()
