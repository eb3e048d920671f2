"""DAG params: defaults from the file, overridden by ``-p key=value`` and ``--params-file``. Pure.

Params are strict JSON data: they are written to the event log, run folders and ``--json`` output, so a
NaN or infinite number (``-p f=nan``, ``1e999``) is refused where it comes in, as is a string holding a NUL
character, which no command line or environment can carry (:func:`unfit_value`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

from dagctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p {item!r} is not key=value", hint="write -p name=value, e.g. -p rows=500")
        result[key.strip()] = value
    return result


def unfit_value(value: Any) -> tuple[str, str] | None:
    """Where and why ``value`` is not data dagctl can store and pass on, or None when it is fine.

    ``("[2].x", "NaN")`` for a NaN at ``value[2]["x"]``; the reasons are ``NaN``, ``infinite`` and
    ``a string with a NUL character``. Walks any depth without recursion, and each container once (a
    container inside itself is not followed again).
    """
    stack: list[tuple[str, Any]] = [("", value)]
    seen: set[int] = set()
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where, "NaN" if math.isnan(item) else "infinite"
        if isinstance(item, str):
            if "\x00" in item:
                return where, "a string with a NUL character"
            continue
        if isinstance(item, (Mapping, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, Mapping):
            for key, sub in reversed(list(item.items())):
                if isinstance(key, str) and "\x00" in key:
                    return where, "a key with a NUL character"
                stack.append((f"{where}.{key}", sub))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", sub) for i, sub in reversed(list(enumerate(item))))
    return None


def check_param(name: str, value: Any) -> None:
    """UsageError naming the param when ``value`` is NaN, infinite or holds a NUL character (:func:`unfit_value`)."""
    found = unfit_value(value)
    if found is not None:
        where, why = found
        raise UsageError(
            f"param '{name}{where}' is {why}, which dagctl cannot store as JSON or pass to a task",
            hint="give a finite number (NaN and infinity are not JSON), or text without NUL characters",
        )


def coerce(name: str, raw: Any, default: Any) -> Any:
    """Give a command-line string the type of the param's default (int, float, bool, list/dict as JSON)."""
    if not isinstance(raw, str) or isinstance(default, str) or default is None:
        return raw
    text = raw.strip()
    try:
        if isinstance(default, bool):
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (list, dict)):
            value = json.loads(text)
            if not isinstance(value, type(default)):
                raise ValueError
            return value
    except (ValueError, RecursionError):
        kind = {
            bool: "true or false",
            int: "a whole number",
            float: "a number",
            list: "a JSON list",
            dict: "a JSON object",
        }[type(default)]
        raise UsageError(
            f"param '{name}' must be {kind} (its default is {json.dumps(default)}), got {raw!r}",
            hint=f"pass e.g. -p {name}={json.dumps(default)}",
        ) from None
    return raw


def merge_params(defaults: Mapping[str, Any], *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults updated by each override in turn; a key the DAG does not declare, or a value that is not strict
    JSON data (:func:`check_param`), is an error."""
    merged = dict(defaults)
    for override in overrides:
        for key, value in override.items():
            if key not in defaults:
                import difflib  # only for this message

                close = difflib.get_close_matches(key, list(defaults), n=1)
                known = ", ".join(defaults) or "none"
                hint = f"did you mean '{close[0]}'?" if close else f"declare it under params: (known: {known})"
                raise UsageError(f"unknown param '{key}'", hint=hint)
            merged[key] = coerce(key, value, defaults[key])
            check_param(key, merged[key])
    return merged
