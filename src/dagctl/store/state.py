"""The state store: an append-only JSONL log of scheduler facts, and the fold that dedups slots.

File: ``STATE_STORE_PATH`` (default ``logs/orchestrator_state.jsonl``). Every line carries ``v``, ``ts``
(UTC, milliseconds, ``Z``) and ``event``. The scheduler writes five kinds (:data:`STATE_EVENTS`):

``schedule_registered``  a schedule with ``catchup`` was seen for the first time; its initial watermark
``schedule_enqueued``    a slot was claimed: ``schedule_id``, ``slot`` (key), ``fire_utc``, ``local_minute``,
                         ``timezone`` (of ``local_minute``), ``claimed_by`` (host, pid, pid_start), ``trigger``
                         (schedule | backfill)
``run_started``          the claimed slot's DAG run starts: ``slot``, ``run_id``
``run_finished``         it ended: ``slot``, ``run_id``, ``status`` (success | failed | cancelled | lost)
``schedule_skipped``     a due slot was not run: ``slot``, ``reason`` (overlap, coalesced, stopped ...)

**The fold.** Per schedule: the *watermark* (newest fire instant claimed, skipped or registered: slots at
or before it are never due again), the *open* slots (claimed, not finished: running or waiting, with their
owner process), the last finished run and a few counters. It is what dedup and ``schedule list`` read.

**Dedup does not scan history.** The fold is cached in a sidecar ``<state>.idx`` (JSON) together with the
log's identity (device, inode), the byte offset it covers and a digest of the 4 KiB before that offset (an
inode number can be reused). A process loads the index and folds only the lines appended after that
offset. The index is rewritten (atomic rename) once the log has grown 256 KiB past it and when a store is
closed. It is only a cache: if it is missing, unreadable, for another file, or ahead of the log
(truncated), the fold is rebuilt from the whole log once. Appends by writers that do not update the index
(:func:`record_event`) are picked up as a tail.

**Claims are atomic.** :meth:`StateStore.transaction` takes the log's file lock (the same flock every
JSONL writer takes), folds the tail, lets the caller decide against the fresh fold, then appends the
records with fsync before releasing the lock. Two processes can never both claim a slot. The lock is
waited for in short slices (up to ``lock_timeout`` in all), so a caller's ``interrupt`` (a stop request)
ends the wait within :data:`LOCK_SLICE_S`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from dagctl.clock import SystemClock
from dagctl.errors import StateError, UsageError
from dagctl.host import hostname, process_alive, process_start_ticks
from dagctl.protocols import Clock

from .events import format_ts, parse_ts
from .jsonl import JsonlWriter, file_identity, iter_records_reverse, iter_with_offsets, lock_path_for, tail_records

__all__ = [
    "STATE_EVENTS",
    "LockWaitInterrupted",
    "OpenSlot",
    "Owner",
    "RunFinished",
    "RunStarted",
    "ScheduleEnqueued",
    "ScheduleRegistered",
    "ScheduleSkipped",
    "ScheduleState",
    "StateEvent",
    "StateFold",
    "StateStore",
    "index_by",
    "last_runs",
    "record_event",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
INDEX_VERSION = 3  # 2: the last run's duration, fire and start times, and the last success; 3: recent minutes' zones
RECENT_MINUTES = 8  # local minutes (with their zone) of the last claims kept per schedule (fall-back dedup)
INDEX_LAG = 256 * 1024  # rewrite the index once the log has grown this much past it (and on close)
LOCK_SLICE_S = 0.25
"""The state lock is waited for in slices this long; between two, a transaction's ``interrupt`` is asked."""


class LockWaitInterrupted(StateError):
    """A transaction stopped waiting for the state lock because its caller asked it to (a stop request)."""


