"""``notify:``: a message to people when something happens in a run, through apprise (Slack, e-mail, Teams,
webhooks and ~100 more; ``pip install 'dagctl[notify]'``).

A :class:`Notifier` is an event sink: it picks the events asked for (``failure``, ``success``, ``retry``,
``approval``), turns each into a short message, and hands it to a thread of its own, so the run never waits
for a mail server. Each message is tried :data:`ATTEMPTS` times, :data:`TIMEOUT_S` each, with a growing pause;
what still fails is logged, naming the service without its secrets. When the run ends, :meth:`Notifier.close`
waits up to :data:`DRAIN_S` for the messages still queued; behind a slow service, those before the final one
give way to it (the final failure message is the one people want). Messages are typed (``failure``,
``success``, ``warning`` for a retry, ``info``) so services colour them. Events reach it already masked (secrets
are ``***``); ``${env.NAME}`` in a URL is filled when the run starts (:mod:`dagctl.dag.notifyurls`).
"""

from __future__ import annotations

import logging
import queue
import threading

from dagctl.errors import ExecutorError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from dagctl.protocols import Clock
    from dagctl.store.events import Event

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_S = 10.0
DRAIN_S = 15.0
BEFORE_FINAL_S = DRAIN_S - TIMEOUT_S
INSTALL_HINT = "pip install 'dagctl[notify]' (apprise)"


class Message(tuple[str, str, str]):
    """``(title, body, kind)``: kind is apprise's notification type (``failure`` colours a Slack message red)."""

    __slots__ = ()

    @property
    def final(self) -> bool:
        """The message of the run's end: the one people want, sent before any other still waiting."""
        return self[2] in ("success", "failure")


def message_for(event: Event, wanted: set[str], failed: list[str]) -> Message | None:
    """The message for an event people asked to hear about, or None."""
    kind, run, dag = event.kind, event.run_id, event.dag_name
    look = f"\nSee: dagctl show {run}"
    if kind == "dag_done":
        status = getattr(event, "status", "")
        if status == "success" and "success" in wanted:
            took = f"{event.duration_s:.1f}s"  # type: ignore[attr-defined]
            return Message((f"dagctl: {dag} succeeded", f"Run {run} of {dag} succeeded in {took}.{look}", "success"))
        if status in ("failed", "cancelled") and "failure" in wanted:
            detail = f"\nFailed tasks: {', '.join(failed)}" if failed else ""
            error = getattr(event, "error", None)
            reason = f"\nReason: {error}" if error else ""
            body = f"Run {run} of {dag} {status}.{detail}{reason}{look}"
            return Message((f"dagctl: {dag} {status}", body, "failure"))
    elif kind == "task_retry" and "retry" in wanted:
        task = getattr(event, "cell", None) or getattr(event, "task_id", "")
        error = getattr(event, "error", "")
        body = f"Attempt {event.attempt} of {task} failed: {error}{look}"  # type: ignore[attr-defined]
        return Message((f"dagctl: {dag}: retrying {task}", body, "warning"))
    elif kind == "approval_requested" and "approval" in wanted:
        task = getattr(event, "task_id", "")
        who = ", ".join(getattr(event, "approvers", []) or []) or "anyone"
        text = getattr(event, "message", "") or f"{task} of {dag} waits for approval"
        return Message(
            (
                f"dagctl: {dag} waits for approval",
                f"{text}\nApprovers: {who}\nApprove: dagctl approve {run} {task}"
                f"\nReject: dagctl reject {run} {task} --reason ...",
                "info",
            )
        )
    return None


def apprise_sender(urls: list[str], environ: Mapping[str, str] | None = None) -> Callable[..., None]:
    """Send through apprise to ``urls`` (their ``${env.NAME}`` filled from ``environ``, default the process's);
    raises when no URL took the message. A URL apprise does not know is bad input (exit 2), named without its
    secrets: it is printed where CI logs and cron mail keep it."""
    import os

    from dagctl.dag.notifyurls import filled, masked

    ready = [filled(url, os.environ if environ is None else environ) for url in urls]
    try:
        import apprise
    except ImportError:
        raise ExecutorError("notify: needs the apprise package", hint=INSTALL_HINT) from None
    app = apprise.Apprise()
    for written, url in zip(urls, ready, strict=True):
        if not app.add(url):
            shown = written if written != url else masked(url)
            raise UsageError(
                f"notify: apprise does not understand the URL {shown!r}",
                hint="check its scheme and form against apprise's list of services (https://appriseit.com/services)",
            )

    def send(title: str, body: str, kind: str = "info") -> None:
        if not app.notify(title=title, body=body, notify_type=kind):
            raise OSError("no notification service accepted the message")

    return send


