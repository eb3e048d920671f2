"""The store layer's plug-in interface: :class:`EventSink`, where a run's events go.

Kept apart from :mod:`dagctl.store.sinks` (its implementations) because :class:`typing.Protocol` needs
:mod:`typing`, which ``dagctl run`` otherwise never imports; annotations import it for type checking only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .events import Event


class EventSink(Protocol):
    """Where a run's events go (:class:`~dagctl.store.sinks.JsonlSink`, :class:`~dagctl.store.sinks.MemorySink` ...).

    A sink whose class sets ``infallible = True`` promises that its methods never raise (the live view's only
    append to a queue): ``run_dag`` then hands it events directly, without the guard that keeps a failing
    view from stopping a run (:class:`~dagctl.store.sinks.BestEffort`)."""

    def emit(self, event: Event) -> None: ...

    def flush(self) -> None:
        """Write what :meth:`emit` buffered. The runner calls it before it sleeps."""
        ...

    def close(self) -> None: ...
