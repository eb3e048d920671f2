"""`dagctl show` says how a run started and what it came from (a retry of a run is not a sub-DAG's run, and the
other way round), a loop's TRIES are its iterations, every cell keeps its values (reused and cached ones too), and
on a narrow terminal a cell's label keeps the end that tells it from the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagctl.cli.history_cmds import cell_values, trigger_line
from dagctl.store.runsummary import RunSummary


def run_id_of(cli) -> str:
    return json.loads(cli("show", "latest", "--json").out)["run_id"]


def trigger_of(cli, run_id: str) -> str:
    return next(line for line in cli("show", run_id).out.splitlines() if line.startswith("Trigger:"))


def test_a_sub_dags_run_and_a_retry_say_what_they_came_from(cli, tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(f"name: child\ntasks:\n  - {{id: w, run: 'test -e {tmp_path / 'ok'}'}}\n")
    (tmp_path / "parent.yaml").write_text("name: parent\ntasks:\n  - {id: sub, dag: child.yaml}\n")
    assert cli("run", str(tmp_path / "parent.yaml"), "-q").code == 1
    first = run_id_of(cli)
    child = json.loads(cli("show", first, "--json").out)["tasks"]["sub"]["child_run_id"]
    assert trigger_of(cli, first) == "Trigger:  manual"
    assert trigger_of(cli, child) == f"Trigger:  parent (sub-DAG run of {first}, task sub)"
    (tmp_path / "ok").touch()
    assert cli("retry", first, "-q").code == 0
    retry = run_id_of(cli)
    assert trigger_of(cli, retry) == f"Trigger:  retry of {first}"


def test_the_trigger_line_of_each_kind_of_run() -> None:
    def run(**fields: object) -> RunSummary:
        return RunSummary(**{"run_id": "r2", "dag_name": "d", "tenant_id": "t", "status": "success", **fields})  # type: ignore[arg-type]

    assert trigger_line(run(trigger="schedule", schedule_id="nightly")) == "schedule (schedule nightly)"
    assert trigger_line(run(trigger="retry", parent_run_id="r1")) == "retry of r1"
    assert trigger_line(run(trigger="parent", parent_run_id="r1", parent_task="sub")) == (
        "parent (sub-DAG run of r1, task sub)"
    )


MATRIX = """\
name: mx
tasks:
  - id: train
    matrix: {{k: [a, b, c]}}
    cache: true
    run: 'echo "cell ${{matrix.k}}"; if [ "${{matrix.k}}" = b ] && [ ! -e {ok} ]; then exit 4; fi'
"""


def cell_rows(cli, run_id: str) -> list[str]:
    return [line.strip() for line in cli("show", run_id).out.splitlines() if line.startswith("  train:")]


def test_reused_and_cached_cells_keep_their_values(cli, tmp_path: Path) -> None:
    (tmp_path / "mx.yaml").write_text(MATRIX.format(ok=tmp_path / "ok"))
    assert cli("run", str(tmp_path / "mx.yaml"), "-q").code == 1
    (tmp_path / "ok").touch()
    assert cli("retry", "latest", "-q").code == 0  # a and c reused, b run again
    rows = cell_rows(cli, run_id_of(cli))
    assert [r.split("  ")[0] for r in rows] == ["train:0 [k=a]", "train:1 [k=b]", "train:2 [k=c]"]
    assert cli("run", str(tmp_path / "mx.yaml"), "-q").code == 0  # every cell from the cache now
    rows = cell_rows(cli, run_id_of(cli))
    assert [r.split("  ")[0] for r in rows] == ["train:0 [k=a]", "train:1 [k=b]", "train:2 [k=c]"]
    assert all("from the cache" in r for r in rows)


def test_a_cells_values_from_its_matrix_tasks_value_lists() -> None:
    lists = {"lr": [0.1, 0.01], "bs": [16, 32, 64]}
    assert [cell_values(lists, i) for i in (0, 1, 3, 5)] == [
        {"lr": 0.1, "bs": 16},
        {"lr": 0.1, "bs": 32},
        {"lr": 0.01, "bs": 16},
        {"lr": 0.01, "bs": 64},
    ]
    assert cell_values(lists, 6) is None and cell_values({"x": "not a list"}, 0) is None


def test_a_loops_tries_are_its_iterations(cli, tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(
        "name: loop\ntasks:\n  - {id: fit, repeat: {until: 'outputs.fit.n >= 6', max_iterations: 9},"
        " run: 'echo n=$DAGCTL_ITERATION > $DAGCTL_OUTPUT'}\n  - {id: after, depends_on: fit, run: 'true'}\n"
    )
    assert cli("run", str(tmp_path / "loop.yaml"), "-q").code == 0
    out = cli("show", "latest").out.splitlines()
    header = next(line for line in out if line.startswith("TASK"))
    at = header.index("TRIES")
    rows = {line.split()[0]: line for line in out[out.index(header) + 1 :]}
    assert rows["fit"][at:].startswith("6 it.") and rows["after"][at:].startswith("1 ")


def test_on_a_narrow_terminal_cells_keep_the_end_that_tells_them_apart(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagctl.cli import render

    (tmp_path / "cells.yaml").write_text(
        "name: cells\ntasks:\n  - {id: cells, matrix: {k: [1, 2, 3, 4]}, run: 'echo ${matrix.k}'}\n"
    )
    assert cli("run", str(tmp_path / "cells.yaml"), "-q").code == 0
    run_id = run_id_of(cli)
    whole = cli("show", run_id).out  # a pipe: nothing cut
    assert "  cells:3 [k=4]  success" in whole
    monkeypatch.setattr(render, "terminal_columns", lambda: 40)
    out = cli("show", run_id).out.splitlines()
    labels = [line.split()[0] for line in out if line.startswith("  ")]
    assert len(labels) == 4 and len(set(labels)) == 4, out
    assert [label[-2:] for label in labels] == [":0", ":1", ":2", ":3"]
