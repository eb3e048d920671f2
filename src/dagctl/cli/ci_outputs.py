"""The CI outputs of runs, at the edge: read what the store holds, call the pure builders, write the files.

- ``dagctl run --junit FILE`` / ``dagctl show RUN --junit FILE``: :func:`write_junit` (:mod:`dagctl.report.junit`).
- ``dagctl run --metrics-textfile PATH``: :func:`write_run_metrics` (:mod:`dagctl.report.metrics`).
- Under GitHub Actions (``GITHUB_ACTIONS=true``), after ``dagctl run``: ``::error`` annotations on stderr and the
  step summary appended to ``$GITHUB_STEP_SUMMARY`` (:mod:`dagctl.report.github`); the task logs folded during
  the run are :mod:`dagctl.cli.github_view`'s.
- The scheduler's ``metrics_textfile:`` (``dagctl.yaml``): :func:`scheduler_metrics_writer`.

Files are written whole to a temporary name in the same folder, then renamed over the target, so a reader
(node_exporter's textfile collector, a CI server) sees the old file or the new one, never half of one.
docs/ci.md is the user's side of all this.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dagctl.errors import DagctlError, StateError, cannot
from dagctl.report.cases import MAX_DEPTH, RunTree

from .render import echo_err

if TYPE_CHECKING:
    from dagctl.schedule.files import ScheduleSpec
    from dagctl.store.history import History
    from dagctl.store.runsummary import RunSummary
    from dagctl.store.state import StateStore

TAIL_LINES = 30
"""Lines of a failed task's log in the JUnit report and the step summary."""
PREVIOUS_MAX_BYTES = 4 * 1024 * 1024
"""An earlier metrics textfile longer than this is not read for the last success time."""

log = logging.getLogger("dagctl.ci")


# ------------------------------------------------------------------------------------------------- files


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    The temporary name starts with a dot and ends in ``.tmp``, so the textfile collector (``*.prom``) skips it.
    Raises :class:`~dagctl.errors.EnvironmentProblem` (exit 3) naming the path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise cannot("write", path, exc) from None


def check_output(path: Path, option: str) -> None:
    """Before a run: ``path`` can be written as a file (its folder is made if missing); exit 3 naming ``option``."""
    from dagctl.settings import check_file

    check_file(path, option)


# ------------------------------------------------------------------------------------------------ reading


def log_tail(path: str | None, run_dir: Path, lines: int = TAIL_LINES) -> tuple[str, ...]:
    """The last ``lines`` lines of a task's log; a log recorded with a path that moved is looked up by name in
    the run's folder."""
    from .view import log_tail as tail

    if not path:
        return ()
    found = tail(path, lines)
    if not found and not Path(path).exists():
        found = tail(str(run_dir / Path(path).name), lines)
    return tuple(found)


def collect(history: History, run_id: str, *, depth: int = 0) -> RunTree:
    """A run as the reports read it: its summary, the log tails of its failed tasks, its child runs."""
    summary = history.summary(run_id)
    run_dir = Path(summary.run_dir) if summary.run_dir else history.run_dir(run_id)
    if not run_dir.is_dir():
        run_dir = history.run_dir(run_id)
    tails = {
        uid: log_tail(t.log_path, run_dir)
        for uid, t in summary.tasks.items()
        if t.status == "failed" or (t.status == "cancelled" and t.attempts)
    }
    children: dict[str, RunTree] = {}
    if depth < MAX_DEPTH:
        for uid, t in summary.tasks.items():
            if t.child_run_id:
                try:
                    children[uid] = collect(history, t.child_run_id, depth=depth + 1)
                except StateError:  # pruned, or never started: the dag: task speaks for it
                    continue
    return RunTree(summary, tails, children)


# ------------------------------------------------------------------------------------------------ outputs


def write_junit(history: History, run_id: str, path: Path) -> None:
    """``--junit FILE``: the run as a JUnit XML report."""
    _junit_from(collect(history, run_id), path)


def write_run_metrics(summary: RunSummary, path: Path) -> None:
    """``--metrics-textfile PATH``: the run's metrics; the DAG's last success time carries over from the file's
    previous version when this run did not succeed."""
    from dagctl.report.metrics import last_success_in, run_metrics

    previous = None
    try:
        if path.stat().st_size <= PREVIOUS_MAX_BYTES:
            previous = last_success_in(path.read_text(encoding="utf-8", errors="replace"), summary.dag_name)
    except OSError:
        pass
    write_atomic(path, run_metrics(summary, last_success=previous))


