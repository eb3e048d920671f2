"""A Python task in a thread sees its ``secrets:`` and ``env:`` through ``os.environ`` and ``os.getenv``, as a
shell task or ``isolation: process`` does: it saw ``None``. Only in its own thread: other threads, and the process
once the run is over, do not see them."""

from __future__ import annotations

import os
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
