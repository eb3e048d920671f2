"""How long a DAG's tasks usually take: medians over its recent successful runs, for ETAs and expected times.

The live view of ``dagctl run`` asks this once, on its own thread, while the run goes on, so it must cost little
next to a run of short tasks. Runs are found newest first by their folder names; a run's outcome is read from
the last line of its own events file (one small read from the end); only the newest ``runs`` successful runs of
the DAG are read whole, and at most ``scan`` folders are looked at, so a long history of other DAGs costs a
bounded time.

Reading a 1,000-task run's events takes ~7 ms on the reference machine, five of them ~35 ms: more than the 2%
of a 700 ms run the live view may cost. So the durations of those runs are kept in a small append-only cache
per DAG, ``logs/cache/durations/<dag>.jsonl`` (safe to delete), whose last lines answer in ~1 ms for 1,000
tasks: a line holds a run's task ids (sorted, in one string) and their durations in whole milliseconds (packed
as unsigned 32-bit integers, in hex), because JSON reads two long strings several times faster than lists of
a thousand items each, and runs of one DAG listing the same ids have their medians taken column by column. Hex
and :class:`memoryview` are built into Python: reading a line loads no extension module (``array`` and
``binascii`` each cost a ``dagctl run`` ~0.3 ms to load). It
is trusted for :data:`REFRESH_S` after the run folders were last looked at (then rewritten with what they hold);
a live view appends the run it watched when that run succeeds (:func:`remember_run`: one line, the durations
are in its hands), so runs watched on a terminal are never read again. :data:`ENABLED` turns the cache off.
No :mod:`typing`, :mod:`dataclasses` or :mod:`statistics` at run time: this module is on the path of
``dagctl run`` on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from itertools import repeat
from operator import mul

from dagctl.errors import StateError
from dagctl.records import Record

from . import layout
from .events import format_ts, parse_ts
from .jsonl import append_record, iter_records, rewrite_atomic, tail_records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from pathlib import Path
    from typing import Literal

RUNS = 5
"""How many recent successful runs the medians are taken over."""
SCAN = 200
"""How many run folders, newest first, are looked at to find them."""
REFRESH_S = 300.0
"""How long the cache is trusted before the run folders are looked at again (runs not watched on a terminal
finish without telling it)."""
ENABLED = True
"""Keep the durations of recent runs in ``logs/cache/durations/`` (~35 ms less per live view of a 1,000-task DAG
with history); False reads the runs' events every time."""
CACHE_VERSION = 4
"""Lines of other versions are ignored (the cache is then refreshed from the run folders and rewritten)."""


Sample = tuple[str, float, list[str], "Sequence[int]"]
"""``(run_id, run duration in seconds, task ids sorted, their durations in milliseconds)`` of one run."""


class RecentDurations(Record):
    """Durations of the newest successful runs of one DAG, and their medians (all empty when it has none)."""

    tasks: dict[str, float]
    """Task id -> median duration in seconds of its successful attempt."""
    runs: tuple[str, ...] = ()
    """The run ids the medians come from, newest first."""
    run_median_s: float | None = None
    """The median duration of those runs."""
    samples: tuple[Sample, ...] = ()
    """Each of those runs (:data:`Sample`), newest first."""
    checked: str | None = None
    """When the run folders were last looked at for these (UTC ISO); None: never, look now."""


def median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def summarize(samples: tuple[Sample, ...], checked: str | None) -> RecentDurations:
    """Medians of ``samples``: per task over the runs it succeeded in, and of the runs' durations."""
    return RecentDurations(
        tasks=sample_medians(samples),
        runs=tuple(sample[0] for sample in samples),
        run_median_s=median([sample[1] for sample in samples]) if samples else None,
        samples=samples,
        checked=checked,
    )


def sample_medians(samples: tuple[Sample, ...]) -> dict[str, float]:
    """Task id -> the median of its durations (seconds) over the runs of ``samples`` that have it.

    Runs of an unchanged DAG list the same ids (one list, shared by the lines that read them): their durations
    are then taken column by column, zipped in C (a third of the time of a mapping per run for 1,000 tasks, and
    this is on the live view's path)."""
    if not samples:
        return {}
    ids = samples[0][2]
    if all(sample[2] is ids or sample[2] == ids for sample in samples[1:]):
        columns = zip(*(sample[3] for sample in samples), strict=True)
        if len(samples) % 2:
            mid = len(samples) // 2
            return {tid: sorted(column)[mid] / 1000 for tid, column in zip(ids, columns, strict=True)}
        return {tid: median(list(column)) / 1000 for tid, column in zip(ids, columns, strict=True)}
    return task_medians([dict(zip(ids, [ms / 1000 for ms in ms_], strict=True)) for _, _, ids, ms_ in samples])


