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


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run the dagctl CLI in-process: cli("validate", "x.yaml") -> CliResult."""
    monkeypatch.setenv("ORCH_EVENTS_PATH", str(tmp_path / "logs" / "orchestrator_events.jsonl"))
    monkeypatch.setenv("STATE_STORE_PATH", str(tmp_path / "logs" / "orchestrator_state.jsonl"))
    monkeypatch.setenv("DAGCTL_LOGS_DIR", str(tmp_path / "logs"))

    def _run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run
