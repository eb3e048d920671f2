"""Durations as users write them: ``30``, ``1.5``, ``"30s"``, ``"10m"``, ``"1h30m"``, ``"500ms"``, ``"2d"``.

Every duration dagctl reads (DAG files, schedule files, command-line flags) goes through
:func:`parse_duration`, so every one is finite, not negative and at most :data:`MAX_DURATION_S` (365 days):
anything longer is a typo, and would overflow date arithmetic (``timedelta``) far from where it was written.
"""

from __future__ import annotations

import math
import re

MAX_DURATION_S = 365 * 86400.0
"""The longest duration dagctl accepts anywhere: 365 days."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

DURATION_HELP = 'write seconds (30) or a duration like "30s", "10m", "1h30m", "500ms", "2d" (at most 365d)'


def _shown(value: object) -> str:
    """``value`` as the user wrote it: text quoted, YAML's ``true``, ``false`` and ``null`` (not Python's)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration(value: object) -> float:
    """Return seconds (0 to :data:`MAX_DURATION_S`) for a number or a duration string; raise ValueError with
    a fix otherwise (never OverflowError, whatever the size of the number)."""
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a duration — {DURATION_HELP}")
    seconds: float | None = None
    if isinstance(value, int):
        seconds = float(value) if abs(value) <= MAX_DURATION_S else (math.inf if value > 0 else -math.inf)
    elif isinstance(value, float):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and _WHOLE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds is None:
        raise ValueError(f"{_shown(value)} is not a duration — {DURATION_HELP}")
    if math.isnan(seconds):
        raise ValueError(f"{_shown(value)} is not a number — {DURATION_HELP}")
    if seconds < 0:
        raise ValueError(f"duration {_shown(value)} is negative — {DURATION_HELP}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {_shown(value)} is longer than 365 days — {DURATION_HELP}")
    return seconds


def format_duration(seconds: float | None) -> str:
    """Compact human form: 0.25s, 42s, 5m, 1h30m."""
    if seconds is None:
        return "none"
    if not math.isfinite(seconds):
        return "?"
    if seconds < 0:
        return "-" + format_duration(-seconds)
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


_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
               "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}  # fmt: skip
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(value: object) -> int:
    """Bytes for ``2GiB``, ``500MB``, ``1048576``; ValueError with a fix otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a size — write e.g. 2GiB or 500MB")
    if isinstance(value, int):
        number, unit = float(value), ""
    else:
        match = _SIZE.fullmatch(str(value))
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise ValueError(f"{_shown(value)} is not a size — write e.g. 2GiB, 500MB or 1048576 (bytes)")
        number, unit = float(match.group(1)), match.group(2).lower()
    size = number * _SIZE_UNITS[unit]
    if not math.isfinite(size) or size < 0 or size > 1024**6:
        raise ValueError(f"{_shown(value)} is not a reasonable size — write e.g. 2GiB")
    return int(size)
