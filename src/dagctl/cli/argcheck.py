"""Checks of command-line values that typer cannot express: a choice among values known elsewhere, a
duration or a number of seconds. Each returns the value to use or raises :class:`~dagctl.errors.UsageError`
(exit 2) with one line naming the flag, the value and what it accepts.
"""

from __future__ import annotations


def run_status(value: str | None, flag: str = "--status") -> str | None:
    """``--status`` of ``dagctl runs``: one of the run statuses, or None for any."""
    from dagctl.store.runsummary import check_run_status

    return check_run_status(value, flag)


def seconds(value: float | str, flag: str, *, example: str | None = None) -> float:
    """A number of seconds or a duration (``30``, ``"2m"``): finite, not negative, at most 365 days. One hint:
    how durations are written, ending with ``e.g. FLAG EXAMPLE`` when an ``example`` is given."""
    from dagctl.dag.durations import parse_duration
    from dagctl.errors import UsageError

    try:
        return parse_duration(value)
    except ValueError as exc:
        what, _, hint = str(exc).partition(" — ")
        if example is not None:
            hint = f"{hint}; e.g. {flag} {example}" if hint else f"e.g. {flag} {example}"
        raise UsageError(f"{flag}: {what}", hint=hint or None) from None
