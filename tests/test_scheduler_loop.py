"""The scheduler loop with a FakeClock and a fake launcher: --once, --serve, overlap, stop, reload, DST."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.clock import FakeClock
from dagctl.run.state import RunControl
from dagctl.schedule.backfill import Backfill
from dagctl.schedule.files import ScheduleSource, ScheduleSpec, load_schedule_file
from dagctl.schedule.loop import RunOutcome, RunRequest, Scheduler, SchedulerLocked, ServeLock, dag_launcher
from dagctl.settings import Settings
from dagctl.store.state import Owner, RunStarted, ScheduleEnqueued, StateStore

UTC = timezone.utc
NY = "America/New_York"
WAIT = 10.0  # seconds: upper bound of every real wait on a condition


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class PatientClock(FakeClock):
    """A FakeClock whose waits give the event up to WAIT real seconds before jumping virtual time."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if event.wait(WAIT if timeout is None else min(timeout, WAIT)):
            return True
        return super().wait(event, timeout)


class HookClock(FakeClock):
    """A FakeClock that calls ``hook`` once (in the waiting thread) when virtual time reaches ``at``."""

    def __init__(self, start: datetime, at: datetime, hook: Any) -> None:
        super().__init__(start)
        self.at, self.hook = at, hook

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        result = super().wait(event, timeout)
        if self.hook is not None and self.now() >= self.at:
            hook, self.hook = self.hook, None
            hook()
        return result


def sched(id: str = "a", cron: str = "* * * * *", **kw: Any) -> ScheduleSpec:
    return ScheduleSpec(id=id, cron=cron, dag="x.yaml", **kw)


class FakeLauncher:
    """Records calls; with ``hold`` each run waits until ``release`` is set or it is cancelled."""

    def __init__(self, *, hold: bool = False, fail: tuple[str, ...] = (), on_call: Any = None) -> None:
        self.hold = hold
        self.fail = fail
        self.on_call = on_call
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[RunRequest] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def __call__(self, request: RunRequest, control: RunControl) -> RunOutcome:
        with self._lock:
            self.calls.append(request)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.started.set()
        if self.on_call is not None:
            self.on_call(request)
        if self.hold:
            for _ in range(int(WAIT / 0.005)):
                if self.release.is_set() or control.cancelled:
                    break
                control.wake.wait(0.005)
        with self._lock:
            self.running -= 1
        if control.cancelled:
            return RunOutcome("cancelled", request.run_id, 0.0, control.reason)
        status = "failed" if request.schedule.id in self.fail else "success"
        return RunOutcome(status, request.run_id, 0.0, None if status == "success" else "boom")

    @property
    def keys(self) -> list[str]:
        return [c.slot.key for c in self.calls]


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state.jsonl", fsync=False)  # durability is not what these tests check


def records(store: StateStore, kind: str | None = None) -> list[dict]:
    if not store.path.exists():
        return []
    rows = [json.loads(line) for line in store.path.read_text().splitlines()]
    return [r for r in rows if kind is None or r["event"] == kind]


def test_once_claims_runs_and_records_the_current_minute(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 5))
    launcher = FakeLauncher()
    scheduler = Scheduler([sched(), sched("b", "0 9 * * *")], store, launcher, clock=clock)
    assert scheduler.run_once() == 0
    assert launcher.keys == ["a@2026-01-01T12:00:00Z"]
    assert launcher.calls[0].logical_date == "2026-01-01T12:00:00+00:00"
    assert [r["event"] for r in records(store)] == ["schedule_enqueued", "run_started", "run_finished"]
    started = records(store, "run_started")[0]
    assert started["run_id"] == launcher.calls[0].run_id and started["slot"] == "a@2026-01-01T12:00:00Z"
    # a second process (or a restart) in the same minute finds nothing to do
    again = Scheduler([sched()], StateStore(store.path), FakeLauncher(), clock=clock)
    assert again.run_once(utc(2026, 1, 1, 12, 0, 50)) == 0 and again.outcomes == {}
    assert len(records(store, "run_started")) == 1


def test_once_exit_code_is_1_when_a_run_fails(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 5))
    scheduler = Scheduler([sched(), sched("b")], store, FakeLauncher(fail=("b",)), clock=clock)
    assert scheduler.run_once() == 1
    assert sorted(r["status"] for r in records(store, "run_finished")) == ["failed", "success"]


