"""Which log file holds which attempt of a task or matrix cell, as a run's events tell. Pure.

Every attempt names its log in its events (``log_path``, read by its file name: the run's folder may have been
moved since); an attempt whose events name none (it failed before it started, a cache entry without one) gets the
name its log would have had (:func:`~dagctl.store.layout.iteration_log_name`: ``fit~3@2.log`` for a loop's
iteration 3, attempt 2). ``dagctl logs`` and the dashboard's log streams find logs this way.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any, NamedTuple

from .layout import iteration_log_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ATTEMPT_EVENTS = frozenset({"task_start", "task_ok", "task_fail", "task_retry", "task_cancel"})
"""The task events that are about one attempt (a skip and a matrix task's fan-out are about none)."""


class AttemptLog(NamedTuple):
    """One attempt of a task or matrix cell, and the name of its log file in the run's folder."""

    iteration: int | None
    """A loop's (``repeat:``) iteration; None for a task that is no loop."""
    attempt: int
    name: str

    @property
    def key(self) -> tuple[int | None, int]:
        return self.iteration, self.attempt


def number(value: object) -> int | None:
    """An attempt's or iteration's number as events hold it (an int, never a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unit_of(record: Mapping[str, Any]) -> str | None:
    """Which unit a task event is about: its matrix cell (``train:3``) when it has one, else its task."""
    cell = record.get("cell")
    unit = cell if isinstance(cell, str) and cell else record.get("task_id")
    return unit if isinstance(unit, str) and unit else None


def log_name(record: Mapping[str, Any], unit: str, iteration: int | None, attempt: int) -> str:
    """The file name of the log of ``unit``'s attempt an event of it is about."""
    log = record.get("log_path")
    return PurePath(log).name if isinstance(log, str) and log else iteration_log_name(unit, iteration, attempt)


def attempt_log(record: Mapping[str, Any], unit: str) -> AttemptLog | None:
    """The attempt an event of ``unit`` is about (None for one about no attempt: a skip, a fan-out)."""
    attempt = number(record.get("attempt"))
    if attempt is None or record.get("event") not in ATTEMPT_EVENTS:
        return None
    iteration = number(record.get("iteration"))
    return AttemptLog(iteration, attempt, log_name(record, unit, iteration, attempt))


def attempt_logs(events: Iterable[Mapping[str, Any]], unit: str) -> list[AttemptLog]:
    """Every attempt of ``unit`` (a task or a matrix cell) the run's events tell of, in the order they began; an
    event that names the attempt's log wins over one that does not."""
    found: dict[tuple[int | None, int], AttemptLog] = {}
    for record in events:
        if unit_of(record) != unit:
            continue
        ref = attempt_log(record, unit)
        if ref is not None and (ref.key not in found or record.get("log_path")):
            found[ref.key] = ref
    return list(found.values())
