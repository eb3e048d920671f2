"""Event sinks: where a run's events go. :class:`MemorySink` for tests and library callers, :class:`JsonlSink`
for the event log (and each run's own copy), :class:`FanOut` for several at once. The interface they share
is :class:`dagctl.store.protocols.EventSink`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .events import Event
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
    run that later reads as abandoned. The file is deleted on close in any case.
    """

    def __init__(self, path: Any, *, buffered: bool = False, mirrors: Iterable[Any] = (), reserve: Any = None) -> None:
        from .jsonl import JsonlWriter

        self.path = path
        self._writers = [JsonlWriter(p) for p in (*mirrors, path)]
        self._unwritten = [b"" for _ in self._writers]  # per file: lines a failed write left for later
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

        data = b"".join(encode_record(r) for r in records)
        with self._lock:
            failure: BaseException | None = None
            for i, writer in enumerate(self._writers):
                chunk = self._unwritten[i] + data
                if failure is None:
                    try:
                        writer.append_encoded(chunk)
                    except Exception as exc:
                        failure = exc
                    else:
                        chunk = b""
                self._unwritten[i] = chunk
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
                if not _release(self._reserve):
                    raise
                self.flush()  # into the room the reserve held
        finally:
            _release(self._reserve)
            for writer in self._writers:
                writer.close()


RESERVE_BYTES = 64 * 1024
"""Room kept on the disk of a run's events for its last lines: ~200 events (a task's outcome, ``dag_done``)."""


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
        for sink in self.sinks:
            sink.close()
