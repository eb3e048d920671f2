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


_DEFAULT_KINDS = {bool: "true or false", int: "a whole number", float: "a number", list: "a JSON list",
                  dict: "a JSON object", str: "text"}  # fmt: skip


def coerce(name: str, raw: Any, default: Any) -> Any:
    """Give a value the type of the param's default. A command-line string is converted (int, float, bool,
    list/dict as JSON); a value that is data already (from a params file, a schedule, a parent DAG, a library
    caller) must have that type: a whole number fits a number (and becomes one), text and numbers fit text."""
    if default is None:
        return raw
    if not isinstance(raw, str):
        return _fitting(name, raw, default)
    if isinstance(default, str):
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
        raise UsageError(
            f"param '{name}' must be {_DEFAULT_KINDS[type(default)]} (its default is {json.dumps(default)}), "
            f"got {raw!r}",
            hint=f"pass e.g. -p {name}={json.dumps(default)}",
        ) from None
    return raw


def _fitting(name: str, value: Any, default: Any) -> Any:
    """``value`` (not text) when it has the type of ``default``, as a float when that is a float; else a
    UsageError."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, bool):
        fits = isinstance(value, bool)
    elif isinstance(default, int):
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        fits, value = number, float(value) if number else value
    elif isinstance(default, (list, dict, str)):
        fits = isinstance(value, type(default)) or (isinstance(default, str) and number)
    else:
        return value
    if fits:
        return value
    kind = _DEFAULT_KINDS[type(default)]
    hint = _text_hint(name, value) if isinstance(default, str) else f"give {kind}, e.g. {name}: {json.dumps(default)}"
    raise UsageError(
        f"param '{name}' must be {kind} (its default is {json.dumps(default)}), got {shown_value(value)}", hint=hint
    )


def _text_hint(name: str, value: Any) -> str:
    """How to give text where ``value`` (not text) was given: a scalar YAML read as true, 5 or null is quoted."""
    if value is None or isinstance(value, (bool, int, float)):
        return f'quote it if it is text: {name}: "{shown_value(value)}"'
    return f'give text, e.g. {name}: "..."'


def shown_value(value: Any) -> str:
    """``value`` as YAML and JSON write it (``true``, ``null``, ``[1, 2]``; text quoted), at most 40 characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


_TYPE_ALIASES = {"integer": "int", "string": "str", "text": "str", "boolean": "bool", "number": "float",
                 "double": "float", "array": "list", "object": "dict", "mapping": "dict", "map": "dict",
                 "timestamp": "datetime", "time": "datetime"}  # fmt: skip
"""Type names of other languages (JSON Schema, Python's spelled out) -> the param type meant."""


def declaration_problem(name: str, spec: Mapping[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """What is wrong with a typed declaration (``what — how to fix``), with the key of the declaration whose value
    it is about (``("type",)``), or None."""
    kind = spec.get("type", "str" if "enum" in spec else None)
    if kind is not None and kind not in TYPES:
        import difflib

        meant = _TYPE_ALIASES.get(str(kind).strip().lower()) or next(
            iter(difflib.get_close_matches(str(kind), TYPES, n=1, cutoff=0.6)), None
        )
        hint = f"did you mean '{meant}'?" if meant else "use one of them"
        shown = json.dumps(kind) if not isinstance(kind, str) else repr(kind)
        return ("type",), f"param '{name}': type {shown} is not one of {', '.join(TYPES)} — {hint}"
    if "enum" in spec and (not isinstance(spec["enum"], list) or not spec["enum"]):
        return ("enum",), f"param '{name}': enum must be a non-empty list — write e.g. enum: [small, large]"
    for bound in ("min", "max"):
        if bound in spec and (isinstance(spec[bound], bool) or not isinstance(spec[bound], (int, float))):
            return (bound,), f"param '{name}': {bound} must be a number — write e.g. {bound}: 1"
    if spec.get("default") is not None:
        try:
            typed_value(name, spec["default"], spec)
        except UsageError as exc:
            why = exc.message.removeprefix(f"param '{name}' ")
            return ("default",), f"param '{name}': its default {why} — fix the default, or leave it out"
    return None


def typed_value(name: str, raw: Any, spec: Mapping[str, Any]) -> Any:
    """``raw`` (a -p string, or a value from a file) converted to the declared type and checked."""
    import datetime as dt

    kind = str(spec.get("type", "str"))

    def bad(why: str) -> UsageError:
        return UsageError(f"param '{name}' {why}, got {shown_value(raw)}", hint=f"pass e.g. -p {name}={_example(spec)}")

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
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):  # str(True) would be "True"
                raise UsageError(f"param '{name}' must be text, got {shown_value(raw)}", hint=_text_hint(name, raw))
            value = str(raw)
    except (ValueError, RecursionError):
        raise bad(f"must be {_KIND_WORDS.get(kind, kind)}") from None
    if "enum" in spec and value not in spec["enum"]:
        choices = ", ".join(map(str, spec["enum"]))
        raise UsageError(
            f"param '{name}' must be one of {choices}, got {shown_value(raw)}",
            hint=f"pass e.g. -p {name}={spec['enum'][0]}",
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in spec and value < spec["min"]:
            raise UsageError(
                f"param '{name}' must be at least {spec['min']}, got {shown_value(raw)}",
                hint=f"pass -p {name}={spec['min']} or more",
            )
        if "max" in spec and value > spec["max"]:
            raise UsageError(
                f"param '{name}' must be at most {spec['max']}, got {shown_value(raw)}",
                hint=f"pass -p {name}={spec['max']} or less",
            )
    return value


def _example(spec: Mapping[str, Any]) -> str:
    if spec.get("enum"):
        return str(spec["enum"][0])
    return {"int": "1", "float": "0.5", "bool": "true", "date": "2026-12-06", "datetime": "2026-12-06T03:00:00Z",
            "list": "[1,2]", "dict": '{"a":1}'}.get(str(spec.get("type", "str")), "text")  # fmt: skip
