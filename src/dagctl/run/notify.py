"""``notify:``: a message to people when something happens in a run, through apprise (Slack, e-mail, Teams,
webhooks and ~100 more; ``pip install 'dagctl[notify]'``).

A :class:`Notifier` is an event sink: it picks the events asked for (``failure``, ``success``, ``retry``,
``approval``), turns each into a message (:mod:`dagctl.run.notify_message`: the failed tasks' errors, and their
log tails only when ``log_lines:`` asks for them; the host, the schedule; or the DAG's ``title:`` / ``body:``
templates), and hands it to one lane per URL
(:mod:`dagctl.run.notify_apprise`), each with a thread of its own, so the run never waits for a mail server and
a service that is down or slow never holds back the others, nor makes them get a message twice. In its lane each
message is tried :data:`ATTEMPTS` times, :data:`TIMEOUT_S` each, with a growing pause; each failure is logged
with its reason (``HTTP 404 (Not Found)``, ``connection refused``), naming the service without its secrets.

When the run ends, :meth:`Notifier.close` waits up to :data:`DRAIN_S` for the messages still queued, and says so
after :data:`ANNOUNCE_S` (``dagctl: sending 1 notification to slack://*** (up to 14s more; Ctrl+C to skip)``);
behind a slow service, those before the final one give way to it (the final failure message is the one people
want). The wait can be cut short: it registers ``skip_notifications`` on the run's
:class:`~dagctl.run.state.RunControl` (``dagctl run`` calls it on SIGINT/SIGTERM once the tasks are over), and a
cancel of the run (a stopping scheduler) ends it as well; then it says what was not sent. Messages are typed
(``failure``, ``success``, ``warning`` for a retry, ``info``) so services colour them. ``${env.NAME}`` in a URL
is filled when the run starts (:mod:`dagctl.dag.notifyurls`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from .notify_message import TAIL_LINES, Message, RunFacts, message_for, tail_text, templated

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from dagctl.protocols import Clock
    from dagctl.store.events import Event

    from .notify_apprise import Service
    from .state import RunControl
    from .waker import Waker

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_S = 10.0
DRAIN_S = 15.0
BEFORE_FINAL_S = DRAIN_S - TIMEOUT_S
ANNOUNCE_S = 1.0
"""How long the run's end waits for its notifications before it says that it does (a quick service: nothing)."""
TAIL_BYTES = 16384
"""How much of the end of a log is read for a message's tail (enough for 50 lines)."""

__all__ = ["ATTEMPTS", "DRAIN_S", "Message", "Notifier", "message_for", "notifier_for", "skipper"]


def _plural(n: int) -> str:
    return f"{n} notification{'s' if n != 1 else ''}"


