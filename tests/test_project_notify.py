"""``notify:`` in a project's dagctl.yaml: messages about every DAG under it that has no ``notify:`` of its own,
received by a real local HTTP server from real ``dagctl run`` processes (the second run of a file reads its
cached plan, which must carry the project's setting and notice when dagctl.yaml changes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagctl.dag.workflows import load_project_config
from dagctl.errors import SpecError
from tests.conftest import ROOT
from tests.support import Hooks, wait_until

pytest.importorskip("apprise", reason="the notify extra (apprise) is not installed")

FAILING = "name: {name}\ntasks:\n  - {{id: a, run: 'exit 1'}}\n"


@pytest.fixture
def receiver() -> Iterator[Hooks]:
    found = Hooks()
    yield found
    found.release.set()
    found.server.shutdown()
    found.server.server_close()


def dagctl(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORCH_EVENTS_PATH", "STATE_STORE_PATH")}
    env.update(PYTHONPATH=str(ROOT / "src"), DAGCTL_LOGS_DIR=str(folder / "logs"), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "dagctl", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def project_file(folder: Path, notify: str) -> None:
    (folder / "dagctl.yaml").write_text(f"workflows: {{}}\nnotify: {notify}\n")


def test_the_projects_notify_applies_to_a_dag_without_one_cached_or_not(tmp_path, receiver):
    project_file(tmp_path, f'{{events: [failure], urls: ["{receiver.url("team")}"]}}')
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "etl.yaml").write_text(FAILING.format(name="etl"))
    for _ in range(2):  # the first run validates the file, the second reads the cached plan
        done = dagctl(tmp_path, "run", "dags/etl.yaml", "-q")
        assert done.returncode == 1, done.stderr
    wait_until(lambda: len(receiver.titles("team")) == 2, 15, "two failure messages")
    assert receiver.titles("team") == ["dagctl: etl failed"] * 2
    assert list((tmp_path / "logs" / "cache" / "plans").iterdir())  # the second run was a cached one


def test_a_dags_own_notify_wins(tmp_path, receiver):
    project_file(tmp_path, f'{{events: [failure, success], urls: ["{receiver.url("team")}"]}}')
    (tmp_path / "own.yaml").write_text(
        FAILING.format(name="own") + f'notify: {{events: [failure], urls: ["{receiver.url("own")}"]}}\n'
    )
    (tmp_path / "plain.yaml").write_text("name: plain\ntasks:\n  - {id: a, run: 'true'}\n")
    assert dagctl(tmp_path, "run", "own.yaml", "-q").returncode == 1
    assert dagctl(tmp_path, "run", "plain.yaml", "-q").returncode == 0
    wait_until(lambda: len(receiver.received) == 2, 15, "two messages")
    assert receiver.titles("own") == ["dagctl: own failed"]
    assert receiver.titles("team") == ["dagctl: plain succeeded"]  # the project's, for the DAG without its own


def test_an_edited_or_nearer_dagctl_yaml_is_read_again(tmp_path, receiver):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "etl.yaml").write_text(FAILING.format(name="etl"))
    project_file(tmp_path, f'{{urls: ["{receiver.url("first")}"]}}')
    assert dagctl(tmp_path, "run", "dags/etl.yaml", "-q").returncode == 1
    project_file(tmp_path, f'{{urls: ["{receiver.url("second")}"]}}')  # the cached plan must not be used
    assert dagctl(tmp_path, "run", "dags/etl.yaml", "-q").returncode == 1
    project_file(tmp_path / "dags", f'{{urls: ["{receiver.url("nearer")}"]}}')  # now the nearest one
    assert dagctl(tmp_path, "run", "dags/etl.yaml", "-q").returncode == 1
    wait_until(lambda: len(receiver.received) == 3, 15, "three messages")
    assert [p for p, _ in receiver.received] == ["/first", "/second", "/nearer"]


def test_a_dag_switches_the_projects_notify_off_with_events_none(tmp_path, receiver):
    """A DAG could not opt out of the team channel: notify: {} and {events: []} wanted urls, and
    {events: [], urls: [...]} sent a failure message all the same."""
    project_file(tmp_path, f'{{urls: ["{receiver.url("team")}"]}}')
    (tmp_path / "quiet.yaml").write_text(FAILING.format(name="quiet") + "notify: {events: []}\n")
    (tmp_path / "own.yaml").write_text(
        FAILING.format(name="own") + f'notify: {{events: [], urls: ["{receiver.url("own")}"]}}\n'
    )
    (tmp_path / "loud.yaml").write_text(FAILING.format(name="loud"))
    assert dagctl(tmp_path, "validate", "quiet.yaml", "own.yaml").returncode == 0
    for name in ("quiet", "own", "loud"):
        assert dagctl(tmp_path, "run", f"{name}.yaml", "-q").returncode == 1
    # each run waits for its messages before it ends: what was sent has arrived
    assert receiver.titles("team") == ["dagctl: loud failed"] and receiver.titles("own") == []


def test_a_projects_title_template_is_checked_and_used(tmp_path, receiver):
    project_file(tmp_path, f'{{urls: ["{receiver.url("team")}"], title: "[team] ${{dag.name}}: ${{run.status}}"}}')
    (tmp_path / "etl.yaml").write_text(FAILING.format(name="etl"))
    assert dagctl(tmp_path, "run", "etl.yaml", "-q").returncode == 1
    assert receiver.titles("team") == ["[team] etl: failed"]
    project_file(tmp_path, f'{{urls: ["{receiver.url("team")}"], title: "${{run.hots}}"}}')
    done = dagctl(tmp_path, "validate", "etl.yaml")
    assert done.returncode == 2
    assert "dagctl.yaml:2:" in done.stderr and "notify title: unknown field ${run.hots} — did you mean" in done.stderr


def test_a_sub_dags_run_leaves_the_message_to_its_parent(tmp_path, receiver):
    project_file(tmp_path, f'{{urls: ["{receiver.url("team")}"]}}')
    (tmp_path / "child.yaml").write_text(FAILING.format(name="child"))
    (tmp_path / "parent.yaml").write_text("name: parent\ntasks:\n  - {id: sub, dag: child.yaml}\n")
    assert dagctl(tmp_path, "run", "parent.yaml", "-q").returncode == 1
    wait_until(lambda: receiver.received, 15, "a message")
    assert receiver.titles("team") == ["dagctl: parent failed"]


def test_a_bad_notify_is_reported_at_its_place(tmp_path):
    project_file(tmp_path, "{events: [failure, sometimes], url: [x]}")
    (tmp_path / "etl.yaml").write_text(FAILING.format(name="etl"))
    done = dagctl(tmp_path, "run", "etl.yaml", "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "dagctl.yaml:2:" in done.stderr and "did you mean 'urls'?" in done.stderr
    assert not (tmp_path / "logs" / "runs").exists() or not list((tmp_path / "logs" / "runs").iterdir())
    checked = dagctl(tmp_path, "validate", "dagctl.yaml", "etl.yaml")
    assert checked.returncode == 2 and "notify events" in checked.stderr


def test_the_project_file_keeps_notify_as_written(tmp_path):
    path = tmp_path / "dagctl.yaml"
    path.write_text('notify: {urls: ["json://example.invalid/x"]}\n')
    assert load_project_config(path).notify == {"events": ["failure"], "urls": ["json://example.invalid/x"]}
    path.write_text("notify: [json://example.invalid/x]\n")
    with pytest.raises(SpecError, match="notify: must be a mapping"):
        load_project_config(path)


def test_the_project_file_takes_log_lines_as_a_dags_notify_does(tmp_path):
    """A project's notify: takes the same keys as a DAG's: log_lines (off by default) was refused as unknown."""
    path = tmp_path / "dagctl.yaml"
    path.write_text('notify: {urls: ["json://example.invalid/x"], log_lines: 10}\n')
    assert load_project_config(path).notify == {
        "events": ["failure"],
        "urls": ["json://example.invalid/x"],
        "log_lines": 10,
    }
    path.write_text('notify: {urls: ["json://example.invalid/x"], log_lines: 500}\n')
    with pytest.raises(SpecError, match="notify log_lines: 500 is not a number of lines from 0 to 50"):
        load_project_config(path)