# ------------------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Owner:
    """The process that claimed a slot. ``pid_start`` tells a reused pid from the original."""

    host: str
    pid: int
    pid_start: float | None = None

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(hostname(), pid, process_start_ticks(pid))

    @classmethod
    def from_record(cls, data: Any) -> Owner:
        """The owner a record names; ``Owner("?", 0)`` when ``claimed_by`` is missing or cannot be read."""
        if not isinstance(data, Mapping):
            return cls("?", 0, None)
        host, pid = data.get("host"), data.get("pid")
        if not isinstance(host, str) or not host or isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            return cls("?", 0, None)
        start = data.get("pid_start")
        return cls(host, pid, start if isinstance(start, (int, float)) and not isinstance(start, bool) else None)

    @property
    def known(self) -> bool:
        """False when the record did not say which process it is (a hand-edited or foreign ``claimed_by``)."""
        return self.host != "?" and self.pid > 0

    def to_record(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "pid_start": self.pid_start}

    def is_dead(self, here: str) -> bool:
        """True only when we can tell: same host and the process is gone (another host, or an owner that cannot be
        read: assume alive, since a second run of the slot would be worse than a wait; ``schedule release`` ends it)."""
        return self.known and self.host == here and not process_alive(self.pid, self.pid_start)

    def __str__(self) -> str:
        if not self.known:
            return "an owner its claim does not name (claimed_by unreadable)"
        return f"pid {self.pid} on {self.host}"


@dataclass(frozen=True)
class StateEvent:
    """One line of the state log. Subclasses add fields; ``to_record`` puts v, ts, event first."""

    kind: ClassVar[str] = "state"
    ts: str
    schedule_id: str

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"v": SCHEMA_VERSION, "ts": self.ts, "event": self.kind}
        for key, value in self.__dict__.items():
            if value is not None and key != "ts":
                record[key] = value.to_record() if isinstance(value, Owner) else value
        return record


@dataclass(frozen=True)
class ScheduleRegistered(StateEvent):
    kind: ClassVar[str] = "schedule_registered"
    watermark: str = ""


@dataclass(frozen=True)
class ScheduleEnqueued(StateEvent):
    kind: ClassVar[str] = "schedule_enqueued"
    slot: str = ""
    fire_utc: str = ""
    local_minute: str = ""
    claimed_by: Owner | None = None
    trigger: str = "schedule"
    dag: str | None = None
    tenant: str | None = None
    timezone: str | None = None
    """The zone ``local_minute`` is in (the fall-back guard compares minutes of the same zone only)."""


@dataclass(frozen=True)
class RunStarted(StateEvent):
    kind: ClassVar[str] = "run_started"
    slot: str = ""
    run_id: str = ""
    dag: str | None = None
    tenant: str | None = None
    logical_date: str | None = None


@dataclass(frozen=True)
class RunFinished(StateEvent):
    kind: ClassVar[str] = "run_finished"
    slot: str = ""
    run_id: str | None = None
    status: str = "success"  # success | failed | cancelled | lost
    duration_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ScheduleSkipped(StateEvent):
    kind: ClassVar[str] = "schedule_skipped"
    slot: str = ""
    fire_utc: str = ""
    local_minute: str = ""
    reason: str = ""


STATE_EVENTS = tuple(
    cls.kind for cls in (ScheduleRegistered, ScheduleEnqueued, RunStarted, RunFinished, ScheduleSkipped)
)


# -------------------------------------------------------------------------------------------------- fold


@dataclass
class OpenSlot:
    """A claimed slot that has not finished: waiting to start, or running (``run_id`` set)."""

    key: str
    fire_utc: datetime
    local_minute: str
    owner: Owner
    trigger: str = "schedule"
    run_id: str | None = None
    started: str | None = None

    def describe(self) -> str:
        what = f"run {self.run_id}" if self.run_id else "a claimed run that has not started yet"
        return f"{what} (slot {self.key}, {self.owner})"


