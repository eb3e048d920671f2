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


def merge_params(
    defaults: Mapping[str, Any], *overrides: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Defaults updated by each override in turn; a key the DAG does not declare, or a value that is not strict
    JSON data (:func:`check_param`), is an error. ``types`` are the typed declarations (:func:`split_params`):
    values are converted and checked against them, and a required param without a value is an error."""
    merged = dict(defaults)
    for override in overrides:
        for key, value in override.items():
            merged[key] = param_value(key, value, defaults, types)
    missing = _missing_required(merged, types)
    if missing:
        raise missing[0][1]
    return merged


def param_value(
    key: str, value: Any, defaults: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]] | None = None
) -> Any:
    """The value an override ``key=value`` gives the param (converted to its declared type, or to its default's
    type); a UsageError when the DAG does not declare ``key`` or the value does not fit the declaration."""
    if key not in defaults:
        import difflib  # only for this message

        close = difflib.get_close_matches(key, list(defaults), n=1)
        known = ", ".join(defaults) or "none"
        hint = f"did you mean '{close[0]}'?" if close else f"declare it under params: (known: {known})"
        raise UsageError(f"unknown param '{key}'", hint=hint)
    spec = (types or {}).get(key)
    converted = typed_value(key, value, spec) if spec is not None else coerce(key, value, defaults[key])
    check_param(key, converted)
    return converted


def param_problems(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]] | None = None
) -> list[tuple[str, UsageError]]:
    """Every problem :func:`merge_params` would stop at the first of, as ``(param name, error)``: each override
    that is unknown or does not fit its declaration, then each required param left without a value. For
    checking params before any run (``dagctl validate``, the scheduler's schedule files)."""
    merged = dict(defaults)
    problems: list[tuple[str, UsageError]] = []
    for key, value in overrides.items():
        try:
            merged[key] = param_value(key, value, defaults, types)
        except UsageError as exc:
            problems.append((key, exc))
    reported = {key for key, _ in problems}
    problems.extend((key, error) for key, error in _missing_required(merged, types) if key not in reported)
    return problems


def _missing_required(
    merged: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]] | None
) -> list[tuple[str, UsageError]]:
    """``(name, error)`` of each required param that has no value in ``merged``."""
    missing = []
    for key, spec in (types or {}).items():
        if merged.get(key) is None and spec.get("required"):
            example = {"date": "2026-12-06", "datetime": "2026-12-06T03:00:00Z", "int": "1", "float": "0.5"}
            value = example.get(str(spec.get("type")), (spec.get("enum") or ["VALUE"])[0])
            missing.append((key, UsageError(f"param '{key}' is required", hint=f"pass it, e.g. -p {key}={value}")))
    return missing


TYPED_KEYS = frozenset({"type", "default", "min", "max", "enum", "required", "description"})
TYPES = ("str", "int", "float", "bool", "date", "datetime", "list", "dict")
_KIND_WORDS = {"int": "a whole number", "float": "a number", "date": "a date (YYYY-MM-DD)",
               "datetime": "a date and time (ISO 8601)", "list": "a JSON list", "dict": "a JSON object",
               "bool": "true or false", "str": "text"}  # fmt: skip


def is_declaration(value: Any) -> bool:
    """Is this params: entry a typed declaration (``{type: int, default: 200, min: 1}``) rather than a default?"""
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= TYPED_KEYS
        and bool(set(value) & {"type", "enum", "required"})
    )


def split_params(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(defaults, types)``: every param's default (None when a declaration has none) and the declarations."""
    defaults: dict[str, Any] = {}
    types: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if is_declaration(value):
            types[name] = {k: v for k, v in value.items() if k != "description"}
            defaults[name] = value.get("default")
        else:
            defaults[name] = value
    return defaults, types


def declaration_problem(name: str, spec: Mapping[str, Any]) -> str | None:
    """What is wrong with a typed declaration, or None."""
    kind = spec.get("type", "str" if "enum" in spec else None)
    if kind is not None and kind not in TYPES:
        return f"param '{name}': type {kind!r} is not one of {', '.join(TYPES)}"
    if "enum" in spec and (not isinstance(spec["enum"], list) or not spec["enum"]):
        return f"param '{name}': enum must be a non-empty list"
    for bound in ("min", "max"):
        if bound in spec and (isinstance(spec[bound], bool) or not isinstance(spec[bound], (int, float))):
            return f"param '{name}': {bound} must be a number"
    if spec.get("default") is not None:
        try:
            typed_value(name, spec["default"], spec)
        except UsageError as exc:
            return f"the default of {exc.message}"
    return None


def typed_value(name: str, raw: Any, spec: Mapping[str, Any]) -> Any:
    """``raw`` (a -p string, or a value from a file) converted to the declared type and checked."""
    import datetime as dt

    kind = str(spec.get("type", "str"))

    def bad(why: str) -> UsageError:
        return UsageError(f"param '{name}' {why}, got {raw!r}", hint=f"pass e.g. -p {name}={_example(spec)}")

    value = raw
    try:
        if kind == "int":
            value = int(raw.strip()) if isinstance(raw, str) else raw
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("must be a whole number")
        elif kind == "float":
            value = float(raw.strip()) if isinstance(raw, str) else raw
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad("must be a finite number")
            value = float(value)
        elif kind == "bool":
            text = str(raw).strip().lower()
            if isinstance(raw, bool):
                value = raw
            elif text in _TRUE or text in _FALSE:
                value = text in _TRUE
            else:
                raise bad("must be true or false")
        elif kind == "date":
            value = dt.date.fromisoformat(str(raw).strip()).isoformat()
        elif kind == "datetime":
            text = str(raw).strip()
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
            value = parsed.isoformat()
        elif kind in ("list", "dict"):
            value = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(value, list if kind == "list" else dict):
                raise bad(f"must be a JSON {'list' if kind == 'list' else 'object'}")
        elif not isinstance(raw, str):
            value = str(raw)
    except (ValueError, RecursionError):
        raise bad(f"must be {_KIND_WORDS.get(kind, kind)}") from None
    if "enum" in spec and value not in spec["enum"]:
        choices = ", ".join(map(str, spec["enum"]))
        raise UsageError(
            f"param '{name}' must be one of {choices}, got {raw!r}", hint=f"pass e.g. -p {name}={spec['enum'][0]}"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in spec and value < spec["min"]:
            raise UsageError(
                f"param '{name}' must be at least {spec['min']}, got {raw!r}",
                hint=f"pass -p {name}={spec['min']} or more",
            )
        if "max" in spec and value > spec["max"]:
            raise UsageError(
                f"param '{name}' must be at most {spec['max']}, got {raw!r}",
                hint=f"pass -p {name}={spec['max']} or less",
            )
    return value


def _example(spec: Mapping[str, Any]) -> str:
    if spec.get("enum"):
        return str(spec["enum"][0])
    return {"int": "1", "float": "0.5", "bool": "true", "date": "2026-12-06", "datetime": "2026-12-06T03:00:00Z",
            "list": "[1,2]", "dict": '{"a":1}'}.get(str(spec.get("type", "str")), "text")  # fmt: skip
