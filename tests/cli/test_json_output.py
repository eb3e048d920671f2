"""--json on every command that prints a result (one JSON document on stdout, parsed here; errors still one
line on stderr with their exit code), and -q that stays quiet on success but always says why a run failed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.test_history_cli import pid_in, stop
from tests.cli.test_run_cli import dagctl, wait_for

FAILING = """
    name: half
    tasks:
      - {id: good, run: 'echo all good'}
      - {id: bad, run: 'test -e fixed || { echo "no fixed file" >&2; exit 3; }'}
      - {id: after, depends_on: bad, run: 'echo after'}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def as_json(result) -> object:
    assert result.err == "" or result.code != 0, result
    return json.loads(result.out)


def test_validate_json_lists_every_problem_with_its_position(project, cli):
    write(project / "configs" / "dags" / "ok.yaml", "name: ok\ntasks:\n  - {id: a, run: 'true'}\n")
    ok = cli("validate", "configs/dags", "--json")
    assert ok.code == 0 and as_json(ok) == {"checked": 1, "valid": True, "problems": [], "warnings": []}
    write(project / "configs" / "dags" / "bad.yaml", "name: bad\ntasks:\n  - {id: a, rn: 'true'}\n")
    bad = cli("validate", "configs/dags", "--json")
    assert bad.code == 2 and bad.err == ""
    doc = json.loads(bad.out)
    assert doc["checked"] == 2 and doc["valid"] is False
    (problem,) = doc["problems"]
    assert problem["file"].endswith("bad.yaml") and problem["line"] == 3 and "'rn'" in problem["message"]
    assert problem["hint"] == "did you mean 'run'?"
    nothing = cli("validate", "no-such-folder/", "--json")  # still checks something, or says so in one line
    assert nothing.code == 2


def test_graph_json_has_levels_and_edges(project, cli):
    write(project / "d.yaml", "name: d\ntasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true', depends_on: [a]}\n")
    doc = as_json(cli("graph", "d.yaml", "--json"))
    assert doc["dag"] == "d" and doc["levels"] == [["a"], ["b"]] and doc["edges"] == [["a", "b"]]
    assert [t["id"] for t in doc["tasks"]] == ["a", "b"] and doc["tasks"][0]["downstream"] == ["b"]
    mixed = cli("graph", "d.yaml", "--json", "--format", "dot")
    assert mixed.code == 2 and mixed.err.count("\n") == 1


def test_logs_json_carries_each_tasks_log(project, cli):
    write(project / "f.yaml", FAILING)
    assert cli("run", "f.yaml", "-q").code == 1
    doc = as_json(cli("logs", "latest", "--json"))
    by_task = {t["task"]: t for t in doc["tasks"]}
    assert doc["status"] == "failed" and set(by_task) == {"good", "bad", "after"}
    assert by_task["after"]["status"] == "skipped" and by_task["after"]["text"] is None  # it never ran: no log
    assert by_task["good"]["text"] == "all good\n" and by_task["good"]["status"] == "success"
    assert "no fixed file" in by_task["bad"]["text"] and Path(by_task["bad"]["log"]).is_file()
    one = as_json(cli("logs", "latest", "bad", "--json"))
    assert [t["task"] for t in one["tasks"]] == ["bad"] and one["tasks"][0]["attempt"] == 1
    follow = cli("logs", "latest", "--json", "--follow")
    assert follow.code == 2 and follow.out == "" and follow.err.count("\n") == 1


def test_retry_json_and_quiet(project, cli):
    write(project / "f.yaml", FAILING)
    assert cli("run", "f.yaml", "-q").code == 1
    again = cli("retry", "latest", "-q")
    assert again.code == 1 and again.out == ""
    lines = again.err.splitlines()
    assert lines[0].startswith("dagctl: task bad failed: exit code 3 (log: ") and lines[0].endswith("/bad.log)")
    assert lines[-1].startswith("dagctl: run ") and lines[-1].endswith(" of half failed") and len(lines) == 2
    (project / "fixed").touch()
    fixed = cli("retry", "latest", "--json")
    assert fixed.code == 0 and fixed.err == ""
    doc = json.loads(fixed.out)
    assert doc["status"] == "success" and doc["tasks"]["after"]["status"] == "success"
    assert cli("retry", "latest", "-q").code == 2  # nothing left to retry: one line, exit 2