@dataclass
class ScheduleState:
    """What the log says about one schedule."""

    watermark: datetime | None = None
    open: dict[str, OpenSlot] = field(default_factory=dict)
    recent_minutes: list[tuple[str, str | None]] = field(default_factory=list)
    """``(local minute, its zone)`` of the last claims, oldest first; the zone is None in records written before
    claims named it."""
    last: dict[str, Any] | None = None
    """The last finished run: ``slot``, ``run_id``, ``status``, ``ts`` (when it finished), and when known
    ``duration_s``, the slot's ``fire_utc`` and ``started`` (when its run started)."""
    counts: dict[str, int] = field(default_factory=dict)
    last_success: str | None = None
    """When the latest successful run finished (``ts``)."""

    def _advance(self, instant: datetime) -> None:
        if self.watermark is None or instant > self.watermark:
            self.watermark = instant

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


@dataclass
class StateFold:
    """The fold of the log up to ``offset`` (a line boundary) of the file with ``identity``."""

    identity: tuple[int, int] | None = None
    offset: int = 0
    schedules: dict[str, ScheduleState] = field(default_factory=dict)
    check: str | None = None  # digest of the bytes before ``offset`` when last indexed (see _tail_check)

    def get(self, schedule_id: str) -> ScheduleState:
        state = self.schedules.get(schedule_id)
        if state is None:
            state = self.schedules[schedule_id] = ScheduleState()
        return state

    def apply(self, record: Mapping[str, Any]) -> None:
        """Fold one record; records that are not scheduler facts (or are malformed) are ignored."""
        sid = record.get("schedule_id")
        kind = record.get("event")
        if not isinstance(sid, str) or kind not in STATE_EVENTS:
            return
        try:
            self._apply(self.get(sid), kind, record)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("state log: ignoring malformed %s record for %r: %s", kind, sid, exc)

    @staticmethod
    def _apply(state: ScheduleState, kind: str, r: Mapping[str, Any]) -> None:
        if kind == "schedule_registered":
            state._advance(parse_ts(r["watermark"]))
            return
        key = r["slot"]
        if kind == "schedule_enqueued":
            fire = parse_ts(r["fire_utc"])
            state._advance(fire)
            minute = str(r.get("local_minute") or "")
            state.open[key] = OpenSlot(
                key, fire, minute, Owner.from_record(r.get("claimed_by")), str(r.get("trigger") or "schedule")
            )
            if minute:
                zone = r.get("timezone")
                entry = (minute, zone if isinstance(zone, str) and zone else None)
                state.recent_minutes = [*state.recent_minutes[-(RECENT_MINUTES - 1) :], entry]
            state._count("enqueued")
        elif kind == "run_started":
            slot = state.open.get(key)
            if slot is not None:
                slot.run_id, slot.started = r.get("run_id"), r.get("ts")
            state._count("started")
        elif kind == "run_finished":
            slot = state.open.pop(key, None)
            status = str(r.get("status") or "?")
            state.last = {"slot": key, "run_id": r.get("run_id"), "status": status, "ts": r.get("ts")}
            duration = r.get("duration_s")
            if isinstance(duration, (int, float)) and not isinstance(duration, bool):
                state.last["duration_s"] = duration
            if slot is not None:
                state.last["fire_utc"] = format_ts(slot.fire_utc)
                if slot.started:
                    state.last["started"] = slot.started
            if status == "success":
                state.last_success = r.get("ts")
            state._count(status)
        elif kind == "schedule_skipped":
            state.open.pop(key, None)
            if r.get("fire_utc"):
                state._advance(parse_ts(r["fire_utc"]))
            state._count("skipped")

    # ---------------------------------------------------------------- index (de)serialisation

    def to_index(self) -> dict[str, Any]:
        return {
            "v": INDEX_VERSION,
            "identity": list(self.identity) if self.identity else None,
            "offset": self.offset,
            "check": self.check,
            "schedules": {
                sid: {
                    "watermark": format_ts(s.watermark) if s.watermark else None,
                    "open": [
                        [
                            o.key,
                            format_ts(o.fire_utc),
                            o.local_minute,
                            o.owner.to_record(),
                            o.trigger,
                            o.run_id,
                            o.started,
                        ]
                        for o in s.open.values()
                    ],
                    "recent_minutes": [list(entry) for entry in s.recent_minutes],
                    "last": s.last,
                    "counts": s.counts,
                    "last_success": s.last_success,
                }
                for sid, s in self.schedules.items()
            },
        }

    @classmethod
    def from_index(cls, data: Mapping[str, Any]) -> StateFold:
        if data.get("v") != INDEX_VERSION:
            raise ValueError(f"index version {data.get('v')!r}")
        identity = data.get("identity")
        fold = cls(tuple(identity) if identity else None, int(data["offset"]))
        fold.check = data.get("check")
        for sid, s in data["schedules"].items():
            state = fold.get(sid)
            state.watermark = parse_ts(s["watermark"]) if s.get("watermark") else None
            for key, fire, minute, owner, trigger, run_id, started in s.get("open", []):
                state.open[key] = OpenSlot(
                    key, parse_ts(fire), minute, Owner.from_record(owner), trigger, run_id, started
                )
            state.recent_minutes = [(str(minute), zone) for minute, zone in s.get("recent_minutes", [])]
            state.last = s.get("last")
            state.counts = dict(s.get("counts", {}))
            state.last_success = s.get("last_success")
        return fold


