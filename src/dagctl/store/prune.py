"""Forgetting old runs: delete their folders and compact the event log, losing nothing still wanted.

The decision is pure (:func:`choose_runs`); the deletion and the compaction are IO at the edge. The
event log is compacted with :func:`dagctl.store.jsonl.rewrite_atomic`, which copies whatever other dagctl
processes appended while we were reading, so pruning is safe next to running DAGs and schedulers.
The scheduler's state log is left alone: its records are the memory of which slots already ran.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .history import History, started_at
from .jsonl import file_identity, iter_with_offsets, rewrite_atomic
from .layout import events_file


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    dag_name: str
    finished: bool


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    events_dropped: int = 0


def choose_runs(runs: Sequence[RunInfo], *, now: datetime, older_than: timedelta, keep_last: int = 0) -> list[str]:
    """Run ids to remove: started before ``now - older_than``, finished, and not among the newest
    ``keep_last`` runs of their DAG. ``runs`` may come in any order."""
    cutoff = now - older_than
    newest_first = sorted(runs, key=lambda r: r.run_id, reverse=True)
    seen: dict[str, int] = {}
    chosen = []
    for run in newest_first:
        rank = seen.get(run.dag_name, 0)
        seen[run.dag_name] = rank + 1
        if rank < keep_last or not run.finished:
            continue
        if started_at(run.run_id) < cutoff:
            chosen.append(run.run_id)
    return chosen


def _info(history: History, run_id: str) -> RunInfo:
    path = events_file(history.run_dir(run_id))
    dag, finished = "", False
    try:
        with path.open("rb") as fh:
            first = fh.readline()
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = fh.read()
        dag = json.loads(first).get("dag_name", "") if first.strip() else ""
        finished = b'"event":"dag_done"' in tail
    except (OSError, ValueError):
        finished = True  # a damaged folder: old enough is old enough
    return RunInfo(run_id, dag, finished)


def prune(history: History, *, older_than: timedelta, keep_last: int = 0, dry_run: bool = False) -> PruneReport:
    now = history.clock.now()
    infos = [_info(history, rid) for rid in history.run_ids()]
    report = PruneReport()
    report.removed = choose_runs(infos, now=now, older_than=older_than, keep_last=keep_last)
    cutoff = now - older_than
    report.kept_running = [i.run_id for i in infos if not i.finished and started_at(i.run_id) < cutoff]
    for run_id in report.removed:
        report.bytes_freed += _size(history.run_dir(run_id))
    if dry_run or not report.removed:
        return report
    for run_id in report.removed:
        shutil.rmtree(history.run_dir(run_id), ignore_errors=True)
    report.events_dropped = _compact(history.settings.events_path, set(report.removed))
    return report


def _compact(path: Path, removed: set[str]) -> int:
    identity = file_identity(path)
    if identity is None:
        return 0
    kept, dropped, end = [], 0, 0
    for _, end_offset, record in iter_with_offsets(path):
        end = end_offset
        if record.get("run_id") in removed:
            dropped += 1
        else:
            kept.append(record)
    if dropped:
        rewrite_atomic(path, kept, keep_tail_from=end, expected_identity=identity)
    return dropped


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
