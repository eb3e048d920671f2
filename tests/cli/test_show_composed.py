"""`dagctl show` of composed runs: cells under their matrix task with their values, loop iterations, cache
hits, the child run of a sub-DAG task (and the way back from the child), approval gates waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_show_groups_cells_and_links_child_runs_both_ways(cli, tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text("name: child\ntasks:\n  - {id: w, run: 'true'}\n")
    (tmp_path / "parent.yaml").write_text(
        "name: parent\ntasks:\n"
        "  - {id: t, matrix: {x: [1, 2]}, run: 'echo ${matrix.x}'}\n"
        "  - {id: loop, repeat: {until: 'outputs.loop.n >= 2', max_iterations: 3},"
        " run: 'echo n=$DAGCTL_ITERATION > $DAGCTL_OUTPUT'}\n"
        "  - {id: sub, dag: child.yaml}\n"
        "  - {id: c, run: 'true', cache: true}\n"
    )
    assert cli("run", str(tmp_path / "parent.yaml"), "-q").code == 0
    assert cli("run", str(tmp_path / "parent.yaml"), "-q").code == 0  # c from the cache now
    parent = json.loads(cli("show", "latest", "--json").out)
    child_id = parent["tasks"]["sub"]["child_run_id"]
    out = cli("show", "latest").out.splitlines()
    rows = {line.split()[0]: line for line in out if line[:1] != " " and line.split()}
    cells = [line.strip() for line in out if line.startswith("  t:")]
    assert cells[0].startswith("t:0 [x=1]") and cells[1].startswith("t:1 [x=2]")
    assert out.index(next(line for line in out if line.startswith("t "))) < out.index("  " + cells[0])
    assert "until met at iteration 2" in rows["loop"]
    assert f"sub-DAG run {child_id}" in rows["sub"]
    assert "from the cache" in rows["c"]
    assert f"Sub-DAG runs: dagctl show {child_id}" in out
    child = cli("show", child_id).out
    assert f"Parent:   task sub of run {parent['run_id']}" in child
    listing = cli("runs").out
    assert f"sub of {parent['run_id'][-6:]}" in listing
    row = next(line for line in listing.splitlines() if line.startswith(parent["run_id"]))
    assert " 4/0/0 " in row  # tasks, as the run's summary counts them: the matrix task once, not once per cell


def test_show_says_how_to_decide_a_waiting_gate(project: Path) -> None:
    (project / "gate.yaml").write_text(
        "name: gate\ntasks:\n  - {id: go, approval: {message: 'Ship it?', approvers: [ana]}}\n"
        "  - {id: after, depends_on: go, run: 'true'}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DAGCTL_LOGS_DIR": str(project / "logs")}

    def dagctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dagctl", *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    run = subprocess.Popen([sys.executable, "-m", "dagctl", "run", "gate.yaml", "-q"], cwd=project, env=env)
    try:
        wait_until(lambda: "gate" in dagctl("runs", "--status", "waiting").stdout, timeout=30)
        shown = dagctl("show", "latest").stdout
        run_id = shown.split()[1]
        assert "waits for ana: Ship it?" in shown
        assert f"Waiting for approval: dagctl approve {run_id} go" in shown
        assert dagctl("approve", run_id, "go", "--as", "ana").returncode == 0
        assert run.wait(timeout=30) == 0
        assert "approved by ana" in dagctl("show", run_id).stdout
    finally:
        run.kill()
