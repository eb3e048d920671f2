"""`dagctl show RUN --gantt` of real runs: an approval gate's wait is a wait for approval (terminal, SVG, HTML),
and every duration on the chart is the one `dagctl show` prints."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from dagctl.errors import DagctlError
from dagctl.store.history import History
from tests.support import wait_until

SVG = "{http://www.w3.org/2000/svg}"
GATE = """
    name: release
    tasks:
      - {id: build, run: "true"}
      - id: go_ahead
        depends_on: build
        approval: {message: "Deploy?", approvers: [ana]}
      - {id: deploy, depends_on: go_ahead, run: "true"}
"""


def durations_in_show(out: str) -> dict[str, str]:
    """Task -> DURATION of `dagctl show`'s table (columns found by the header)."""
    lines = out.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("TASK "))
    start, end = lines[header].index("DURATION"), lines[header].index("EXIT")
    return {line.split()[0]: line[start:end].strip() for line in lines[header + 1 :] if line.strip()}


def chart_lanes(out: str) -> dict[str, str]:
    return {line[2:].split()[0]: line for line in out.splitlines()[3:] if "│" in line}


def test_an_approval_gate_is_drawn_as_a_wait_for_approval_with_its_real_duration(proj, cli) -> None:
    proj.write("release.yaml", GATE)
    run = proj.dagctl("run", "release.yaml", "-q")
    history = History(proj.settings)

    def waiting() -> Any:
        try:
            return history.summary(history.resolve("latest")).status == "waiting"
        except DagctlError:  # not started yet
            return False

    try:
        wait_until(waiting, 30, "the gate to open")
        assert cli("approve", "latest", "go_ahead", "--as", "ana").code == 0
        assert run.wait(timeout=30) == 0
    finally:
        run.kill()
    run_id = history.resolve("latest")
    show = cli("show", run_id)
    took = durations_in_show(show.out)
    chart = cli("show", run_id, "--gantt", "--width", "100")
    assert chart.code == 0, chart
    lanes = chart_lanes(chart.out)
    assert "‖" in lanes["go_ahead"] and "░" not in lanes["go_ahead"]
    assert lanes["go_ahead"].endswith(f"│ {took['go_ahead']}") and took["go_ahead"] not in ("0s", "<1ms")
    # (the legend may also list "queued": on a busy machine another task can wait for a slot long enough to show)
    assert "‖ wait for approval" in chart.out.splitlines()[-1]
    svg = ET.fromstring(cli("show", run_id, "--gantt", "--format", "svg").out)
    lane = next(g for g in svg.iter(f"{SVG}g") if g.get("data-task") == "go_ahead")
    assert [r.get("class") for r in lane.iter(f"{SVG}rect") if "wait" in r.get("class", "")] == ["wait approval"]
    assert [t.text for t in lane.iter(f"{SVG}text")][-1] == took["go_ahead"]
    html = cli("show", run_id, "--gantt", "--format", "html").out
    assert f"<td>for approval {took['go_ahead']}</td>" in html


def test_a_short_run_reads_in_milliseconds_as_show_has_it(cli, tmp_path) -> None:
    dag = tmp_path / "quick.yaml"
    dag.write_text("name: quick\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: [a]}\n")
    assert cli("run", str(dag), "-q").code == 0
    show = cli("show", "latest").out
    took = durations_in_show(show)
    total = re.search(r"took (\S+)", show)
    assert total is not None
    chart = cli("show", "latest", "--gantt", "--width", "80").out
    assert chart.splitlines()[0].endswith(f": success in {total[1]}")
    lanes = chart_lanes(chart)
    assert {task: line.rsplit("│ ", 1)[1] for task, line in lanes.items()} == took
    assert "0.0s" not in chart
