"""`--serve` does not claim health it does not have: an unusable state store fails the start, ticks that keep
failing stop the service (exit 3) within ``fail_after_s``, and the watchdog is not fed while they fail.

FakeClock-driven: the loop's waits advance virtual time, so a 60 s failure budget takes milliseconds.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.clock import FakeClock
from dagctl.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from dagctl.run.state import RunControl
from dagctl.schedule.files import ScheduleSpec
from dagctl.schedule.loop import RunOutcome, RunRequest, Scheduler, SchedulerFailing, SchedulerStateError
from dagctl.schedule.sdnotify import Notifier
from dagctl.schedule.tick import TickFailures
from dagctl.store.state import StateStore


class Recorder(Notifier):
    """A notifier that keeps every message (no socket), with a 2 s watchdog (pings every 1 s)."""

    def __init__(self) -> None:
        super().__init__(None, watchdog_usec=2_000_000)
        self.messages: list[tuple[float, str]] = []
        self.clock: FakeClock | None = None

    def notify(self, *assignments: str) -> bool:
        self.messages.append((self.clock.monotonic() if self.clock else 0.0, "\n".join(assignments)))
        return True

    def pings(self) -> list[float]:
        return [t for t, m in self.messages if m == "WATCHDOG=1"]

    def texts(self) -> list[str]:
        return [m for _, m in self.messages]


class BreakableStore(StateStore):
    """A state store whose locked writes fail (as a directory in place of its lock file) while ``broken``."""

    broken = False

    @contextmanager
    def transaction(self, **kwargs: Any) -> Any:
        if self.broken:
            raise EnvironmentProblem(f"cannot write {self.path}.lock: Is a directory")
        with super().transaction(**kwargs) as txn:
            yield txn


def ok_launcher(request: RunRequest, control: RunControl) -> RunOutcome:
    return RunOutcome("success", request.run_id, 0.0)


def every_minute() -> list[ScheduleSpec]:
    return [ScheduleSpec(id="a", cron="* * * * *", dag="x.yaml")]


def start_at(second: int = 1) -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, 12, 0, second, tzinfo=timezone.utc))


def test_serve_refuses_to_start_on_an_unusable_state_store_and_never_says_ready(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.jsonl", fsync=False)
    (tmp_path / "state.jsonl.lock").mkdir()  # passes check_writable (the log itself is fine), breaks every claim
    notifier = Recorder()
    scheduler = Scheduler(every_minute(), store, ok_launcher, clock=start_at())
    with pytest.raises(SchedulerStateError) as caught:
        scheduler.serve(tick_s=1, notifier=notifier, max_ticks=3)
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot use the state store {tmp_path / 'state.jsonl'}: cannot write ")
    assert str(tmp_path / "state.jsonl.lock") in message
    assert notifier.texts() == []  # no READY=1, no WATCHDOG=1


def test_ticks_failing_for_fail_after_stop_the_service_with_exit_3_and_starve_the_watchdog(tmp_path: Path) -> None:
    clock = start_at(50)
    store = BreakableStore(tmp_path / "state.jsonl", fsync=False)
    notifier = Recorder()
    notifier.clock = clock
    scheduler = Scheduler(every_minute(), store, ok_launcher, clock=clock)
    failed_at: list[float] = []
    real_tick = scheduler.tick

    def tick(now: datetime | None = None) -> list[Any]:
        store.broken = scheduler.ticks >= 3  # after a few good ticks the store goes bad
        try:
            return real_tick(now)
        except EnvironmentProblem:
            failed_at.append(clock.monotonic())
            raise

    scheduler.tick = tick  # type: ignore[method-assign]
    with pytest.raises(SchedulerFailing) as caught:
        scheduler.serve(tick_s=1, notifier=notifier, fail_after_s=60, max_ticks=10_000)
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    stopped_at = clock.monotonic()
    # the first tick that needs the store is 12:01:00 (its slot is due); from then on every tick fails,
    # the idle ones too (they prove the store before trusting it), and 60 s later the service stops
    assert failed_at[0] == pytest.approx(1010.0)
    assert 60 <= stopped_at - failed_at[0] <= 61, stopped_at - failed_at[0]
    assert scheduler.ticks < 100
    assert "ticks were failing (for 60s, " in str(caught.value) and "Is a directory" in str(caught.value)
    pings = notifier.pings()
    assert pings and not [t for t in pings if t >= failed_at[0]]  # never fed while failing
    assert notifier.texts()[0].startswith("READY=1")
    assert any(m.startswith("STATUS=failing since ") for m in notifier.texts())
    assert notifier.texts()[-1].startswith("STOPPING=1")


def test_a_store_that_recovers_within_the_budget_keeps_serving_and_feeds_the_watchdog_again(tmp_path: Path) -> None:
    clock = start_at(50)
    store = BreakableStore(tmp_path / "state.jsonl", fsync=False)
    notifier = Recorder()
    notifier.clock = clock
    scheduler = Scheduler(every_minute(), store, ok_launcher, clock=clock)
    real_tick = scheduler.tick

    def tick(now: datetime | None = None) -> list[Any]:
        store.broken = 3 <= scheduler.ticks < 30  # failing from 12:01:00 to about 12:01:20
        return real_tick(now)

    scheduler.tick = tick  # type: ignore[method-assign]
    assert scheduler.serve(tick_s=1, notifier=notifier, fail_after_s=60, max_ticks=40) == 0
    pings = notifier.pings()
    assert any(t > clock.monotonic() - 15 for t in pings)  # fed again once ticks work
    assert any(m.startswith("STATUS=failing since ") for m in notifier.texts())


def test_a_stop_requested_while_ticks_fail_is_not_a_clean_exit(tmp_path: Path) -> None:
    clock = start_at()
    store = BreakableStore(tmp_path / "state.jsonl", fsync=False)
    scheduler = Scheduler(every_minute(), store, ok_launcher, clock=clock)
    real_tick = scheduler.tick

    def tick(now: datetime | None = None) -> list[Any]:
        store.broken = True
        if scheduler.ticks == 5:
            scheduler.request_stop()  # SIGTERM while failing
        return real_tick(now)

    scheduler.tick = tick  # type: ignore[method-assign]
    with pytest.raises(SchedulerFailing):
        scheduler.serve(tick_s=1, notifier=Recorder(), fail_after_s=60)


def test_fail_after_zero_stops_at_the_first_failure() -> None:
    failures = TickFailures(0)
    assert failures.failed(10.0, "x") is True
    budget = TickFailures(60)
    assert [budget.failed(t, "x") for t in (10.0, 40.0, 69.9, 70.0)] == [False, False, False, True]
    budget.ok()
    assert not budget.failing and budget.failed(100.0, "y") is False


def test_a_notify_socket_nobody_reads_never_blocks_the_scheduler(tmp_path: Path) -> None:
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify.sock"))  # bound, never read: its queue fills up
    sent: list[bool] = []
    try:
        notifier = Notifier(str(tmp_path / "notify.sock"))
        worker = threading.Thread(
            target=lambda: sent.extend(notifier.status(f"n{i}") for i in range(2000)), daemon=True
        )
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "sd_notify blocked on a full socket"
        assert sent[0] is True and sent[-1] is False  # once full, messages are dropped, not waited for
        notifier.close()
    finally:
        server.close()


def test_serve_logs_a_warning_for_a_schedule_that_fires_less_than_once_a_year(tmp_path: Path, caplog) -> None:
    schedules = [*every_minute(), ScheduleSpec(id="leap", cron="0 3 29 2 *", dag="x.yaml")]
    store = StateStore(tmp_path / "state.jsonl", fsync=False)
    scheduler = Scheduler(schedules, store, ok_launcher, clock=start_at())
    with caplog.at_level("WARNING", logger="dagctl.scheduler"), store:
        assert scheduler.serve(tick_s=1, max_ticks=2) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1  # once at the start, not on every tick; the every-minute schedule is fine
    assert "schedule 'leap': cron '0 3 29 2 *' fires less than once a year: next on 2028-02-29 03:00" in warned[0]