def test_once_exit_code_is_3_when_a_run_stopped_because_its_events_could_not_be_written(store: StateStore) -> None:
    def disk_full(request: RunRequest, control: RunControl) -> RunOutcome:
        return RunOutcome("failed", request.run_id, 0.0, "stopped: no space left on device", halted=True)

    scheduler = Scheduler([sched(), sched("b")], store, disk_full, clock=FakeClock(utc(2026, 1, 1, 12)))
    assert scheduler.run_once() == 3  # as `dagctl run` exits for the same run: an environment problem


def test_launcher_errors_are_recorded_as_failed_runs(store: StateStore) -> None:
    def broken(request: RunRequest, control: RunControl) -> RunOutcome:
        raise RuntimeError("bug")

    scheduler = Scheduler([sched()], store, broken, clock=FakeClock(utc(2026, 1, 1, 12)))
    assert scheduler.run_once() == 1
    assert records(store, "run_finished")[0]["error"] == "internal error: RuntimeError: bug"


def test_runs_are_bounded_by_max_parallel(store: StateStore) -> None:
    launcher = FakeLauncher(hold=True)
    schedules = [sched(f"s{i}") for i in range(5)]
    scheduler = Scheduler(schedules, store, launcher, clock=FakeClock(utc(2026, 1, 1, 12)), max_parallel=2)
    done = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: (result.append(scheduler.run_once()), done.set()))
    thread.start()
    assert launcher.started.wait(WAIT)
    launcher.release.set()
    assert done.wait(WAIT)
    thread.join()
    assert result == [0] and len(launcher.calls) == 5 and launcher.max_running == 2


def test_queue_runs_missed_slots_one_after_another_oldest_first(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 10))
    schedule = sched(cron="0 * * * *", catchup="3h", overlap="queue")
    store.record(ScheduleEnqueued(store.now_ts(), "a", slot="old", fire_utc="2026-01-01T08:00:00.000Z"))
    store.record(
        {"v": 1, "ts": store.now_ts(), "event": "run_finished", "schedule_id": "a", "slot": "old", "status": "success"}
    )
    launcher = FakeLauncher()
    assert Scheduler([schedule], store, launcher, clock=clock, max_parallel=3).run_once() == 0
    assert launcher.keys == ["a@2026-01-01T10:00:00Z", "a@2026-01-01T11:00:00Z", "a@2026-01-01T12:00:00Z"]
    assert launcher.max_running == 1


def test_allow_runs_missed_slots_side_by_side(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 10))
    store.record(ScheduleEnqueued(store.now_ts(), "a", slot="old", fire_utc="2026-01-01T11:57:00.000Z"))
    store.record({"v": 1, "ts": store.now_ts(), "event": "run_finished", "schedule_id": "a", "slot": "old"})
    launcher = FakeLauncher(hold=True)
    scheduler = Scheduler([sched(catchup="1h", overlap="allow")], store, launcher, clock=clock)
    thread = threading.Thread(target=scheduler.run_once)
    thread.start()
    for _ in range(int(WAIT / 0.005)):
        if launcher.max_running == 3:
            break
        threading.Event().wait(0.005)
    launcher.release.set()
    thread.join(WAIT)
    assert launcher.max_running == 3 and len(launcher.calls) == 3


def test_skip_records_why_and_the_slot_is_not_retried(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 5))
    other = Owner(Owner.current().host, Owner.current().pid, Owner.current().pid_start)  # alive: this process
    store.record(
        ScheduleEnqueued(
            store.now_ts(), "a", slot="a@2026-01-01T11:59:00Z", fire_utc="2026-01-01T11:59:00.000Z", claimed_by=other
        )
    )
    store.record(RunStarted(store.now_ts(), "a", slot="a@2026-01-01T11:59:00Z", run_id="r-prev"))
    launcher = FakeLauncher()
    scheduler = Scheduler([sched()], store, launcher, clock=clock, owner=Owner("me", 1, None))
    assert scheduler.run_once() == 0 and launcher.calls == []
    (skipped,) = records(store, "schedule_skipped")
    assert skipped["slot"] == "a@2026-01-01T12:00:00Z"
    assert skipped["reason"].startswith("overlap: skip — previous run still going: run r-prev (slot a@2026-01-01T11:59")
    assert scheduler.tick(utc(2026, 1, 1, 12, 0, 30)) == []  # the watermark moved past it


