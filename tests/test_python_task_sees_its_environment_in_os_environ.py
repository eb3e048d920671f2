"""A Python task in a thread sees its ``secrets:`` and ``env:`` through ``os.environ`` and ``os.getenv``, as a
shell task or ``isolation: process`` does: it saw ``None``. Only in its own thread: other threads, and the process
once the run is over, do not see them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dagctl.run.actions.taskenv import TaskEnviron, task_environ
from dagctl.run.api import run_dag
from dagctl.settings import Settings

SECRET = "s3cr3t-value-123"


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "probe.py").write_text(
        textwrap.dedent("""
        import os
        import threading

        def probe():
            other = []
            t = threading.Thread(target=lambda: other.append(os.environ.get("API_TOKEN")))
            t.start()
            t.join()
            return {
                "environ": os.environ.get("API_TOKEN") == os.environ["EXPECTED"],
                "getenv": os.getenv("API_TOKEN") == os.environ["EXPECTED"],
                "in": "API_TOKEN" in os.environ,
                "copy": os.environ.copy().get("API_TOKEN") == os.environ["EXPECTED"],
                "mode": os.environ.get("MODE"),
                "other_thread": other[0] == os.environ["EXPECTED"],
            }
        """)
    )
    (tmp_path / "dag.yaml").write_text(
        textwrap.dedent("""
        name: env_probe
        env: {MODE: fast}
        secrets:
          API_TOKEN: {from_env: MY_API_TOKEN}
        tasks:
          - {id: thread, python: probe:probe, env: {EXPECTED: s3cr3t-value-123}}
          - {id: process, python: probe:probe, env: {EXPECTED: s3cr3t-value-123}, isolation: process}
        """)
    )
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_a_thread_task_reads_its_secret_and_env_from_os_environ_as_a_process_task_does(project, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    monkeypatch.delenv("API_TOKEN", raising=False)
    settings = Settings.from_env({"DAGCTL_LOGS_DIR": str(project / "logs")})
    result = run_dag(project / "dag.yaml", settings=settings)
    assert result.status == "success", result.summary()
    expected = {"environ": True, "getenv": True, "in": True, "copy": True, "mode": "fast"}
    assert result.tasks["thread"].outputs == {**expected, "other_thread": False}
    assert result.tasks["process"].outputs == {**expected, "other_thread": True}  # a process of its own
    assert type(os.environ) is os._Environ and "API_TOKEN" not in os.environ


def test_the_view_is_per_thread_and_writes_reach_the_process(monkeypatch):
    monkeypatch.delenv("DAGCTL_VIEW_TEST", raising=False)
    seen: dict[str, object] = {}
    inside = threading.Event()
    done = threading.Event()

    def task() -> None:
        with task_environ({"DAGCTL_VIEW_TEST": "mine"}):
            seen["task"] = os.environ.get("DAGCTL_VIEW_TEST")
            inside.set()
            done.wait(5)
            os.environ["DAGCTL_VIEW_WRITE"] = "written"

    thread = threading.Thread(target=task)
    thread.start()
    inside.wait(5)
    assert isinstance(os.environ, TaskEnviron)
    seen["other"] = os.environ.get("DAGCTL_VIEW_TEST")
    done.set()
    thread.join(5)
    try:
        assert seen == {"task": "mine", "other": None}
        assert type(os.environ) is os._Environ and os.environ.get("DAGCTL_VIEW_WRITE") == "written"
    finally:
        os.environ.pop("DAGCTL_VIEW_WRITE", None)


def test_a_task_writing_its_own_secret_never_puts_it_in_the_process_environment(monkeypatch):
    """`os.environ[k] = os.environ[k].strip()` in a task put its secret in the process: later shell tasks and runs
    inherited it, unmasked."""
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.setenv("DAGCTL_SHARED", "process")
    seen: dict[str, object] = {}

    def task() -> None:
        with task_environ({"API_TOKEN": " s3cret-value ", "DAGCTL_SHARED": "task"}):
            os.environ["API_TOKEN"] = os.environ["API_TOKEN"].strip()
            os.environ.update(API_TOKEN=os.environ["API_TOKEN"] + "!")
            seen["written"] = os.environ.get("API_TOKEN")
            seen["copy"] = os.environ.copy().get("API_TOKEN")
            seen["child"] = subprocess.run(
                ["sh", "-c", "echo ${API_TOKEN:-unset}"], capture_output=True, text=True, check=True
            ).stdout.strip()  # started without env=: the process's environment, as documented
            del os.environ["DAGCTL_SHARED"]
            seen["deleted"] = ("DAGCTL_SHARED" in os.environ, os.environ.get("DAGCTL_SHARED"))
            seen["deleted_in_copy"] = "DAGCTL_SHARED" in os.environ.copy()

    thread = threading.Thread(target=task)
    thread.start()
    thread.join(10)
    assert seen == {
        "written": "s3cret-value!",
        "copy": "s3cret-value!",
        "child": "unset",
        "deleted": (False, None),
        "deleted_in_copy": False,
    }
    assert "API_TOKEN" not in os.environ and os.getenv("API_TOKEN") is None
    assert os.environ["DAGCTL_SHARED"] == "process"  # the task's delete hid its own value, not the process's
    later = subprocess.run(["sh", "-c", "echo ${API_TOKEN:-unset}"], capture_output=True, text=True, check=True)
    assert later.stdout.strip() == "unset"
