"""``show --json``, ``runs --json`` and the API write a run alike: plain JSON, times as ISO-8601 text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dagctl.report.runjson import summary_dict
from dagctl.store.runsummary import RunSummary, TaskSummary

START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def test_pauses_and_times_are_iso_text_in_every_json_of_a_run() -> None:
    summary = RunSummary(
        run_id="r",
        dag_name="d",
        tenant_id="t",
        status="paused",
        started=START,
        tasks={"a": TaskSummary(task_id="a", status="success", started=START, ended=START + timedelta(seconds=2))},
        pauses=((START + timedelta(seconds=3), START + timedelta(seconds=9)), (START + timedelta(seconds=20), None)),
    )
    data = json.loads(json.dumps(summary_dict(summary)))  # no default=: nothing but JSON values in it
    assert data["pauses"] == [
        {"paused": "2026-12-07T09:00:03+00:00", "resumed": "2026-12-07T09:00:09+00:00"},
        {"paused": "2026-12-07T09:00:20+00:00", "resumed": None},
    ]
    assert data["started"] == "2026-12-07T09:00:00+00:00"
    assert data["tasks"]["a"]["ended"] == "2026-12-07T09:00:02+00:00"
