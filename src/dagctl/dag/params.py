"""DAG params: defaults from the file, overridden by ``-p key=value`` and ``--params-file``. Pure."""

from __future__ import annotations

import json
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
    except ValueError:
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
    """Defaults updated by each override in turn; a key the DAG does not declare is an error."""
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
    return merged
