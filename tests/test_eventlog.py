"""Reading the event and state logs backwards: window stop, slack for interleaved writers, filters, limit."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dagctl.store import eventlog
from dagctl.store.eventlog import SLACK, STOP_AFTER, load_events, load_state_events
from dagctl.store.events import format_ts, parse_event
from dagctl.store.jsonl import iter_records

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SINCE = NOW - timedelta(hours=24)


def rec(minutes_ago: float, n: int = 0, *, dag: str = "etl", tenant: str = "acme", kind: str = "task_ok") -> dict:
    return {
        "v": 1,
        "ts": format_ts(NOW - timedelta(minutes=minutes_ago)),
        "event": kind,
        "run_id": f"r{n}",
        "dag_name": dag,
        "tenant_id": tenant,
        "task_id": f"t{n}",
        "duration_s": 1.0,
    }


def write_lines(path: Path, items: list[Any]) -> Path:
    with open(path, "wb") as fh:
        for item in items:
            fh.write(item if isinstance(item, bytes) else (json.dumps(item) + "\n").encode())
    return path


def test_a_window_read_stops_before_the_old_part_of_the_file(tmp_path, caplog):
    old = [rec(3 * 24 * 60 - i, i) for i in range(STOP_AFTER + 50)]  # three days ago, oldest first
    new = [rec(600 - i, 1000 + i) for i in range(300)]
    path = write_lines(tmp_path / "events.jsonl", [b"\x00\xffgarbage that would be logged\n", *old, *new])
    with caplog.at_level(logging.WARNING, logger="dagctl.store.jsonl"):
        got = load_events(path, since=SINCE)
    assert got == new  # oldest first, exactly the window
    assert not caplog.records  # the garbage at the start was never reached, so never parsed
    with caplog.at_level(logging.WARNING, logger="dagctl.store.jsonl"):
        assert len(load_events(path)) == len(old) + len(new)
    assert "skipping invalid line" in caplog.text  # ...while a full read does reach it


def test_a_window_read_parses_only_the_window_and_one_stop_run(tmp_path, monkeypatch):
    history = [rec(60 * 24 * 30 - i, i) for i in range(5000)] + [rec(100 - i / 10, 9000 + i) for i in range(200)]
    path = write_lines(tmp_path / "events.jsonl", history)
    seen = []
    real = eventlog.iter_records_reverse

    def counting(*args: Any, **kwargs: Any):
        for r in real(*args, **kwargs):
            seen.append(r)
            yield r

    monkeypatch.setattr(eventlog, "iter_records_reverse", counting)
    assert len(load_events(path, since=SINCE)) == 200
    assert len(seen) == 200 + STOP_AFTER


def test_records_slightly_out_of_order_near_the_edge_are_kept(tmp_path):
    since_min = 24 * 60
    lines = [rec(since_min + 600 + i, i) for i in range(STOP_AFTER + 5)]  # well before the window
    lines += [
        rec(since_min - 1, 501),  # in the window, written before...
        rec(since_min + 2, 502),  # ...a line from another process, 2 minutes older than `since`,
        rec(since_min - 2, 503),
    ]  # ...and another in-window line written after it
    path = write_lines(tmp_path / "events.jsonl", lines)
    assert [r["run_id"] for r in load_events(path, since=SINCE)] == ["r501", "r503"]


def test_one_record_with_a_wild_clock_does_not_end_the_read(tmp_path):
    lines = [rec(300, 1), rec(60 * 24 * 365, 2), rec(200, 3)]
    assert [r["run_id"] for r in load_events(write_lines(tmp_path / "e.jsonl", lines), since=SINCE)] == ["r1", "r3"]


@pytest.mark.parametrize(("old_run", "found"), [(STOP_AFTER - 1, ["r1", "r2"]), (STOP_AFTER, ["r2"])])
def test_the_read_stops_after_a_whole_run_of_records_older_than_since_minus_slack(tmp_path, old_run, found):
    lines = [rec(100, 1), *[rec(24 * 60 + 6 + i, 100 + i) for i in range(old_run)], rec(10, 2)]
    got = load_events(write_lines(tmp_path / "e.jsonl", lines), since=SINCE)
    assert [r["run_id"] for r in got] == found


def test_records_within_the_slack_reset_the_run(tmp_path):
    within_slack = 24 * 60 + SLACK.total_seconds() / 60 - 1
    old = [rec(3000 + i, 100 + i) for i in range(STOP_AFTER - 1)]
    lines = [rec(100, 1), *old, rec(within_slack, 50), *old, rec(10, 2)]
    assert [r["run_id"] for r in load_events(write_lines(tmp_path / "e.jsonl", lines), since=SINCE)] == ["r1", "r2"]


def test_limit_keeps_the_newest_matching_records_oldest_first(tmp_path):
    lines = [rec(100 - i, i, dag="etl" if i % 2 else "ml") for i in range(20)]
    path = write_lines(tmp_path / "e.jsonl", lines)
    assert [r["run_id"] for r in load_events(path, limit=3)] == ["r17", "r18", "r19"]
    assert [r["run_id"] for r in load_events(path, limit=3, dag="ml")] == ["r14", "r16", "r18"]
    assert load_events(path, limit=0) == []


def test_dag_and_tenant_filters(tmp_path):
    lines = [
        rec(5, 1, dag="etl", tenant="acme"),
        rec(4, 2, dag="etl", tenant="globex"),
        rec(3, 3, dag="ml", tenant="acme"),
    ]
    path = write_lines(tmp_path / "e.jsonl", lines)
    assert [r["run_id"] for r in load_events(path, dag="etl")] == ["r1", "r2"]
    assert [r["run_id"] for r in load_events(path, tenant="acme")] == ["r1", "r3"]
    assert [r["run_id"] for r in load_events(path, dag="etl", tenant="acme", since=SINCE)] == ["r1"]


def test_missing_file_torn_tail_and_records_without_time(tmp_path):
    assert load_events(tmp_path / "nope.jsonl", since=SINCE) == []
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            rec(5, 1),
            {"event": "task_ok", "run_id": "r2"},
            {"event": "task_ok", "run_id": "r3", "ts": "whenever"},
            rec(3, 4),
            b'{"v":1,"ts":"2026-11-21T11:59',
        ],
    )
    assert [r["run_id"] for r in load_events(path, since=SINCE)] == ["r1", "r4"]
    assert [r["run_id"] for r in load_events(path)] == ["r1", "r2", "r3", "r4"]


def test_other_iso_forms_of_ts_are_compared_as_times(tmp_path):
    inside = {"event": "task_ok", "run_id": "r1", "ts": "2026-11-21T13:00:00+02:00"}  # 11:00Z
    outside = {"event": "task_ok", "run_id": "r2", "ts": "2026-11-20T13:00:00+02:00"}  # 11:00Z the day before
    path = write_lines(tmp_path / "e.jsonl", [outside, inside])
    assert [r["run_id"] for r in load_events(path, since=SINCE)] == ["r1"]


def test_load_state_events_reads_backwards_with_the_same_window_rules(tmp_path):
    def srec(minutes_ago: float, kind: str, **fields: Any) -> dict:
        return {
            "v": 1,
            "ts": format_ts(NOW - timedelta(minutes=minutes_ago)),
            "event": kind,
            "schedule_id": "nightly",
            **fields,
        }

    lines = [srec(3000 + i, "run_started", run_id=f"old{i}") for i in range(STOP_AFTER + 10)][::-1]
    lines += [
        srec(30, "schedule_enqueued", slot="nightly@x"),
        srec(29, "run_started", slot="nightly@x", run_id="a"),
        srec(20, "run_finished", slot="nightly@x", run_id="a", status="success"),
        srec(10, "schedule_skipped", slot="nightly@y", reason="overlap"),
    ]
    path = write_lines(tmp_path / "state.jsonl", lines)
    assert [r["event"] for r in load_state_events(path, SINCE)] == [
        "schedule_enqueued",
        "run_started",
        "run_finished",
        "schedule_skipped",
    ]
    assert [r["event"] for r in load_state_events(path, SINCE, limit=2)] == ["run_finished", "schedule_skipped"]
    assert len(load_state_events(path)) == len(lines)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    from benchmarks.gen_history import generate_history

    base = tmp_path_factory.mktemp("history")
    run_ids = generate_history(base / "events.jsonl", base / "state.jsonl", lines=20_000, days=3, now=NOW, seed=7)
    return base / "events.jsonl", base / "state.jsonl", run_ids


@pytest.mark.parametrize("hours", [1, 6, 24, 48])
def test_window_reads_of_a_generated_history_equal_a_full_scan(generated, hours):
    events_path, state_path, _ = generated
    since = NOW - timedelta(hours=hours)
    key = format_ts(since)
    assert load_events(events_path, since=since) == [r for r in iter_records(events_path) if r["ts"] >= key]
    assert load_state_events(state_path, since) == [r for r in iter_records(state_path) if r["ts"] >= key]


def test_generated_history_has_the_runners_record_shapes(generated):
    events_path, state_path, run_ids = generated
    records = list(iter_records(events_path))
    assert len(records) == 20_000
    assert records[-1]["ts"] <= format_ts(NOW) and records[0]["ts"] < format_ts(NOW - timedelta(days=2))
    assert all(not isinstance(parse_event(r), dict) for r in records)  # every line is a typed event
    kinds = {r["event"] for r in records}
    assert {"dag_start", "task_start", "task_ok", "task_fail", "task_retry", "task_skip", "dag_done"} <= kinds
    assert len(run_ids) == len(set(run_ids)) == len({r["run_id"] for r in records})
    state_kinds = {r["event"] for r in iter_records(state_path)}
    assert state_kinds == {"schedule_enqueued", "run_started", "run_finished", "schedule_skipped"}


def test_generated_history_is_deterministic(tmp_path):
    from benchmarks.gen_history import generate_history

    a = generate_history(tmp_path / "a.jsonl", tmp_path / "as.jsonl", lines=2000, days=1, now=NOW, seed=3)
    b = generate_history(tmp_path / "b.jsonl", tmp_path / "bs.jsonl", lines=2000, days=1, now=NOW, seed=3)
    assert a == b
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "as.jsonl").read_bytes() == (tmp_path / "bs.jsonl").read_bytes()


def test_an_unreadable_log_is_a_clear_error(tmp_path):
    from dagctl.errors import EnvironmentProblem

    with pytest.raises(EnvironmentProblem, match=r"cannot read .*: it is a directory"):
        load_events(tmp_path, since=SINCE)


def test_events_are_immutable_compare_by_value_and_keep_their_record_order() -> None:
    import pytest

    from dagctl.store.events import TaskOk

    ok = TaskOk(
        ts="2026-11-21T00:00:00.000Z",
        run_id="r",
        dag_name="d",
        tenant_id="t",
        task_id="a",
        attempt=1,
        duration_s=0.5,
        exit_code=0,
    )
    with pytest.raises(AttributeError):
        ok.status = "failed"  # type: ignore[misc]
    record = ok.to_record()
    assert list(record) == [
        "v",
        "ts",
        "event",
        "timestamp",  # the design note's name for ts, the same value
        "run_id",
        "dag_name",
        "tenant_id",
        "task_id",
        "attempt",
        "status",
        "duration_s",
        "exit_code",
    ]
    again = parse_event(record)
    assert again == ok and hash(again) == hash(ok) and again != parse_event({**record, "attempt": 2})