class _Lane:
    """One service: its queue, its thread, its retries, and what it could not send (with why)."""

    def __init__(self, name: str, send: Callable[..., None], clock: Clock, bell: threading.Event | Waker) -> None:
        self.name = name
        self.send = send
        self.clock = clock
        self.bell = bell  # set when this lane is done
        self.sent = 0
        self.slow = 0  # given up on behind a service that did not answer when the run ended
        self.failed = 0  # given up on because the service kept refusing them
        self.last_error = ""
        self.last_slow = False  # the last failed try got no answer at all
        self.pending = 0  # queued or being sent
        self.closing = False
        self.abandoned = False  # the run ended without them: nothing more is sent or said
        self.cutoff = 0.0  # once closing: the monotonic time after which other messages give way to the final one
        self.done = threading.Event()
        self._reported = False
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._poke = threading.Event()  # a send ended, or the run did
        threading.Thread(target=self._work, name="dagctl-notify", daemon=True).start()

    def put(self, message: Message) -> None:
        with self._lock:
            self.pending += 1
        self._queue.put(message)

    def close(self) -> None:
        self.cutoff = time.monotonic() + BEFORE_FINAL_S
        self.closing = True
        self._queue.put(None)
        self._poke.set()

    def _finished(self, outcome: str = "") -> None:
        with self._lock:
            self.pending -= 1
            if outcome == "sent":
                self.sent += 1
            elif outcome == "slow":
                self.slow += 1
            elif outcome == "failed":
                self.failed += 1

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self.report()
                self.done.set()
                self.bell.set()
                return
            if self.abandoned or (not item.final and self._late()):
                self._finished("failed" if self.last_error and not self.last_slow else "slow")
                continue
            self._deliver(item)

    def report(self, left: str = "") -> None:
        """Say what was given up on, and why; with ``left``, the messages still waiting too (given up now). Once:
        by the lane's thread when it ends, or by the run's end when it stops waiting for it, whichever comes first."""
        with self._lock:
            if self._reported:
                return
            self._reported = True
            failed, slow, pending = self.failed, self.slow, self.pending
        if failed:
            log.warning("%s to %s not sent: the service kept failing: %s", _plural(failed), self.name, self.last_error)
        if slow:
            log.warning(
                "%s to %s not sent: the service was slow when the run ended, and the time left went to the run's "
                "final message",
                _plural(slow),
                self.name,
            )
        if left and pending:
            log.warning("%s to %s not sent: %s", _plural(pending), self.name, left)

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
                self._finished("slow")
                return
            if outcome and outcome[0] is None:
                self._finished("sent")
                return
            slow = self.last_slow = not outcome
            self.last_error = f"no answer in {TIMEOUT_S:g}s" if slow else _reason(outcome[0])
            if self.abandoned:
                self._finished()
                return
            log.warning(
                "notification %r to %s failed (attempt %d of %d): %s",
                title,
                self.name,
                attempt,
                ATTEMPTS,
                self.last_error,
            )
            if attempt < ATTEMPTS:
                if self.closing and not message.final:  # no second try once the run has ended
                    self._finished("slow" if slow else "failed")
                    return
                self.clock.sleep(2.0 ** (attempt - 1))
                if self.abandoned:
                    self._finished()
                    return
        self._finished("failed")

    def _wait(self, outcome: list[BaseException | None], final: bool) -> bool:
        """Wait for a send to end, at most :data:`TIMEOUT_S`; False when the run ended first and the message is
        not its final one (it is given up)."""
        deadline = time.monotonic() + TIMEOUT_S
        while not outcome:
            if (not final and self._late()) or self.abandoned:
                return False
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                break
            self._poke.wait(min(left, self.cutoff - now) if self.closing and not final else left)
            self._poke.clear()
        return True

    def _late(self) -> bool:
        """The run has ended and messages before its final one have had their time."""
        return self.closing and time.monotonic() >= self.cutoff


