"""The ledger: dagctl's own keys in the broker's Redis, updated by atomic Lua scripts.

Every attempt id and job id is claimed once under a lease the worker keeps alive; a duplicate delivery
returns the stored result (or is dropped while the first is still running); a delivery older than the
current one is dropped. This is what makes Celery's at-least-once delivery safe for dagctl.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from dagctl.clock import SystemClock
from dagctl.errors import ExecutorError
from dagctl.protocols import Clock
from dagctl.run.attempts import AttemptResult
from dagctl.store.events import format_ts

from .celery_config import CeleryConfig, describe_redis_error, redact

logger = logging.getLogger(__name__)

PREFIX = "dagctl:"
JOB_INDEX_CAP = 10_000
JOB_STATES = ("pending", "running", "retry", "success", "failed", "cancelled")
JOB_DONE = ("success", "failed", "cancelled")
"""Final job states: nothing runs any more (such a job can be enqueued again: :meth:`Ledger.create_job`)."""

CHECK_INTERVAL_S = 0.5
"""How often the coordinator reads the ledger for its in-flight attempts (leases, missed replies)."""
TICK_S = 0.05
"""Longest pause of the dispatcher: how late a cancel is noticed."""
DROP_SCAN = 10_000
"""Most messages :meth:`Ledger.drop_messages` reads from a queue to take cancelled work out of it."""
MAX_LOST_DELIVERIES = 3
"""A task or job whose worker vanishes more often than this fails instead of being delivered again."""


# ---------------------------------------------------------------------------------------- the ledger

# Attempts: hash dagctl:attempt:<id> {state, delivery, worker, cancel, result, runs}; lease dagctl:lease:<id>;
# the shipped log dagctl:log:<id>. States: running -> done | handed_back | lost -> running ... ; cancelled. A
# take-over (delivered again) makes handed_back 'requeued' and a silent running one 'lost'.
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'done' then return {'done', redis.call('HGET', KEYS[1], 'result')} end
if state == 'cancelled' then return {'cancelled', ''} end
local current = tonumber(redis.call('HGET', KEYS[1], 'delivery') or '0')
if tonumber(ARGV[1]) < current then return {'stale', tostring(current)} end
local holder = redis.call('GET', KEYS[2])
if holder then return {'busy', holder} end
local cancel = redis.call('HGET', KEYS[1], 'cancel')
if cancel then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  return {'cancelled', cancel}
end
redis.call('HSET', KEYS[1], 'state', 'running', 'delivery', ARGV[1], 'worker', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {'claimed', ''}
"""
_BEAT = """
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return {'lost', '', '1'} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local coordinator = '1'
if KEYS[3] then coordinator = tostring(redis.call('EXISTS', KEYS[3])) end
return {'ok', redis.call('HGET', KEYS[1], ARGV[3]) or '', coordinator}
"""
_FINISH = """
if redis.call('HGET', KEYS[1], 'state') == 'done' then return {'dup', redis.call('HGET', KEYS[1], 'result')} end
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[5]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return {'ok', ARGV[2]}
"""
_RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', ARGV[2])
return 1
"""
_CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'done' then return {'done', ''} end
redis.call('HSET', KEYS[1], 'cancel', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then return {'running', redis.call('HGET', KEYS[1], 'worker') or ''} end
redis.call('HSET', KEYS[1], 'state', 'cancelled')
if state == 'handed_back' or state == 'requeued' then
  return {'cancelled', 'handed_back:' .. (redis.call('HGET', KEYS[1], 'worker') or '')}
end
if state == 'lost' then return {'cancelled', 'lost:' .. (redis.call('HGET', KEYS[1], 'worker') or '')} end
return {'cancelled', ''}
"""
_TAKE_OVER = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'handed_back' then return {'idle', '', ''} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'alive', '', ''} end
local delivery = redis.call('HINCRBY', KEYS[1], 'delivery', 1)
if state == 'handed_back' then redis.call('HSET', KEYS[1], 'state', 'requeued')
else redis.call('HSET', KEYS[1], 'state', 'lost') end
return {'resend', tostring(delivery), redis.call('HGET', KEYS[1], 'worker') or ''}
"""
# Jobs: hash dagctl:job:<id>; index zset dagctl:jobs (by enqueue time); set dagctl:jobs:running;
# lease dagctl:joblease:<id>. States: pending -> running -> success | failed | cancelled, or retry -> running ...;
# a 'cancel' field (dagctl queue remove) ends a job that has not started and stops a running one at its next beat.
_JOB_CREATE = """
local state = redis.call('HGET', KEYS[1], 'state')
local delivery = 1
if state then
  if ARGV[5] ~= '1' or (state ~= 'success' and state ~= 'failed' and state ~= 'cancelled') then
    return {'exists', state}
  end
  delivery = redis.call('HINCRBY', KEYS[1], 'delivery', 1)
  redis.call('HDEL', KEYS[1], 'run_id', 'run_status', 'error', 'worker', 'started_at', 'finished_at', 'cancel', 'lost')
  redis.call('HINCRBY', KEYS[1], 'reruns', 1)
