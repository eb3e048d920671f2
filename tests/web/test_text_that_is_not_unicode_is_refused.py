"""JSON's ``\\ud800`` escapes let a lone UTF-16 surrogate into a request: text no file, command line or answer can
hold in UTF-8. Every request carrying one is a 422 saying where it is, as JSON, and no answer ever fails to be
written because it echoes such text back."""

from __future__ import annotations

import json
import logging

import pytest

from dagctl.web.responses import JSON

J = {"Content-Type": "application/json"}
DAG = "name: x\\ntasks:\\n  - id: a\\n    run: echo \\ud800\\n"


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/api/runs", '{"dag": "quick", "params": {"who": "\\ud800"}}', "body.params.who"),
        ("/api/runs", '{"dag": "x\\udfff"}', "body.dag"),
        ("/api/runs", '{"dag": "quick", "params": {"w\\ud800": "x"}}', "body.params"),
        ("/api/validate", f'{{"yaml": "{DAG}"}}', "body.yaml"),
        ("/api/templates", f'{{"name": "sur", "yaml": "{DAG}"}}', "body.yaml"),
    ],
)
def test_a_lone_surrogate_is_bad_input_said_where_it_is(live, caplog, path: str, body: str, where: str) -> None:
    server = live()
    with caplog.at_level(logging.ERROR):
        answer = server.client.post(path, content=body.encode(), headers=J)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()
    assert error["location"] == where
    assert error["error"].startswith(f"{where}: text is not valid Unicode (a lone surrogate \\u")
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
    assert server.ctx.launcher.launches() == []  # nothing was started


def test_a_retry_from_a_task_named_with_a_lone_surrogate_is_refused(live, caplog) -> None:
    server = live()
    run_id = server.start("flaky")
    server.wait_for_run(run_id)
    with caplog.at_level(logging.ERROR):
        answer = server.client.post(f"/api/runs/{run_id}/retry", content=b'{"from_task": "\\ud800"}', headers=J)
    assert answer.status_code == 422 and answer.json()["location"] == "body.from_task"
    assert "Traceback" not in caplog.text


def test_an_answer_that_echoes_a_lone_surrogate_is_still_written() -> None:
    body = JSON({"error": "unknown DAG 'x\udfff'"}).body
    assert json.loads(body) == {"error": "unknown DAG 'x\udfff'"}  # the escape it came in as
