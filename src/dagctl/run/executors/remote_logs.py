"""Attempt files away from the coordinator: a worker-local run folder, and the task log shipped back.

An :class:`~dagctl.run.attempts.Attempt` names coordinator paths (``log_path``, ``output_path``,
``run_dir`` and the ``DAGCTL_OUTPUT`` / ``DAGCTL_RUN_DIR`` variables). A worker on another machine cannot
write there, so :func:`localize` rewrites them into ``<worker dir>/runs/<run_id>/``. After the attempt the
worker reads the tail of its log (:func:`read_log_tail`, at most :data:`LOG_CAP_BYTES`) into the result
message, and the coordinator writes it to the original ``log_path`` (:func:`write_shipped_log`), so
``logs/runs/<run_id>/<task>.log`` looks the same whichever executor ran the task (a longer log loses its
beginning, and says so in its first line); the worker then deletes its copy. :func:`prune_worker_dir` removes
what is left in a worker's folder: empty run folders, and logs kept for a coordinator that died. No Celery, no
Redis: plain functions over paths, used by both sides.
"""

from __future__ import annotations

import contextlib
import os
from contextlib import suppress
from pathlib import Path

from dagctl.run.attempts import Attempt
from dagctl.store import layout

LOG_CAP_BYTES = 1024 * 1024
"""Most of a task log that travels back to the coordinator; a longer log keeps its last part."""


def local_run_dir(root: str | Path, run_id: str) -> Path:
    return layout.run_dir(Path(root) / "runs", run_id)


def localize(attempt: Attempt, root: str | Path) -> Attempt:
    """The same attempt with every coordinator path moved under ``root`` (folders created)."""
    run_dir = local_run_dir(root, attempt.run_id)
    layout.outputs_dir(run_dir).mkdir(parents=True, exist_ok=True)
    log_path = layout.log_path(run_dir, attempt.task_id, attempt.attempt)
    output_path = layout.shell_output_path(run_dir, attempt.task_id, attempt.attempt)
    env = dict(attempt.env)
    if "DAGCTL_OUTPUT" in env:
        env["DAGCTL_OUTPUT"] = output_path
    env["DAGCTL_RUN_DIR"] = str(run_dir)
    return attempt.replace(run_dir=str(run_dir), log_path=log_path, output_path=output_path, env=env)


def read_log_tail(path: str | Path, cap: int = LOG_CAP_BYTES) -> tuple[str | None, int]:
    """``(text, dropped)``: the last ``cap`` bytes of the log as text, and how many bytes came before them.

    A missing log is ``(None, 0)``. When bytes are dropped the text starts at the next whole line (if one
    starts within 4 KiB). Bytes that are not UTF-8 are replaced, never fatal: a log is diagnostics.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            dropped = max(0, size - cap)
            fh.seek(max(0, dropped - 1))
            before = fh.read(1) if dropped else b"\n"
            data = fh.read(cap)
    except (FileNotFoundError, IsADirectoryError):
        return None, 0
    if before != b"\n":  # the cut fell inside a line
        cut = data.find(b"\n", 0, 4096)
        if cut >= 0:
            dropped += cut + 1
            data = data[cut + 1 :]
    return data.decode("utf-8", "replace"), dropped


def write_shipped_log(path: str | Path, text: str | None, dropped: int = 0, *, worker: str | None = None) -> None:
    """Write a log that came back from a worker to its coordinator path (folders created, file replaced).

    ``text`` None means the worker had no log file (a Python task that logged nothing): none is written.
    """
    if not path or text is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    head = ""
    if dropped:
        where = f"worker {worker}" if worker else "the worker"
        head = (
            f"[dagctl: the first {dropped:,} bytes of this log were dropped: {where} sends back only the last "
            f"{LOG_CAP_BYTES // 1024 // 1024} MiB of a task's log]\n"
        )
    if not text and not head:
        target.touch()
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(head + text, encoding="utf-8", errors="replace")
    os.replace(tmp, target)


def remove_attempt_files(attempt: Attempt) -> None:
    """Delete a localized attempt's log and output file once they have been shipped."""
    for path in (attempt.log_path, attempt.output_path):
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)


PRUNE_EVERY_S = 3600.0
"""How often a worker prunes its folder (``DAGCTL_WORKER_DIR``): :func:`prune_worker_dir`."""
KEEP_FILES_S = 7 * 86400.0
"""How long a worker keeps a file in its folder: the log of an attempt whose coordinator died."""
IDLE_FOLDER_S = 3600.0
"""An empty run folder untouched for this long is removed (a newer one may be about to get an attempt's files)."""


def prune_worker_dir(root: Path, now: float) -> int:
    """Remove from ``<root>/runs`` the files older than :data:`KEEP_FILES_S` and the run folders left empty for
    :data:`IDLE_FOLDER_S`; how many were removed. Attempt files are deleted when their attempt ends, so what piles
    up is the empty folders of past runs, and the logs kept for a coordinator that died."""
    removed = 0
    runs = root / "runs"
    if not runs.is_dir():
        return 0
    for run_dir in runs.iterdir():
        if not run_dir.is_dir() or run_dir.is_symlink():
            continue
        with suppress(OSError):
            inner = [f for f in run_dir.iterdir() if f.is_dir() and not f.is_symlink()]  # outputs/, attempts/
            folders = [*inner, run_dir]  # the inner ones first: removing them may leave the run's folder empty
            idle = {f: now - f.stat().st_mtime >= IDLE_FOLDER_S for f in folders}  # before removals touch them
            for folder in folders:
                for entry in folder.iterdir():
                    if entry.is_file() and now - entry.stat().st_mtime >= KEEP_FILES_S:
                        entry.unlink()
                        removed += 1
            for folder in folders:
                if idle[folder] and not any(folder.iterdir()):
                    folder.rmdir()
                    removed += 1
    return removed