end
redis.call('HSET', KEYS[1], 'delivery', delivery, unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1) end
if state then return {'rerun', tostring(delivery)} end
return {'created', '1'}
"""
_JOB_ADOPT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= 0 then return 0 end
redis.call('HSET', KEYS[1], 'requested_run_id', ARGV[1])
return 1
"""
_JOB_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown', ''} end
if state == 'success' or state == 'failed' or state == 'cancelled' then return {'done', state} end
if tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[1], 'delivery') or '1') then return {'stale', ''} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy', ''} end
local cancel = redis.call('HGET', KEYS[1], 'cancel')
if cancel then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[5], 'error', cancel)
  redis.call('SREM', KEYS[3], ARGV[6])
  return {'done', 'cancelled'}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[4], 'started_at', ARGV[5], 'delivery', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[6])
return {'claimed', redis.call('HGET', KEYS[1], 'failures') or '0'}
"""
_JOB_FINISH = """
local current = redis.call('HGET', KEYS[1], 'delivery') or '1'
if ARGV[9] ~= '' and current ~= ARGV[9] then return {'stale', current} end
local state, error = ARGV[2], ARGV[6]
local cancel = redis.call('HGET', KEYS[1], 'cancel')
if cancel and (state == 'retry' or state == 'pending') then
  state = 'cancelled'
  if error == '' then error = cancel end
end
redis.call('HSET', KEYS[1], 'state', state, 'finished_at', ARGV[3], 'run_id', ARGV[4], 'run_status', ARGV[5],
           'error', error)
if ARGV[8] == '1' then redis.call('HINCRBY', KEYS[1], 'failures', 1) end
local delivery = current
if state == 'retry' or state == 'pending' then delivery = redis.call('HINCRBY', KEYS[1], 'delivery', 1) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[3], ARGV[7])
return {state, tostring(delivery)}
"""
_JOB_CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown', ''} end
if state == 'success' or state == 'failed' or state == 'cancelled' then return {'done', state} end
redis.call('HSET', KEYS[1], 'cancel', ARGV[1])
if state == 'running' and redis.call('EXISTS', KEYS[2]) == 1 then
  return {'running', redis.call('HGET', KEYS[1], 'worker') or ''}
end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[2], 'error', ARGV[1])
redis.call('SREM', KEYS[3], ARGV[3])
return {'cancelled', state}
"""
_JOB_RECOVER = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  redis.call('SREM', KEYS[3], ARGV[1])
  return {'skip', ''}
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'alive', ''} end
redis.call('SREM', KEYS[3], ARGV[1])
local lost = redis.call('HINCRBY', KEYS[1], 'lost', 1)
local worker = redis.call('HGET', KEYS[1], 'worker') or '?'
if lost > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'finished_at', ARGV[2],
             'error', 'lost ' .. lost .. ' times; last on worker ' .. worker)
  return {'failed', ''}
