"""A stop request ends a wait for the state lock held by another process (it used to take up to 30 s), and the log
and the exit message agree on how long ticks have been failing."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from dagctl.clock import FakeClock
from dagctl.errors import StateError
from dagctl.run.state import RunControl
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.loop import RunOutcome, RunRequest, Scheduler, SchedulerFailing
from dagctl.schedule.tick import TickFailures
from dagctl.store.jsonl import lock_path_for
from dagctl.store.state import LockWaitInterrupted, StateStore

WAIT = 10.0


def ok(request: RunRequest, control: RunControl) -> RunOutcome:
    return RunOutcome("success", request.run_id, 0.0)


def every_minute() -> list[ScheduleSpec]:
    return [ScheduleSpec(id="a", cron="* * * * *", dag="x.yaml")]


class WatchedStore(StateStore):
    """Says when a transaction starts (and so starts waiting for the lock)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = threading.Event()

    @contextmanager
    def transaction(self, **kwargs: Any) -> Any:
        self.entered.set()
        with super().transaction(**kwargs) as txn:
            yield txn


def test_a_stop_ends_a_tick_waiting_for_a_lock_another_process_holds(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "state.jsonl", fsync=False)  # lock_timeout: the default 30 s
    scheduler = Scheduler(
        every_minute(), store, ok, clock=FakeClock(datetime(2026, 1, 1, 12, 0, 5, tzinfo=timezone.utc))
    )
    other = FileLock(str(lock_path_for(store.path)))  # another process's hold: a flock on its own descriptor
    other.acquire()
    result: list[Any] = []
    server = threading.Thread(target=lambda: result.append(scheduler.serve(tick_s=1, max_ticks=100)), daemon=True)
    try:
        scheduler.check_store = lambda: None  # type: ignore[method-assign]  # (it would wait for the lock too)
        server.start()
        assert store.entered.wait(WAIT)  # the 12:00 slot is due: the tick waits for the lock
        asked = time.monotonic()
        scheduler.request_stop()
        server.join(WAIT)
        assert not server.is_alive(), "the stop waited for the state lock"
        assert time.monotonic() - asked < 5
    finally:
        other.release()
        server.join(WAIT)
    assert result == [0]  # a stop, not a failing tick
    assert not store.path.exists() or "schedule_enqueued" not in store.path.read_text()


def test_a_transaction_asked_to_stop_raises_and_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.jsonl", fsync=False)
    other = FileLock(str(lock_path_for(store.path)))
    other.acquire()
    try:
        with pytest.raises(LockWaitInterrupted), store.transaction(interrupt=lambda: True) as txn:
            txn.add({"event": "x"})
        short = StateStore(tmp_path / "state.jsonl", fsync=False, lock_timeout=0.5)
        with pytest.raises(StateError, match=r"timed out after 0.5s waiting for the lock .*state.jsonl.lock"):
            short.record({"event": "x"})
    finally:
        other.release()
    store.record({"event": "x"})  # free again
    assert store.path.read_text().count("\n") == 1


class SlowLockStore(StateStore):
    """Every transaction waits 30 s (on the fake clock) for the lock, then gives up."""

    clock_to_move: FakeClock

    @contextmanager
    def transaction(self, **kwargs: Any) -> Any:
        self.clock_to_move.advance(30)
        raise StateError(f"timed out after 30s waiting for the lock {self.path}.lock")
        yield  # pragma: no cover


def test_the_log_and_the_exit_message_agree_on_how_long_ticks_failed(tmp_path: Path, caplog) -> None:
    clock = FakeClock(datetime(2026, 1, 1, 12, 0, 5, tzinfo=timezone.utc))
    store = SlowLockStore(tmp_path / "state.jsonl", fsync=False)
    store.clock_to_move = clock
    scheduler = Scheduler(every_minute(), store, ok, clock=clock)
    scheduler.check_store = lambda: None  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="dagctl.scheduler"), pytest.raises(SchedulerFailing) as caught:
        scheduler.serve(tick_s=1, fail_after_s=0)
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "ticks have failed for 30s (limit 0s)" in logged, logged
    assert "(for 30s, 1 time(s))" in str(caught.value)


def test_a_failure_lasts_from_the_start_of_the_tick_that_saw_it() -> None:
    failures = TickFailures(60)
    assert failures.failed(130.0, "lock", began=100.0) is False
    assert failures.duration(130.0) == 30.0
    assert failures.failed(160.0, "lock", began=131.0) is True  # 60 s since the first failing tick began
