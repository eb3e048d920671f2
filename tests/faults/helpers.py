"""What the fault tests share: a dagctl process started in a project folder, and its event records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def env_for(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGCTL_", "ORCH_", "STATE_STORE", "SCHED_"))}
    env.update({"DAGCTL_LOGS_DIR": str(project / "logs"), "PYTHONPATH": str(ROOT / "src")})
    env.update(extra)
    return env


def dagctl(project: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    """``dagctl ARGS`` as its own process in ``project`` (stdin closed, text pipes unless told otherwise)."""
    extra_env = popen.pop("env", {})
    assert isinstance(extra_env, dict)
    kwargs: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    kwargs.update(popen)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "dagctl", *args],
        cwd=project,
        env=env_for(project, **extra_env),
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def records(path: Path) -> list[dict[str, object]]:
    """Every line of a JSONL file, each of which must be whole JSON (no torn line anywhere)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", f"{path} ends in a torn line"
    return [json.loads(line) for line in lines[:-1]]
