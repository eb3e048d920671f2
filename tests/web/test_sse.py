"""Live streams over the real server: a run's events (with Last-Event-ID resume), a task's log lines, the
limits (stream slots, idle streams) and a clean end when the server stops."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from dagctl.host import hostname
from dagctl.store.jsonl import iter_with_offsets
from tests.support import process_alive, wait_until
from tests.web.sse_client import Reader, collect, read


def _file_events(project: Path, run_id: str) -> list[tuple[str, dict]]:
    path = project / "logs" / "runs" / run_id / "events.jsonl"
    return [(str(start), record) for start, _end, record in iter_with_offsets(path)]


def test_a_finished_run_streams_every_event_then_completes(live, web_project: Path) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    reader = Reader()
    messages = collect(server.client, f"/api/runs/{run_id}/events", reader=reader)
    assert reader.ended_cleanly and reader.retry == 2000
    *events, complete = messages
    assert [(m.id, m.json) for m in events] == _file_events(web_project, run_id)
    assert all(m.event == "message" for m in events)
    assert complete.event == "complete" and complete.json == {"status": "failed", "run_id": run_id}


def test_last_event_id_resumes_a_live_run_without_loss_or_duplicates(live, web_project: Path) -> None:
    server = live()
    run_id = server.start("slow", seconds=1)
    first = collect(server.client, f"/api/runs/{run_id}/events", until=3)  # then the client goes away
    assert [m.json["event"] for m in first][:1] == ["dag_start"]
    rest = collect(server.client, f"/api/runs/{run_id}/events", headers={"Last-Event-ID": first[-1].id or ""})
    assert rest[-1].event == "complete"
    received = [(m.id, m.json) for m in first + rest[:-1]]
    assert received == _file_events(web_project, run_id)  # every event once, in order
    again = collect(server.client, f"/api/runs/{run_id}/events", headers={"Last-Event-ID": rest[-2].id or ""})
    assert [m.event for m in again] == ["complete"]  # resuming after the last event: only the end
    bad = server.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "7"})
    assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["error"]


def test_events_reach_a_client_while_the_run_writes_them(live) -> None:
    server = live()
    run_id = server.start("slow", seconds=30)
    seen: list[str] = []
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
        for message in read(response):
            seen.append(message.json["event"])
            if seen.count("task_start") == 2:  # `wait` is running: the run is live, far from its end
                break
    assert seen[0] == "dag_start" and "task_ok" in seen
    server.client.post(f"/api/runs/{run_id}/cancel")
    assert server.wait_for_run(run_id)["status"] == "cancelled"


def test_a_task_log_streams_each_attempt_and_resumes(live) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    messages = collect(server.client, f"/api/runs/{run_id}/logs/bad")
    assert [(m.event, m.data) for m in messages] == [
        ("attempt", '{"attempt":1}'),
        ("message", '{"attempt":1,"line":"try 1"}'),
        ("attempt", '{"attempt":2}'),
        ("message", '{"attempt":2,"line":"try 2"}'),
        ("complete", json.dumps({"attempt": 2, "run_id": run_id, "task": "bad"}, separators=(",", ":"))),
    ]
    assert messages[1].id == "1:0" and messages[3].id == "2:0"
    resumed = collect(server.client, f"/api/runs/{run_id}/logs/bad", headers={"Last-Event-ID": "1:0"})
    assert [m.data for m in resumed if m.event == "message"] == ['{"attempt":2,"line":"try 2"}']
    only_first = collect(server.client, f"/api/runs/{run_id}/logs/bad?attempt=1")
    assert [m.json.get("line") for m in only_first if m.event == "message"] == ["try 1"]
    assert server.client.get(f"/api/runs/{run_id}/logs/nope").status_code == 404
    assert server.client.get(f"/api/runs/{run_id}/logs/bad", headers={"Last-Event-ID": "x"}).status_code == 422


def test_a_log_line_is_sent_as_it_is_written(live) -> None:
    server = live()
    run_id = server.start("slow", seconds=30)
    with server.client.stream("GET", f"/api/runs/{run_id}/logs/wait") as response:
        lines = []
        for message in read(response):
            if message.event == "message":
                lines.append(message.json["line"])
                break
    assert lines == ["waiting"]  # written before the task's sleep: streamed while the task still runs
    server.client.post(f"/api/runs/{run_id}/cancel")
    server.wait_for_run(run_id)


def test_a_run_started_here_can_be_followed_before_it_writes_anything(live) -> None:
    server = live()
    response = server.client.post("/api/runs", json={"dag": "quick"})
    run_id = response.json()["run_id"]
    messages = collect(server.client, f"/api/runs/{run_id}/events")  # asked at once: the folder may not exist
    assert messages[0].json["event"] == "dag_start" and messages[-1].event == "complete"


def test_streams_are_limited_and_slots_come_back(live) -> None:
    server = live(max_streams=1)
    run_id = server.start("slow", seconds=30)
    with server.client.stream("GET", f"/api/runs/{run_id}/events") as held:
        messages = read(held)  # kept: a generator dropped here would close the stream
        next(messages)
        refused = server.client.get(f"/api/runs/{run_id}/events")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert "too many open streams (1" in refused.json()["error"]
    wait_until(lambda: server.ctx.slots.open == 0, 20, "the slot given back")  # noticed at the next write
    server.client.post(f"/api/runs/{run_id}/cancel")
    assert collect(server.client, f"/api/runs/{run_id}/events")[-1].event == "complete"


def test_quiet_streams_get_heartbeats_and_idle_ones_are_closed(live) -> None:
    server = live(heartbeat_s=0.2, stream_idle_s=1.0)
    run_id = server.start("slow", seconds=30)
    reader = Reader()
    messages = collect(server.client, f"/api/runs/{run_id}/events", reader=reader)  # returns: closed as idle
    assert reader.ended_cleanly and reader.comments >= 2
    assert messages and messages[-1].event == "message"  # no `complete`: the run goes on
    server.client.post(f"/api/runs/{run_id}/cancel")
    more = collect(server.client, f"/api/runs/{run_id}/events", headers={"Last-Event-ID": messages[-1].id or ""})
    assert more[0].json["event"] == "task_cancel" and more[-1].event == "complete"  # right after the last seen


def test_stopping_the_server_ends_open_streams_cleanly(live) -> None:
    server = live()
    run_id = server.start("slow", seconds=30)
    reader = Reader()
    got: list[str] = []

    def follow() -> None:
        with server.client.stream("GET", f"/api/runs/{run_id}/events") as response:
            for message in read(response, reader):
                got.append(message.json["event"])

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        wait_until(lambda: "task_start" in got, 20, "the stream under way")
        server.server.request_stop()
        thread.join(15)
        assert not thread.is_alive() and reader.ended_cleanly
    finally:
        thread.join(15)
    (launch,) = server.ctx.launcher.launches()
    assert process_alive(launch.pid)  # the run itself goes on: it is a process of its own


def test_a_run_whose_owner_died_is_completed_as_abandoned(live, web_project: Path, monkeypatch) -> None:
    from dagctl.web import streams

    monkeypatch.setattr(streams, "OWNER_CHECK_S", 0.2)
    dead = subprocess.Popen(["true"])
    dead.wait()
    run_id = "20261206-120000.000-abcdef"
    folder = web_project / "logs" / "runs" / run_id
    folder.mkdir(parents=True)
    record = {"v": 1, "ts": "2026-12-06T12:00:00.000Z", "event": "dag_start", "run_id": run_id, "dag_name": "gone",
              "tenant_id": "default", "host": hostname(), "pid": dead.pid, "pid_start": 1.0}  # fmt: skip
    (folder / "events.jsonl").write_text(json.dumps(record) + "\n")
    server = live()
    messages = collect(server.client, f"/api/runs/{run_id}/events")
    assert [m.json.get("event") for m in messages[:-1]] == ["dag_start", "dag_done"]
    assert messages[-1].json == {"status": "abandoned", "run_id": run_id}


@pytest.mark.parametrize("path", ["/api/runs/latest/events", "/api/runs/latest/logs/hello"])
def test_streams_of_unknown_runs_are_404(live, path: str) -> None:
    server = live()
    response = server.client.get(path)
    assert response.status_code == 404 and response.json()["error"].startswith("no runs found")


ROTATED = """
name: rotated
tasks:
  - id: rot
    run: echo "before 1"; echo "before 2"; while [ ! -f {flag} ]; do sleep 0.02; done; echo "after 1"
