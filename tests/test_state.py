"""The state store: seed API, the fold, atomic claims, and the sidecar index (stale, missing, foreign)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.errors import UsageError
from dagctl.store.state import (
    Owner,
    RunFinished,
    RunStarted,
    ScheduleEnqueued,
    ScheduleSkipped,
    StateStore,
    index_by,
    last_runs,
    record_event,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "orchestrator_state.jsonl"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def enqueue(store: StateStore, sid: str, fire: str, owner: Owner | None = None, minute: str = "") -> None:
    store.record(
        ScheduleEnqueued(
            store.now_ts(),
            sid,
            slot=f"{sid}@{fire}",
            fire_utc=fire,
            local_minute=minute,
            claimed_by=owner or Owner.current(),
        )
    )


def test_seed_api_record_last_runs_index_by(path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STATE_STORE_PATH", str(path))
    clock = FakeClock(T0)
    record_event({"event": "run_finished", "status": "success", "schedule_id": "a"}, clock=clock)
    record_event({"event": "run_finished", "status": "failed", "schedule_id": "b"})
    record_event({"event": "note"})
    first = lines(path)[0]
    assert list(first)[:3] == ["v", "ts", "event"]
    assert first["ts"] == "2026-03-08T07:00:00.000Z" and first["v"] == 1
    assert [e["event"] for e in last_runs(limit=2)] == ["run_finished", "note"]
    assert [e.get("status") for e in last_runs(20)] == ["success", "failed", None]
    grouped = index_by("schedule_id", limit=100)
    assert {k: [e["status"] for e in v] for k, v in grouped.items()} == {"a": ["success"], "b": ["failed"]}
    assert index_by("schedule_id", limit=1, path=path) == {}
    with pytest.raises(UsageError):
        record_event({"status": "x"})


def test_every_line_has_version_time_and_kind(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    store.record(RunStarted(store.now_ts(), "a", slot="a@2026-03-08T07:00:00.000Z", run_id="r1"))
    store.record(RunFinished(store.now_ts(), "a", slot="a@2026-03-08T07:00:00.000Z", run_id="r1", status="success"))
    store.record(
        ScheduleSkipped(store.now_ts(), "a", slot="a@x", fire_utc="2026-03-08T07:05:00.000Z", reason="overlap: skip")
    )
    records = lines(path)
    assert [r["event"] for r in records] == ["schedule_enqueued", "run_started", "run_finished", "schedule_skipped"]
    assert all(list(r)[:3] == ["v", "ts", "event"] and r["ts"].endswith("Z") for r in records)
    assert records[0]["claimed_by"]["pid"] == os.getpid()


def test_the_fold_tracks_watermark_open_slots_and_last_run(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z", minute="2026-03-08T02:00")
    state = store.schedule_state("a")
    assert state.watermark == T0
    assert list(state.open) == ["a@2026-03-08T07:00:00.000Z"] and state.recent_minutes == [("2026-03-08T02:00", None)]
    store.record(RunStarted(store.now_ts(), "a", slot="a@2026-03-08T07:00:00.000Z", run_id="r1"))
    assert store.schedule_state("a").open["a@2026-03-08T07:00:00.000Z"].run_id == "r1"
    store.record(RunFinished(store.now_ts(), "a", slot="a@2026-03-08T07:00:00.000Z", run_id="r1", status="failed"))
    state = store.schedule_state("a")
    assert (
        state.open == {}
        and state.last["status"] == "failed"
        and state.counts == {"enqueued": 1, "started": 1, "failed": 1}
    )
    store.record(ScheduleSkipped(store.now_ts(), "a", slot="a@later", fire_utc="2026-03-08T08:00:00.000Z", reason="x"))
    assert store.schedule_state("a").watermark == datetime(2026, 3, 8, 8, tzinfo=UTC)


def test_the_last_run_keeps_its_duration_fire_and_start_times_and_the_last_success_stays(path: Path) -> None:
    clock = FakeClock(T0)
    store = StateStore(path, clock)
    slot = "a@2026-03-08T07:00:00.000Z"
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    clock.advance(2)
    store.record(RunStarted(store.now_ts(), "a", slot=slot, run_id="r1"))
    clock.advance(5)
    store.record(RunFinished(store.now_ts(), "a", slot=slot, run_id="r1", status="success", duration_s=5.0))
    state = store.schedule_state("a")
    assert state.last == {
        "slot": slot,
        "run_id": "r1",
        "status": "success",
        "ts": "2026-03-08T07:00:07.000Z",
        "duration_s": 5.0,
        "fire_utc": "2026-03-08T07:00:00.000Z",
        "started": "2026-03-08T07:00:02.000Z",
    }
    assert state.last_success == "2026-03-08T07:00:07.000Z"
    enqueue(store, "a", "2026-03-08T07:01:00.000Z")
    store.record(RunFinished(store.now_ts(), "a", slot="a@2026-03-08T07:01:00.000Z", status="failed"))
    store.close()
    fresh = StateStore(path)  # from the index this time
    state = fresh.schedule_state("a")
    assert fresh.rebuilds == 0 and state.last is not None and state.last["status"] == "failed"
    assert state.last_success == "2026-03-08T07:00:07.000Z"


def test_an_index_of_an_older_version_is_rebuilt_quietly(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    store.close()
    index = json.loads(store.index_path.read_text())
    index["v"] = 1
    store.index_path.write_text(json.dumps(index))
    fresh = StateStore(path)
    with caplog.at_level("INFO"):
        assert fresh.schedule_state("a").watermark == T0
    assert fresh.rebuilds == 1
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_transaction_sees_its_own_records_and_writes_nothing_if_it_raises(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    with store.transaction() as txn:
        txn.add(ScheduleEnqueued(store.now_ts(), "a", slot="a@1", fire_utc="2026-03-08T07:00:00.000Z"))
        assert txn.fold.schedules["a"].watermark == T0
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.add(ScheduleEnqueued(store.now_ts(), "a", slot="a@2", fire_utc="2026-03-08T08:00:00.000Z"))
        raise RuntimeError("changed my mind")
    assert len(lines(path)) == 1
    assert store.schedule_state("a").watermark == T0  # the unwritten claim is forgotten


def test_the_index_is_written_and_used_so_a_new_process_reads_only_the_tail(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    for minute in range(50):
        enqueue(store, f"s{minute % 5}", f"2026-03-08T07:{minute:02d}:00.000Z")
    first = json.loads(store.index_path.read_text())
    assert 0 < first["offset"] < path.stat().st_size  # written on the first append, then allowed to lag
    store.close()  # ... and brought up to date on close
    index = json.loads(store.index_path.read_text())
    assert index["offset"] == path.stat().st_size and index["identity"] == [path.stat().st_dev, path.stat().st_ino]
    fresh = StateStore(path)
    fold = fresh.refresh()
    assert fresh.rebuilds == 0
    assert fold.schedules["s4"].watermark == datetime(2026, 3, 8, 7, 49, tzinfo=UTC)


def test_lines_appended_without_the_index_are_folded_as_a_tail(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    record_event(
        {"event": "schedule_enqueued", "schedule_id": "a", "slot": "a@x", "fire_utc": "2026-03-08T09:00:00.000Z"}, path
    )  # seed API: no index update
    fresh = StateStore(path)
    assert fresh.schedule_state("a").watermark == datetime(2026, 3, 8, 9, tzinfo=UTC)
    assert fresh.rebuilds == 0


@pytest.mark.parametrize("damage", ["delete", "garbage", "other_file", "truncated_log", "not_a_boundary"])
def test_a_missing_or_stale_index_is_rebuilt_from_the_log(path: Path, damage: str) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    enqueue(store, "a", "2026-03-08T07:01:00.000Z")
    store.close()  # the index now covers both lines
    idx = store.index_path
    if damage == "delete":
        idx.unlink()
    elif damage == "garbage":
        idx.write_text("{not json")
    elif damage == "other_file":  # the log was replaced: other bytes (the inode number may even be reused)
        data = path.read_bytes().replace(b'"trigger":"schedule"', b'"trigger":"backfill"')
        path.unlink()
        path.write_bytes(data)
    elif damage == "truncated_log":
        first = path.read_text().splitlines(keepends=True)[0]
        path.write_text(first)
    elif damage == "not_a_boundary":
        index = json.loads(idx.read_text())
        index["offset"] -= 3
        idx.write_text(json.dumps(index))
    fresh = StateStore(path)
    state = fresh.schedule_state("a")
    assert fresh.rebuilds == 1
    expected = 0 if damage == "truncated_log" else 1
    assert state.watermark == datetime(2026, 3, 8, 7, expected, tzinfo=UTC)
    assert len(state.open) == expected + 1


def test_an_index_for_another_inode_in_the_same_process_is_noticed(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    path.unlink()
    assert store.schedule_state("a").watermark is None  # the log is gone: nothing is known


def test_a_torn_last_line_is_ignored_and_later_appends_are_kept(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    with open(path, "ab") as fh:
        fh.write(b'{"v":1,"event":"schedule_enqueued","schedule_id":"a","slot":"a@t","fire_utc":"2026-03-08T09')
    assert store.schedule_state("a").watermark == T0
    enqueue(store, "a", "2026-03-08T07:02:00.000Z")
    assert StateStore(path).schedule_state("a").watermark == datetime(2026, 3, 8, 7, 2, tzinfo=UTC)


def test_dead_owners_are_visible_and_other_hosts_are_assumed_alive() -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = Owner(Owner.current().host, int(proc.stdout), None)
    assert dead.is_dead(dead.host)
    assert not Owner.current().is_dead(dead.host)
    assert not Owner("elsewhere", 1, None).is_dead(dead.host)


def test_claims_from_threads_with_separate_stores_are_exclusive(path: Path) -> None:
    """Eight stores (as eight processes would) race to claim one slot; exactly one wins."""
    stores = [StateStore(path) for _ in range(8)]
    go = threading.Barrier(8)
    winners: list[int] = []

    def claim(i: int) -> None:
        go.wait()
        with stores[i].transaction() as txn:
            state = txn.fold.schedules.get("a")
            if state is None or state.watermark is None or state.watermark < T0:
                txn.add(ScheduleEnqueued(stores[i].now_ts(), "a", slot="a@t", fire_utc="2026-03-08T07:00:00.000Z"))
                winners.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert [r["event"] for r in lines(path)] == ["schedule_enqueued"]


def test_rebuild_index_reads_everything_again(path: Path) -> None:
    store = StateStore(path, FakeClock(T0))
    enqueue(store, "a", "2026-03-08T07:00:00.000Z")
    fold = store.rebuild_index()
    assert fold.schedules["a"].watermark == T0 and store.index_path.exists() and store.rebuilds == 2