def test_slots_of_a_dead_owner_are_recorded_lost_and_stop_blocking(store: StateStore) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = Owner(Owner.current().host, int(proc.stdout), None)
    store.record(
        ScheduleEnqueued(
            store.now_ts(), "a", slot="a@2026-01-01T11:59:00Z", fire_utc="2026-01-01T11:59:00.000Z", claimed_by=dead
        )
    )
    store.record(RunStarted(store.now_ts(), "a", slot="a@2026-01-01T11:59:00Z", run_id="r-dead"))
    launcher = FakeLauncher()
    assert Scheduler([sched()], store, launcher, clock=FakeClock(utc(2026, 1, 1, 12, 0, 5))).run_once() == 0
    lost = [r for r in records(store, "run_finished") if r["status"] == "lost"]
    assert [(r["slot"], r["run_id"]) for r in lost] == [("a@2026-01-01T11:59:00Z", "r-dead")]
    assert launcher.keys == ["a@2026-01-01T12:00:00Z"]


def test_serve_through_daylight_saving_nights_end_to_end(store: StateStore) -> None:
    """Spring forward and fall back in New York, through plan, state store, launcher and FakeClock."""
    schedules = [
        sched("fixed", "30 2 * * *", timezone=NY),
        sched("fb_fixed", "30 1 * * *", timezone=NY),
        sched("every30", "*/30 * * * *", timezone=NY, overlap="allow"),
    ]
    for start, hours in ((utc(2026, 3, 8, 5, 0, 1), 3), (utc(2026, 11, 1, 4, 0, 1), 4)):
        launcher = FakeLauncher()
        clock = FakeClock(start)
        scheduler = Scheduler(schedules, store, launcher, clock=clock)
        assert scheduler.serve(tick_s=60, max_ticks=hours * 60) == 0
        dates = {}
        for call in launcher.calls:
            dates.setdefault(call.schedule.id, []).append(call.logical_date)
        if start.month == 3:
            assert dates["fixed"] == ["2026-03-08T03:00:00-04:00"]  # 02:30 does not exist that night
            assert dates["every30"] == [
                "2026-03-08T00:00:00-05:00",
                "2026-03-08T00:30:00-05:00",
                "2026-03-08T01:00:00-05:00",
                "2026-03-08T01:30:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-08T03:30:00-04:00",
            ]
        else:
            assert dates["fb_fixed"] == ["2026-11-01T01:30:00-04:00"]  # once, on the first pass
            assert dates["every30"] == [
                "2026-11-01T00:00:00-04:00",
                "2026-11-01T00:30:00-04:00",
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:30:00-05:00",
                "2026-11-01T02:00:00-05:00",
                "2026-11-01T02:30:00-05:00",
            ]
    assert len({r["slot"] for r in records(store, "run_started")}) == len(records(store, "run_started"))


def test_serve_stop_lets_a_run_finish_within_grace(store: StateStore) -> None:
    launcher = FakeLauncher(hold=True)
    scheduler = Scheduler([sched()], store, launcher, clock=PatientClock(utc(2026, 1, 1, 12, 0, 1)))

    def stop_when_started() -> None:
        assert launcher.started.wait(WAIT)
        scheduler.request_stop()
        launcher.release.set()

    helper = threading.Thread(target=stop_when_started)
    helper.start()
    assert scheduler.serve(tick_s=1, grace_s=3600) == 0
    helper.join()
    assert [r["status"] for r in records(store, "run_finished")] == ["success"]
    assert len(records(store, "schedule_enqueued")) == 1  # nothing claimed after the stop


def test_serve_stop_cancels_runs_after_the_grace_period(store: StateStore) -> None:
    launcher = FakeLauncher(hold=True)  # never released: only a cancel ends it
    scheduler = Scheduler([sched()], store, launcher, clock=FakeClock(utc(2026, 1, 1, 12, 0, 1)))
    helper = threading.Thread(target=lambda: (launcher.started.wait(WAIT), scheduler.request_stop()))
    helper.start()
    assert scheduler.serve(tick_s=1, grace_s=5) == 0
    helper.join()
    (finished,) = records(store, "run_finished")
    assert finished["status"] == "cancelled"
    assert finished["error"] == "scheduler stopping: grace period of 5s is over"


def test_claimed_slots_not_started_at_stop_are_recorded_skipped(store: StateStore) -> None:
    launcher = FakeLauncher()
    clock = FakeClock(utc(2026, 1, 1, 12, 0, 1))
    scheduler = Scheduler([sched(jitter="50s")], store, launcher, clock=clock)
    scheduler.tick()
    assert len(scheduler.pending) == 1 or launcher.calls == []
    scheduler.shutdown(grace_s=1)
    if launcher.calls:  # the jitter happened to be ~0: the run started; then nothing is pending
        return
    (skipped,) = records(store, "schedule_skipped")
    assert skipped["reason"] == "scheduler stopped before the run started"
    assert StateStore(store.path).schedule_state("a").open == {}


