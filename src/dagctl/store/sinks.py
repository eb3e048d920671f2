"""Event sinks: where a run's events go. :class:`MemorySink` for tests and library callers, :class:`JsonlSink`
for the event log (and each run's own copy), :class:`FanOut` for several at once. The interface they share
is :class:`dagctl.store.protocols.EventSink`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
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
    """

    def __init__(self, path: Any, *, buffered: bool = False, mirrors: Iterable[Any] = ()) -> None:
        from .jsonl import JsonlWriter

        self.path = path
        self._writers = [JsonlWriter(p) for p in (path, *mirrors)]
        self._buffered = buffered
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if not self._buffered:
            self._write([event.to_record()])
            return
        with self._lock:
            self._pending.append(event.to_record())

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self._write(pending)

    def _write(self, records: list[dict[str, Any]]) -> None:
        from .jsonl import encode_record

        data = b"".join(encode_record(r) for r in records)
        for writer in self._writers:
            writer.append_encoded(data)

    def close(self) -> None:
        self.flush()
        for writer in self._writers:
            writer.close()


class FanOut:
    """Sends each event to several sinks, in order. A failing sink does not stop the others."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        errors = []
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # keep the run going; report after
                errors.append(exc)
        if errors:
            raise errors[0]

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
