"""The run layer's plug-in interface: :class:`Executor`, where attempts run.

Kept apart from its implementations (:mod:`dagctl.run.executors`) because :class:`typing.Protocol` needs
:mod:`typing`, which ``dagctl run`` otherwise never imports; annotations import it for type checking only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from .attempts import Attempt, AttemptResult, CancelToken


class Executor(Protocol):
    """Runs attempts somewhere. ``submit`` must not block on the attempt itself."""

    name: str

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        """Start ``attempt``; call ``done`` exactly once with its result (from any thread)."""
        ...

    def shutdown(self, *, wait: bool = True) -> None: ...
