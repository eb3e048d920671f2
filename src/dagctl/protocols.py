"""The interfaces other code plugs into: :class:`Clock`, :class:`EventSink`, :class:`Executor`.

They live here, apart from their implementations, because :class:`typing.Protocol` needs :mod:`typing`,
which ``dagctl run`` otherwise never imports (~3 ms of every start on the 2-core reference machine). The
modules that name them in annotations import them only for type checking; ``dagctl.clock.Clock``,
``dagctl.events.EventSink`` and ``dagctl.executors.base.Executor`` still work and load this module on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from datetime import datetime

    from .events import Event
    from .executors.base import Attempt, AttemptResult, CancelToken


@runtime_checkable
class Clock(Protocol):
    """Time, injected: :class:`~dagctl.clock.SystemClock` in production, ``FakeClock`` in tests."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for durations and deadlines."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` passes; return whether it is set."""
        ...


class EventSink(Protocol):
    """Where a run's events go (:class:`~dagctl.events.JsonlSink`, :class:`~dagctl.events.MemorySink` ...)."""

    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


class Executor(Protocol):
    """Runs attempts somewhere. ``submit`` must not block on the attempt itself."""

    name: str

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        """Start ``attempt``; call ``done`` exactly once with its result (from any thread)."""
        ...

    def shutdown(self, *, wait: bool = True) -> None: ...