def as_sample(run_id: str, duration_s: float, tasks: Mapping[str, float]) -> Sample:
    """A run's :data:`Sample` from its task durations in seconds."""
    ids = sorted(tasks)
    return run_id, duration_s, ids, list(map(round, map(mul, map(tasks.__getitem__, ids), repeat(1000))))


def task_medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Task id -> the median of its durations over ``runs`` (each: task id -> seconds) that have it."""
    per_task: dict[str, list[float]] = {}
    for run in runs:
        for tid, took in run.items():
            seen = per_task.get(tid)
            if seen is None:
                per_task[tid] = [took]
            else:
                seen.append(took)
    return {tid: values[0] if len(values) == 1 else median(values) for tid, values in per_task.items()}


def _looks_like_run_id(name: str) -> bool:  # 20261121-194512.123-3f9a2c, without importing re
    return len(name) == 26 and name[8] == "-" and name[15] == "." and name[19] == "-" and name[:8].isdigit()


def successful_runs(runs_dir: Path, dag_name: str, *, runs: int = RUNS, scan: int = SCAN) -> list[tuple[str, float]]:
    """``(run_id, duration_s)`` of the newest ``runs`` successful runs of ``dag_name``, newest first."""
    try:
        names = sorted((n for n in os.listdir(runs_dir) if _looks_like_run_id(n)), reverse=True)
    except OSError:
        return []
    found: list[tuple[str, float]] = []
    for name in names[:scan]:
        try:
            last = tail_records(layout.events_file(layout.run_dir(runs_dir, name)), 1)
        except (OSError, StateError):
            continue
        if not last:
            continue
        done = last[0]
        if done.get("event") != "dag_done" or done.get("dag_name") != dag_name or done.get("status") != "success":
            continue
        duration = done.get("duration_s")
        found.append((name, float(duration) if isinstance(duration, (int, float)) else 0.0))
        if len(found) >= runs:
            break
    return found


def task_durations(runs_dir: Path, run_id: str) -> dict[str, float]:
    """Task id -> duration of its successful attempt in one run, from the run's events."""
    found: dict[str, float] = {}
    try:
        for record in iter_records(layout.events_file(layout.run_dir(runs_dir, run_id))):
            if record.get("event") != "task_ok" or record.get("cell"):  # a matrix cell is not its task
                continue
            tid, took = record.get("task_id"), record.get("duration_s")
            if isinstance(tid, str) and isinstance(took, (int, float)):
                found[tid] = float(took)
    except (OSError, StateError):
        pass
    return found


def recent_durations(
    runs_dir: Path,
    dag_name: str,
    *,
    now: datetime,
    cache_dir: Path | None = None,
    runs: int = RUNS,
    scan: int = SCAN,
) -> RecentDurations:
    """Median task and run durations over the newest ``runs`` successful runs of ``dag_name``.

    A task's duration in a run is that of its successful attempt (``task_ok``); a task skipped or reused in a
    run does not count for that run. With ``cache_dir`` the answer comes from the cache while it is fresh, and
    the cache is brought up to date when it is not."""
    use_cache = ENABLED and cache_dir is not None
    cached: tuple[Sample, ...] = ()
    if use_cache:
        assert cache_dir is not None
        cached, checked = _read(cache_file(cache_dir, dag_name), runs)
        if checked is not None:
            try:
                age = (now - parse_ts(checked)).total_seconds()
            except ValueError:
                age = REFRESH_S
            if 0 <= age < REFRESH_S:
                return summarize(cached, checked)
    known = {sample[0]: sample for sample in cached}
    samples = tuple(
        known[run_id] if run_id in known else as_sample(run_id, took, task_durations(runs_dir, run_id))
        for run_id, took in successful_runs(runs_dir, dag_name, runs=runs, scan=scan)
    )
    found = summarize(samples, format_ts(now))
    if use_cache:
        assert cache_dir is not None
        _rewrite(cache_file(cache_dir, dag_name), found)
    return found


def remember_run(
    cache_dir: Path, dag_name: str, known: RecentDurations, run_id: str, duration_s: float, tasks: Mapping[str, float]
) -> None:
    """Add a successful run that just ended, its durations in hand, to the cache: one appended line.

    ``known`` is what :func:`recent_durations` said when the run began: the new line carries on when the run
    folders were last looked at. Runs that finish without a live view are found when the cache is refreshed."""
    if ENABLED:
        with contextlib.suppress(OSError, StateError):  # a cache that cannot be written is simply not there
            append_record(cache_file(cache_dir, dag_name), _line(as_sample(run_id, duration_s, tasks), known.checked))


