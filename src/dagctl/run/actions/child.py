"""The process side of ``isolation: process``: ``python -m dagctl.run.actions.child <attempt.json>``.

:func:`dagctl.run.actions.python.run_python_isolated` writes ``{"version", "attempt", "result_path"}`` to a JSON
file and starts this module through ``run_shell`` (own process group, stdout/stderr in the task log). This
process runs the attempt with :func:`~dagctl.run.actions.python.run_python_attempt`, exactly as a thread would,
and writes ``{"version", "status", "error", "outputs"}`` to ``result_path`` (atomically). Its exit code is 0
for success, 1 for a failed task, 2 when the attempt file is unreadable, 143 when stopped by SIGTERM.

SIGTERM (a timeout or cancel in the parent) sets the attempt's cancel token and raises :class:`Terminated`
in the main thread, like Ctrl+C raises KeyboardInterrupt, so the function's ``with`` and ``finally`` blocks
run within the grace period; the parent then SIGKILLs whatever is left of the process group. Re-running an
attempt by hand is ``python -m dagctl.run.actions.child <run_dir>/attempts/<task>@<n>.json``.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from dagctl.clock import SystemClock
from dagctl.run.attempts import Attempt, CancelToken

from .python import RESULT_VERSION, CallableCache, run_python_attempt, write_json_atomic

EXIT_BAD_REQUEST = 2


class Terminated(BaseException):
    """Raised in the task's code when the parent sends SIGTERM. A BaseException, so ``except Exception``
    in the task does not swallow it."""


def read_request(path: str | Path) -> tuple[Attempt, Path]:
    """The attempt and the result path from the file written by the parent."""
    data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != RESULT_VERSION:
        raise ValueError(f"expected a version {RESULT_VERSION} attempt file")
    return Attempt.from_dict(data["attempt"]), Path(data["result_path"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dagctl.run.actions.child ATTEMPT_JSON", file=sys.stderr)
        return EXIT_BAD_REQUEST
    try:
        attempt, result_path = read_request(args[0])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"dagctl: cannot read attempt file {args[0]}: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST

    cancel = CancelToken()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        cancel.cancel()
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        result = run_python_attempt(attempt, cancel, clock=SystemClock(), cache=CallableCache())
    except Terminated:
        print("dagctl: stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    write_json_atomic(
        result_path,
        {"version": RESULT_VERSION, "status": result.status, "error": result.error, "outputs": result.outputs},
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
