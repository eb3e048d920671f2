"""Event sinks: where a run's events go. :class:`MemorySink` for tests and library callers, :class:`JsonlSink`
for the event log (and each run's own copy), :class:`FanOut` for several at once. The interface they share
is :class:`dagctl.store.protocols.EventSink`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from .events import Event
    from .jsonl import JsonlWriter
    from .protocols import EventSink


class MemorySink:
    """Keeps events in a list: for tests and library callers."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str, task_id: str | None = None) -> list[Event]:
        return [
            e for e in self.events if e.kind == kind and (task_id is None or getattr(e, "task_id", None) == task_id)
        ]


class JsonlSink:
    """Appends events as lines to JSONL files, shared safely with other processes.

    ``mirrors`` are further files that get the very same lines (a run's own events file next to the
    global log): each event is encoded once. With ``buffered=True`` events are held until :meth:`flush`,
    which writes them with one lock and one write per file. The runner flushes before every wait, so
    events reach the files within the same loop turn that produced them, at a fraction of the cost of
    one locked write per event.

    When a file cannot be written (a full disk), nothing is lost that can be kept: the lines stay in
    memory and the next flush tries again, and the files are written in order, mirrors first, so the
    global log never holds lines that a run's own file lacks. A failed write leaves no torn line
    (:class:`~dagctl.store.jsonl.JsonlWriter` takes a partial write back).

    ``reserve`` (a path next to the files, on the same disk) makes room for the end of the story: after the first
    write, :data:`RESERVE_BYTES` are set aside in that file; if lines are still unwritten when the sink is closed
    (the disk filled up during the run, which the run was told by the failed flushes and stopped for), the file
    is deleted and the lines written into the space it held: the tasks' outcomes and ``dag_done``, instead of a
    run that later reads as abandoned. The file is deleted on close in any case. When they do not all fit (a
    large DAG, or no reserve), :meth:`close` writes what does, most important first (:func:`importance`), with
    ``dag_done`` last, its ``error`` saying what was left out (:func:`with_note`).
    """

    def __init__(self, path: Any, *, buffered: bool = False, mirrors: Iterable[Any] = (), reserve: Any = None) -> None:
        from .jsonl import JsonlWriter

        self.path = path
        self._writers = [JsonlWriter(p) for p in (*mirrors, path)]
        # per file: (record, line) of the lines a failed write left for later (a later file's are a superset)
        self._unwritten: list[list[tuple[dict[str, Any], bytes]]] = [[] for _ in self._writers]
        self._buffered = buffered
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reserve = reserve
        self._reserved = reserve is None  # set aside (or nothing to set aside)

    def emit(self, event: Event) -> None:
        if not self._buffered:
            self._write([event.to_record()])
            return
        with self._lock:
            self._pending.append(event.to_record())

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending or any(self._unwritten):
            self._write(pending)

    def _write(self, records: list[dict[str, Any]]) -> None:
        from .jsonl import encode_record

        lines = [encode_record(r) for r in records]
        data = b"".join(lines)
        with self._lock:
            failure: BaseException | None = None
            for i, writer in enumerate(self._writers):
                backlog = self._unwritten[i]
                if failure is None:
                    try:
                        writer.append_encoded(b"".join(line for _, line in backlog) + data if backlog else data)
                    except Exception as exc:
                        failure = exc
                    else:
                        self._unwritten[i] = []
                        continue
                backlog.extend(zip(records, lines, strict=True))
        if failure is not None:
            raise failure
        if not self._reserved:
            self._reserved = True
            _set_aside(self._reserve, RESERVE_BYTES)

    def close(self) -> None:
        try:
            try:
                self.flush()
            except Exception:
                if _release(self._reserve):
                    try:
                        self.flush()  # into the room the reserve held
                        return
                    except Exception:
                        pass
                self._salvage()  # too little room for them all: what fits, dag_done last
        finally:
            _release(self._reserve)
            for writer in self._writers:
                writer.close()

    def _salvage(self) -> None:
        """Write what fits of the unwritten lines into each file, the most important first, ``dag_done`` last and
        saying what was left out. A later file goes without what an earlier one went without (the global log never
        holds lines a run's own file lacks). Raises if a file did not take even the run's beginning and end."""
        with self._lock:
            backlogs, self._unwritten = self._unwritten, [[] for _ in self._writers]
            pending, self._pending = self._pending, []
        if pending:  # (flush took them; only an emit racing with close leaves some)
            from .jsonl import encode_record

            for backlog in backlogs:
                backlog.extend((r, encode_record(r)) for r in pending)
        disks = [_disk(writer.path) for writer in self._writers]
        left_out: dict[int, dict[str, Any]] = {}  # the records an earlier file went without, by id
        failure: BaseException | None = None
        for i, (writer, backlog) in enumerate(zip(self._writers, backlogs, strict=True)):
            entries = [(r, line) for r, line in backlog if id(r) not in left_out]
            if not entries:
                continue
            # the free room of a disk is shared with the files after this one on it that have lines to write
            sharing = sum(1 for d, b in zip(disks[i:], backlogs[i:], strict=True) if b and d == disks[i])
            try:
                kept = _write_what_fits(writer, entries, _room(writer.path, sharing), list(left_out.values()))
            except Exception as exc:
                failure = failure or exc
                kept = set()
            left_out.update((id(r), r) for j, (r, _) in enumerate(entries) if j not in kept)
        if failure is not None:
            raise failure