# --------------------------------------------------------------------------------------------- the cache file
#
# <dag>.jsonl: one line per run, {"v", "run_id", "duration_s", "ids": "task task ...", "ms": hex of the
# durations in milliseconds as little-endian unsigned 32-bit integers, "checked"}, appended when a live view saw
# the run succeed, "checked" saying when the run folders were last looked at (a DAG without a
# successful run has one line with "checked" alone). Only the last RUNS lines are read; a refresh rewrites the
# file with the runs it found, so it stays small.


def cache_file(cache_dir: Path, dag_name: str) -> Path:
    """``<dag>.jsonl``, the name made safe for a file system (and told apart from names made the same)."""
    import zlib

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in dag_name)[:80] or "_"
    if safe != dag_name:
        safe += f"-{zlib.crc32(dag_name.encode()):08x}"
    return cache_dir / f"{safe}.jsonl"


def _line(sample: Sample, checked: str | None) -> dict[str, object]:
    """A run's line; durations to the millisecond, which is all an ETA needs (and quicker to read)."""
    run_id, duration_s, ids, ms = sample
    names = " ".join(ids)
    if (ids and names.count(" ") != len(ids) - 1) or "" in ids:  # task ids have no spaces (names.NAME_PATTERN)
        kept = [n for n, tid in enumerate(ids) if tid and " " not in tid]  # others are left out
        names, ms = " ".join(ids[n] for n in kept), [ms[n] for n in kept]
    try:
        packed = b"".join(map(int.to_bytes, ms, repeat(4), repeat(_LITTLE)))
    except OverflowError:  # negative, or 49 days and more
        packed = b"".join(min(max(m, 0), _MS_MAX).to_bytes(4, "little") for m in ms)
    return {
        "v": CACHE_VERSION,
        "run_id": run_id,
        "duration_s": duration_s,
        "ids": names,
        "ms": packed.hex(),
        "checked": checked,
    }


_LITTLE: Literal["little"] = "little"
_MS_MAX = 2**32 - 1
"""The longest duration a line holds (49 days): durations are unsigned 32-bit integers."""
_NATIVE = sys.byteorder == "little" and memoryview(bytes(4)).cast("I").itemsize == 4
"""Lines hold little-endian integers, whatever the machine (a logs folder may be shared): read in place where
those are the machine's own."""


def _unpack(ids: object, ms: object, split: dict[str, list[str]]) -> tuple[list[str], Sequence[int]] | None:
    """A line's ids and durations, or None when they are damaged (not strings, not hex, lengths that differ).

    ``split`` keeps the ids of the lines read so far: runs of an unchanged DAG share one list (split once)."""
    if not isinstance(ids, str) or not isinstance(ms, str):
        return None
    try:
        raw = bytes.fromhex(ms)
    except ValueError:  # not hex digits
        return None
    if len(raw) % 4:
        return None
    if _NATIVE:
        durations: Sequence[int] = memoryview(raw).cast("I")
    else:  # pragma: no cover - a big-endian machine
        durations = [int.from_bytes(raw[n : n + 4], "little") for n in range(0, len(raw), 4)]
    names = split.get(ids)
    if names is None:
        names = split[ids] = ids.split(" ") if ids else []
    if len(names) != len(durations):
        return None
    return names, durations


def _read(path: Path, runs: int) -> tuple[tuple[Sample, ...], str | None]:
    """The newest ``runs`` runs the cache holds, newest first, and when the run folders were last looked at."""
    try:
        lines = tail_records(path, runs)
    except (OSError, StateError):
        return (), None
    found: dict[str, Sample] = {}
    checked = None
    split: dict[str, list[str]] = {}
    for line in lines:
        if line.get("v") != CACHE_VERSION:
            continue
        when = line.get("checked")
        if isinstance(when, str) and (checked is None or when > checked):
            checked = when
        run_id, took = line.get("run_id"), line.get("duration_s")
        if not isinstance(run_id, str):  # a look at the folders, no run
            continue
        unpacked = _unpack(line.get("ids"), line.get("ms"), split)
        if unpacked is None:  # a damaged line is skipped, not half used
            continue
        found[run_id] = (run_id, float(took) if isinstance(took, (int, float)) else 0.0, *unpacked)
    newest = sorted(found.values(), key=lambda sample: sample[0], reverse=True)
    return tuple(newest), checked


def _rewrite(path: Path, found: RecentDurations) -> None:
    """The cache as just looked up: its runs, oldest first."""
    lines: list[dict[str, object]] = [_line(sample, found.checked) for sample in reversed(found.samples)]
    if not lines:  # no successful run yet: remember that the folders were looked at, not to look again at once
        lines.append({"v": CACHE_VERSION, "checked": found.checked})
    with contextlib.suppress(OSError, StateError):
        rewrite_atomic(path, lines)
