"""A run folder the server cannot read (its events file unreadable: here a directory in its place, as root sees a
file it cannot read as any other) is left out of every listing, as ``dagctl runs`` leaves it out, and said once in
the log; its own stream is a 503 saying why, and a stream whose file becomes unreadable ends with a ``problem``
message instead of a connection cut in the middle."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx

from tests.support import wait_until
from tests.web.sse_client import Reader, read

DAMAGED = "20001207-200001.000-bbbbbb"  # older than every run the tests start


def _damage(project: Path) -> Path:
    folder = project / "logs" / "runs" / DAMAGED
    (folder / "events.jsonl").mkdir(parents=True)  # cannot be read as a file
    return folder


def test_one_unreadable_run_folder_hides_no_other_run(live, web_project: Path, caplog) -> None:
    server = live()
    ok = server.start("quick")
    failed = server.start("flaky")
    server.wait_for_run(ok)
    server.wait_for_run(failed)
    folder = _damage(web_project)
    with caplog.at_level(logging.WARNING, logger="dagctl.web.runindex"):
        for _ in range(3):  # a dashboard lists every few seconds: said once, not every time
            listed = server.client.get("/api/runs", params={"limit": 1000, "tasks": "false"})
            assert listed.status_code == 200, listed.text
            assert [r["run_id"] for r in listed.json()] == [failed, ok]
        by_status = server.client.get("/api/runs", params={"limit": 1000, "status": "failed"})
        assert [r["run_id"] for r in by_status.json()] == [failed]
        by_dag = server.client.get("/api/runs", params={"limit": 1000, "dag": "quick"})
        assert [r["run_id"] for r in by_dag.json()] == [ok]
        page = server.client.get("/", params={"limit": 1000}, headers={"Accept": "text/html"})
        assert page.status_code == 200 and ok in page.text and failed in page.text
        rows = server.client.get("/", params={"limit": 1000, "fragment": "rows"})
        assert rows.status_code == 200 and rows.text.count("<tr>") == 2
    said = [r.getMessage() for r in caplog.records if "skipping the run folder" in r.getMessage()]
    assert said == [
        f"skipping the run folder {folder}: cannot read {folder / 'events.jsonl'}: it is a directory — repair it, "
        f"or move it out of {folder.parent}"
    ]


def test_the_stream_of_an_unreadable_run_is_a_503_saying_why(live, web_project: Path) -> None:
    server = live()
    folder = _damage(web_project)
    answer = server.client.get(f"/api/runs/{DAMAGED}/events")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == f"cannot read {folder / 'events.jsonl'}: it is a directory"
    assert server.ctx.slots.open == 0
    shown = server.client.get(f"/api/runs/{DAMAGED}")  # as the run itself is answered
    assert shown.status_code == 503 and "cannot read" in shown.json()["error"]


def test_a_stream_whose_file_becomes_unreadable_ends_saying_so(live, web_project: Path, caplog) -> None:
    server = live()
    run_id = server.start("slow", seconds=30)
    events = web_project / "logs" / "runs" / run_id / "events.jsonl"
    reader, kinds, problems = Reader(), [], []
    failure: list[BaseException] = []

    def follow() -> None:
        try:
            with httpx.stream("GET", f"{server.url}/api/runs/{run_id}/events", timeout=20) as response:
                for message in read(response, reader):
                    (problems if message.event == "problem" else kinds).append(message)
        except httpx.HTTPError as exc:  # a connection cut in the middle of a message
            failure.append(exc)

    stream = threading.Thread(target=follow)
    with caplog.at_level(logging.ERROR):
        stream.start()
        wait_until(lambda: len(kinds) >= 3, 20, "the stream under way")
        events.rename(events.with_name("events.moved"))
        events.mkdir()  # the file the stream reads cannot be read any more
        stream.join(20)
    assert not stream.is_alive() and not failure and reader.ended_cleanly
    assert [p.json["error"] for p in problems] == [f"cannot read {events}: it is a directory"]
    assert "Exception in ASGI application" not in caplog.text and "Traceback" not in caplog.text
    wait_until(lambda: server.ctx.slots.open == 0, 10, "the slot given back")