class Notifier:
    """An event sink sending messages in the background (see the module docstring).

    ``send(title, body, kind)`` delivers one message; ``target`` names where to (secrets masked), for warnings.
    When the run ends (:meth:`close`), the messages still waiting are sent in order, but those before the final
    one get :data:`BEFORE_FINAL_S` at most, and one try each: behind a slow service they give way (dropped, with
    one warning) so that the final message keeps a whole try within :data:`DRAIN_S`."""

    def __init__(
        self, events: Iterable[str], send: Callable[..., None], clock: Clock | None = None, target: str = ""
    ) -> None:
        from dagctl.clock import SystemClock

        self.wanted = set(events)
        self.send = send
        self.clock = clock or SystemClock()
        self.target = target
        self.sent = 0
        self.dropped = 0
        self._failed: list[str] = []
        self._queue: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._done = threading.Event()
        self._closing = False
        self._cutoff = 0.0  # once closing: the monotonic time after which other messages give way to the final one
        self._poke = threading.Event()  # a send ended, or the run did
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
        import time

        self._queue.put(None)
        self._cutoff = time.monotonic() + BEFORE_FINAL_S
        self._closing = True
        self._poke.set()
        self._done.wait(DRAIN_S)
        if not self._done.is_set():
            where = f" to {self.target}" if self.target else ""
            log.warning("notifications%s still unsent after %gs: the run ends without them", where, DRAIN_S)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                if self.dropped:
                    where = f" to {self.target}" if self.target else ""
                    log.warning(
                        "%d notification%s%s not sent: the service was slow when the run ended, and the time "
                        "left went to the run's final message",
                        self.dropped,
                        "s" if self.dropped != 1 else "",
                        where,
                    )
                self._done.set()
                return
            if not item.final and self._late():
                self.dropped += 1
                continue
            self._deliver(item)

    def _deliver(self, message: Message) -> None:
        title, body, kind = message
        for attempt in range(1, ATTEMPTS + 1):
            outcome: list[BaseException | None] = []

            def call(outcome: list[BaseException | None] = outcome) -> None:
                try:
                    self.send(title, body, kind)
                    outcome.append(None)
                except BaseException as exc:  # reported below
                    outcome.append(exc)
                self._poke.set()

            threading.Thread(target=call, daemon=True).start()
            if not self._wait(outcome, message.final):  # the run ended: the final message goes first
                self.dropped += 1
                return
            if outcome and outcome[0] is None:
                self.sent += 1
                return
            error = outcome[0] if outcome else TimeoutError(f"no answer in {TIMEOUT_S:g}s")
            where = f" to {self.target}" if self.target else ""
            log.warning("notification %r%s failed (attempt %d of %d): %s", title, where, attempt, ATTEMPTS, error)
            if attempt < ATTEMPTS:
                if self._closing and not message.final:  # no second try once the run has ended
                    self.dropped += 1
                    return
                self.clock.sleep(2.0 ** (attempt - 1))

    def _wait(self, outcome: list[BaseException | None], final: bool) -> bool:
        """Wait for a send to end, at most :data:`TIMEOUT_S`; False when the run ended first and the message is
        not its final one (it is given up)."""
        import time

        deadline = time.monotonic() + TIMEOUT_S
        while not outcome:
            if not final and self._late():
                return False
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                break
            self._poke.wait(min(left, self._cutoff - now) if self._closing and not final else left)
            self._poke.clear()
        return True

    def _late(self) -> bool:
        """The run has ended and messages before its final one have had their time."""
        import time

        return self._closing and time.monotonic() >= self._cutoff


def notifier_for(spec: dict[str, Any] | None, clock: Clock | None = None) -> Notifier | None:
    if not spec:
        return None
    from dagctl.dag.notifyurls import masked

    urls = list(spec.get("urls") or [])
    target = ", ".join(masked(url) for url in urls)
    return Notifier(spec.get("events") or ["failure"], apprise_sender(urls), clock, target=target)
