"""The base layer's plug-in interface: :class:`Clock`.

It lives apart from :mod:`dagctl.clock` because :class:`typing.Protocol` needs :mod:`typing`, which
``dagctl run`` otherwise never imports (~3 ms of every start on the 2-core reference machine). Modules
that name it in annotations import it only for type checking; ``dagctl.clock.Clock`` still works and loads
this module on first use. Each layer keeps its own interfaces the same way: :mod:`dagctl.store.protocols`
(``EventSink``) and :mod:`dagctl.run.protocols` (``Executor``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import threading
    from datetime import datetime


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
