"""The distributed executor: task attempts and whole runs on Celery workers, with Redis as broker and ledger.

Two ways to use workers (``pip install 'dagctl[celery]'``, then ``dagctl worker`` on each machine):

* **Task level** — :class:`CeleryExecutor`. This process stays the coordinator: it plans, retries and
  writes every event. Each attempt travels as JSON (``Attempt.to_dict``) to the queue named by the task's
  ``queue:`` (default ``dagctl``); a worker runs it with the same :class:`~.local.LocalRunner` the thread
  executor uses, in a worker-local folder, and sends back the result with the tail of its log.
* **Run level** — :func:`enqueue_run`. A whole DAG run becomes a job that a worker runs with
  :func:`dagctl.run.api.run_dag`; job states ``pending/running/success/failed/cancelled/retry`` are kept in Redis,
  shown by ``dagctl queue`` (:func:`queue_status`) and ``dagctl queue remove`` cancels jobs
  (:func:`~.celery_queue.cancel_queued_run`). They live in :mod:`.celery_queue`, re-exported here.

Delivery is at least once: messages are acknowledged late, one at a time per worker process, and
redelivered when a worker process dies. What makes that safe is the **ledger** (:class:`Ledger`,
keys in the broker's Redis, updated by atomic Lua scripts): every attempt id and job id is claimed once
under a lease the worker keeps alive; a duplicate delivery returns the stored result (or is dropped while
the first is still running); a delivery older than the current one is dropped. When a lease lapses (the
worker was killed), the coordinator — or, for jobs, any worker — delivers the work again.

When the broker fails: silent for ``broker_lost_s`` (counted from its last answer), the attempts in flight
fail; restarted empty (the coordinator's marker key vanished), the attempts no worker still renews a lease
on fail after ``lease_s`` as lost by the broker. Either way they are cancelled in the ledger once it answers,
so a worker does not go on with work nobody waits for. The other way round, the coordinator renews a lease of
its own (``coordinator_lease_s``); when it dies without a word (SIGKILL, the OOM killer, a lost machine), the
lease lapses and the workers stop its attempts and drop those still queued: nothing it sent runs on for nobody.

Nothing here imports celery or redis at module level; the first use does, with an install hint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dagctl.clock import SystemClock
from dagctl.dag.durations import format_duration
from dagctl.errors import ExecutorError
from dagctl.protocols import Clock
from dagctl.run.attempts import Attempt, AttemptResult, CancelToken

from .celery_app import ATTEMPT_TASK
from .celery_config import CeleryConfig, connect, describe_redis_error, redact
from .celery_ledger import CHECK_INTERVAL_S, MAX_LOST_DELIVERIES, TICK_S, Ledger, result_from_dict
from .celery_queue import RunQueue, enqueue_run, queue_status
from .remote_logs import write_shipped_log

REMIND_S = 60.0
"""How often a coordinator says again that attempts wait on a queue no live worker consumes."""

if TYPE_CHECKING:
    from dagctl.run.waker import Waker

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 0.5
"""While the broker does not answer, how long each ``PING`` waits: how late ``broker_lost_s`` may be noticed."""

__all__ = ["CeleryConfig", "CeleryExecutor", "Ledger", "RunQueue", "enqueue_run", "queue_status"]


# ---------------------------------------------------------------------------------------- coordinator


@dataclass
class _InFlight:
    attempt: Attempt
    cancel: CancelToken
    done: Callable[[AttemptResult], None]
    queue: str
    delivery: int = 1
    delivery_id: str = ""
    cancel_sent: bool = False
    cancel_wait_until: float | None = None
    lost: list[str] = field(default_factory=list)
    suspect: bool = False  # in flight when the broker lost its data: alive only while a worker renews its lease
    lost_since: float | None = None
    waiting_since: float | None = None  # first seen sent and not taken by any worker (for the reminder)


class CeleryExecutor:
    """Runs attempts on ``dagctl worker`` processes through Celery. See the module docstring.

    ``submit`` never blocks: a dispatcher thread publishes attempts, watches cancel tokens and the
    ledger, and a listener thread receives results on this executor's own reply channel. The constructor
    raises :class:`~dagctl.errors.ExecutorError` within ``connect_timeout`` when the broker is unreachable.
    """

    name = "celery"

    def __init__(
        self,
        config: CeleryConfig | None = None,
        *,
        broker: str | None = None,
        clock: Clock | None = None,
        remind_s: float = REMIND_S,
    ) -> None:
        from .celery_app import make_app

        self.config = config or CeleryConfig.from_env(broker=broker)
        self.clock = clock or SystemClock()
        self.app = make_app(self.config)
        self.redis = connect(self.config)
        self.ledger = Ledger(self.redis, self.config, self.clock)
        self.ledger.ping()
        self.reply_to = f"dagctl:reply:{uuid.uuid4().hex}"
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(self.reply_to)
        except Exception as exc:
            raise ExecutorError(
                f"cannot subscribe to the broker at {redact(self.config.broker)}: {describe_redis_error(exc)}"
            ) from exc
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._inflight: dict[str, _InFlight] = {}
        self._stopping = threading.Event()
        self._queues_checked: set[str] = set()
        self.remind_s = remind_s
        self._next_reminder = self.clock.monotonic() + self.remind_s
        self._forget: list[str] = []
        self._marker = self.reply_to.rsplit(":", 1)[1]
        self._kept_at = float("-inf")  # when this coordinator's lease was last renewed
        try:
            self.ledger.mark(self._marker)
            self._keep_alive(self.clock.monotonic())
        except Exception as exc:
            raise ExecutorError(
                f"cannot write to the broker at {redact(self.config.broker)}: {describe_redis_error(exc)}"
            ) from exc
        self._last_contact = self.clock.monotonic()  # the last time the broker answered
        self._trouble: str | None = None  # what went wrong with the broker, while it does
        self._fence: list[str] = []  # attempts given up on: stop them on their workers once the broker is back
        self._prober: Any = None
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="dagctl-celery-dispatch", daemon=True)
        self._listener = threading.Thread(target=self._listen_loop, name="dagctl-celery-listen", daemon=True)
        self._dispatcher.start()
        self._listener.start()

    # ------------------------------------------------------------------ the Executor protocol
    def for_child_run(self, parallelism: int) -> CeleryExecutor:
        return self  # attempts of several runs share the workers and the reply channel

    def begin(self, waker: Waker, shell_logs: Sequence[str]) -> None:
        pass  # workers write their own logs; results arrive on the listener thread

    def end(self) -> None:
        pass

    def submit(self, attempt: Attempt, cancel: CancelToken, done: Callable[[AttemptResult], None]) -> None:
        if self._stopping.is_set():
            raise ExecutorError("the Celery executor was shut down")
        self._inbox.put(("submit", _InFlight(attempt, cancel, done, attempt.queue or self.config.queue)))

    def shutdown(self, *, wait: bool = True) -> None:
        if self._stopping.is_set():
            return
        self._inbox.put(("stop", None))
        self._stopping.set()
        # the dispatcher stops what is still out (cancels, fences) and ends: quick, unless the broker is away
        self._dispatcher.join(timeout=5.0 if wait else 1.0)
        if not self._dispatcher.is_alive() and self._trouble is None:
            self._tidy()
        if not wait:
            return  # the listener is a daemon thread: it ends with the process
        self._listener.join(timeout=5.0)
        closers = [self._pubsub.close, self.app.close, self.redis.close]
        if self._prober is not None:
            closers.append(self._prober.close)
        for close in closers:
            with contextlib.suppress(Exception):  # closing a broken connection
                close()

    def _tidy(self) -> None:
        """Leave nothing of this coordinator in the broker: its marker (kept 7 days otherwise) and the logs its
        workers shipped (an hour otherwise: secrets are masked only when a log is written to the run folder)."""
        with contextlib.suppress(Exception):
            if self._forget:
                forget, self._forget = self._forget, []
                self.ledger.forget_logs(forget)
        self.ledger.unmark(self._marker)

    # ------------------------------------------------------------------ threads
    def _listen_loop(self) -> None:
        idle = threading.Event()
        while not self._stopping.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
            except Exception as exc:  # broker gone: the dispatcher's ledger checks decide what to do
                logger.debug("reply channel: %s", exc)
                idle.wait(0.2)
                continue
            if message is not None and message.get("type") == "message":
                self._inbox.put(("reply", message["data"]))

    def _dispatch_loop(self) -> None:
        next_check = self.clock.monotonic() + CHECK_INTERVAL_S
        while True:
            try:
                kind, item = self._inbox.get(timeout=TICK_S)
            except queue.Empty:
                kind, item = "tick", None
            try:
                if kind == "stop":
                    self._stop_all()
                    return
                if kind == "submit":
                    self._publish(item)
                elif kind == "reply":
                    self._on_reply(item)
                self._watch_cancels()
                now = self.clock.monotonic()
                with contextlib.suppress(Exception):  # an unreachable broker is the ledger check's to judge
                    self._keep_alive(now)
                if now >= next_check:
                    next_check = now + CHECK_INTERVAL_S
                    self._check_ledger(now)
            except Exception:  # never let the dispatcher die: the runner would wait forever
                logger.exception("Celery executor dispatcher")

    def _keep_alive(self, now: float, *, force: bool = False) -> None:
        """Renew this coordinator's lease (a few times per lease): workers stop the attempts of a dead one."""
        if force or now - self._kept_at >= self.config.coordinator_lease_s / 6:
            from dagctl.host import hostname

            self.ledger.keep_coordinator(self._marker, f"{hostname()} pid {os.getpid()}")
            self._kept_at = now

    # ------------------------------------------------------------------ sending
    def _publish(self, job: _InFlight) -> None:
        attempt = job.attempt
        self._inflight[attempt.attempt_id] = job
        self._warn_if_no_worker(job.queue)
        job.delivery_id = f"{attempt.attempt_id}#{job.delivery}"
        job.waiting_since = self.clock.monotonic()  # waiting for a worker from now (again, if handed back or lost)
        payload = {
            "v": 1,
            "attempt": attempt.to_dict(),
            "reply_to": self.reply_to,
            "delivery": job.delivery,
            "coordinator": self._marker,
        }
        try:
            self.app.send_task(
                ATTEMPT_TASK, kwargs=payload, queue=job.queue, task_id=job.delivery_id, ignore_result=True
            )
        except Exception as exc:
            self._finish(
                attempt.attempt_id,
                AttemptResult(
                    status="failed",
                    duration_s=0.0,
                    error=f"could not send the attempt to the broker at {redact(self.config.broker)}: "
                    f"{describe_redis_error(exc)}",
                ),
            )

    def _warn_if_no_worker(self, name: str) -> None:
        if name in self._queues_checked:
            return
        self._queues_checked.add(name)
        try:
            workers = self.ledger.workers()
        except Exception:
            return
        if not any(name in w.get("queues", []) for w in workers):
            logger.warning(
                "no dagctl worker is consuming queue '%s' now; its tasks wait until one starts "
                "(dagctl worker --queues %s)",
                name,
                name,
            )

    # ------------------------------------------------------------------ receiving
    def _on_reply(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            attempt_id = message["attempt_id"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed reply on %s", self.reply_to)
            return
        if attempt_id not in self._inflight:
            logger.debug("ignored a second result for %s (delivery %s)", attempt_id, message.get("delivery"))
            return
        self._accept(attempt_id, message.get("result") or {}, message.get("log"), int(message.get("dropped") or 0))

    def _accept(self, attempt_id: str, result_data: dict[str, Any], log: str | None, dropped: int) -> None:
        job = self._inflight.get(attempt_id)
        if job is None:
            return
        result = result_from_dict(result_data)
        try:
            write_shipped_log(job.attempt.log_path, log, dropped, worker=result.worker)
        except OSError as exc:
            logger.warning("cannot write the log of %s to %s: %s", attempt_id, job.attempt.log_path, exc)
        if job.lost and result.ok:
            logger.warning(
                "%s succeeded on %s after worker(s) %s were lost while running it",
                attempt_id,
                result.worker,
                ", ".join(job.lost),
            )
        self._finish(attempt_id, result)
        if log is not None:
            self._forget.append(attempt_id)

    def _finish(self, attempt_id: str, result: AttemptResult) -> None:
        job = self._inflight.pop(attempt_id, None)
        if job is None:
            return
        if job.cancel.reason == "timeout" and result.status == "cancelled" and job.cancel.is_cancelled:
            limit = f" after {job.attempt.timeout:g}s" if job.attempt.timeout else ""
            result = AttemptResult(
                status="timeout",
                duration_s=result.duration_s,
                exit_code=result.exit_code,
                error=f"timed out{limit}",
                outputs=None,
                worker=result.worker,
            )
        try:
            job.done(result)
        except Exception:
            logger.exception("result callback for %s", attempt_id)

    # ------------------------------------------------------------------ cancel
    def _watch_cancels(self) -> None:
        waiting: dict[str, set[str]] = {}  # messages of attempts cancelled before a worker took them, by queue
        for attempt_id, job in list(self._inflight.items()):
            if job.cancel_sent or not job.cancel.is_cancelled:
                continue
            job.cancel_sent = True
            reason = "timeout" if job.cancel.reason == "timeout" else "cancelled"
            try:
                verdict, extra = self.ledger.cancel(attempt_id, reason)
            except Exception as exc:
                self._finish(
                    attempt_id,
                    AttemptResult(
                        status="cancelled",
                        duration_s=0.0,
                        error=f"cancelled; could not reach the broker to stop it: {describe_redis_error(exc)}",
                    ),
                )
                continue
            if verdict == "cancelled":  # not running: drop the message wherever it is
                self._revoke(job, terminate=False)
                waiting.setdefault(job.queue, set()).add(job.delivery_id)
                if reason == "timeout":
                    limit = f" after {job.attempt.timeout:g}s" if job.attempt.timeout else ""
                    before, _, worker = extra.partition(":")
                    if job.suspect:
                        why = f"; {self._lost_error()}"
                    elif before == "handed_back":
                        why = f" waiting in queue '{job.queue}' after worker {worker} handed it back as it shut down"
                        self._write_kept_log(job, worker)
                    elif before == "lost":
                        why = f" waiting in queue '{job.queue}' after worker {worker} was lost while running it"
                    else:
                        why = f" waiting in queue '{job.queue}': no worker started it"
                    result = AttemptResult(status="timeout", duration_s=0.0, error=f"timed out{limit}{why}")
                else:
                    result = AttemptResult(
                        status="cancelled", duration_s=0.0, error="cancelled before a worker started it"
                    )
                self._finish(attempt_id, result)
            elif verdict == "running":  # SIGTERM the worker's process for it; it stops the task's group
                self._revoke(job, terminate=True, worker=extra or None)
                job.cancel_wait_until = self.clock.monotonic() + job.attempt.grace + 5.0
            # "done": its result is on the way
        for name, ids in waiting.items():  # on a queue no worker takes, they would wait there for ever
            try:
                self.ledger.drop_messages(name, ids)
            except Exception as exc:  # a worker that takes one drops it: it is cancelled in the ledger
                logger.debug("could not take cancelled attempts off queue %s: %s", name, exc)

    def _write_kept_log(self, job: _InFlight, worker: str) -> None:
        """The log of an attempt handed back at a shutdown that then never ran again: what it wrote on ``worker``."""
        attempt_id = job.attempt.attempt_id
        try:
            kept = self.ledger.kept_log(attempt_id)
            if kept is not None:
                write_shipped_log(job.attempt.log_path, kept[0], kept[1], worker=worker)
                self._forget.append(attempt_id)
        except Exception as exc:  # diagnostics only: the attempt's end is recorded anyway
            logger.warning("cannot write the log of %s to %s: %s", attempt_id, job.attempt.log_path, exc)

    def _revoke(self, job: _InFlight, *, terminate: bool, worker: str | None = None) -> None:
        try:
            self.app.control.revoke(
                job.delivery_id, terminate=terminate, signal="SIGTERM", destination=[worker] if worker else None
            )
        except Exception as exc:
            logger.warning("could not revoke %s: %s", job.delivery_id, exc)

    # ------------------------------------------------------------------ the ledger check
    def _check_ledger(self, now: float) -> None:
        if self._forget:
            forget, self._forget = self._forget, []
            self.ledger.forget_logs(forget)
        if not self._inflight and not self._fence:
            self._last_contact, self._trouble = now, None
            return
        ids = list(self._inflight)
        try:
            if self._trouble is not None:  # silent last time: a quick ping first, so broker_lost_s is kept to ~1 s
                self._probe().ping()
            states, intact = self.ledger.check(ids, self._marker)
        except Exception as exc:
            self._broker_trouble(exc)
            return
        self._in_contact()
        if not intact:
            self._broker_lost_data(ids)
        if self._fence:
            self._send_fences()
        for attempt_id, (state, has_lease) in zip(ids, states, strict=True):
            job = self._inflight.get(attempt_id)
            if job is None:
                continue
            if state == "done":  # the reply was missed (reconnect): take the stored result
                stored = self.ledger.stored_result(attempt_id)
                if stored is not None:
                    self._accept(attempt_id, *stored)
            elif state == "cancelled":
                self._finish(attempt_id, AttemptResult(status="cancelled", duration_s=0.0, error="cancelled"))
            elif job.suspect and not state:  # its record is gone with the broker's data: is a worker still on it?
                self._check_suspect(job, has_lease, now)
            elif job.cancel_sent and not has_lease and state in ("running", "handed_back", "lost", "requeued"):
                self._finish(
                    attempt_id,
                    AttemptResult(
                        status="cancelled", duration_s=0.0, error="cancelled; the worker stopped without a result"
                    ),
                )
            elif job.cancel_wait_until is not None and now >= job.cancel_wait_until:
                self._finish(
                    attempt_id,
                    AttemptResult(status="cancelled", duration_s=0.0, error="cancelled; no answer from the worker"),
                )
            elif not has_lease and state in ("running", "handed_back"):
                self._redeliver(job, handed_back=state == "handed_back")
        waiting: dict[str, list[float]] = {}
        for attempt_id, (state, has_lease) in zip(ids, states, strict=True):
            job = self._inflight.get(attempt_id)
            if job is None:
                continue
            if not has_lease and state in ("", "lost", "requeued"):  # sent (again), and no worker has taken it
                job.waiting_since = job.waiting_since if job.waiting_since is not None else now
                waiting.setdefault(job.queue, []).append(job.waiting_since)
            else:
                job.waiting_since = None
        if now >= self._next_reminder:
            self._next_reminder = now + self.remind_s
            if waiting:
                self._remind_unserved(waiting, now)

    def _remind_unserved(self, waiting: dict[str, list[float]], now: float) -> None:
        """Say again, every :data:`REMIND_S`, which queues have attempts waiting and no live worker: the warning
        at the first send was the only word, and a run whose workers all died later waited in silence."""
        try:
            workers = self.ledger.workers()
        except Exception:
            return
        served = {q for w in workers for q in w.get("queues", [])}
        for name, since in sorted(waiting.items()):
            if name not in served:
                logger.warning(
                    "%d task(s) waiting for a dagctl worker on queue '%s' (the first for %s): no worker is alive "
                    "on it (start one: dagctl worker --queues %s)",
                    len(since),
                    name,
                    format_duration(max(now - min(since), 0.0)),
                    name,
                )

    # ------------------------------------------------------------------ when the broker fails
    def _broker_lost_data(self, ids: list[str]) -> None:
        """The marker vanished: the broker restarted empty (or was flushed). Queued messages and the records of
        the attempts in flight are gone; a worker still running one renews its lease within a second."""
        logger.warning(
            "the broker at %s lost its data (restarted without persistence, or flushed): %d attempt(s) in flight; "
            "those no worker is running fail in %gs",
            redact(self.config.broker),
            len(ids),
            self.config.lease_s,
        )
        for attempt_id in ids:
            job = self._inflight.get(attempt_id)
            if job is not None:
                job.suspect, job.lost_since = True, None
        self.ledger.mark(self._marker)
        self._keep_alive(self.clock.monotonic(), force=True)

    def _check_suspect(self, job: _InFlight, has_lease: bool, now: float) -> None:
        if has_lease:  # a worker runs it and will store its result
            job.lost_since = None
        elif job.lost_since is None:
            job.lost_since = now
        elif now - job.lost_since >= self.config.lease_s:
            attempt_id = job.attempt.attempt_id
            self._fence.append(attempt_id)  # should its message ever come back, it will not run
            self._finish(attempt_id, AttemptResult(status="failed", duration_s=0.0, error=self._lost_error()))

    def _lost_error(self) -> str:
        return (
            f"the broker lost this attempt (restarted empty?): {redact(self.config.broker)} lost its data while "
            f"the attempt was queued or running, and no worker renewed a lease on it for {self.config.lease_s:g}s"
        )

    def _probe(self) -> Any:
        """A client with a short timeout (PROBE_TIMEOUT_S) to ask a broker that stopped answering whether it is back."""
        if self._prober is None:
            self._prober = connect(
                replace(self.config, connect_timeout=min(PROBE_TIMEOUT_S, self.config.connect_timeout))
            )
        return self._prober

    def _in_contact(self) -> None:
        if self._trouble is not None:
            logger.warning("broker at %s reachable again", redact(self.config.broker))
        self._last_contact, self._trouble = self.clock.monotonic(), None

    def _broker_trouble(self, exc: Exception) -> None:
        """The broker did not answer. In-flight attempts fail once it has been silent for ``broker_lost_s``,
        counted from its last answer (the calls that failed took their own time: up to ``connect_timeout``)."""
        down = self.clock.monotonic() - self._last_contact
        if self._trouble is None:
            self._trouble = describe_redis_error(exc)
            logger.warning("broker at %s unreachable: %s", redact(self.config.broker), self._trouble)
        if self._inflight and down >= self.config.broker_lost_s:
            self._abandon_all(
                f"lost contact with the broker at {redact(self.config.broker)} for {down:.0f}s "
                f"({describe_redis_error(exc)}); it may still run on its worker: it is stopped there when the "
                "broker is back, if this run is still going then",
                fence=True,
            )

    def _send_fences(self) -> None:
        """Cancel, in the ledger, attempts this coordinator gave up on: a worker still running one stops it (its
        lease renewal reads the cancel), and a delivery still queued is dropped."""
        fence, self._fence = self._fence, []
        for i, attempt_id in enumerate(fence):
            try:
                self.ledger.cancel(attempt_id, "cancelled")
            except Exception as exc:  # still unreachable: try again at the next check
                logger.debug("cannot stop %s on its worker yet: %s", attempt_id, exc)
                self._fence.extend(fence[i:])
                return

    def _redeliver(self, job: _InFlight, *, handed_back: bool = False) -> None:
        """Deliver again an attempt whose worker stopped renewing its lease: lost (it died), or ``handed_back``
        (a warm shutdown that ran out of time gave it back: a routine restart, not counted as a loss)."""
        attempt_id = job.attempt.attempt_id
        verdict, delivery, worker = self.ledger.take_over(attempt_id)
        if verdict != "resend":
            return
        if handed_back:
            logger.info("%s: worker %s handed it back as it shut down; delivering it again", attempt_id, worker)
        else:
            job.lost.append(worker or "?")
            if len(job.lost) > MAX_LOST_DELIVERIES:
                lost = f"lost {len(job.lost)} times: worker(s) {', '.join(job.lost)} stopped while running it"
                self._finish(attempt_id, AttemptResult(status="failed", duration_s=0.0, error=lost))
                return
            logger.warning(
                "%s: worker %s stopped while running it (no heartbeat); delivering it again", attempt_id, worker
            )
        job.delivery = delivery
        del self._inflight[attempt_id]
        self._publish(job)

    def _stop_all(self) -> None:
        """Shut down with attempts still out (their run was given up): stop them on their workers too."""
        for job in self._inflight.values():
            if not job.cancel_sent:
                job.cancel.cancel(reason="cancelled")
        with contextlib.suppress(Exception):
            self._watch_cancels()
        if self._fence:  # attempts given up on while the broker was away: a last try to stop them
            self._send_fences()
        self._abandon_all("the executor was shut down")

    def _abandon_all(self, reason: str, *, fence: bool = False) -> None:
        for attempt_id, job in list(self._inflight.items()):
            if fence:
                self._fence.append(attempt_id)
            status = "cancelled" if job.cancel.is_cancelled else "failed"
            self._finish(attempt_id, AttemptResult(status=status, duration_s=0.0, error=reason))  # type: ignore[arg-type]