def test_cancel_and_pause_json(project, cli):
    pidfile = project / "pid"
    write(
        project / "slow.yaml",
        f"""
        name: slow
        tasks:
          - {{id: work, run: 'echo $$ > {pidfile}; sleep 30'}}
          - {{id: next, depends_on: work, run: 'true'}}
        """,
    )
    run = dagctl("run", "slow.yaml", "-q", cwd=project, env={"DAGCTL_GRACE": "1"})
    try:
        wait_for(lambda: pid_in(pidfile))
        cancelled = cli("cancel", "latest", "--json")
        assert cancelled.code == 0 and cancelled.err == ""
        doc = json.loads(cancelled.out)
        assert doc["requested"] is True and doc["status"] == "cancelled" and doc["stopped"] is True
        out, err = run.communicate(timeout=30)
        assert out == "" and " of slow cancelled: cancelled by dagctl cancel (" in err.splitlines()[-1]
    finally:
        stop(run)
    pidfile.unlink()
    run = dagctl("run", "slow.yaml", "-q", cwd=project)
    try:
        wait_for(lambda: pid_in(pidfile))
        paused = cli("pause", "latest", "--wait", "0", "--json")
        assert paused.code == 0 and paused.err == ""
        doc = json.loads(paused.out)
        assert doc["requested"] is True and doc["status"] in ("running", "paused")
        assert doc["paused"] is (doc["status"] == "paused")
    finally:
        stop(run)


def test_a_quiet_run_prints_nothing_on_success_and_why_on_failure(project):
    """A real `dagctl run -q` process (the typer-free path): stdout stays empty; a failure is named on stderr,
    one line per failed task with its log, then the run."""
    write(project / "ok.yaml", "name: ok\ntasks:\n  - {id: a, run: 'echo fine'}\n")
    ok = dagctl("run", "ok.yaml", "-q", cwd=project)
    assert ok.communicate(timeout=60) == ("", "") and ok.returncode == 0
    write(project / "f.yaml", FAILING)
    failed = dagctl("run", "f.yaml", "-q", cwd=project)
    out, err = failed.communicate(timeout=60)
    assert failed.returncode == 1 and out == ""
    task_line, run_line = err.splitlines()
    log = task_line.split("(log: ", 1)[1].rstrip(")")
    assert (
        task_line.startswith("dagctl: task bad failed: exit code 3")
        and "no fixed file" in Path(project, log).read_text()
    )
    assert run_line.startswith("dagctl: run ") and run_line.endswith(" of half failed")
    as_json = dagctl("run", "f.yaml", "--json", cwd=project)
    out, err = as_json.communicate(timeout=60)
    assert as_json.returncode == 1 and json.loads(out)["tasks"]["bad"]["exit_code"] == 3
    assert err.splitlines()[0].startswith("dagctl: task bad failed")


def test_resume_quiet_says_why_it_failed(project, cli):
    write(
        project / "p.yaml",
        """
        name: pausable
        options: {parallelism: 1}
        tasks:
          - {id: a, run: 'touch a.started; sleep 1'}
          - {id: b, depends_on: a, run: 'echo broken >&2; exit 4'}
        """,
    )
    run = dagctl("run", "p.yaml", "-q", cwd=project)
    try:
        wait_for(lambda: (project / "a.started").exists())
        assert cli("pause", "latest", "--wait", "0").code == 0
        assert run.wait(timeout=30) == 0
    finally:
        stop(run)
    resumed = cli("resume", "latest", "-q")
    assert resumed.code == 1 and resumed.out == ""
    assert resumed.err.startswith("dagctl: task b failed: exit code 4 (log: ") and " of pausable failed" in resumed.err


SCHEDULE = """
- id: hourly
  cron: "0 * * * *"
  dag: configs/dags/tick.yaml
"""


def test_backfill_json_tells_each_slot(project, cli):
    write(project / "configs" / "dags" / "tick.yaml", "name: tick\ntasks:\n  - {id: a, run: 'true'}\n")
    write(project / "configs" / "schedules" / "s.yaml", SCHEDULE)
    window = ("--start", "2026-03-01T00:00:00Z", "--end", "2026-03-01T02:00:00Z")
    dry = as_json(cli("backfill", "hourly", *window, "--dry-run", "--json"))
    assert dry["dry_run"] is True and [s["action"] for s in dry["slots"]] == ["would_run"] * 3
    assert dry["counts"] == {"ran": 0, "skipped": 0, "would_run": 3, "failed": 0}
    ran = cli("backfill", "hourly", *window, "--json")
    assert ran.code == 0 and ran.err == ""
    doc = json.loads(ran.out)
    assert [s["action"] for s in doc["slots"]] == ["ran"] * 3 and all(s["status"] == "success" for s in doc["slots"])
    assert doc["slots"][0]["logical_date"].startswith("2026-03-01T00:00") and doc["slots"][0]["run_id"]
    again = as_json(cli("backfill", "hourly", *window, "--json"))
    assert [s["action"] for s in again["slots"]] == ["skipped"] * 3
    assert [s["run_id"] for s in again["slots"]] == [s["run_id"] for s in doc["slots"]]
