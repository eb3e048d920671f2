"""A large DAG on a disk that fills up: the lines its end needs do not all fit in the room set aside at its start,
so what fits is written, most important first (the outcomes of the tasks that ran, failures first), ``dag_done``
last, saying what was left out. The run reads as failed, never as abandoned, and a sink that cannot close keeps
no other from closing. A small tmpfs is filled for real (root only); the choice itself is tested without a disk
in tests/test_full_disk_triage.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.store.sinks import FanOut, MemorySink
from tests.support import small_tmpfs

from .helpers import dagctl, records

TASKS = 2000


@pytest.fixture
def tiny_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from small_tmpfs(tmp_path_factory.mktemp("tiny-disk"), "1m")


def test_a_large_run_on_a_full_disk_still_records_its_outcomes_and_its_end(project: Path, tiny_disk: Path) -> None:
    # 2000 tasks writing 300 bytes each fill 1 MiB after ~160: the ~1840 'not started' lines are ~600 KB, far more
    # than the 64 KiB set aside for the run's end
    lines = ["name: many", "tasks:"]
    for i in range(TASKS):
        lines += [f"  - id: t{i:04d}", "    run: head -c 300 /dev/zero | tr '\\0' x"]
    (project / "many.yaml").write_text("\n".join(lines) + "\n")
    logs = tiny_disk / "logs"
    proc = dagctl(project, "run", "many.yaml", "-j", "4", "-q", env={"DAGCTL_LOGS_DIR": str(logs)})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    [run_dir] = (logs / "runs").iterdir()
    own = records(run_dir / "events.jsonl")
    done = own[-1]
    assert done["event"] == "dag_done" and done["status"] == "failed", done  # the end is written, last
    assert done["error"].startswith("stopped: ") and "No space left on device" in done["error"]
    kinds = [r["event"] for r in own]
    # every task that ran has its outcome, failures included, as dag_done counts them
    assert kinds.count("task_ok") == done["tasks_succeeded"]
    assert kinds.count("task_fail") == done["tasks_failed"]
    assert done["tasks_succeeded"] + done["tasks_failed"] + done["tasks_cancelled"] == TASKS
    # the tasks never started whose lines did not fit are counted in dag_done, not silently lost
    written = sum(1 for r in own if r["event"] == "task_cancel" and r["reason"].startswith("not started"))
    missing = done["tasks_cancelled"] - written
    assert missing > 0
    assert done["error"].endswith(f"; {missing} tasks not started: their records did not fit on the full disk")
    assert not (run_dir / ".space-reserve").exists()
    # the global log ends the run too, and never holds a line the run's own file lacks (the outcomes in it)
    logged = records(logs / "orchestrator_events.jsonl")
    assert logged[-1]["event"] == "dag_done" and logged[-1]["status"] == "failed"
    assert {json.dumps(r) for r in logged[:-1]} <= {json.dumps(r) for r in own}
    assert [r for r in logged if r["event"] == "task_fail"] == [r for r in own if r["event"] == "task_fail"]
    # what reads the run sees it failed, not abandoned; its unrecorded tasks are listed as not started
    shown = dagctl(project, "show", run_dir.name, "--json", env={"DAGCTL_LOGS_DIR": str(logs)})
    out, err = shown.communicate(timeout=60)
    assert shown.returncode == 0, err
    data = json.loads(out)
    assert data["status"] == "failed"
    assert len(data["unstarted_tasks"]) == missing


def test_a_sink_that_cannot_close_does_not_keep_the_others_from_closing() -> None:
    class Full(MemorySink):
        def close(self) -> None:
            raise OSError(28, "No space left on device")

    class Watched(MemorySink):
        closed = False

        def close(self) -> None:
            self.closed = True

    after = Watched()
    with pytest.raises(OSError) as raised:  # the failure is still raised, once all were closed
        FanOut([Full(), after]).close()
    assert raised.value.errno == 28 and after.closed
