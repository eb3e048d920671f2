"""Time, injected. The only module that reads the wall clock or sleeps.

Everything that needs "now" or a delay takes a :class:`~dagctl.protocols.Clock`. Production code gets
:class:`SystemClock`; tests get :class:`FakeClock`, whose ``sleep`` and ``wait`` advance virtual time
at once so retries, backoff, ticks and timeouts are tested without real sleeps.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .protocols import Waitable


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: Waitable, timeout: float | None) -> bool:
        return event.wait(timeout)


class FakeClock:
    """A clock for tests: time moves only when told, or when someone sleeps or waits."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now.astimezone(timezone.utc)

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        with self._lock:
            delta = (when - self._now).total_seconds()
            self._now = when
            self._mono += max(delta, 0.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)

    def wait(self, event: Waitable, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout is None:
            # Nothing advances virtual time but the caller: wait for real, briefly, on the event.
            return event.wait(5.0)
        # Give running threads a real moment to set the event before jumping time forward.
        if event.wait(0.001):
            return True
        self.advance(timeout)
        return event.is_set()


def __getattr__(name: str) -> object:
    if name == "Clock":  # defined with typing.Protocol, which the run path does not import
        from .protocols import Clock

        return Clock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