def _reason(exc: BaseException | None) -> str:
    from .notify_apprise import NotSent

    if isinstance(exc, NotSent):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Notifier:
    """An event sink sending messages in the background (see the module docstring).

    ``services``: where to, each a :class:`~dagctl.run.notify_apprise.Service` (a name for warnings, secrets
    masked, and ``send(title, body, kind)``), or one ``send`` callable named ``target``. ``control``: the run's,
    on which :meth:`close` registers how to skip its wait. ``title`` / ``body``: the ``notify:`` templates.
    ``log_lines``: how many of the last lines of each failed task's log a failure message shows (0: none)."""

    def __init__(
        self,
        events: Iterable[str],
        services: list[Service] | Callable[..., None],
        clock: Clock | None = None,
        target: str = "",
        *,
        control: RunControl | None = None,
        title: str | None = None,
        body: str | None = None,
        log_lines: int = 0,
    ) -> None:
        from dagctl.clock import SystemClock

        self.wanted = set(events)
        self.clock = clock or SystemClock()
        self.control = control
        self.title, self.body = title, body
        self._read_tail: Callable[[str], str] | None = None
        if log_lines > 0:  # opt-in: a log may hold values that are not declared secrets (only those are masked)
            self._read_tail = lambda path: read_tail(path, log_lines)
        self.facts = RunFacts()
        # set when a lane is done or the wait is skipped; the run's wake-up flag when there is a run (its thread has
        # ended when close() waits on it), so that a cancel of the run ends the wait too
        self._bell: threading.Event | Waker = control.wake if control is not None else threading.Event()
        named = [(target, services)] if callable(services) else [(s.name, s.send) for s in services]
        self.lanes = [_Lane(name, send, self.clock, self._bell) for name, send in named]
        self._closed = False
        self._skipped = False
        self._template_warned = False

    @property
    def sent(self) -> int:
        return sum(lane.sent for lane in self.lanes)

    @property
    def dropped(self) -> int:
        """Messages given up on, over all services (however it happened)."""
        return sum(lane.slow + lane.failed for lane in self.lanes)

    def emit(self, event: Event) -> None:
        self.facts.note(event)
        found = message_for(event, self.wanted, self.facts, self._read_tail)
        if found is None:
            return
        found, problem = templated(found, event, self.facts, self.title, self.body)
        if problem and not self._template_warned:
            self._template_warned = True
            log.warning("%s", problem)
        for lane in self.lanes:
            lane.put(found)

    def flush(self) -> None:
        pass

    def skip(self) -> None:
        """End the wait of :meth:`close` now (from any thread): what is not sent yet is given up, and said."""
        self._skipped = True
        self._bell.set()

    def close(self) -> None:
        """Wait for what is queued: :data:`DRAIN_S` at most, said after :data:`ANNOUNCE_S`, ended by :meth:`skip`."""
        if self._closed:
            return
        self._closed = True
        control = self.control
        asked = (control.reason, control.kill_now) if control is not None else None
        if control is not None:
            control.skip_notifications = self.skip  # the run's tasks are over: a stop now skips this wait
        start = time.monotonic()
        deadline = start + DRAIN_S
        announced = False
        for lane in self.lanes:
            lane.close()
        while True:
            self._bell.clear()
            waiting = [lane for lane in self.lanes if not lane.done.is_set()]
            if not waiting:
                return
            now = time.monotonic()
            if self._skipped:
                self._abandon(waiting, "skipped by an interrupt")
                return
            if control is not None and (control.reason, control.kill_now) != asked:
                self._abandon(waiting, "skipped: the run was told to stop")  # a stopping scheduler
                return
            if now >= deadline:
                self._abandon(waiting, f"no answer within the {DRAIN_S:g}s the run waits at its end")
                return
            if not announced and now >= start + ANNOUNCE_S:
                announced = True
                log.warning(
                    "dagctl: sending %s to %s (up to %.0fs more; Ctrl+C to skip)",
                    _plural(sum(lane.pending for lane in waiting)),
                    ", ".join(lane.name for lane in waiting),
                    deadline - now,
                )
            self._bell.wait((deadline if announced else min(deadline, start + ANNOUNCE_S)) - now)

    def _abandon(self, lanes: list[_Lane], why: str) -> None:
        for lane in lanes:
            lane.abandoned = True  # its thread sends and says nothing more
            lane.report(left=why)


def read_tail(path: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a task's log, fit for a message (:func:`~dagctl.run.notify_message.tail_text`);
    ``""`` when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            return tail_text(fh.read(TAIL_BYTES), lines)
    except OSError:
        return ""


def skipper(control: RunControl) -> Callable[[], None] | None:
    """What ends the wait for notifications of the run of ``control``, once its tasks are over (None before, or
    when it sends none): a stop asked then is for that wait, not for tasks."""
    return control.skip_notifications


def notifier_for(
    spec: dict[str, Any] | None, clock: Clock | None = None, control: RunControl | None = None
) -> Notifier | None:
    """The notifier of a ``notify:`` (a DAG's, or its project's), or None when it sends nothing (``events: []``)."""
    if not spec:
        return None
    events = spec.get("events", ["failure"])
    if events is None:
        events = ["failure"]
    if not events:
        return None
    from .notify_apprise import apprise_services

    services = apprise_services(list(spec.get("urls") or []))
    return Notifier(
        events,
        services,
        clock,
        control=control,
        title=spec.get("title"),
        body=spec.get("body"),
        log_lines=int(spec.get("log_lines") or 0),
    )