def github_shown_paths(files: Sequence[str], workspace: str | None) -> dict[str, str]:
    """DAG file paths as GitHub links them: relative to the workspace (the checkout) when inside it."""
    shown: dict[str, str] = {}
    root = Path(workspace).resolve() if workspace else Path.cwd().resolve()
    for file in files:
        try:
            shown[file] = Path(file).resolve().relative_to(root).as_posix()
        except (ValueError, OSError, RuntimeError):
            shown[file] = file
    return shown


def github_after_run(tree: RunTree, env: Mapping[str, str]) -> None:
    """``::error`` annotations for failed tasks (stderr), and the step summary appended to ``$GITHUB_STEP_SUMMARY``."""
    from dagctl.report.cases import FAILED, cases
    from dagctl.report.github import error_annotations, step_summary, task_lines

    found = cases(tree)
    files = sorted({c.run.dag_file for c in found if c.outcome == FAILED and c.run.dag_file})
    lines: dict[str, dict[str, int]] = {}
    for file in files:
        try:
            lines[file] = task_lines(Path(file).read_text(encoding="utf-8", errors="replace"), file)
        except OSError:
            lines[file] = {}
    for command in error_annotations(found, lines, github_shown_paths(files, env.get("GITHUB_WORKSPACE"))):
        echo_err(command)
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        try:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(step_summary(tree))
        except OSError as exc:
            echo_err(f"dagctl: warning: cannot append to GITHUB_STEP_SUMMARY {summary_file}: {exc.strerror or exc}")


def after_run(
    history: History,
    run_id: str,
    *,
    junit: Path | None = None,
    metrics_textfile: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Every CI output asked for after ``dagctl run``; False if a file asked for could not be written (said on
    stderr: the run's outcome stands, the caller decides the exit code)."""
    env = os.environ if env is None else env
    github = env.get("GITHUB_ACTIONS") == "true"
    if junit is None and metrics_textfile is None and not github:
        return True
    ok = True
    try:
        tree = collect(history, run_id)
    except DagctlError as exc:
        echo_err(f"dagctl: error: cannot report run {run_id}: {exc}")
        return False
    outputs: list[tuple[Path | None, Callable[[Path], None]]] = [
        (junit, lambda path: _junit_from(tree, path)),
        (metrics_textfile, lambda path: write_run_metrics(tree.run, path)),
    ]
    for path, write in outputs:
        if path is None:
            continue
        try:
            write(path)
        except DagctlError as exc:
            echo_err(f"dagctl: error: {exc}")
            ok = False
    if github:
        github_after_run(tree, env)
    return ok


def _junit_from(tree: RunTree, path: Path) -> None:
    from dagctl.report.junit import junit_xml

    write_atomic(path, junit_xml(tree))


# --------------------------------------------------------------------------------------------- scheduler


def scheduler_metrics_writer(
    path: Path, store: StateStore, schedules: Callable[[], Sequence[ScheduleSpec]]
) -> Callable[[], None]:
    """What the scheduler calls after the runs it finishes (and once at start): its metrics, from the state store's
    fold, written to ``path``. A write that fails is logged and tried again next time; it never stops the scheduler."""
    from dagctl.report.metrics import ScheduleInfo, scheduler_metrics

    def write() -> None:
        infos = [ScheduleInfo(s.id, s.dag, s.cron, s.timezone, s.enabled) for s in schedules()]
        try:
            with store.reading() as fold:
                text = scheduler_metrics(fold.schedules, infos)
            write_atomic(path, text)
        except DagctlError as exc:
            log.warning("metrics_textfile: %s", exc)

    return write


def project_metrics_textfile(directory: Path) -> Path | None:
    """``metrics_textfile:`` of the ``dagctl.yaml`` found from the schedules folder upwards, if any."""
    from dagctl.dag.projectfile import find_project_config
    from dagctl.dag.workflows import load_project_config

    found = find_project_config(directory)
    return load_project_config(found).metrics_textfile if found is not None else None
