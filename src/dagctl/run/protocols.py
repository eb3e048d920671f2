"""The run layer's plug-in interface: :class:`Executor`, where attempts run.

Kept apart from its implementations (:mod:`dagctl.run.executors`) because :class:`typing.Protocol` needs
:mod:`typing`, which ``dagctl run`` otherwise never imports; annotations import it for type checking only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .attempts import Attempt, AttemptResult, CancelToken
    from .waker import Waker


class Executor(Protocol):
    """Runs attempts somewhere. ``submit`` must not block on the attempt itself.

    One executor may serve several runs one after another; each run calls :meth:`begin`, then
    :meth:`submit` for each attempt, then :meth:`end`, all from the runner's thread.
    """

    name: str
    """Recorded in the run's ``dag_start`` event (``threads``, ``inline``, ``celery``)."""

    def begin(self, waker: Waker, shell_logs: Sequence[str]) -> None:
        """A run starts. ``waker`` is what the runner's thread sleeps on between turns: an executor may watch
        its own file descriptors there (:class:`dagctl.run.waker.Waker`; the local shell fast path does).
        ``shell_logs`` are the first-attempt log files of the run's shell tasks, in likely start order."""
        ...

    def for_child_run(self, parallelism: int) -> Executor:
        """An executor for a sub-DAG's run that goes on beside this one's: itself when it can serve two runs
        at once (Celery), else a new one (shut down by the caller after the child run)."""
        ...

    def end(self) -> None:
        """The run is over: release what :meth:`begin` set up. Attempts still running are the runner's concern."""
        ...

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        """Start ``attempt``; call ``done`` exactly once with its result (from any thread)."""
        ...

    def shutdown(self, *, wait: bool = True) -> None: ...
