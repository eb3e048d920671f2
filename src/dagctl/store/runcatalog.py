"""The run catalog: each run's DAG, tenant and status, so that a filtered listing opens only the runs it shows.

``dagctl runs --dag X`` used to fold every run folder to learn each run's DAG: seconds at a few hundred
thousand event lines, however few runs matched. The catalog keeps what a filter needs, for every run folder,
in ``logs/cache/runs.json`` (columns, to load fast: the run ids newest first, and per run the DAG, tenant and
status as numbers into a table of names, whether that status is final, and the size of its events file).

It is a cache of facts the run folders hold, kept by its readers, not by the writers of runs, so runs
written by any dagctl, by workers, by ``record_unstarted_run`` or marked ``abandoned`` are all covered:

* **Built from the folders.** A run missing from the catalog gets an entry from two small reads of its
  ``events.jsonl`` (:func:`read_entry`): the first record (``dag_start``: DAG and tenant) and the last
  8 KiB (the last ``dag_done`` or ``dag_resume``: status). Runs whose folder is gone are dropped. The first
  filtered listing after an upgrade builds it for the whole history once (seconds at a million lines).
* **The listing is reused while the runs folder is unchanged**: its mtime is kept with the moment it was
  listed, and trusted only when that moment came a second or more after the folder's last change (so a run
  folder created in the same clock tick as the listing can never be missed). Otherwise it is listed again.
* **Only final facts are trusted.** A run's DAG and tenant never change; its status is *final* once it is
  ``success``, ``failed`` or ``cancelled`` (nothing resumes those). A run in any other status (running,
  waiting, paused, abandoned) is read again when its events file changed size, and is always a candidate
  for a ``--status`` filter. Those runs are few.
* **A superset, then the truth.** :meth:`RunCatalog.candidates` only rules runs *out*; each candidate is
  then read and filtered by its real summary (:meth:`~dagctl.store.history.History.summaries`), so a stale
  or damaged catalog can cost time, never a wrong answer.

The file is rewritten with an atomic rename when something changed. Two processes rewriting it at once each
write a whole catalog; whatever the survivor lacks is read from the folders next time. A catalog that is
unreadable or of another version is rebuilt; one that cannot be written is used in memory only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from dagctl.clock import SystemClock
from dagctl.errors import DagctlError
from dagctl.protocols import Clock

from . import layout
from .jsonl import open_for_reading

__all__ = ["FINAL_STATUSES", "UNKNOWN", "Entry", "RunCatalog", "may_match", "read_entry"]

log = logging.getLogger(__name__)

VERSION = 1
FINAL_STATUSES = frozenset({"success", "failed", "cancelled"})
"""Statuses a run never leaves (``paused`` and ``abandoned`` runs can be resumed)."""
ID_LENGTH = 26
"""``20261121-194512.123-a1b2c3``: every run id has this length (:data:`dagctl.store.layout.RUN_ID_RE`)."""
SETTLED_NS = 1_000_000_000
"""A listing is reused only if it was taken this long after the runs folder last changed (coarse mtimes)."""
_TAIL = 8192
_HEAD_LINES = 8
_HEAD_BYTES = 1 << 20
"""The longest first lines read for a run's DAG and tenant (a longer ``dag_start``, huge params: ``UNKNOWN``)."""
_COLUMNS = ("dag", "tenant", "status", "final", "size")


class Entry(NamedTuple):
    """What a filter needs of one run. ``None`` means unknown (the run is then always a candidate)."""

    dag: str | None
    tenant: str | None
    status: str | None
    final: bool


UNKNOWN = Entry(None, None, None, False)


def may_match(entry: Entry, *, dag: str | None, tenant: str | None, status: str | None) -> bool:
    """False only when ``entry`` proves the run does not pass the filters (empty filters filter nothing)."""
    if dag and entry.dag is not None and entry.dag != dag:
        return False
    if tenant and entry.tenant is not None and entry.tenant != tenant:
        return False
    return not (status and entry.final and entry.status != status)


