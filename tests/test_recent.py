"""Recent task durations of a DAG (the live view's ETA): medians over recent successful runs, and their cache."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagctl.store import recent
from dagctl.store.jsonl import append_record
from dagctl.store.recent import cache_file, recent_durations, remember_run

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def write_run(runs: Path, n: int, dag: str, status: str, tasks: dict[str, float], took: float = 10.0) -> str:
    run_id = f"20261206-1100{n:02d}.000-abcdef"
    path = runs / run_id / "events.jsonl"
    base = {"v": 1, "ts": "2026-12-06T11:00:00.000Z", "run_id": run_id, "dag_name": dag, "tenant_id": "default"}
    append_record(path, {**base, "event": "dag_start"})
    for tid, d in tasks.items():
        append_record(path, {**base, "event": "task_start", "task_id": tid, "attempt": 1})
        append_record(path, {**base, "event": "task_ok", "task_id": tid, "attempt": 1, "duration_s": d})
    append_record(path, {**base, "event": "dag_done", "status": status, "duration_s": took})
    return run_id


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    write_run(folder, 1, "etl", "success", {"a": 1.0, "b": 10.0}, took=11.0)
    write_run(folder, 2, "etl", "success", {"a": 3.0, "b": 30.0}, took=33.0)
    write_run(folder, 3, "etl", "failed", {"a": 100.0}, took=100.0)  # failed runs do not count
    write_run(folder, 4, "other", "success", {"a": 100.0})  # nor do other DAGs
    write_run(folder, 5, "etl", "success", {"a": 2.0}, took=2.0)  # b was reused, say
    (folder / "20261206-110006.000-abcdef").mkdir()  # a run being created: no events yet
    (folder / "not-a-run").mkdir()
    return folder


def test_medians_over_the_newest_successful_runs(runs: Path):
    found = recent_durations(runs, "etl", now=NOW)
    assert found.tasks == {"a": 2.0, "b": 20.0}
    assert found.runs == ("20261206-110005.000-abcdef", "20261206-110002.000-abcdef", "20261206-110001.000-abcdef")
    assert found.run_median_s == 11.0
    assert recent_durations(runs, "etl", now=NOW, runs=1).tasks == {"a": 2.0}
    assert recent_durations(runs, "nothing", now=NOW).tasks == {}
    cache = runs.parent / "cache"
    assert recent_durations(runs, "nothing", now=NOW, cache_dir=cache).runs == ()
    assert cache_file(cache, "nothing").read_text().count("checked") == 1  # not to look again at once
    assert recent_durations(runs.parent / "missing", "etl", now=NOW).runs == ()


def test_the_cache_answers_while_fresh_and_learns_runs_watched_live(runs: Path, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    first = recent_durations(runs, "etl", now=NOW, cache_dir=cache)
    assert cache_file(cache, "etl").exists()
    write_run(runs, 7, "etl", "success", {"a": 50.0, "b": 50.0})  # finished without a live view
    monkeypatch.setattr(recent, "task_durations", lambda *_: pytest.fail("read a run's events"))
    assert recent_durations(runs, "etl", now=NOW + timedelta(seconds=60), cache_dir=cache).tasks == first.tasks
    monkeypatch.undo()
    later = recent_durations(runs, "etl", now=NOW + timedelta(seconds=recent.REFRESH_S + 1), cache_dir=cache)
    assert later.runs[0] == "20261206-110007.000-abcdef" and later.tasks == {"a": 2.5, "b": 30.0}
    # a run watched live is added from what the view saw, without reading its events
    remember_run(cache, "etl", later, "20261206-110008.000-abcdef", 4.0, {"a": 4.0, "c": 1.0})
    monkeypatch.setattr(recent, "task_durations", lambda *_: pytest.fail("read a run's events"))
    again = recent_durations(runs, "etl", now=NOW + timedelta(seconds=recent.REFRESH_S + 2), cache_dir=cache)
    assert again.runs[0] == "20261206-110008.000-abcdef" and len(again.runs) == recent.RUNS
    assert again.tasks == {"a": 3.0, "b": 30.0, "c": 1.0}


def test_the_cache_stays_small(runs: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    found = recent_durations(runs, "etl", now=NOW, cache_dir=cache)
    for n in range(30):
        remember_run(cache, "etl", found, f"20261206-1200{n:02d}.000-abcdef", 1.0, {"a": float(n)})
    assert len(cache_file(cache, "etl").read_text().splitlines()) == 3 + 30
    newest, checked = recent._read(cache_file(cache, "etl"), recent.RUNS)  # only the last lines are read
    assert [sample[0] for sample in newest][:2] == ["20261206-120029.000-abcdef", "20261206-120028.000-abcdef"]
    assert checked == found.checked
    assert recent_durations(runs, "etl", now=NOW, cache_dir=cache).tasks == {"a": 27.0}
    refreshed = recent_durations(runs, "etl", now=NOW + timedelta(seconds=recent.REFRESH_S), cache_dir=cache)
    assert refreshed.runs == found.runs  # the folders decide: remembered runs whose folders are gone are dropped
    assert len(cache_file(cache, "etl").read_text().splitlines()) == 3  # rewritten with the runs it found


def test_a_damaged_cache_or_a_switched_off_one_reads_the_runs(runs: Path, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache_file(cache, "etl").write_text("{not json\n")
    assert recent_durations(runs, "etl", now=NOW, cache_dir=cache).tasks == {"a": 2.0, "b": 20.0}
    monkeypatch.setattr(recent, "ENABLED", False)
    other = tmp_path / "off"
    assert recent_durations(runs, "etl", now=NOW, cache_dir=other).tasks == {"a": 2.0, "b": 20.0}
    assert not other.exists()


def test_dag_names_become_safe_file_names(tmp_path: Path):
    assert cache_file(tmp_path, "etl_daily-2").name == "etl_daily-2.jsonl"
    odd = cache_file(tmp_path, "../a b/c")
    assert odd.parent == tmp_path and "/" not in odd.name and odd.name != cache_file(tmp_path, "__a_b_c").name


def test_medians_of_runs_listing_their_tasks_in_any_order_are_the_same():
    runs = [{"a": 1.0, "b": 5.0, "c": 9.0}, {"c": 7.0, "a": 3.0, "b": 1.0}, {"b": 3.0, "c": 8.0, "a": 2.0}]
    assert recent.task_medians(runs) == {"a": 2.0, "b": 3.0, "c": 8.0}
    assert recent.task_medians(runs[:2]) == {"a": 2.0, "b": 3.0, "c": 8.0}  # an even count: the middle two
    assert recent.task_medians([*runs, {"a": 10.0}]) == {"a": 2.5, "b": 3.0, "c": 8.0}  # c not run: 3 samples
    assert recent.task_medians([]) == {}


def test_a_damaged_cache_line_is_skipped_not_half_used(runs: Path, tmp_path: Path):
    good = recent._line(("20261206-120001.000-abcdef", 1.0, ["a", "b"], [1, 2]), recent.format_ts(NOW))
    damaged = {
        "not hex": {**good, "ms": "not hex!"},
        "not ASCII": {**good, "ms": "é"},
        "cut short": {**good, "ms": good["ms"][:-4]},  # two ids, one duration
        "an id missing": {**good, "ids": "a"},
        "not packed": {**good, "ms": [1, 2]},
    }
    for what, line in damaged.items():
        cache = tmp_path / what
        found = recent_durations(runs, "etl", now=NOW, cache_dir=cache)
        remember_run(cache, "etl", found, "20261206-120000.000-abcdef", 1.0, {"a": 9.0})
        append_record(cache_file(cache, "etl"), line)
        again = recent_durations(runs, "etl", now=NOW, cache_dir=cache)
        assert again.runs == ("20261206-120000.000-abcdef", *found.runs), what  # the damaged line's run is not


def test_a_cache_of_an_older_format_is_refreshed_from_the_run_folders(runs: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    v1 = {"v": 1, "run_id": "20261206-120000.000-abcdef", "duration_s": 1.0, "tasks": {"a": 9.0}}
    v2 = {"v": 2, "run_id": "20261206-120001.000-abcdef", "duration_s": 1.0, "ids": ["a"], "ms": [9000]}
    v3 = {"v": 3, "run_id": "20261206-120002.000-abcdef", "duration_s": 1.0, "ids": "a", "ms": "KCMAAA=="}
    for old in (v1, v2, v3):
        append_record(cache_file(cache, "etl"), {**old, "checked": recent.format_ts(NOW)})
    found = recent_durations(runs, "etl", now=NOW, cache_dir=cache)
    assert found.tasks == {"a": 2.0, "b": 20.0}  # from the folders, not from the old lines
    assert {line["v"] for line in map(json.loads, cache_file(cache, "etl").read_text().splitlines())} == {4}


def test_a_line_holds_ids_and_whole_milliseconds_packed_and_reads_back_the_same(tmp_path: Path):
    cache = tmp_path / "cache"
    known = recent.summarize((), recent.format_ts(NOW))
    durations = {"extract": 0.0004, "load": 2.5, "train-1.v2": 3 * 86400.0, "odd id": 1.0, "forever": 1e9}
    remember_run(cache, "etl", known, "20261206-120000.000-abcdef", 9.0, durations)
    line = json.loads(cache_file(cache, "etl").read_text())
    assert line["ids"] == "extract forever load train-1.v2"  # an id with a space is left out
    assert line["ms"] == "00000000ffffffffc40900000014730f"  # little-endian, whatever the machine
    found = recent_durations(tmp_path / "runs", "etl", now=NOW, cache_dir=cache)
    # to the millisecond; the longest a line holds is 2**32 - 1 ms (49 days)
    assert found.tasks == {"extract": 0.0, "forever": 4294967.295, "load": 2.5, "train-1.v2": 259200.0}


def test_runs_listing_the_same_tasks_in_another_order_give_the_same_medians(tmp_path: Path):
    cache = tmp_path / "cache"
    known = recent.summarize((), recent.format_ts(NOW))
    remember_run(cache, "etl", known, "20261206-120000.000-abcdef", 1.0, {"b": 1.0, "a": 0.5})
    remember_run(cache, "etl", known, "20261206-120001.000-abcdef", 1.0, {"a": 1.5, "b": 3.0})
    remember_run(cache, "etl", known, "20261206-120002.000-abcdef", 1.0, {"a": 1.0, "b": 2.0, "c": 0.25})
    found = recent_durations(tmp_path / "runs", "etl", now=NOW, cache_dir=cache)
    assert found.tasks == {"a": 1.0, "b": 2.0, "c": 0.25}
    two = recent_durations(tmp_path / "runs", "etl", now=NOW, cache_dir=cache, runs=2)
    assert two.tasks == {"a": 1.25, "b": 2.5, "c": 0.25}