RESERVE_BYTES = 64 * 1024
"""Room kept on the disk of a run's events for its last lines: ~200 events (a task's outcome, ``dag_done``)."""

_NOT_STARTED = "not started"
"""How the runner's ``task_cancel`` of a task it never started begins its reason."""


def importance(record: Mapping[str, Any]) -> int:
    """Which unwritten lines a full disk keeps first (lower first): the run's beginning and end (``dag_start``,
    ``dag_resume``, ``dag_done``: without them the run reads as running, then abandoned), the failures, the other
    outcomes of tasks that ran, everything else, and last the tasks never started, which readers also tell from
    the run's snapshot of its DAG (a task without events is ``not started``)."""
    kind = record.get("event")
    if kind in ("dag_start", "dag_resume", "dag_done"):
        return 0
    if kind == "task_fail":
        return 1
    if kind == "task_cancel" and str(record.get("reason") or "").startswith(_NOT_STARTED):
        return 4
    if kind in ("task_ok", "task_cancel"):
        return 2
    return 3


def choose(records: Sequence[Mapping[str, Any]], sizes: Sequence[int], room: int | None) -> tuple[list[int], int, int]:
    """Which records to keep when only ``room`` bytes are left (None: unknown, try them all): their indices by
    :func:`importance` (then in order), how many of them must be kept (importance 0), and how many of them to
    keep: the first ones that fit in ``room``, never fewer than those that must."""
    order = sorted(range(len(records)), key=lambda j: importance(records[j]))  # stable: in order within a rank
    must = sum(1 for j in order if importance(records[j]) == 0)
    if room is None:
        return order, must, len(order)
    count, used = 0, 0
    for j in order:
        used += sizes[j]
        if used > room:
            break
        count += 1
    return order, must, max(count, must)


