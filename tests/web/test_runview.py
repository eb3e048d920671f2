"""The pure parts of the server: the run page's layout, log lines, params as ``dagctl run`` gets them, SSE
messages, and the run index's cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.clock import FakeClock
from dagctl.errors import StateError, UsageError
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.runsummary import fold_run
from dagctl.web.dags import check_params
from dagctl.web.launch import params_text
from dagctl.web.logstream import split_lines
from dagctl.web.runindex import RunIndex
from dagctl.web.runview import layers, layout, run_view
from dagctl.web.sse import StreamSlots, TooManyStreams, message
from tests.report.events import DIAMOND, T0, ev, graph


def test_the_dag_is_drawn_in_layers_with_short_columns_centred() -> None:
    g = graph(DIAMOND)
    assert layers(g) == {"extract": 0, "by_region": 1, "by_product": 1, "report": 2}
    picture = layout(g)
    at = {n["id"]: n for n in picture["nodes"]}
    assert at["extract"]["x"] < at["by_region"]["x"] == at["by_product"]["x"] < at["report"]["x"]
    assert at["by_region"]["y"] != at["by_product"]["y"]
    assert at["extract"]["y"] == at["report"]["y"]  # centred against the two-task column
    assert {(e["from"], e["to"]) for e in picture["edges"]} == {
        ("extract", "by_region"),
        ("extract", "by_product"),
        ("by_region", "report"),
        ("by_product", "report"),
    }
    assert picture["width"] >= at["report"]["x"] + picture["node_w"] and picture["omitted"] == 0


def test_a_huge_dag_is_capped() -> None:
    chain = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(500)}
    picture = layout(graph(chain), limit=100)
    assert len(picture["nodes"]) == 100 and picture["omitted"] == 400 and len(picture["edges"]) == 99


def test_the_view_colours_nodes_by_status_and_marks_the_critical_path() -> None:
    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "extract", attempt=1),
        ev("task_ok", 1, "extract", attempt=1, duration_s=1.0),
        ev("task_start", 1, "by_region", attempt=1),
        ev("task_start", 1, "by_product", attempt=1),
        ev("task_ok", 2, "by_product", attempt=1, duration_s=1.0),
    ]
    view = run_view(fold_run(events), events, graph(DIAMOND), now=T0.replace(second=5))
    nodes = {n["id"]: n for n in view["graph"]["nodes"]}
    assert [nodes[t]["status"] for t in DIAMOND] == ["success", "running", "success", "pending"]
    assert view["timeline"]["span_s"] == 5.0  # a running run is drawn up to now
    assert nodes["by_region"]["critical"] and nodes["extract"]["critical"]
    lanes = {lane["task_id"]: lane for lane in view["timeline"]["lanes"]}
    assert lanes["by_region"]["attempts"][0]["outcome"] == "running"
    assert lanes["by_region"]["attempts"][0]["run"] == {"kind": "running", "start_s": 1.0, "end_s": 5.0}
    assert json.dumps(view)  # all of it is JSON


def test_the_view_lists_the_tasks_a_killed_run_never_started_as_show_does() -> None:
    from dagctl.store.history import abandonment

    events = [
        ev("dag_start", 0, tasks=4),
        ev("task_start", 0, "extract", attempt=1),
        ev("task_ok", 1, "extract", attempt=1, duration_s=1.0),
        ev("task_start", 1, "by_region", attempt=1),
    ]
    events += abandonment(fold_run(events), last_seen=T0.replace(second=2), now=T0.replace(second=9))
    summary = fold_run(events)
    assert summary.status == "abandoned"
    view = run_view(summary, events, graph(DIAMOND), now=T0.replace(second=9))
    nodes = {n["id"]: n["status"] for n in view["graph"]["nodes"]}
    assert nodes == {
        "extract": "success",
        "by_region": "cancelled",
        "by_product": "not started",
        "report": "not started",
    }
    note = "its run's process died before it started; dagctl resume runs it"
    assert view["run"]["unstarted_tasks"] == [
        {"task_id": "by_product", "status": "not started", "note": note},
        {"task_id": "report", "status": "not started", "note": note},
    ]
    assert set(view["run"]["tasks"]) == {"extract", "by_region"}  # additive: the summary's tasks as they were


def test_log_bytes_become_complete_lines_at_their_offsets() -> None:
    lines, used = split_lines(b"one\ntwo\r\nthr", 100)
    assert lines == [(100, "one"), (104, "two")] and used == 9
    assert split_lines(b"", 0) == ([], 0)
    assert split_lines(b"\xff\xfe bad\n", 0)[0] == [(0, "\ufffd\ufffd bad")]
    long_line, _ = split_lines(b"x" * 70_000 + b"\n", 0)
    assert long_line[0][1] == "x" * 64 * 1024 + " … (line cut at 64 KiB)"  # cut, and saying so


def test_params_become_the_assignments_dagctl_run_gets() -> None:
    declared = {"rows": 200, "name": "a", "flags": [1], "on": False}
    assert check_params(declared, {"rows": 5, "name": "-x=y", "flags": [1, 2], "on": True}) == {
        "rows": "5",
        "name": "-x=y",
        "flags": "[1, 2]",
        "on": "true",
    }
    from dagctl.dag.yamlread import parse_document

    given = {"name": "-x=y", "odd": '😀 \x85 \u2028 \x7f é\t"q"', "n": "5"}
    assert parse_document(params_text(given).decode(), "p").data == given  # what dagctl run reads back, as sent
    with pytest.raises(UsageError, match="unknown param 'row'"):
        check_params(declared, {"row": 1})
    with pytest.raises(UsageError, match="must be a whole number"):
        check_params(declared, {"rows": "many"})
    with pytest.raises(UsageError, match="not valid"):
        check_params(declared, {"rows=1": 2})


def test_sse_messages_and_stream_slots() -> None:
    assert message({"a": "x\ry"}, event="log", event_id="1:0") == b'id: 1:0\nevent: log\ndata: {"a":"x\\ry"}\n\n'
    slots = StreamSlots(2)
    slots.take()
    slots.take()
    with pytest.raises(TooManyStreams):
        slots.take()
    slots.give_back()
    slots.take()
    assert slots.open == 2 and slots.refused == 1


def _write_run(runs: Path, run_id: str, *, done: bool) -> Path:
    folder = runs / run_id
    folder.mkdir(parents=True, exist_ok=True)
    records = [ev("dag_start", 0, run=run_id, pid=0), ev("task_start", 0, "a", run=run_id, attempt=1)]
    if done:
        records.append(ev("dag_done", 1, run=run_id, status="success", duration_s=1.0))
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_the_run_index_reads_a_run_again_only_when_its_file_changed(tmp_path: Path) -> None:
    settings = Settings(logs_dir=tmp_path / "logs")
    runs = settings.runs_dir
    _write_run(runs, "20261206-120000.000-000001", done=True)
    folder = _write_run(runs, "20261206-120001.000-000002", done=False)
    (runs / "20261206-120002.000-000003").mkdir()  # being created: no events yet
    index = RunIndex(History(settings), clock=FakeClock(T0), capacity=10)
    listed = [s.run_id for s in index.summaries()]
    assert listed == ["20261206-120001.000-000002", "20261206-120000.000-000001"]
    reads = index.reads
    assert [s.status for s in index.summaries()] == ["running", "success"] and index.reads == reads  # cached
    with (folder / "events.jsonl").open("a") as fh:
        fh.write(json.dumps(ev("dag_done", 2, run="20261206-120001.000-000002", status="failed")) + "\n")
    assert index.summary("20261206-120001.000-000002").status == "failed" and index.reads == reads + 1
    assert [s.run_id for s in index.summaries(status="failed")] == ["20261206-120001.000-000002"]
    assert index.resolve("latest") == "20261206-120002.000-000003"
    with pytest.raises(StateError, match="no events yet"):
        index.summary("20261206-120002.000-000003")


def test_the_run_index_keeps_at_most_its_capacity(tmp_path: Path) -> None:
    settings = Settings(logs_dir=tmp_path / "logs")
    for n in range(6):
        _write_run(settings.runs_dir, f"20261206-1200{n:02d}.000-00000{n}", done=True)
    index = RunIndex(History(settings), clock=FakeClock(T0), capacity=3)
    assert len(list(index.summaries())) == 6 and index.cached == 3