end
local delivery = redis.call('HINCRBY', KEYS[1], 'delivery', 1)
redis.call('HSET', KEYS[1], 'state', 'retry', 'error', 'worker ' .. worker .. ' stopped while running it; requeued')
return {'requeue', tostring(delivery)}
"""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ("" if value is None else str(value))


def reply_message(attempt_id: str, delivery: int, result: Mapping[str, Any], log: str | None, dropped: int) -> str:
    """What a worker publishes on the coordinator's reply channel: the result and the log's tail."""
    return json.dumps(
        {"v": 1, "attempt_id": attempt_id, "delivery": delivery, "result": dict(result), "log": log, "dropped": dropped}
    )


def result_from_dict(data: Mapping[str, Any]) -> AttemptResult:
    """An AttemptResult from a message, tolerating unknown keys (a newer worker)."""
    names = AttemptResult.FIELDS
    fields = {k: v for k, v in data.items() if k in names}
    fields.setdefault("status", "failed")
    fields.setdefault("duration_s", 0.0)
    return AttemptResult(**fields)


class Ledger:
    """The dagctl keys in the broker's Redis: attempt claims and results, job records, live workers.

    Every state change is one Lua script, so two workers (or a worker and the coordinator) never both
    win a race. Readers (``states``, ``recent_jobs``, ``workers``) are plain pipelined reads.
    """

    def __init__(self, client: Any, config: CeleryConfig, clock: Clock | None = None) -> None:
        self.redis = client
        self.config = config
        self.clock = clock or SystemClock()
        self._scripts: dict[str, Any] = {}
        self._drain_from = 0  # where the next recover_jobs pass starts in the sorted running jobs

    def _run(self, name: str, script: str, keys: list[str], args: list[Any]) -> Any:
        found = self._scripts.get(name)
        if found is None:
            found = self._scripts[name] = self.redis.register_script(script)
        reply = found(keys=keys, args=args)
        return [_text(v) for v in reply] if isinstance(reply, list) else _text(reply)

    def ping(self) -> None:
        try:
            self.redis.ping()
        except Exception as exc:
            said = describe_redis_error(exc)
            if _refused_credentials(exc, said):  # it answered: the password (or user) is what is wrong
                raise ExecutorError(
                    f"the broker at {redact(self.config.broker)} refused dagctl's credentials: {said}",
                    hint="put its password in the URL (redis://:PASSWORD@HOST:PORT/DB, or redis://USER:PASSWORD@...) "
                    "in REDIS_URL / --broker",
                ) from exc
            if "DB index is out of range" in said:  # it answered: the server has fewer databases
                raise ExecutorError(
                    f"the broker at {redact(self.config.broker)} has no such database: {said}",
                    hint="use a database number below the server's `databases` setting (16 by default), such as "
                    "redis://HOST:PORT/0, in REDIS_URL / --broker",
                ) from exc
            raise ExecutorError(
                f"cannot reach the broker at {redact(self.config.broker)}: {said}",
                hint="start redis-server there, or point REDIS_URL / --broker at a running one",
            ) from exc

    def now(self) -> str:
        return format_ts(self.clock.now())

    @property
    def lease_ms(self) -> int:
        return int(self.config.lease_s * 1000)

    # -- attempts (keys) --
    @staticmethod
    def attempt_keys(attempt_id: str) -> list[str]:
        return [f"{PREFIX}attempt:{attempt_id}", f"{PREFIX}lease:{attempt_id}", f"{PREFIX}log:{attempt_id}"]

    def claim(self, attempt_id: str, delivery: int, holder: str, worker: str) -> tuple[str, str]:
        verdict, extra = self._run(
            "claim",
            _CLAIM,
            self.attempt_keys(attempt_id)[:2],
            [delivery, holder, self.lease_ms, self.config.keep_s, worker],
        )
        return verdict, extra

    def beat(
        self, keys: list[str], holder: str, field: str = "cancel", *, coordinator: str | None = None
    ) -> tuple[str, str, bool]:
        """Renew the lease on ``keys``: ``(verdict, the record's field, whether the coordinator's lease is
        there)``; ``coordinator`` is the marker of the coordinator that sent the work (None: not asked)."""
        watched = [self.coordinator_key(coordinator)] if coordinator else []
        verdict, extra, alive = self._run("beat", _BEAT, [*keys[:2], *watched], [holder, self.lease_ms, field])
        return verdict, extra, alive != "0"

    def finish(
        self,
        attempt_id: str,
        holder: str,
        result: dict[str, Any],
        log: str | None,
        dropped: int,
        *,
        reply_to: str = "",
        delivery: int = 1,
    ) -> tuple[str, str]:
        """Store the result (first one wins: ``("dup", stored)`` otherwise) and publish it to ``reply_to``."""
        shipped = json.dumps({"log": log, "dropped": dropped}) if log is not None else ""
        message = reply_message(attempt_id, delivery, result, log, dropped) if reply_to else ""
        verdict, stored = self._run(
            "finish",
            _FINISH,
            self.attempt_keys(attempt_id),
            [holder, json.dumps(result), shipped, self.config.keep_s, 3600, reply_to, message],
        )
        return verdict, stored

    def release(self, keys: list[str], holder: str, state: str = "handed_back") -> bool:
        return bool(self._run("release", _RELEASE, keys[:2], [holder, state]) == "1")

    def cancel(self, attempt_id: str, reason: str) -> tuple[str, str]:
        """``("cancelled", "")`` for an attempt no worker has started (it never will), ``("cancelled",
        "handed_back:W")`` / ``("cancelled", "lost:W")`` for one worker W ran and handed back or was lost with;
        ``("running", W)`` when a worker runs it now (it stops at its next lease renewal); ``("done", "")``."""
        verdict, extra = self._run("cancel", _CANCEL, self.attempt_keys(attempt_id)[:2], [reason, self.config.keep_s])
        return verdict, extra

    def take_over(self, attempt_id: str) -> tuple[str, int, str]:
        verdict, delivery, worker = self._run("take_over", _TAKE_OVER, self.attempt_keys(attempt_id)[:2], [])
        return verdict, int(delivery or 0), worker

    def states(self, attempt_ids: list[str]) -> list[tuple[str, bool]]:
        """``(state, lease held)`` per attempt, read atomically (MULTI): a finish never falls between the two."""
        return self.check(attempt_ids)[0]

    def check(self, attempt_ids: list[str], marker: str | None = None) -> tuple[list[tuple[str, bool]], bool]:
        """:meth:`states`, and whether the ``marker`` (see :meth:`mark`) is still there, in one MULTI.

        A marker that vanished means the broker lost its data since it was set (restarted without
        persistence, flushed): work it had queued is gone, and so are the records of work in flight.
        """
        pipe = self.redis.pipeline(transaction=True)
        if marker is not None:
            pipe.exists(self.marker_key(marker))
            pipe.expire(self.marker_key(marker), self.config.keep_s)  # a long coordinator keeps it alive
        for attempt_id in attempt_ids:
            keys = self.attempt_keys(attempt_id)
            pipe.hget(keys[0], "state")
            pipe.exists(keys[1])
        replies = pipe.execute()
        intact = True
        if marker is not None:
            intact, replies = bool(replies[0]), replies[2:]
        return [(_text(replies[i]), bool(replies[i + 1])) for i in range(0, len(replies), 2)], intact

    @staticmethod
    def marker_key(name: str) -> str:
        return f"{PREFIX}marker:{name}"

    def mark(self, name: str) -> None:
        """Set the marker ``name``: while it exists, the broker has kept everything written since."""
        self.redis.set(self.marker_key(name), self.now(), ex=self.config.keep_s)

    def unmark(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.redis.delete(self.marker_key(name), self.coordinator_key(name))

    @staticmethod
    def coordinator_key(name: str) -> str:
        return f"{PREFIX}coordinator:{name}"

    def keep_coordinator(self, name: str, who: str) -> None:
        """Renew the lease of the coordinator whose marker is ``name``: it is alive (``who``: host and pid)."""
        self.redis.set(self.coordinator_key(name), who, px=int(self.config.coordinator_lease_s * 1000))

    def coordinator_alive(self, name: str) -> bool:
        return bool(self.redis.exists(self.coordinator_key(name)))

    def stored_result(self, attempt_id: str) -> tuple[dict[str, Any], str | None, int] | None:
        """``(result, log, dropped)`` of a finished attempt; the log is None once it has expired or been taken."""
        keys = self.attempt_keys(attempt_id)
        result, shipped = self.redis.hget(keys[0], "result"), self.redis.get(keys[2])
        if result is None:
            return None
        log = json.loads(shipped) if shipped else {}
        return json.loads(result), log.get("log"), int(log.get("dropped", 0))

    def keep_log(self, attempt_id: str, log: str | None, dropped: int) -> None:
        """Store what an attempt handed back at a shutdown had logged (for an hour): if it never runs again (its
        timeout comes first), the coordinator writes it as the attempt's log; if it does, the new log replaces it."""
        if log is not None:
            self.redis.set(self.attempt_keys(attempt_id)[2], json.dumps({"log": log, "dropped": dropped}), ex=3600)

    def kept_log(self, attempt_id: str) -> tuple[str, int] | None:
        """``(log, dropped)`` stored for the attempt (:meth:`keep_log`, or with its result), None if there is none."""
        shipped = self.redis.get(self.attempt_keys(attempt_id)[2])
        if not shipped:
            return None
        data = json.loads(shipped)
        return (str(data["log"]), int(data.get("dropped", 0))) if data.get("log") is not None else None

    def forget_logs(self, attempt_ids: list[str]) -> None:
        """Drop shipped logs that have reached the coordinator (they would expire within the hour anyway)."""
        with contextlib.suppress(Exception):
            self.redis.delete(*(self.attempt_keys(a)[2] for a in attempt_ids))

    # -- jobs --
    @staticmethod
    def job_keys(job_id: str) -> list[str]:
        return [f"{PREFIX}job:{job_id}", f"{PREFIX}joblease:{job_id}", f"{PREFIX}jobs:running"]

    def create_job(self, job_id: str, fields: Mapping[str, Any], *, rerun: bool = False) -> tuple[str, int]:
        """Record a pending job: ``("created", 1)``; ``("exists", 0)`` if the id is taken. With ``rerun``, a job that
        has finished (:data:`JOB_DONE`) is made pending again with these fields and its next delivery number
        (``("rerun", delivery)``: older messages of it are stale); one still pending or running is ``exists``."""
        record = {**fields, "state": "pending", "attempts": 0, "failures": 0, "enqueued_at": self.now()}
        flat = [str(x) for kv in record.items() for x in kv]
        verdict, extra = self._run(
            "job_create",
            _JOB_CREATE,
            [self.job_keys(job_id)[0], f"{PREFIX}jobs"],
            [job_id, self.clock.now().timestamp(), self.config.keep_s, JOB_INDEX_CAP, "1" if rerun else "0", *flat],
        )
        return verdict, int(extra) if verdict != "exists" else 0

    def adopt_job(self, job_id: str, run_id: str) -> bool:
        """Give a job that no worker has started yet the run id ``run_id`` (the scheduler that waits for it now)."""
        return bool(self._run("job_adopt", _JOB_ADOPT, self.job_keys(job_id)[:1], [run_id]) == 1)

    def claim_job(self, job_id: str, delivery: int, holder: str, worker: str) -> tuple[str, str]:
        verdict, extra = self._run(
            "job_claim",
            _JOB_CLAIM,
            self.job_keys(job_id),
            [delivery, holder, self.lease_ms, worker, self.now(), job_id],
        )
        return verdict, extra

    def finish_job(
        self,
        job_id: str,
        holder: str,
        state: str,
        *,
        run_id: str = "",
        run_status: str = "",
        error: str = "",
        failed: bool = False,
        delivery: int | None = None,
    ) -> tuple[str, int]:
        """Record how the job's run ended: ``(state recorded, its delivery)``. A ``retry`` gets the next delivery
        number, or becomes ``cancelled`` when the job was cancelled meanwhile. ``("stale", current)`` and nothing
        written when ``delivery`` is no longer the job's current one (another worker took it over)."""
        state, current = self._run(
            "job_finish",
            _JOB_FINISH,
            self.job_keys(job_id),
            [
                holder,
                state,
                self.now(),
                run_id,
                run_status,
                error,
                job_id,
                "1" if failed else "0",
                "" if delivery is None else str(delivery),
            ],
        )
        return state, int(current)

    def cancel_job(self, job_id: str, reason: str) -> tuple[str, str]:
        """Cancel a job: ``("cancelled", state it had)`` when it was pending or waiting for a retry (it will not
        run: its message is dropped by the worker that gets it); ``("running", worker)`` when a worker runs it (the
        worker stops the run at its next lease renewal); ``("done", state)`` when it had finished; ``("unknown",
        "")``."""
        verdict, extra = self._run("job_cancel", _JOB_CANCEL, self.job_keys(job_id), [reason, self.now(), job_id])
        return verdict, extra

    def recover_jobs(self, limit: int | None = None) -> list[tuple[str, int, str]]:
        """The queue drain of a worker's housekeeping: requeue running jobs whose worker stopped renewing its
        lease; ``[(job_id, delivery, queue)]``.

        It looks at ``limit`` running jobs at most (``SCHED_MAX_JOBS_PER_DRAIN``, default the config's) and the
        next call goes on where this one stopped, so each pass costs at most ``limit`` round trips to Redis
        and every running job is looked at within ``ceil(running / limit)`` passes."""
        limit = self.config.max_jobs_per_drain if limit is None else limit
        running = sorted(_text(raw) for raw in self.redis.smembers(f"{PREFIX}jobs:running"))
        if len(running) > limit:
            start = self._drain_from % len(running)
            running = (running[start:] + running[:start])[:limit]
            self._drain_from = start + limit
        requeued = []
        for job_id in running:
            verdict, delivery = self._run(
                "job_recover", _JOB_RECOVER, self.job_keys(job_id), [job_id, self.now(), MAX_LOST_DELIVERIES]
            )
            if verdict == "requeue":
                requeued.append((job_id, int(delivery), _text(self.redis.hget(self.job_keys(job_id)[0], "queue"))))
        return requeued

    def job_alive(self, job_id: str) -> bool:
        """Does a worker hold the job's lease (it is running it, and renewing the lease)?"""
        return bool(self.redis.exists(self.job_keys(job_id)[1]))

    def note_job(self, job_id: str, **fields: Any) -> None:
        self.redis.hset(self.job_keys(job_id)[0], mapping={k: str(v) for k, v in fields.items()})

    def job(self, job_id: str) -> dict[str, Any] | None:
        data = self.redis.hgetall(self.job_keys(job_id)[0])
        return _job_record(data) if data else None

    def recent_jobs(self, limit: int) -> list[dict[str, Any]]:
        ids = [_text(i) for i in self.redis.zrevrange(f"{PREFIX}jobs", 0, max(0, limit - 1))]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.job_keys(job_id)[0])
        return [_job_record(data) for data in pipe.execute() if data]

    def job_of_run(self, run_id: str, window: int = JOB_INDEX_CAP) -> dict[str, Any] | None:
        """The newest of the last ``window`` jobs that ran (or will run) as ``run_id``."""
        for job in self.recent_jobs(window):
            if run_id in (job.get("run_id"), job.get("requested_run_id") if not job.get("attempts") else None):
                return job
        return None

    # -- workers and queues --
    def announce(self, name: str, info: Mapping[str, Any], ttl_s: float) -> None:
        self.redis.set(
            f"{PREFIX}worker:{name}", json.dumps({**info, "name": name, "seen": self.now()}), px=int(ttl_s * 1000)
        )

    def retire(self, name: str, host: str | None = None, pid: int | None = None) -> None:
        """Forget the live worker ``name``; with ``host`` and ``pid``, only if that process is the one announced
        (another worker started under the same name keeps its entry)."""
        if host is not None and pid is not None:
            info = self.worker(name)
            if info is not None and (info.get("host"), info.get("pid")) != (host, pid):
                return
        self.redis.delete(f"{PREFIX}worker:{name}")

    def worker(self, name: str) -> dict[str, Any] | None:
        """What the live worker ``name`` last announced (None when no worker of that name is alive)."""
        raw = self.redis.get(f"{PREFIX}worker:{name}")
        try:
            info = json.loads(raw) if raw else None
        except ValueError:
            return None
        return info if isinstance(info, dict) else None

    def workers(self) -> list[dict[str, Any]]:
        keys = list(self.redis.scan_iter(match=f"{PREFIX}worker:*", count=500))
        values = self.redis.mget(keys) if keys else []
        return sorted((json.loads(v) for v in values if v), key=lambda w: w.get("name", ""))

    def queue_names(self) -> list[str]:
        """The queues Celery has declared in this Redis (kombu keeps each exchange's bindings in a set
        ``_kombu.binding.<exchange>`` whose members end with the queue's name), but its own control queues."""
        names: set[str] = set()
        for key in self.redis.scan_iter(match="_kombu.binding.*", count=500):
            if _text(key).endswith(".pidbox"):  # remote control (revoke) of the workers: not work
                continue
            for member in self.redis.smembers(key):
                name = _text(member).rsplit("\x06\x16", 1)[-1]
                if name:
                    names.add(name)
        return sorted(names)

    def drop_messages(self, queue_name: str, task_ids: set[str], *, prefix: bool = False) -> int:
        """Take the waiting messages of these Celery task ids (``job:<id>#<delivery>``, ``<attempt id>#<delivery>``;
        with ``prefix``, any id starting with one of them) out of the queue's list, read once: kombu's Redis
        transport keeps one JSON message per entry, its task id in ``headers.id``. At most :data:`DROP_SCAN` entries
        are read; a message a worker has already taken is not in the list (that worker drops it). How many went."""
        removed = 0
        for raw in self.redis.lrange(queue_name, 0, DROP_SCAN - 1):
            try:
                task_id = str(json.loads(raw).get("headers", {}).get("id") or "")
            except (ValueError, AttributeError, TypeError):
                continue
            if task_id in task_ids or (prefix and any(task_id.startswith(p) for p in task_ids)):
                removed += int(self.redis.lrem(queue_name, 1, raw))
        return removed

    def queue_lengths(self, names: list[str]) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)  # kombu's Redis transport keeps a queue as a list of that name
        return dict(zip(names, (int(n) for n in pipe.execute()), strict=True))


def _job_record(data: Mapping[Any, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {_text(k): _text(v) for k, v in data.items()}
    with contextlib.suppress(ValueError):
        record["params"] = json.loads(record.get("params") or "{}")
    for key in ("attempts", "failures", "lost", "delivery", "max_retries"):
        if record.get(key, "").lstrip("-").isdigit():
            record[key] = int(record[key])
    return record


def _refused_credentials(exc: BaseException, said: str) -> bool:
    """Redis answered, and refused the password or user (or wants one): not a broker to start."""
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    text = said.upper()
    return bool(
        kinds & {"AuthenticationError", "AuthenticationWrongNumberOfArgsError", "AuthorizationError"}
        or any(word in text for word in ("WRONGPASS", "NOAUTH", "INVALID USERNAME-PASSWORD", "AUTHENTICATED"))
    )
