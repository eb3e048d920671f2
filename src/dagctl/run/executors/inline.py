"""Runs each attempt synchronously inside ``submit``: deterministic, for tests and debugging."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dagctl.clock import SystemClock
from dagctl.protocols import Clock
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken

from .local import LocalRunner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dagctl.run.waker import Waker


class InlineExecutor:
    name = "inline"

    def __init__(self, clock: Clock | None = None) -> None:
        self.local = LocalRunner(clock or SystemClock())
        self.submitted: list[Attempt] = []

    def for_child_run(self, parallelism: int) -> InlineExecutor:
        return self

    def begin(self, waker: Waker, shell_logs: Sequence[str]) -> None:
        pass

    def end(self) -> None:
        pass

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        self.submitted.append(attempt)
        done(self.local.execute(attempt, cancel))

    def shutdown(self, *, wait: bool = True) -> None:
        self.local.close()