def test_serve_reloads_changed_files_and_keeps_the_last_good_version(tmp_path: Path, store: StateStore) -> None:
    (tmp_path / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    folder = tmp_path / "schedules"
    folder.mkdir()
    a = folder / "a.yaml"
    a.write_text("- {id: a, cron: '* * * * *', dag: ../dag.yaml}\n")
    source = ScheduleSource(folder)

    def edit() -> None:
        a.write_text("- {id: a, cron: '* * * * * *', dag: ../dag.yaml}\n")  # broken: keeps the old one
        (folder / "b.yaml").write_text("- {id: b, cron: '* * * * *', dag: ../dag.yaml}\n")

    launcher = FakeLauncher()
    clock = HookClock(utc(2026, 1, 1, 12, 0, 1), utc(2026, 1, 1, 12, 0, 45), edit)
    scheduler = Scheduler(source.load(), store, launcher, clock=clock)
    assert scheduler.serve(tick_s=30, source=source, max_ticks=6) == 0
    assert sorted(launcher.keys) == [
        "a@2026-01-01T12:00:00Z",
        "a@2026-01-01T12:01:00Z",
        "a@2026-01-01T12:02:00Z",
        "b@2026-01-01T12:01:00Z",
        "b@2026-01-01T12:02:00Z",
    ]
    assert [s.id for s in scheduler.schedules] == ["a", "b"]


def test_sd_notify_ready_watchdog_status_stopping(tmp_path: Path, store: StateStore) -> None:
    import socket

    from dagctl.schedule.sdnotify import Notifier

    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(WAIT)
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "4000000"})
        assert notifier.watchdog_interval == 2.0
        scheduler = Scheduler([sched()], store, FakeLauncher(), clock=FakeClock(utc(2026, 1, 1, 12, 0, 1)))
        assert scheduler.serve(tick_s=1, notifier=notifier, max_ticks=5) == 0
        messages = []
        server.setblocking(False)
        while True:
            try:
                messages.append(server.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        server.close()
    assert messages[0].startswith("READY=1\nSTATUS=1 schedules")
    assert messages.count("WATCHDOG=1") >= 2
    assert any(m.startswith("STATUS=") and "1 finished" in m for m in messages)
    assert messages[-1].startswith("STOPPING=1")


def test_serve_lock_refuses_a_second_holder_and_says_who(tmp_path: Path) -> None:
    first = ServeLock(tmp_path, FakeClock(utc(2026, 1, 1, 12)))
    first.acquire(dir="configs/schedules")
    try:
        with pytest.raises(SchedulerLocked) as info:
            ServeLock(tmp_path).acquire()
        message = str(info.value)
        assert f"held by pid {Owner.current().pid} on {Owner.current().host}" in message
        assert "with --dir configs/schedules" in message and info.value.exit_code == 3
    finally:
        first.release()
    second = ServeLock(tmp_path)
    second.acquire()
    second.release()


def test_dag_launcher_runs_the_dag_with_logical_date_tenant_and_params(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    (tmp_path / "dag.yaml").write_text(
        "name: d\ntenant_id: dag-tenant\nparams: {word: x}\ntasks:\n"
        f"  - {{id: a, run: 'echo ${{logical_date}} ${{params.word}} >> {out}'}}\n"
    )
    (tmp_path / "s.yaml").write_text(
        "- {id: s, cron: '30 2 * * *', timezone: America/New_York, dag: dag.yaml, tenant: acme, params: {word: hi}}\n"
    )
    (schedule,) = load_schedule_file(tmp_path / "s.yaml")
    settings = Settings.from_env({"DAGCTL_LOGS_DIR": str(tmp_path / "logs")})
    store = StateStore(settings.state_path)
    scheduler = Scheduler([schedule], store, dag_launcher(settings), clock=FakeClock(utc(2026, 3, 8, 7, 0, 30)))
    assert scheduler.run_once() == 0
    assert out.read_text() == "2026-03-08T03:00:00-04:00 hi\n"
    events = [json.loads(line) for line in settings.events_path.read_text().splitlines()]
    start = next(e for e in events if e["event"] == "dag_start")
    assert (start["trigger"], start["schedule_id"], start["tenant_id"], start["logical_date"]) == (
        "schedule",
        "s",
        "acme",
        "2026-03-08T03:00:00-04:00",
    )
    assert start["run_id"] == records(store, "run_started")[0]["run_id"]


def test_backfill_runs_missing_slots_oldest_first_and_skips_claimed_ones(store: StateStore) -> None:
    schedule = sched(cron="0 * * * *")
    clock = FakeClock(utc(2026, 1, 2))
    Scheduler([schedule], store, FakeLauncher(), clock=FakeClock(utc(2026, 1, 1, 2, 0, 5))).run_once()
    launcher = FakeLauncher()
    job = Backfill(schedule, store, launcher, clock=clock)
    items = job.plan(utc(2026, 1, 1, 0), utc(2026, 1, 1, 4), max_slots=10)
    assert [(i.slot.fire_utc.hour, i.ran_before is not None) for i in items] == [
        (0, False),
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ]
    assert job.run(items) == 0
    assert launcher.keys == [f"a@2026-01-01T0{h}:00:00Z" for h in (0, 1, 3, 4)]
    assert {c.trigger for c in launcher.calls} == {"backfill"}
    again = Backfill(schedule, StateStore(store.path), FakeLauncher(), clock=clock)
    assert all(i.ran_before for i in again.plan(utc(2026, 1, 1, 0), utc(2026, 1, 1, 4), max_slots=10))
    with pytest.raises(Exception, match="more than 3 slots"):
        again.plan(utc(2026, 1, 1, 0), utc(2026, 1, 1, 4), max_slots=3)


def test_memory_stays_bounded_over_many_ticks(store: StateStore) -> None:
    scheduler = Scheduler([sched()], store, FakeLauncher(), clock=FakeClock(utc(2026, 1, 1, 0, 0, 1)))
    scheduler.serve(tick_s=60, max_ticks=100)
    fold = store.refresh()
    assert len(fold.schedules["a"].recent_minutes) <= 8 and fold.schedules["a"].open == {}
    assert scheduler.outcomes == {"success": 100} and not scheduler.active and not scheduler.pending


def test_time_moves_by_the_tick(store: StateStore) -> None:
    clock = FakeClock(utc(2026, 1, 1, 0, 0, 1))
    scheduler = Scheduler([], store, FakeLauncher(), clock=clock)
    scheduler.serve(tick_s=2, max_ticks=10)
    assert clock.now() - utc(2026, 1, 1, 0, 0, 1) == timedelta(seconds=18)


def test_after_a_timezone_change_the_first_run_in_the_new_zone_is_not_taken_for_a_repeat(store: StateStore) -> None:
    """09:00 UTC ran; the file then says America/New_York (or SCHED_TIMEZONE changed): 09:00 New York runs."""
    launcher = FakeLauncher()
    Scheduler(
        [sched("m", "0 9 * * *", timezone="UTC")], store, launcher, clock=FakeClock(utc(2026, 6, 1, 9, 0, 10))
    ).run_once()
    moved = Scheduler(
        [sched("m", "0 9 * * *", timezone=NY)], store, launcher, clock=FakeClock(utc(2026, 6, 1, 13, 0, 10))
    )
    assert moved.run_once() == 0
    assert launcher.keys == ["m@2026-06-01T09:00:00Z", "m@2026-06-01T13:00:00Z"]
    assert records(store, "schedule_skipped") == []
    assert [r["timezone"] for r in records(store, "schedule_enqueued")] == ["UTC", NY]


def test_a_replay_at_a_past_now_does_not_leave_a_new_schedule_to_catch_up_from_there(store: StateStore) -> None:
    """`schedule --once --now 09:00` at 12:00 real time, then the real ticks: no burst of 24 catch-up runs."""
    schedule = sched("q", "*/5 * * * *", catchup="2h", overlap="queue")
    launcher = FakeLauncher()
    clock = FakeClock(utc(2026, 6, 1, 12, 0, 30))  # the real clock
    assert Scheduler([schedule], store, launcher, clock=clock).run_once(utc(2026, 6, 1, 9, 0, 30)) == 0
    assert launcher.keys == ["q@2026-06-01T09:00:00Z"]  # the replay ran its minute
    clock.advance(5 * 60)
    assert Scheduler([schedule], store, launcher, clock=clock).run_once() == 0
    # from the real time of the replay on, as for any new schedule: 12:00 and 12:05, not 24 slots since 10:05
    assert launcher.keys == ["q@2026-06-01T09:00:00Z", "q@2026-06-01T12:00:00Z", "q@2026-06-01T12:05:00Z"]
