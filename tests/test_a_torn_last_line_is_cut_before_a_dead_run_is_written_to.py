"""A run killed in the middle of writing a line leaves a torn last line in its events file. Readers never see it
(it has no newline); but the appends made after the crash (recording the run abandoned, `dagctl resume`, `dagctl
cancel` of a paused run) used to end it with a newline, making it a bad line for good, warned about by every
`show` and `logs`. They cut it off first."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from dagctl.host import hostname
from dagctl.run.resume import prepare_resume
from dagctl.settings import Settings
from dagctl.store.history import History
from dagctl.store.jsonl import JsonlWriter, append_record, iter_records
from dagctl.store.layout import events_file

RUN = "20261207-030000.000-a1b2c3"
DEAD = {"host": hostname(), "pid": os.getpid(), "pid_start": 1.0}  # this pid, another start time: a dead process
TORN = b'{"v":1,"ts":"2026-12-07T17:5'


def rec(event: str, **fields: Any) -> dict[str, Any]:
    base = {"v": 1, "ts": "2026-12-07T03:00:00.000Z", "run_id": RUN, "dag_name": "d", "tenant_id": "default"}
    return {**base, "event": event, **fields}


def torn_run(settings: Settings, *records: dict[str, Any]) -> Path:
    folder = settings.runs_dir / RUN
    folder.mkdir(parents=True)
    (folder / "dag.yaml").write_text("name: d\ntasks:\n  - {id: a, run: 'true'}\n")
    for record in records:
        append_record(events_file(folder), record)
    with open(events_file(folder), "ab") as fh:
        fh.write(TORN)  # the process was killed while writing this line
    return events_file(folder)


def whole_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n") and TORN not in data
    return data.splitlines()


def test_recording_a_dead_run_abandoned_cuts_the_torn_line_it_left(project, caplog) -> None:
    settings = Settings.from_env()
    path = torn_run(settings, rec("dag_start", tasks=1, **DEAD), rec("task_start", task_id="a", attempt=1))
    history = History(settings)
    with caplog.at_level(logging.WARNING, logger="dagctl.store"):
        assert history.summary(RUN).status == "abandoned"
        assert history.summary(RUN).status == "abandoned"  # read again: no bad line to warn about
    assert [r.getMessage() for r in caplog.records] == []
    assert len(whole_lines(path)) == 4 == len(list(iter_records(path)))


def test_resume_and_cancel_of_a_paused_run_cut_the_torn_line(project) -> None:
    settings = Settings.from_env()
    paused = (rec("dag_start", tasks=1, **DEAD), rec("dag_done", status="paused", duration_s=1.0))
    path = torn_run(settings, *paused)
    history = History(settings)
    prepare_resume(history, RUN)
    assert len(whole_lines(path)) == 2
    with open(path, "ab") as fh:
        fh.write(TORN)
    history.request_cancel(RUN, "cancelled by a test")
    assert [r["status"] for r in iter_records(path) if r["event"] == "dag_done"] == ["paused", "cancelled"]
    assert len(whole_lines(path)) == 3


@pytest.mark.parametrize(
    ("content", "cut", "left"),
    [
        (b'{"n":1}\n' + TORN, len(TORN), b'{"n":1}\n'),
        (b'{"n":1}\n', 0, b'{"n":1}\n'),
        (TORN, len(TORN), b""),
        (b"", 0, b""),
        (b'{"n":1}\n' + b"x" * 200_000, 200_000, b'{"n":1}\n'),  # longer than a block read from the end
    ],
)
def test_cut_torn_tail_keeps_exactly_the_committed_lines(tmp_path: Path, content: bytes, cut: int, left: bytes) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(content)
    with JsonlWriter(path) as writer, writer.locked():
        assert writer.cut_torn_tail() == cut
        writer.append({"n": 2})
    assert path.read_bytes() == left + b'{"n":2}\n'
