"""A disk that fills up mid-run: the run starts nothing new, tears no JSONL line, never leaves its own event
file behind the global log, records its end in the room it set aside, says so, and exits 3. A small tmpfs is
filled for real (root only)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import small_tmpfs

from .helpers import dagctl, records

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from small_tmpfs(tmp_path_factory.mktemp("small-disk"), "2m")


def test_a_disk_filled_by_a_task_stops_the_run_cleanly(project: Path, small_disk: Path) -> None:
    # after the disk fills, the event files still have room in their last page for a few lines: a chain of
    # 60 tasks writes far more than that, so the run meets the full disk part-way along the chain
    chain = "".join(
        f"  - {{id: t{i}, depends_on: {'fill' if i == 0 else f't{i - 1}'}, run: 'echo {i} >> \"{project}/ran\"'}}\n"
        for i in range(60)
    )
    (project / "fill.yaml").write_text(
        "name: fill\noptions: {parallelism: 1}\ntasks:\n"
        "  - {id: before, run: 'echo before'}\n"
        "  - {id: fill, depends_on: before, run: 'head -c 10000000 /dev/zero > \"$DAGCTL_RUN_DIR/filler\"; true'}\n"
        + chain
    )
    logs = small_disk / "logs"
    proc = dagctl(project, "run", "fill.yaml", env={"DAGCTL_LOGS_DIR": str(logs)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "No space left on device" in err
    ran = (project / "ran").read_text().split() if (project / "ran").exists() else []
    assert len(ran) < 60  # nothing new started once events could not be written
    global_lines = records(logs / "orchestrator_events.jsonl")  # (records() fails on a torn line)
    [run_dir] = (logs / "runs").iterdir()
    own_lines = records(run_dir / "events.jsonl")
    assert own_lines, "the run's own event file is empty"
    assert global_lines == own_lines[: len(global_lines)]  # the global log never runs ahead of the run's file
    # what was recorded is the run's beginning, in order (under load the disk may fill before 'before' is flushed)
    assert [r["task_id"] for r in own_lines if r["event"] == "task_ok"][:1] in ([], ["before"])
    assert own_lines[0]["event"] == "dag_start"
    # its end too: the room set aside at its start took the lines the full disk refused (not 'abandoned' later)
    done = own_lines[-1]
    assert done["event"] == "dag_done" and done["status"] == "failed" and done["error"].startswith("stopped: ")
    assert global_lines == own_lines and not (run_dir / ".space-reserve").exists()
    cancelled = {r["task_id"] for r in own_lines if r["event"] == "task_cancel"}
    assert "t59" in cancelled  # the tasks it did not start are recorded as such
    # once there is room again, the run is listed with what was recorded
    (run_dir / "filler").unlink()
    shown = dagctl(project, "show", run_dir.name, "--json", env={"DAGCTL_LOGS_DIR": str(logs)})
    out, err = shown.communicate(timeout=30)
    assert shown.returncode == 0, err
    assert json.loads(out)["status"] == "failed"


def test_a_task_that_fails_on_a_full_disk_says_so(project: Path, small_disk: Path) -> None:
    (project / "fail.yaml").write_text(
        "name: failfull\ntasks:\n  - {id: fill, run: 'head -c 10000000 /dev/zero > \"$DAGCTL_RUN_DIR/filler\"'}\n"
    )
    logs = small_disk / "logs"
    proc = dagctl(project, "run", "fail.yaml", "-q", env={"DAGCTL_LOGS_DIR": str(logs)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (1, 3), err
    [run_dir] = (logs / "runs").iterdir()
    (run_dir / "filler").unlink()
    recorded = records(run_dir / "events.jsonl")
    fails = [r for r in recorded if r["event"] == "task_fail"]
    assert fails and "no space left on the disk of" in str(fails[0]["error"])  # in the room set aside for it
    assert recorded[-1]["event"] == "dag_done"