def read_entry(events: Path) -> tuple[Entry, int]:
    """A run's entry and the size of its ``events.jsonl``: DAG and tenant from the first record, status from
    the last ``dag_done`` (``running`` after a later ``dag_start``/``dag_resume``), as ``fold_run`` says.

    Two bounded reads: never blocks on a FIFO, never reads a device; a file that cannot be read (or is no regular
    file) is ``UNKNOWN``, so the run stays a candidate and its reader says what is wrong with it."""
    try:
        with open(open_for_reading(events), "rb") as fh:
            head = [fh.readline(_HEAD_BYTES) for _ in range(_HEAD_LINES)]
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - _TAIL))
            tail = fh.read(_TAIL)
    except (OSError, DagctlError):
        return UNKNOWN, -1
    first = next((rec for rec in map(_record, head) if rec is not None), None)
    if first is None:
        return UNKNOWN, size
    dag, tenant = first.get("dag_name"), first.get("tenant_id")
    status: str | None = None
    for line in reversed(tail.split(b"\n")):
        if b"dag_" not in line:
            continue
        rec = _record(line)
        kind = rec.get("event") if rec is not None else None
        if kind == "dag_done":
            found = rec.get("status") if rec is not None else None
            status = found if isinstance(found, str) and found else "failed"
            break
        if kind in ("dag_start", "dag_resume"):
            status = "running"
            break
    entry = Entry(
        dag if isinstance(dag, str) and dag else None,
        tenant if isinstance(tenant, str) and tenant else None,
        status,
        status in FINAL_STATUSES,
    )
    return entry, size


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Table:
    """The catalog in memory: run ids newest first (one string, ``ID_LENGTH`` characters each) and parallel
    columns of name numbers (-1: unknown), final flags and events-file sizes."""

    def __init__(self, names: list[str], ids: str, columns: dict[str, list[int]], stamp: tuple[int, int]) -> None:
        self.names = names
        self.codes = {name: i for i, name in enumerate(names)}
        self.ids = ids
        self.dag, self.tenant, self.status = columns["dag"], columns["tenant"], columns["status"]
        self.final, self.size = columns["final"], columns["size"]
        self.stamp = stamp  # (mtime of the runs folder, when it was listed), in ns

    def __len__(self) -> int:
        return len(self.dag)

    def run_id(self, i: int) -> str:
        return self.ids[i * ID_LENGTH : (i + 1) * ID_LENGTH]

    def entry(self, i: int) -> Entry:
        name = self._name
        return Entry(name(self.dag[i]), name(self.tenant[i]), name(self.status[i]), bool(self.final[i]))

    def _name(self, code: int) -> str | None:
        return self.names[code] if code >= 0 else None

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        found = self.codes.get(name)
        if found is None:
            found = self.codes[name] = len(self.names)
            self.names.append(name)
        return found

    def set(self, i: int, entry: Entry, size: int) -> None:
        self.dag[i], self.tenant[i] = self.code(entry.dag), self.code(entry.tenant)
        self.status[i], self.final[i], self.size[i] = self.code(entry.status), int(entry.final), size

    def to_json(self) -> str:
        data = {"v": VERSION, "stamp": list(self.stamp), "names": self.names, "ids": self.ids}
        data.update({column: getattr(self, column) for column in _COLUMNS})
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def empty(cls) -> _Table:
        return cls([], "", {column: [] for column in _COLUMNS}, (0, 0))

    @classmethod
    def from_json(cls, data: object) -> _Table | None:
        if not isinstance(data, Mapping) or data.get("v") != VERSION:
            return None
        names, ids, stamp = data.get("names"), data.get("ids"), data.get("stamp")
        columns = {column: data.get(column) for column in _COLUMNS}
        if not isinstance(names, list) or not isinstance(ids, str) or not isinstance(stamp, list) or len(stamp) != 2:
            return None
        count = len(ids) // ID_LENGTH
        if len(ids) % ID_LENGTH or any(not isinstance(c, list) or len(c) != count for c in columns.values()):
            return None
        return cls(names, ids, columns, (int(stamp[0]), int(stamp[1])))  # type: ignore[arg-type]


