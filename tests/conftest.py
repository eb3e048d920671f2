from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from dagctl.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = ROOT / "configs" / "dags"


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a (dedented) file under tmp_path and return its path."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[:500]!r}, err={self.err[:500]!r})"


def logs_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every log and state path dagctl reads from the environment at ``folder/logs``; return it.

    These are the places dagctl uses when only ``DAGCTL_LOGS_DIR`` is set, so an in-process command and a
    child process started with ``cwd=folder`` and ``DAGCTL_LOGS_DIR=folder/logs`` read and write the same files.
    """
    logs = folder / "logs"
    monkeypatch.setenv("DAGCTL_LOGS_DIR", str(logs))
    monkeypatch.setenv("ORCH_EVENTS_PATH", str(logs / "orchestrator_events.jsonl"))
    monkeypatch.setenv("STATE_STORE_PATH", str(logs / "orchestrator_state.jsonl"))
    return logs


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh dagctl project in tmp_path, and the test's working directory.

    It has empty ``configs/dags/`` and ``configs/schedules/`` (the repository's layout; tests add the files
    they need), and its logs, event log and state store under ``logs/`` (see :func:`logs_under`), the same
    places the ``cli`` fixture uses.
    """
    (tmp_path / "configs" / "dags").mkdir(parents=True)
    (tmp_path / "configs" / "schedules").mkdir()
    logs_under(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run the dagctl CLI in-process: cli("validate", "x.yaml") -> CliResult. Logs go under tmp_path/logs."""
    logs_under(tmp_path, monkeypatch)

    def _run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


@pytest.fixture(autouse=True)
def _not_on_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see dagctl's plain output even when the suite itself runs in GitHub Actions (docs/ci.md): dagctl
    changes its output and writes the step summary when ``GITHUB_ACTIONS=true``. Tests of that set it themselves."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def proj(project: Path):
    """Write DAG files in the shared project and run them: proj.run(name, text=None, **run_dag kwargs) in this
    process, proj.dagctl(*args) as a process of its own."""
    import os
    import subprocess
    import sys
    from typing import Any

    from dagctl.run.api import run_dag
    from dagctl.settings import Settings
    from dagctl.store.sinks import MemorySink

    class Proj:
        folder = project
        settings = Settings.from_env()

        def write(self, name: str, text: str) -> Path:
            path = project / name
            path.write_text(textwrap.dedent(text).lstrip())
            return path

        def run(self, name: str, text: str | None = None, **kwargs: Any) -> tuple[Any, MemorySink]:
            path = self.write(name, text) if text is not None else project / name
            sink = MemorySink()
            return run_dag(path, sinks=[sink], settings=self.settings, **kwargs), sink

        def dagctl(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            return subprocess.Popen(
                [sys.executable, "-m", "dagctl", *args],
                cwd=project,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
                **popen,
            )

    return Proj()
