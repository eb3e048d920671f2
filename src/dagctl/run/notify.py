"""``notify:``: a message to people when something happens in a run, through apprise (Slack, e-mail, Teams,
webhooks and ~100 more; ``pip install 'dagctl[notify]'``).

A :class:`Notifier` is an event sink: it picks the events asked for (``failure``, ``success``, ``retry``,
``approval``), turns each into a short message, and hands it to a thread of its own, so the run never waits
for a mail server. Each message is tried :data:`ATTEMPTS` times, :data:`TIMEOUT_S` each, with a growing pause;
what still fails is logged. When the run ends, :meth:`Notifier.close` waits up to :data:`DRAIN_S` for the
messages still queued (the final failure message is the one people want). Events reach it already masked
(secrets are ``***``).
"""

from __future__ import annotations

import logging
import queue
import threading

from dagctl.errors import ExecutorError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from dagctl.protocols import Clock
    from dagctl.store.events import Event

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_S = 10.0
DRAIN_S = 15.0
INSTALL_HINT = "pip install 'dagctl[notify]' (apprise)"


def message_for(event: Event, wanted: set[str], failed: list[str]) -> tuple[str, str] | None:
    """``(title, body)`` for an event people asked to hear about, or None."""
    kind, run, dag = event.kind, event.run_id, event.dag_name
    look = f"\nSee: dagctl show {run}"
    if kind == "dag_done":
        status = getattr(event, "status", "")
        if status == "success" and "success" in wanted:
            return f"dagctl: {dag} succeeded", f"Run {run} of {dag} succeeded in {event.duration_s:.1f}s.{look}"  # type: ignore[attr-defined]
        if status in ("failed", "cancelled") and "failure" in wanted:
            detail = f"\nFailed tasks: {', '.join(failed)}" if failed else ""
            error = getattr(event, "error", None)
            reason = f"\nReason: {error}" if error else ""
            return f"dagctl: {dag} {status}", f"Run {run} of {dag} {status}.{detail}{reason}{look}"
    elif kind == "task_retry" and "retry" in wanted:
        task = getattr(event, "cell", None) or getattr(event, "task_id", "")
        error = getattr(event, "error", "")
        return f"dagctl: {dag}: retrying {task}", f"Attempt {event.attempt} of {task} failed: {error}{look}"  # type: ignore[attr-defined]
    elif kind == "approval_requested" and "approval" in wanted:
        task = getattr(event, "task_id", "")
        who = ", ".join(getattr(event, "approvers", []) or []) or "anyone"
        text = getattr(event, "message", "") or f"{task} of {dag} waits for approval"
        return (
            f"dagctl: {dag} waits for approval",
            f"{text}\nApprovers: {who}\nApprove: dagctl approve {run} {task}"
            f"\nReject: dagctl reject {run} {task} --reason ...",
        )
    return None


def apprise_sender(urls: list[str]) -> Callable[[str, str], None]:
    """Send through apprise to ``urls``; raises when no URL took the message."""
    try:
        import apprise
    except ImportError:
        raise ExecutorError("notify: needs the apprise package", hint=INSTALL_HINT) from None
    app = apprise.Apprise()
    for url in urls:
        if not app.add(url):
            raise ExecutorError(f"notify: apprise does not understand the URL {url!r}", hint="see apprise's URL list")

    def send(title: str, body: str) -> None:
        if not app.notify(title=title, body=body):
            raise OSError("no notification service accepted the message")

    return send


class Notifier:
    """An event sink sending messages in the background (see the module docstring)."""

    def __init__(self, events: Iterable[str], send: Callable[[str, str], None], clock: Clock | None = None) -> None:
        from dagctl.clock import SystemClock

        self.wanted = set(events)
        self.send = send
        self.clock = clock or SystemClock()
        self.sent = 0
        self._failed: list[str] = []
        self._queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._work, name="dagctl-notify", daemon=True)
        self._thread.start()

    def emit(self, event: Event) -> None:
        if event.kind == "task_fail":
            self._failed.append(str(getattr(event, "cell", None) or getattr(event, "task_id", "")))
        found = message_for(event, self.wanted, self._failed)
        if found is not None:
            self._queue.put(found)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._queue.put(None)
        self._done.wait(DRAIN_S)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._done.set()
                return
            self._deliver(*item)

    def _deliver(self, title: str, body: str) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            outcome: list[BaseException | None] = []

            def call(outcome: list[BaseException | None] = outcome) -> None:
                try:
                    self.send(title, body)
                    outcome.append(None)
                except BaseException as exc:  # reported below
                    outcome.append(exc)

            worker = threading.Thread(target=call, daemon=True)
            worker.start()
            worker.join(TIMEOUT_S)
            if outcome and outcome[0] is None:
                self.sent += 1
                return
            error = outcome[0] if outcome else TimeoutError(f"no answer in {TIMEOUT_S:g}s")
            log.warning("notification %r failed (attempt %d of %d): %s", title, attempt, ATTEMPTS, error)
            if attempt < ATTEMPTS:
                self.clock.sleep(2.0 ** (attempt - 1))


def notifier_for(spec: dict[str, Any] | None, clock: Clock | None = None) -> Notifier | None:
    if not spec:
        return None
    return Notifier(spec.get("events") or ["failure"], apprise_sender(list(spec.get("urls") or [])), clock)