def with_note(done: Mapping[str, Any], left_out: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``dag_done`` with its ``error`` also saying which records a full disk kept out of the file:
    ``...; 1833 tasks not started: their records did not fit on the full disk``."""
    units: dict[str, set[str]] = {"not": set(), "ran": set()}
    others = 0
    for r in left_out:
        unit = str(r.get("cell") or r.get("task_id") or "")
        kind = r.get("event")
        if kind in ("task_ok", "task_fail", "task_cancel") and unit:
            units["not" if importance(r) == 4 else "ran"].add(unit)
        else:
            others += 1
    parts = []
    if units["not"]:
        parts.append(_count(len(units["not"]), "task") + " not started")
    if units["ran"]:
        parts.append("the outcomes of " + _count(len(units["ran"]), "task") + " that ran")
    if others:
        parts.append(_count(others, "other event"))
    if not parts:
        return dict(done)
    said = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    note = f"{said}: their records did not fit on the full disk"
    error = done.get("error")
    return {**done, "error": f"{error}; {note}" if error else note}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _write_what_fits(
    writer: JsonlWriter,
    entries: list[tuple[dict[str, Any], bytes]],
    room: int | None,
    left_out_before: list[dict[str, Any]],
) -> set[int]:
    """Append to ``writer`` the most important of ``entries`` that fit (``room``: the bytes thought free), in
    order, ``dag_done`` last, with :func:`with_note` naming what it goes without (also ``left_out_before``: what an
    earlier file went without); fewer each time the disk refuses. The indices written."""
    from .jsonl import encode_record

    records = [r for r, _ in entries]
    order, must, count = choose(records, [len(line) for _, line in entries], room)
    while True:
        kept = sorted(order[:count])
        left_out = [*left_out_before, *(records[j] for j in order[count:])]
        lines, last = [], []
        for j in kept:
            record, line = entries[j]
            if record.get("event") == "dag_done":
                last.append(encode_record(with_note(record, left_out)) if left_out else line)
            else:
                lines.append(line)
        try:
            writer.append_encoded(b"".join(lines + last))
        except Exception:
            if count <= must:
                raise
            count = max(must, min(count - 1, must + (count - must) * 3 // 4))
            continue
        return set(kept)


def _disk(path: Any) -> int | None:
    """The device of the folder of ``path``; None when it cannot be told."""
    import os

    try:
        return os.stat(os.path.dirname(os.fspath(path)) or ".").st_dev
    except OSError:
        return None


def _room(path: Any, sharing: int) -> int | None:
    """The bytes the file ``path`` may still take: its share of the free space of its disk (shared by ``sharing``
    files), plus what its last block has left. None when that cannot be told."""
    import os

    try:
        vfs = os.statvfs(os.path.dirname(os.fspath(path)) or ".")
    except OSError:
        return None
    slack = 0
    try:
        st = os.stat(path)
        slack = max(0, st.st_blocks * 512 - st.st_size)
    except (OSError, AttributeError):
        pass
    return vfs.f_bavail * vfs.f_frsize // max(1, sharing) + slack


def _set_aside(path: Any, size: int) -> None:
    """Allocate ``size`` bytes to the file ``path`` (best effort: no room, or a file system that cannot, is no
    reserve)."""
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        _release(path)
    finally:
        os.close(fd)


def _release(path: Any) -> bool:
    """Delete the reserve file; whether there was one."""
    import os

    if path is None:
        return False
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


class BestEffort:
    """A sink whose failures never stop a run: the terminal view of a run whose reader went away (a closed
    pipe, ``2>/dev/full``). Its first failure calls ``on_error(event, exc)`` once; from then on it is skipped.
    """

    def __init__(self, sink: EventSink, on_error: Callable[[Event, BaseException], None] | None = None) -> None:
        self.sink = sink
        self.on_error = on_error
        self.failed: BaseException | None = None
        self._last: Event | None = None

    def emit(self, event: Event) -> None:
        if self.failed is None:
            self._last = event
            self._call(self.sink.emit, event)

    def flush(self) -> None:
        if self.failed is None:
            self._call(self.sink.flush)

    def close(self) -> None:
        if self.failed is None:
            self._call(self.sink.close)

    def _call(self, method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except Exception as exc:
            self.failed = exc
            if self.on_error is not None and self._last is not None:
                self.on_error(self._last, exc)


class FanOut:
    """Sends each event to several sinks, in order. A failing sink does not stop the others; the first failure is
    raised after all were tried. (Called for every event of a run: the bound methods are looked up once.)"""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)
        self._emits = [sink.emit for sink in self.sinks]

    def emit(self, event: Event) -> None:
        first: Exception | None = None
        for emit in self._emits:
            try:
                emit(event)
            except Exception as exc:  # keep the run going; report after
                if first is None:
                    first = exc
        if first is not None:
            raise first

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        """Close every sink, even after one failed (the first failure is raised after all were closed)."""
        first: Exception | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                if first is None:
                    first = exc
        if first is not None:
            raise first
