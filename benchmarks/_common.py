"""Shared helpers for the benchmark scripts: timing whole commands and reporting medians."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dagctl_cmd() -> list[str]:
    """The dagctl program on PATH (else ``python -m dagctl``), its modules byte-compiled first."""
    compile_bytecode()
    exe = shutil.which("dagctl")
    return [exe] if exe else [sys.executable, "-m", "dagctl"]


def compile_bytecode() -> None:
    """Byte-compile dagctl as an installed copy is: with PYTHONDONTWRITEBYTECODE set (common in containers),
    an editable checkout would otherwise compile every changed module again on every start."""
    import compileall

    try:
        import dagctl
    except ImportError:  # measuring a dagctl installed elsewhere
        return
    compileall.compile_dir(str(Path(dagctl.__file__).parent), quiet=1)


def time_command(
    argv: list[str],
    *,
    runs: int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> list[float]:
    """Wall-clock seconds of ``runs`` executions of ``argv`` (output discarded)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        samples.append(time.perf_counter() - start)
        if proc.returncode not in ok_codes:
            raise SystemExit(
                f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()[-2000:]}"
            )
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def report(rows: list[tuple[str, float, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:9.1f} ms  {note}")
