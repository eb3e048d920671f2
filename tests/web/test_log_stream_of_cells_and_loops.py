"""The log stream and the plain-text log of matrix cells (``TASK:N``) and loops (``repeat:``), as ``dagctl logs``
knows them."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import dag_text
from tests.web.sse_client import collect

UNITS = """
name: units
tasks:
  - id: cells
    matrix:
      n: [1, 2, 3]
    run: 'echo "cell ${matrix.n}"; test ${matrix.n} -ne 3'
  - id: loop
    run: 'echo "iter $DAGCTL_ITERATION"; echo "i=$DAGCTL_ITERATION" > "$DAGCTL_OUTPUT"'
    repeat: {until: "outputs.loop.i >= 3", max_iterations: 5}
"""


def _finished(live, web_project: Path):  # type: ignore[no-untyped-def]
    (web_project / "configs" / "dags" / "units.yaml").write_text(dag_text(UNITS))
    server = live()
    run_id = server.start("units")
    server.wait_for_run(run_id)
    return server, run_id


def test_a_matrix_cells_log_streams_by_its_cell_id(live, web_project: Path) -> None:
    server, run_id = _finished(live, web_project)
    messages = collect(server.client, f"/api/runs/{run_id}/logs/cells:2")
    assert [(m.event, m.data) for m in messages[:2]] == [
        ("attempt", '{"attempt":1}'),
        ("message", '{"attempt":1,"line":"cell 3"}'),
    ]
    assert messages[-1].event == "complete" and messages[-1].json["task"] == "cells:2"
    encoded = collect(server.client, f"/api/runs/{run_id}/logs/cells%3A0")  # as a browser's encodeURIComponent sends it
    assert [m.json["line"] for m in encoded if m.event == "message"] == ["cell 1"]
    matrix_task = collect(server.client, f"/api/runs/{run_id}/logs/cells")  # the cells have the logs, not it
    assert [m.event for m in matrix_task] == ["complete"]
    assert server.client.get(f"/api/runs/{run_id}/logs/cells:7").status_code == 404  # no such cell ran
    assert server.client.get(f"/api/runs/{run_id}/logs/nope:1").status_code == 404
    assert server.client.get(f"/api/runs/{run_id}/logs/cells:1/text").text == "cell 2\n"


def test_a_loops_log_streams_every_iteration_and_one_can_be_asked_for(live, web_project: Path) -> None:
    server, run_id = _finished(live, web_project)
    messages = collect(server.client, f"/api/runs/{run_id}/logs/loop")
    assert [(m.event, m.id, m.data) for m in messages[:-1]] == [
        ("attempt", None, '{"iteration":1,"attempt":1}'),
        ("message", "1.1:0", '{"iteration":1,"attempt":1,"line":"iter 1"}'),
        ("attempt", None, '{"iteration":2,"attempt":1}'),
        ("message", "2.1:0", '{"iteration":2,"attempt":1,"line":"iter 2"}'),
        ("attempt", None, '{"iteration":3,"attempt":1}'),
        ("message", "3.1:0", '{"iteration":3,"attempt":1,"line":"iter 3"}'),
    ]
    assert messages[-1].json == {"iteration": 3, "attempt": 1, "run_id": run_id, "task": "loop"}
    resumed = collect(server.client, f"/api/runs/{run_id}/logs/loop", headers={"Last-Event-ID": "2.1:0"})
    assert [m.json["line"] for m in resumed if m.event == "message"] == ["iter 3"]
    second = collect(server.client, f"/api/runs/{run_id}/logs/loop?iteration=2")
    assert [m.json["line"] for m in second if m.event == "message"] == ["iter 2"]
    assert server.client.get(f"/api/runs/{run_id}/logs/loop?iteration=4").status_code == 404
    assert server.client.get(f"/api/runs/{run_id}/logs/loop/text").text == "iter 3\n"  # the last, as dagctl logs
    assert server.client.get(f"/api/runs/{run_id}/logs/loop/text?iteration=1").text == "iter 1\n"