# ------------------------------------------------------------------------------------------------ store


class Transaction:
    """Records to append atomically with the decision that produced them (see StateStore.transaction)."""

    def __init__(self, fold: StateFold) -> None:
        self.fold = fold
        self.records: list[dict[str, Any]] = []

    def add(self, event: StateEvent | Mapping[str, Any]) -> None:
        record = event.to_record() if isinstance(event, StateEvent) else dict(event)
        self.records.append(record)
        self.fold.apply(record)  # later decisions in the same transaction see it


class StateStore:
    """The state log plus its folded index. Thread-safe; safe across processes through the file lock."""

    def __init__(
        self,
        path: str | Path,
        clock: Clock | None = None,
        *,
        fsync: bool = True,
        write_index: bool = True,
        lock_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.index_path = self.path.with_name(self.path.name + ".idx")
        self.clock = clock or SystemClock()
        self.write_index = write_index
        self.host = hostname()
        self.lock_timeout = lock_timeout
        # the writer waits one slice at a time; _locked() waits up to lock_timeout, asking `interrupt` in between
        self._writer = JsonlWriter(self.path, fsync=fsync, lock_timeout=min(LOCK_SLICE_S, lock_timeout))
        self._mutex = threading.RLock()
        self._fold: StateFold | None = None
        self._indexed: tuple[tuple[int, int] | None, int] = (None, -1)  # (identity, offset) of the index on disk
        self.rebuilds = 0  # how many times the whole log was read (tests and benchmarks check it)

    def close(self) -> None:
        """Write the index if it lags behind what this store has folded, and close the log."""
        with self._mutex:
            if self._fold is not None and self._index_lags(self._fold, 0):
                self._save_index(self._fold)
            self._writer.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now_ts(self) -> str:
        return format_ts(self.clock.now())

    # ---------------------------------------------------------------- reading

    def refresh(self) -> StateFold:
        """The fold, brought up to date with the log's committed lines (reads only what is new)."""
        with self._mutex:
            try:
                identity = file_identity(self.path)
                fold = self._fold
                if fold is None or fold.identity != identity or _size(self.path) < fold.offset:
                    fold = self._load_index(identity) or self._rebuild(identity)
                self._fold_tail(fold)
            except OSError as exc:
                raise StateError(
                    f"cannot read the state store {self.path}: {exc.strerror or exc}",
                    hint="check STATE_STORE_PATH (or DAGCTL_LOGS_DIR) and the folder's permissions",
                ) from exc
            self._fold = fold
            return fold

    def _fold_tail(self, fold: StateFold) -> None:
        for _start, end, record in iter_with_offsets(self.path, fold.offset):
            fold.apply(record)
            fold.offset = end

    def _load_index(self, identity: tuple[int, int] | None) -> StateFold | None:
        if identity is None:
            return None
        try:
            data = json.loads(self.index_path.read_text())
            if isinstance(data, dict) and isinstance(data.get("v"), int) and data["v"] != INDEX_VERSION:
                log.info("%s: index written by another dagctl version; rebuilding it", self.index_path)
                return None
            fold = StateFold.from_index(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable state index (%s); rebuilding it from the log", self.index_path, exc)
            return None
        if fold.identity != identity or fold.check is None or _tail_check(self.path, fold.offset) != fold.check:
            log.info("%s: index is for another version of the log; rebuilding it", self.index_path)
            return None
        self._indexed = (fold.identity, fold.offset)
        return fold

    def _rebuild(self, identity: tuple[int, int] | None) -> StateFold:
        self.rebuilds += 1
        if identity is not None:
            log.info("%s: folding the whole state log (no usable index)", self.path)
        return StateFold(identity, 0)

    def rebuild_index(self) -> StateFold:
        """Forget the cached index and fold the whole log again (then write a fresh index)."""
        with self._mutex, self._locked(None):
            self._fold = None
            self.index_path.unlink(missing_ok=True)
            fold = self.refresh()
            self._save_index(fold)
            return fold

    @contextmanager
    def reading(self) -> Iterator[StateFold]:
        """The up-to-date fold, held still: other threads of this process cannot change it in the block."""
        with self._mutex:
            yield self.refresh()

    def watermarks(self) -> dict[str, datetime | None]:
        fold = self.refresh()
        return {sid: s.watermark for sid, s in fold.schedules.items()}

    def schedule_state(self, schedule_id: str) -> ScheduleState:
        return self.refresh().schedules.get(schedule_id) or ScheduleState()

    def last_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last ``limit`` records of the log, oldest first (reads only the end of the file)."""
        return tail_records(self.path, limit)

    def index_by(self, key: str, limit: int = 100) -> dict[str, list[dict[str, Any]]]:
        """The last ``limit`` records grouped by ``record[key]`` (records without it left out), oldest first."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for record in self.last_runs(limit):
            value = record.get(key)
            if value is not None:
                grouped.setdefault(str(value), []).append(record)
        return grouped

    def iter_newest(self) -> Iterator[dict[str, Any]]:
        """Every record, newest first (for history views: stop reading when you have enough)."""
        return iter_records_reverse(self.path)

    # ---------------------------------------------------------------- writing

    @contextmanager
    def _locked(self, interrupt: Callable[[], bool] | None) -> Iterator[None]:
        """Hold the log's file lock, waiting for it up to ``lock_timeout`` in slices of :data:`LOCK_SLICE_S`; between
        two slices ``interrupt()`` may end the wait (:class:`LockWaitInterrupted`)."""
        waited = 0.0
        with ExitStack() as held:
            while True:
                try:
                    held.enter_context(self._writer.locked())
                    break
                except StateError as exc:
                    if not isinstance(exc.__cause__, TimeoutError):  # not a wait that ran out: cannot lock at all
                        raise
                    waited += self._writer.lock_timeout
                    if interrupt is not None and interrupt():
                        raise LockWaitInterrupted(
                            f"stopped waiting for the lock {lock_path_for(self.path)}, held by another process"
                        ) from None
                    if waited >= self.lock_timeout:
                        raise StateError(
                            f"timed out after {self.lock_timeout:g}s waiting for the lock {lock_path_for(self.path)}",
                            hint=exc.hint or "another dagctl process holds it; wait for it to finish or stop it",
                        ) from None
            yield

    @contextmanager
    def transaction(self, *, interrupt: Callable[[], bool] | None = None) -> Iterator[Transaction]:
        """Lock the log, fold what is new, let the caller decide and ``add`` records; append them with fsync.

        The lock is the JSONL writer's flock on ``<state>.lock``: other processes wait, up to ``lock_timeout``
        (then :class:`StateError`), or until ``interrupt()`` says to stop (then :class:`LockWaitInterrupted`).
        If the block raises, nothing is written and the in-memory fold is re-read next time.
        """
        with self._mutex, self._locked(interrupt):
            fold = self.refresh()
            txn = Transaction(fold)
            try:
                yield txn
            except BaseException:
                self._fold = None  # records were applied to the fold but not written: forget them
                raise
            if txn.records:
                try:
                    self._writer.append_many(txn.records)
                except BaseException:
                    self._fold = None
                    raise
                fold.identity = file_identity(self.path)
                fold.offset = _size(self.path)  # we hold the lock: our records end the file
                if self._index_lags(fold, INDEX_LAG):
                    self._save_index(fold)

    def record(self, event: StateEvent | Mapping[str, Any], *, interrupt: Callable[[], bool] | None = None) -> None:
        """Append one record durably (and keep the fold and index current)."""
        with self.transaction(interrupt=interrupt) as txn:
            txn.add(event)

    def _index_lags(self, fold: StateFold, allowed: int) -> bool:
        """Is the index on disk for another file, or more than ``allowed`` bytes behind the fold?"""
        identity, offset = self._indexed
        return identity != fold.identity or fold.offset - offset > allowed

    def _save_index(self, fold: StateFold) -> None:
        """Rewrite the index (atomic rename). It is a cache, so it need not follow every append: a reader
        folds whatever the log has beyond it. Saved when it lags by INDEX_LAG bytes, after a rebuild and on close."""
        if not self.write_index or fold.identity is None:
            return
        tmp = self.index_path.with_name(f".{self.index_path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
        try:
            fold.check = _tail_check(self.path, fold.offset)
            tmp.write_text(json.dumps(fold.to_index(), separators=(",", ":")))
            os.replace(tmp, self.index_path)  # a cache: no fsync; a torn or stale index is detected and rebuilt
            self._indexed = (fold.identity, fold.offset)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("%s: cannot write the state index: %s", self.index_path, exc)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _tail_check(path: Path, offset: int) -> str | None:
    """A digest of the (up to) 4 KiB before ``offset``, or None if the file is shorter or unreadable.

    Stored in the index with the inode: a deleted-and-recreated log can reuse the inode number, but not
    (in practice) the bytes. The last byte must be a newline, so the offset is a line boundary.
    """
    start = max(0, offset - 4096)
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < offset:
                return None
            fh.seek(start)
            data = fh.read(offset - start)
    except OSError:
        return None
    if len(data) != offset - start or (data and not data.endswith(b"\n")):
        return None
    return hashlib.blake2b(data, digest_size=12).hexdigest()


# ------------------------------------------------------------------ the source note's module-level API


def _store_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    from dagctl.settings import Settings

    return Settings.from_env().state_path


def record_event(event: Mapping[str, Any], path: str | Path | None = None, *, clock: Clock | None = None) -> None:
    """Append one event (a dict with at least ``event``) to the state store; ``v`` and ``ts`` are added."""
    if not isinstance(event, Mapping) or not isinstance(event.get("event"), str):
        raise UsageError(
            "a state event needs an 'event' name",
            hint='e.g. record_event({"event": "run_finished", "status": "success"})',
        )
    record = {"v": SCHEMA_VERSION, "ts": format_ts((clock or SystemClock()).now()), **event}
    with JsonlWriter(_store_path(path), fsync=True) as writer:
        writer.append(record)


def last_runs(limit: int = 20, path: str | Path | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` events of the state store, oldest first."""
    return tail_records(_store_path(path), limit)


def index_by(key: str, limit: int = 100, path: str | Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """The last ``limit`` events grouped by the value of ``key`` (e.g. ``"schedule_id"``), oldest first."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in tail_records(_store_path(path), limit):
        value = record.get(key)
        if value is not None:
            grouped.setdefault(str(value), []).append(record)
    return grouped
