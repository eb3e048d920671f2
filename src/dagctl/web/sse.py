"""Server-Sent Events: how a message is written, and how many streams may be open at once.

A message is ``id:``, ``event:`` (omitted for plain messages) and one ``data:`` line of JSON, ended by a blank
line. JSON keeps the data on one line whatever it holds (a ``\\r`` in a log line would end an SSE line).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from dagctl.errors import DagctlError

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def message(data: Any, *, event: str | None = None, event_id: str | int | None = None) -> bytes:
    """One SSE message; ``data`` is sent as JSON on a single line."""
    parts = []
    if event_id is not None:
        parts.append(f"id: {event_id}\n")
    if event is not None:
        parts.append(f"event: {event}\n")
    parts.append(f"data: {_ENCODER.encode(data)}\n\n")
    return "".join(parts).encode("utf-8", "backslashreplace")


def comment(text: str = "") -> bytes:
    """A comment line: ignored by clients, keeps the connection alive."""
    return f": {text}\n\n".encode()


RETRY_MS = b"retry: 2000\n\n"
"""Sent first: how long EventSource waits before it reconnects after a stream ends."""


class TooManyStreams(DagctlError):
    """Every stream slot is taken (503, with Retry-After)."""


class StreamSlots:
    """At most ``limit`` streams open at once. Thread-safe; a slot is held from :meth:`take` to :meth:`give_back`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()
        self.refused = 0

    @property
    def open(self) -> int:
        return self._open

    def take(self) -> None:
        with self._lock:
            if self._open >= self.limit:
                self.refused += 1
                raise TooManyStreams(
                    f"too many open streams ({self.limit}, the --max-streams limit)",
                    hint="close some dashboard tabs or streams, try again in a few seconds, or raise --max-streams",
                )
            self._open += 1

    def give_back(self) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)