"""


def test_a_log_cut_shorter_while_streaming_is_followed_from_its_start(live, web_project: Path) -> None:
    flag = web_project / "rotated.flag"
    (web_project / "configs" / "dags" / "rotated.yaml").write_text(ROTATED.format(flag=flag))
    server = live()
    run_id = server.start("rotated")
    lines: list[tuple[str | None, str]] = []
    with server.client.stream("GET", f"/api/runs/{run_id}/logs/rot") as response:
        for message in read(response):
            if message.event != "message":
                continue
            lines.append((message.id, message.json["line"]))
            if message.json["line"] == "before 2":  # copytruncate, as logrotate does it: the writer goes on
                (web_project / "logs" / "runs" / run_id / "rot.log").write_text("")
                flag.write_text("")
    assert lines == [("1:0", "before 1"), ("1:9", "before 2"), ("1:0", "after 1")]


def test_the_log_stream_of_a_run_that_never_started_completes(live, web_project: Path) -> None:
    server = live()
    run_id = "20260101-000000.000-abcdef"
    launch = server.ctx.launcher.start_run(web_project / "configs" / "dags" / "missing.yaml", {}, run_id)
    assert launch.done.wait(30)
    (complete,) = collect(server.client, f"/api/runs/{run_id}/logs/hello")
    assert complete.event == "complete" and complete.json["status"] == "not_started"
    assert complete.json["task"] == "hello" and "missing.yaml" in complete.json["error"]


def test_a_task_the_dag_lacks_is_404_while_its_run_starts(live, tmp_path: Path) -> None:
    slow_start = tmp_path / "python-that-waits"
    slow_start.write_text("#!/bin/sh\nexec sleep 60\n")  # a run that stays `starting`
    slow_start.chmod(0o755)
    server = live(python=str(slow_start))
    run_id = server.start("quick")
    assert server.client.get(f"/api/runs/{run_id}").json()["status"] == "starting"
    missing = server.client.get(f"/api/runs/{run_id}/logs/nope")
    assert missing.status_code == 404 and missing.json()["error"] == f"run {run_id} has no task 'nope'"
    with server.client.stream("GET", f"/api/runs/{run_id}/logs/hello") as known:
        assert known.status_code == 200  # a task of the DAG: followed once the run starts


def test_an_attempt_a_finished_run_never_made_is_404(live) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    second = collect(server.client, f"/api/runs/{run_id}/logs/bad?attempt=2")
    assert [m.json.get("line") for m in second if m.event == "message"] == ["try 2"]
    third = server.client.get(f"/api/runs/{run_id}/logs/bad?attempt=3")
    assert third.status_code == 404 and third.json()["error"] == "task bad has no attempt 3"
    once = server.client.get(f"/api/runs/{run_id}/logs/ok?attempt=2")
    assert once.status_code == 404 and once.json()["hint"] == f"it ran 1 time in run {run_id}"


def test_a_log_position_of_an_attempt_a_finished_run_never_made_is_refused(live) -> None:
    """A log stream's ``Last-Event-ID`` naming an attempt (or a loop's iteration) the finished run never made is
    422, as the event stream refuses an id of none of its events: an empty stream would say the log is empty."""
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    url = f"/api/runs/{run_id}/logs/bad"
    for stale, what in (("9:0", "attempt 9"), ("1.1:0", "attempt 1 of iteration 1")):
        answer = server.client.get(url, headers={"Last-Event-ID": stale})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == (
            f"Last-Event-ID '{stale}' is not a position in the log of bad: run {run_id} made no {what} of it"
        )
    resumed = collect(server.client, url, headers={"Last-Event-ID": "1:0"})  # a real one: the rest, from there
    assert [m.json.get("line") for m in resumed if m.event == "message"] == ["try 2"]
