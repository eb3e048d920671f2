"""Reading the event log and the scheduler's state log for reports: the newest records, read backwards.

A history of weeks holds millions of lines, while ``dagctl stats`` wants the last day. So the readers
start at the end of the file (:func:`dagctl.store.jsonl.iter_records_reverse`, which reads blocks from the end
and parses a line only when it is reached) and stop once they are past the window:

* Events are appended in time order by each process, but several processes share a file, and each
  flushes its buffered events a little after stamping them. Lines near the window's edge can therefore
  be slightly out of order. A reader stops only after :data:`STOP_AFTER` consecutive records all older
  than ``since - slack`` (:data:`SLACK`, 5 minutes, far more than any writer holds an event), then keeps
  exactly the records with ``ts >= since``. One record with a wild clock cannot cut the read short.
* Blank, torn and invalid lines are skipped by the JSONL reader (and logged when not the last line);
  records without a readable ``ts`` are left out of a windowed read.

Results come back oldest first, in the order the records were appended.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagctl.errors import StateError
from dagctl.host import gc_paused

from .events import format_ts
from .jsonl import iter_records_reverse
from .reports import ts_key

__all__ = ["SLACK", "STATE_EVENTS", "STOP_AFTER", "load_events", "load_state_events"]

SLACK = timedelta(minutes=5)
"""How far out of time order two processes' lines may be in one file."""

STOP_AFTER = 256
"""Consecutive records older than ``since - SLACK`` that end a backward read."""

STATE_EVENTS = frozenset({"schedule_enqueued", "run_started", "run_finished", "schedule_skipped"})

_BLOCK = 1 << 18  # 256 KiB: ~1,000 event lines per read


def load_events(
    path: Path | str,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    dag: str | None = None,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """Event records with ``ts >= since`` (all, without ``since``), oldest first.

    ``dag`` and ``tenant`` keep only records whose ``dag_name`` / ``tenant_id`` equal them. ``limit`` keeps
    the newest ``limit`` matching records (and stops reading once it has them). A missing file has none;
    an unreadable one raises :class:`~dagctl.errors.StateError`.
    """
    return _read_back(path, since=since, limit=limit, match=_matcher(dag, tenant))


def load_state_events(
    path: Path | str, since: datetime | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The scheduler's state records (``schedule_enqueued``, ``run_started``, ``run_finished``,
    ``schedule_skipped`` and any other kind) with ``ts >= since``, oldest first; read like :func:`load_events`.
    """
    return _read_back(path, since=since, limit=limit, match=_matcher(None, None))


def _matcher(dag: str | None, tenant: str | None) -> Callable[[Mapping[str, Any]], bool]:
    if dag is None and tenant is None:
        return lambda _rec: True

    def match(rec: Mapping[str, Any]) -> bool:
        return (dag is None or rec.get("dag_name") == dag) and (tenant is None or rec.get("tenant_id") == tenant)

    return match


def _read_back(
    path: Path | str,
    *,
    since: datetime | None,
    limit: int | None,
    match: Callable[[Mapping[str, Any]], bool],
) -> list[dict[str, Any]]:
    if limit is not None and limit <= 0:
        return []
    since_key = format_ts(since) if since is not None else None
    stop_key = format_ts(since - SLACK) if since is not None else None
    out: list[dict[str, Any]] = []
    try:
        with gc_paused():
            _collect(out, path, since_key, stop_key, limit, match)
    except OSError as exc:  # a missing file is simply empty (the reader's rule); anything else is a problem
        raise StateError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from None
    out.reverse()
    return out


def _collect(
    out: list[dict[str, Any]],
    path: Path | str,
    since_key: str | None,
    stop_key: str | None,
    limit: int | None,
    match: Callable[[Mapping[str, Any]], bool],
) -> None:
    old_run = 0
    for rec in iter_records_reverse(path, block_size=_BLOCK):
        if since_key is not None:
            key = ts_key(rec.get("ts"))
            if key is None:
                continue
            if key < since_key:
                if key < stop_key:  # type: ignore[operator]
                    old_run += 1
                    if old_run >= STOP_AFTER:
                        break
                else:
                    old_run = 0
                continue
            old_run = 0
        if match(rec):
            out.append(rec)
            if limit is not None and len(out) >= limit:
                break
