"""Durations as users write them: ``30``, ``1.5``, ``"30s"``, ``"10m"``, ``"1h30m"``, ``"500ms"``, ``"2d"``."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

DURATION_HELP = 'write seconds (30) or a duration like "30s", "10m", "1h30m", "500ms", "2d"'


def parse_duration(value: object) -> float:
    """Return seconds (>= 0) for a number or a duration string; raise ValueError with a fix otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration — {DURATION_HELP}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration {value} is negative — {DURATION_HELP}")
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if text and _WHOLE.fullmatch(text):
            return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    raise ValueError(f"{value!r} is not a duration — {DURATION_HELP}")


def format_duration(seconds: float | None) -> str:
    """Compact human form: 0.25s, 42s, 5m, 1h30m."""
    if seconds is None:
        return "none"
    if seconds < 1:
        return "0s" if seconds == 0 else ("<1ms" if seconds < 0.001 else f"{seconds * 1000:.0f}ms")
    if seconds < 60:
        return f"{seconds:.3g}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"
