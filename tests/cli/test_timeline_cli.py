"""``dagctl show RUN --gantt`` (terminal, SVG, HTML) and ``dagctl runs --trend`` on real runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dagctl.run.api import run_dag
from dagctl.settings import Settings
from dagctl.store.history import History

SVG = "{http://www.w3.org/2000/svg}"

DAG = """\
name: timeline_demo
options: {parallelism: 2}
tasks:
  - {id: extract, run: "sleep 0.2"}
  - {id: flaky, run: "test -f MARKER || { touch MARKER; exit 3; }", retries: 1, retry_delay: 0.1s}
  - {id: transform, run: "sleep 0.1", depends_on: [extract]}
  - {id: load, run: "true", depends_on: [transform, flaky]}
"""


@pytest.fixture
def runs(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two runs of a DAG whose ``flaky`` task needs a second attempt in the first run."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    dag = tmp_path / "timeline_demo.yaml"
    dag.write_text(DAG.replace("MARKER", str(tmp_path / "marker")))
    for _ in range(2):
        assert run_dag(dag).status == "success"
    return dag


def attempts_of(run_id: str) -> int:
    history = History(Settings.from_env())
    return sum(1 for e in history.events_of(run_id) if e.get("event") == "task_start")


def test_gantt_on_the_terminal(cli, runs: Path):
    first = History(Settings.from_env()).run_ids()[-1]
    result = cli("show", first, "--gantt", "--width", "80")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith(f"timeline_demo · run {first}: success in ")
    assert lines[1].startswith("4 tasks, 5 attempts · critical path: ")
    assert lines[1].endswith("→ load")
    assert "0s" in lines[2]
    by_task = {line.split()[1] if line.startswith("◆") else line.split()[0]: line for line in lines[3:7]}
    assert set(by_task) == {"extract", "flaky", "transform", "load"}
    assert "▒" in by_task["flaky"] and "█" in by_task["flaky"]  # a failed attempt, then the one that passed
    assert "┄" in by_task["flaky"]  # and the wait between them
    assert by_task["load"].startswith("◆ ")  # the last task is on the critical path
    assert "failed, retried" in lines[7] and "critical path" in lines[7]
    assert all(len(line) <= 79 for line in lines)


def test_gantt_as_svg_with_one_bar_per_attempt(cli, runs: Path):
    history = History(Settings.from_env())
    for run_id in history.run_ids():
        result = cli("show", run_id, "--gantt", "--format", "svg")
        assert result.code == 0, result
        root = ET.fromstring(result.out)
        bars = [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]
        assert len(bars) == attempts_of(run_id)
    assert attempts_of(history.run_ids()[-1]) == 5 and attempts_of(history.run_ids()[0]) == 4


def test_gantt_as_an_html_page(cli, runs: Path):
    result = cli("show", "latest", "--gantt", "--format", "html", "--width", "700")
    assert result.code == 0, result
    root = ET.fromstring(result.out)
    svg = root.find("{http://www.w3.org/1999/xhtml}body/" + f"{SVG}svg")
    assert svg is not None and svg.get("width") == "700"


def test_without_the_dag_snapshot_the_critical_path_is_guessed(cli, runs: Path):
    history = History(Settings.from_env())
    (history.run_dir(history.run_ids()[0]) / "dag.yaml").unlink()
    result = cli("show", "latest", "--gantt", "--width", "100")
    assert result.code == 0, result
    assert "(guessed from times)" in result.out.splitlines()[1]


def test_gantt_refuses_other_formats_and_json(cli, runs: Path):
    result = cli("show", "latest", "--gantt", "--format", "png")
    assert result.code == 2 and "--format 'png' is not a timeline format" in result.err
    result = cli("show", "latest", "--gantt", "--json")
    assert result.code == 2 and "--json and --gantt" in result.err


def test_trend_of_one_dag(cli, runs: Path):
    result = cli("runs", "--dag", "timeline_demo", "--trend")
    assert result.code == 0, result
    lines = result.out.rstrip("\n").splitlines()
    assert lines[0].startswith("timeline_demo: 2 runs, oldest → newest  ")
    assert "median " in lines[0] and "fastest " in lines[0] and "slowest " in lines[0]
    spark = lines[0].split("  ")[1]
    assert len(spark) == 2 and set(spark) <= set("▁▂▃▄▅▆▇█")
    assert lines[1].split() == ["RUN", "STARTED", "STATUS", "DURATION", "VS", "MEDIAN", "SLOWEST", "TASK"]
    assert len(lines) == 4 and all(" success " in line for line in lines[2:])
    assert all("extract" in line for line in lines[2:])  # the slowest task of each run


def test_trend_of_every_dag_and_as_json(cli, runs: Path):
    result = cli("runs", "--trend")
    assert result.code == 0, result
    assert result.out.splitlines()[2].split()[:2] == ["timeline_demo", "2"]
    data = json.loads(cli("runs", "--trend", "--json").out)
    assert [d["dag"] for d in data] == ["timeline_demo"]
    assert len(data[0]["runs"]) == 2 and data[0]["runs"][0]["slowest_task"] == "extract"
    assert cli("runs", "--dag", "nothing", "--trend").err.strip() == "no finished runs found of DAG nothing"


def test_gantt_lines_put_matrix_cells_under_their_task():
    from dagctl.cli.render import TermStyle, gantt_lines
    from dagctl.report.timeline import build_timeline
    from tests.report.events import ev

    events = [
        ev("dag_start", 0),
        ev("task_start", 0, "train", cells=2),
        ev("task_start", 0, "train", attempt=1, cell="train:0"),
        ev("task_start", 0, "train", attempt=1, cell="train:1"),
        ev("task_ok", 2, "train", attempt=1, cell="train:0", duration_s=2.0),
        ev("task_ok", 4, "train", attempt=1, cell="train:1", duration_s=4.0),
        ev("task_ok", 4, "train", duration_s=4.0),
        ev("dag_done", 4, status="success", duration_s=4.0),
    ]
    lines = gantt_lines(build_timeline(events), 60, TermStyle(color=False, unicode=True))
    assert lines[3].startswith("◆ train     │═") and lines[3].endswith("│ 4s")  # as `dagctl show` says it
    assert lines[4].startswith("    train:0 │█") and lines[5].startswith("    train:1 │█")
    assert "═ matrix cells" in lines[-1]
    ascii_lines = gantt_lines(build_timeline(events), 60, TermStyle(color=False, unicode=False))
    assert all(line.isascii() for line in ascii_lines) and ascii_lines[3].startswith("* train     |=")
