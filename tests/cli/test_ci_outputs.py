"""CI outputs of real ``dagctl run`` processes: JUnit XML and Prometheus textfiles read back with parsers,
GitHub Actions groups, annotations and step summary; ``show --junit``; the scheduler's ``metrics_textfile:``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.report import junit_schema

PIPELINE = """\
name: pipeline
params: {fail: "yes"}
tasks:
  - {id: extract, run: "echo extracting"}
  - id: train
    matrix: {lr: [1, 2]}
    run: "echo lr=${matrix.lr}"
  - id: prep
    dag: prep.yaml
  - id: load
    depends_on: [extract, train]
    run: |
      echo "loading rows"; echo "::endgroup::"; echo "::error::not from dagctl"
      echo "disk full" >&2
      test "${params.fail}" != yes || exit 4
  - {id: publish, run: "echo publish", depends_on: [load]}
"""
LOAD_LINE = 10

PREP = """\
name: prep
tasks:
  - {id: fetch, run: "echo fetched"}
  - {id: clean, run: "echo cleaned", depends_on: [fetch]}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "prep.yaml").write_text(PREP)
    return tmp_path


def dagctl(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DAGCTL_LOGS_DIR": str(cwd / "logs"),
        "NO_COLOR": "1",
        **(env or {}),
    }
    for name in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH"):
        full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def metrics(path: Path) -> dict[str, dict[tuple, float]]:
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        found[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return found


def sample(found: dict, family: str, **labels: str) -> float:
    (value,) = [v for (_n, labs), v in found[family].items() if dict(labs) == labels]
    return value


def cases_in(path: Path) -> dict[str, ET.Element]:
    text = path.read_text()
    assert junit_schema.problems(text) == []
    return {c.attrib["name"]: c for c in ET.fromstring(text).iter("testcase")}


def test_run_writes_a_junit_report_and_a_metrics_textfile(folder: Path) -> None:
    done = dagctl(folder, "run", "pipeline.yaml", "--junit", "out/junit.xml", "--metrics-textfile", "out/dagctl.prom")
    assert done.returncode == 1, done.stderr
    root = ET.fromstring((folder / "out" / "junit.xml").read_text())
    (suite,) = root.iter("testsuite")
    assert suite.get("name") == "pipeline" and suite.get("tests") == "7"
    assert (suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("1", "1", "0")
    cases = cases_in(folder / "out" / "junit.xml")
    assert list(cases) == ["train:0 [lr=1]", "train:1 [lr=2]", "extract", "prep/fetch", "prep/clean", "load", "publish"]
    assert all(float(c.attrib["time"]) >= 0 for c in cases.values())
    assert cases["extract"].get("classname") == "pipeline" and list(cases["extract"]) == []
    assert cases["prep/fetch"].get("classname") == "prep" and list(cases["prep/fetch"]) == []
    failure = cases["load"].find("failure")
    assert failure is not None and failure.attrib == {"message": "exit code 4", "type": "failed"}
    assert "exit code: 4" in (failure.text or "") and (failure.text or "").rstrip().endswith("disk full")
    assert "loading rows" in (failure.text or "")
    skipped = cases["publish"].find("skipped")
    assert skipped is not None and skipped.get("message") == "upstream 'load' failed"

    found = metrics(folder / "out" / "dagctl.prom")
    assert sample(found, "dagctl_last_run_success", dag="pipeline") == 0
    assert sample(found, "dagctl_last_run_status", dag="pipeline", status="failed") == 1
    assert sample(found, "dagctl_last_run_duration_seconds", dag="pipeline") > 0
    assert sample(found, "dagctl_last_run_tasks", dag="pipeline", status="success") == 3
    assert sample(found, "dagctl_last_run_task_status", dag="pipeline", task="load", status="failed") == 1
    assert sample(found, "dagctl_last_run_task_duration_seconds", dag="pipeline", task="train:1") >= 0
    assert "dagctl_last_success_timestamp_seconds" not in found
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["dagctl.prom", "junit.xml"]  # no temporary left


def test_the_textfile_keeps_the_last_success_through_a_failed_run(folder: Path) -> None:
    ok = dagctl(folder, "run", "pipeline.yaml", "-q", "-p", "fail=no", "--metrics-textfile", "dagctl.prom")
    assert ok.returncode == 0, ok.stderr
    first = metrics(folder / "dagctl.prom")
    success = sample(first, "dagctl_last_success_timestamp_seconds", dag="pipeline")
    assert success == sample(first, "dagctl_last_run_end_timestamp_seconds", dag="pipeline")
    failed = dagctl(folder, "run", "pipeline.yaml", "-q", "--metrics-textfile", "dagctl.prom")
    assert failed.returncode == 1
    second = metrics(folder / "dagctl.prom")
    assert sample(second, "dagctl_last_run_success", dag="pipeline") == 0
    assert sample(second, "dagctl_last_success_timestamp_seconds", dag="pipeline") == success
    assert sample(second, "dagctl_last_run_end_timestamp_seconds", dag="pipeline") > success


def test_show_writes_the_junit_report_of_an_earlier_run(folder: Path) -> None:
    assert dagctl(folder, "run", "pipeline.yaml", "-q", "--junit", "run.xml").returncode == 1
    shown = dagctl(folder, "show", "latest", "--junit", "show.xml")
    assert shown.returncode == 0, shown.stderr
    assert "pipeline" in shown.stdout  # it still shows the run
    assert cases_in(folder / "show.xml").keys() == cases_in(folder / "run.xml").keys()


def test_retry_and_resume_write_the_ci_outputs_of_the_run_they_make(folder: Path) -> None:
    assert dagctl(folder, "run", "pipeline.yaml", "-q").returncode == 1
    (folder / "pipeline.yaml").write_text(PIPELINE.replace("|| exit 4", "|| exit 0"))
    summary = folder / "summary.md"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    retried = dagctl(
        folder, "retry", "latest", "--use-current", "--junit", "retry.xml", "--metrics-textfile", "m.prom", env=github
    )
    assert retried.returncode == 0, retried.stderr
    cases = cases_in(folder / "retry.xml")
    assert cases["load"].find("failure") is None and cases["publish"].find("skipped") is None
    assert sample(metrics(folder / "m.prom"), "dagctl_last_run_success", dag="pipeline") == 1
    assert "pipeline" in summary.read_text()
    bad = dagctl(folder, "resume", "latest", "--junit", str(folder / "pipeline.yaml" / "x.xml"))
    assert bad.returncode == 3 and "--junit" in bad.stderr and "Traceback" not in bad.stderr  # as for run


def test_an_unwritable_report_path_stops_the_run_before_it_starts(folder: Path) -> None:
    (folder / "taken").mkdir()
    done = dagctl(folder, "run", "pipeline.yaml", "--junit", "taken")
    assert done.returncode == 3
    assert "cannot write taken (--junit): it is a directory" in done.stderr
    assert not (folder / "logs" / "runs").exists() or not list((folder / "logs" / "runs").iterdir())


def test_on_github_actions_logs_fold_failures_annotate_and_the_summary_is_written(folder: Path) -> None:
    summary = folder / "step_summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(folder)}
    done = dagctl(folder, "run", "pipeline.yaml", env=env)
    assert done.returncode == 1
    err = done.stderr.splitlines()
    # the failed task's log, folded under its line, where nothing the task wrote acts as a command
    start = next(i for i, line in enumerate(err) if line.startswith("::group::") and "FAILED load" in line)
    stop = err[start + 1]
    assert stop.startswith("::stop-commands::")
    token = stop.removeprefix("::stop-commands::")
    end = err.index(f"::{token}::", start)
    assert err[start + 2 : end] == ["loading rows", "::endgroup::", "::error::not from dagctl", "disk full"]
    assert err[end + 1] == "::endgroup::"
    assert any(line.startswith("::group::") and "ok     extract" in line for line in err)
    assert any(line.startswith("::group::") and "ok     train:1" in line for line in err)
    # a dag: task's group holds its child run's logs, each under a line naming the task, in the order they ran
    start = next(i for i, line in enumerate(err) if line.startswith("::group::") and "ok     prep" in line)
    end = err.index("::endgroup::", start)
    child = [line for line in err[start:end] if line.startswith("--- ")]
    assert [line.split(" of run ")[0] for line in child] == ["--- fetch (ok)", "--- clean (ok)"]
    assert err[err.index(child[0]) + 1] == "fetched" and err[err.index(child[1]) + 1] == "cleaned"
    # the annotation points at the task in the DAG file, relative to the workspace
    (annotation,) = [line for line in err if line.startswith("::error file=")]
    assert annotation.startswith(f"::error file=pipeline.yaml,line={LOAD_LINE},title=dagctl%3A task load failed::")
    assert "exit code 4 (after 1 attempt)%0A" in annotation and annotation.endswith("disk full")
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ pipeline: failed in ")
    assert "| ❌ | `load` | failed | 1 |" in text and "| ⏭️ | `publish` | skipped |" in text
    assert "| ✅ | `prep/fetch` | success | 1 |" in text


def test_the_scheduler_writes_its_metrics_textfile(cli, project: Path) -> None:
    (project / "configs" / "dags" / "note.yaml").write_text("name: note\ntasks:\n  - {id: a, run: 'true'}\n")
    (project / "configs" / "schedules" / "s.yaml").write_text(
        textwrap.dedent(
            """\
            - {id: every_minute, cron: "* * * * *", dag: ../dags/note.yaml}
            - {id: disabled, cron: "@daily", dag: ../dags/note.yaml, enabled: false}
            """
        )
    )
    (project / "dagctl.yaml").write_text("metrics_textfile: metrics/scheduler.prom\n")
    schedules = str(project / "configs" / "schedules")
    result = cli("schedule", "--dir", schedules, "--once", "--now", "2026-01-01T00:00:10Z")
    assert result.code == 0, result
    found = metrics(project / "metrics" / "scheduler.prom")
    assert sample(found, "dagctl_schedule_last_run_status", schedule="every_minute", status="success") == 1
    assert sample(found, "dagctl_schedule_last_run_duration_seconds", schedule="every_minute") >= 0
    assert sample(found, "dagctl_schedule_last_run_lag_seconds", schedule="every_minute") >= 0
    assert sample(found, "dagctl_schedule_enabled", schedule="disabled") == 0
    assert sample(found, "dagctl_schedule_runs", schedule="every_minute", outcome="success") == 1
    result = cli("schedule", "--dir", schedules, "--once", "--now", "2026-01-01T00:01:10Z")
    assert result.code == 0, result
    found = metrics(project / "metrics" / "scheduler.prom")
    assert sample(found, "dagctl_schedule_runs", schedule="every_minute", outcome="success") == 2


def test_a_bad_metrics_textfile_setting_is_named_at_its_line(cli, project: Path) -> None:
    (project / "dagctl.yaml").write_text("workflows: {}\nmetrics_textfile: [a, b]\n")
    result = cli("validate", str(project / "dagctl.yaml"))
    assert result.code == 2
    assert f"{project / 'dagctl.yaml'}:2:19: metrics_textfile: must be a file path, got a list" in result.err