class RunCatalog:
    """The catalog file of one logs folder (see the module docstring)."""

    def __init__(self, path: Path, runs_dir: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.runs_dir = runs_dir
        self.clock = clock or SystemClock()
        self.reads = 0
        """How many run folders were read to build or refresh entries (tests and benchmarks check it)."""
        self.listed = False
        """Whether the last refresh listed the runs folder (False: the kept listing was still good)."""

    def candidates(
        self, *, dag: str | None = None, tenant: str | None = None, status: str | None = None, since: str = ""
    ) -> list[str]:
        """Run ids, newest first, that may pass the filters (every run that does, and few that do not), among
        the runs whose id is ``>= since`` (a prefix such as ``20261121-1945``)."""
        table = self.refresh()
        end = _first_older(table, since) if since else len(table)
        keep: range | list[int] = range(end)
        if dag:
            code, column = table.codes.get(dag, -2), table.dag
            keep = [i for i in keep if column[i] == code or column[i] < 0]
        if tenant:
            code, column = table.codes.get(tenant, -2), table.tenant
            keep = [i for i in keep if column[i] == code or column[i] < 0]
        if status:
            code, column, final = table.codes.get(status, -2), table.status, table.final
            keep = [i for i in keep if column[i] == code or not final[i]]
        return [table.run_id(i) for i in keep]

    def entries(self) -> dict[str, Entry]:
        """Every run's entry (for tests and tools; the listing itself never builds this)."""
        table = self.refresh()
        return {table.run_id(i): table.entry(i) for i in range(len(table))}

    def refresh(self) -> _Table:
        """The catalog, up to date with the runs folder (see the module docstring); rewritten if it changed."""
        table = self._load() or _Table.empty()
        try:
            mtime = os.stat(self.runs_dir).st_mtime_ns
        except OSError:
            return _Table.empty()
        changed = False
        self.listed = not (table.stamp[0] == mtime and table.stamp[1] - mtime >= SETTLED_NS)
        if self.listed:
            listed_at = int(self.clock.now().timestamp() * 1e9)
            ids = self._listing()
            if len(ids) * ID_LENGTH != len(table.ids) or "".join(ids) != table.ids:
                table = self._relisted(table, ids)
                changed = True
            if table.stamp != (mtime, listed_at):
                table.stamp = (mtime, listed_at)
                changed = True
        for i in [i for i, final in enumerate(table.final) if not final]:
            events = layout.events_file(layout.run_dir(self.runs_dir, table.run_id(i)))
            try:
                size = os.stat(events).st_size
            except OSError:
                size = -1
            if size != table.size[i] or table.dag[i] < 0:
                self.reads += 1
                entry, size = read_entry(events)
                if entry != table.entry(i) or size != table.size[i]:
                    table.set(i, entry, size)
                    changed = True
        if changed:
            self._save(table)
        return table

    def _listing(self) -> list[str]:
        try:
            ids = layout.scan_runs(self.runs_dir).ids  # real folders only, as History.run_ids
        except OSError:
            return []
        return [n for n in ids if len(n) == ID_LENGTH]

    def _relisted(self, old: _Table, ids: list[str]) -> _Table:
        """A table for ``ids``: the rows of the runs ``old`` knows, fresh rows for the new ones."""
        known = {old.run_id(i): i for i in range(len(old))}
        table = _Table(old.names, "".join(ids), {column: [0] * len(ids) for column in _COLUMNS}, old.stamp)
        for i, run_id in enumerate(ids):
            j = known.get(run_id)
            if j is not None:
                table.dag[i], table.tenant[i], table.status[i] = old.dag[j], old.tenant[j], old.status[j]
                table.final[i], table.size[i] = old.final[j], old.size[j]
            else:
                self.reads += 1
                entry, size = read_entry(layout.events_file(layout.run_dir(self.runs_dir, run_id)))
                table.set(i, entry, size)
        return table

    def _load(self) -> _Table | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("%s: unreadable run catalog (%s); rebuilding it from the run folders", self.path, exc)
            return None
        try:
            table = _Table.from_json(json.loads(raw))
        except (ValueError, TypeError) as exc:
            log.warning("%s: unreadable run catalog (%s); rebuilding it from the run folders", self.path, exc)
            return None
        if table is None:
            log.info("%s: a run catalog of another version; rebuilding it from the run folders", self.path)
        return table

    def _save(self, table: _Table) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(table.to_json())
            os.replace(tmp, self.path)  # a cache: no fsync; a torn file reads as unreadable and is rebuilt
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            log.debug("%s: cannot write the run catalog: %s", self.path, exc)


def _first_older(table: _Table, since: str) -> int:
    """The position of the first run (ids run newest first) whose id sorts before ``since``."""
    low, high = 0, len(table)
    while low < high:
        mid = (low + high) // 2
        if table.run_id(mid) >= since:
            low = mid + 1
        else:
            high = mid
    return low
