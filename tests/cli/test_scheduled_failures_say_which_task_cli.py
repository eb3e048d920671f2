"""A scheduled run that fails says which task failed and why, in the scheduler's log and the state log: it said only
`finished f@…: run … failed`."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from dagctl.schedule.launchers import failed_tasks


def test_the_log_and_the_state_log_name_the_failed_task_and_its_exit_code(cli, project: Path) -> None:
    (project / "configs" / "dags" / "f7.yaml").write_text(
        "name: f7\ntasks:\n  - {id: a, run: 'exit 7'}\n  - {id: b, run: 'true', depends_on: a}\n"
    )
    folder = project / "configs" / "schedules"
    (folder / "s.yaml").write_text('- {id: f, cron: "* * * * *", dag: ../dags/f7.yaml}\n')
    result = cli("schedule", "--dir", str(folder), "--once", "--now", "2026-01-01T00:00:10Z")
    assert result.code == 1
    (line,) = [line for line in result.err.splitlines() if "finished f@2026-01-01T00:00:00Z" in line]
    assert line.endswith(" failed: task a failed: exit code 7"), line
    state = [json.loads(x) for x in (project / "logs" / "orchestrator_state.jsonl").read_text().splitlines()]
    (end,) = [r for r in state if r["event"] == "run_finished"]
    assert end["error"] == "task a failed: exit code 7"


def test_several_failed_tasks_are_named_up_to_three() -> None:
    def task(id: str, status: str, error: str | None = None) -> SimpleNamespace:
        return SimpleNamespace(id=id, status=status, error=error)

    def result(*tasks: SimpleNamespace) -> SimpleNamespace:
        return SimpleNamespace(tasks={t.id: t for t in tasks})

    assert failed_tasks(result(task("a", "success"), task("b", "skipped"))) is None
    two = result(task("a", "failed", "exit code 7"), task("c", "failed", "timed out after 5s"))
    assert failed_tasks(two) == "2 tasks failed: a (exit code 7), c (timed out after 5s)"
    five = result(*(task(f"t{i}", "failed", f"exit code {i}") for i in range(5)))
    assert failed_tasks(five) == "5 tasks failed: t0 (exit code 0), t1 (exit code 1), t2 (exit code 2) and 2 more"
