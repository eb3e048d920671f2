"""Validate many files at once: every problem of every file, plus cross-file rules.

A file whose top level is a list of ``- id: ... cron: ...`` entries is a schedule file
(``configs/schedules/*.yaml``); a mapping is a DAG (or the project's ``dagctl.yaml``); any other list is neither,
and is reported as ``dagctl run`` reports it. Cross-file rules: DAG names are unique, schedule ids are unique, and
every schedule's DAG exists, loads, and takes the params the schedule passes. The project file that applies
to each DAG and schedule file checked (the nearest ``dagctl.yaml`` upwards, which runs and the scheduler
read) is checked too, and its problems reported once, whether it was named or not.

Warnings are valid things that are probably not meant: a schedule that fires less than once a year (29 February,
a fifth Friday of February). They do not make a file invalid.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from dagctl.dag.loader import expand_paths
from dagctl.dag.specread import dag_from_document
from dagctl.dag.yamlread import read_text
from dagctl.errors import Problem, SpecError
from dagctl.host import gc_paused
from dagctl.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .files import ScheduleSpec


class Validation(Record):
    """What ``dagctl validate`` found."""

    problems: list[Problem]
    """What makes a file invalid."""
    warnings: list[Problem]
    """What is valid but probably not meant."""
    checked: int
    """How many files were checked."""


def _unique(files: Iterable[Path]) -> list[Path]:
    """``files`` without repeats of the same file (``a.yaml ./a.yaml``, a folder and a file in it), in order."""
    seen: set[Path] = set()
    unique = []
    for path in files:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: reported when the file is read
            key = path.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _schedule_like(entries: list[object]) -> bool:
    """Does a top-level list read as a schedule file: empty, or with an entry that is a mapping with ``id:`` or
    ``cron:``? Another list (``- a``) is neither a schedule file nor a DAG, and is reported as ``dagctl run``
    reports it (:func:`~dagctl.dag.specread.dag_from_document`), not as schedules that are not mappings."""
    return not entries or any(isinstance(e, dict) and ("id" in e or "cron" in e) for e in entries)


def validate_paths(paths: Iterable[str | Path], *, now: datetime | None = None) -> Validation:
    """Every problem and warning of the files. Never raises for file contents. A file given twice (by the same or
    another spelling, or in a folder also given) is checked once. ``now`` (aware; default: the current time) is
    what schedules' next fires are counted from."""
    from dagctl.dag.checks import DEFAULT_CHECKS
    from dagctl.dag.workflows import PROJECT_CONFIG, find_project_config, load_project_config

    from .files import (
        check_schedule_document,
        dag_problems,
        duplicate_problems,
        is_schedule_document,
        parse_schedule_text,
        rare_schedules,
    )

    problems: list[Problem] = []
    files = _unique(expand_paths(paths))
    names: dict[str, tuple[str, int, int]] = {}
    schedules: list[ScheduleSpec] = []
    projects: set[Path] = set()  # project files checked, resolved: each is reported once

    def check_project(config: Path | None) -> None:
        if config is None:
            return
        try:
            key = config.resolve()
        except (OSError, RuntimeError):  # a symlink loop: load_project_config reports it
            key = config.absolute()
        if key in projects:
            return
        projects.add(key)
        try:
            load_project_config(config)
        except SpecError as exc:
            problems.extend(exc.problems)

    for path in files:
        if path.name == PROJECT_CONFIG:
            check_project(path)
            continue
        if path.is_file():  # a file that cannot be read is reported below, on its own
            check_project(find_project_config(path))
        try:
            with gc_paused():
                text = read_text(path)
                doc = parse_schedule_text(text, str(path))
                if is_schedule_document(doc) and _schedule_like(doc.data):
                    valid, found = check_schedule_document(doc)
                    schedules.extend(valid)
                    problems.extend(found)
                    continue
                spec = dag_from_document(doc, DEFAULT_CHECKS)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        line, col = doc.position(("name",))
        if spec.name in names:
            other = names[spec.name]
            problems.append(
                Problem(
                    str(path),
                    line,
                    col,
                    f"DAG name '{spec.name}' is already used by {other[0]}:{other[1]}:{other[2]}",
                    "DAG names must be unique; rename one of them",
                )
            )
        else:
            names[spec.name] = (str(path), line, col)
    problems.extend(duplicate_problems(schedules))
    problems.extend(dag_problems(schedules))
    for schedule in schedules:  # the DAG a schedule runs reads its own project file
        check_project(find_project_config(schedule.dag_path))
    if now is None:
        from dagctl.clock import SystemClock

        now = SystemClock().now()
    return Validation(problems=problems, warnings=rare_schedules(schedules, now), checked=len(files))
