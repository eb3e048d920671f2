"""Text for screens and charts: seconds as short text (``0.4s``, ``12s``, ``3m05s``, ``1h02m``), and what a task
wrote without its terminal escape sequences. Pure.

Shorter and steadier than :func:`dagctl.dag.durations.format_duration` (three significant digits): a time that
ticks on a live screen keeps its width, and a chart axis gets round labels.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Mapping
    from typing import Any


def with_values(name: str, matrix: Mapping[str, Any] | None) -> str:
    """A matrix cell named with its values, ``train:1 [lr=0.01, bs=32]``; ``name`` alone without values."""
    if not matrix:
        return name
    return name + " [" + ", ".join(f"{k}={v}" for k, v in matrix.items()) + "]"


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


# --------------------------------------------------------------------------------------------- text

_ESCAPES: re.Pattern[str] | None = None
"""Terminal escape sequences: CSI (``ESC [ ... m``, ``ESC [2J``), OSC (``ESC ] 0;title BEL``), DCS/SOS/PM/APC
strings, two-character escapes (``ESC c``, ``ESC ( B``), their 8-bit forms (``\\x9b``, ``\\x9d``), and a lone ESC."""


def without_escapes(text: str) -> str:
    """``text`` without terminal escape sequences (a task's coloured output, an error that clears the screen).

    What is left may still hold control characters (tabs, ``\\r``, ``\\x01``): each reader replaces those as its
    medium needs (:func:`dagctl.cli.render.printable` for a terminal, :func:`xml_text` for SVG and HTML)."""
    if "\x1b" not in text and "\x9b" not in text and "\x9d" not in text:
        return text
    global _ESCAPES
    if _ESCAPES is None:  # compiled on first need: most text has no escape sequence
        import re

        _ESCAPES = re.compile(
            r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])?"
            r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c]*[\x07\x9c]?"
        )
    return _ESCAPES.sub("", text)


def xml_text(text: str) -> str:
    """``text`` as XML 1.0 may hold it: without escape sequences, and U+FFFD for each character XML forbids (C0
    controls but tab, newline and carriage return; lone surrogates; U+FFFE and U+FFFF). ``<`` and ``&`` stay: the
    writer escapes them."""
    text = without_escapes(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or _xml_allows(ch) else "\ufffd" for ch in text)


def _xml_allows(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20:
        return ch in "\t\n\r"
    return not (0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF))
