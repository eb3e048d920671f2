"""Seconds as short text for screens and charts: ``0.4s``, ``12s``, ``3m05s``, ``1h02m``. Pure.

Shorter and steadier than :func:`dagctl.dag.durations.format_duration` (three significant digits): a time that
ticks on a live screen keeps its width, and a chart axis gets round labels.
"""

from __future__ import annotations


def short_duration(seconds: float | None) -> str:
    """``""`` for None; tenths under 10 s, whole seconds under a minute, then ``3m05s`` and ``1h02m``."""
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0.0
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def tick_label(seconds: float) -> str:
    """An axis label: ``0s``, ``250ms``, ``1.5s``, ``30s``, ``2m``, ``1m30s``, ``1h``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if rest >= 60 else f"{hours}h"


NICE_STEPS = (
    *(m * 10.0**e for e in (-3, -2, -1) for m in (1, 2, 2.5, 5)),
    *(1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    *(60.0 * m for m in (1, 2, 5, 10, 15, 20, 30)),
    *(3600.0 * h for h in (1, 2, 3, 6, 12, 24)),
)
"""Round steps for a time axis: 1, 2, 2.5, 5 under a second; then 1, 2, 5, 10, 15, 20, 30 s; minutes; hours."""


def nice_step(span: float, most: int) -> float:
    """The smallest step of :data:`NICE_STEPS` (then doubling days) that cuts ``span`` into at most ``most`` parts."""
    if span <= 0 or most < 1:
        return 1.0
    raw = span / most
    for step in NICE_STEPS:
        if step >= raw - 1e-12:
            return step
    step = NICE_STEPS[-1]
    while step < raw:
        step *= 2
    return step
