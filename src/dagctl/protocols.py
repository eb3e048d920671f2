"""The base layer's plug-in interface: :class:`Clock` (and :class:`Waitable`, what it waits on).

It lives apart from :mod:`dagctl.clock` because :class:`typing.Protocol` needs :mod:`typing`, which
``dagctl run`` otherwise never imports (~3 ms of every start on the 2-core reference machine). Modules
that name it in annotations import it only for type checking; ``dagctl.clock.Clock`` still works and loads
this module on first use. Each layer keeps its own interfaces the same way: :mod:`dagctl.store.protocols`
(``EventSink``) and :mod:`dagctl.run.protocols` (``Executor``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from datetime import datetime


class Waitable(Protocol):
    """What a clock can wait on: :class:`threading.Event`, or :class:`dagctl.run.waker.Waker`."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


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

    def wait(self, event: Waitable, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` passes; return whether it is set."""
        ...
