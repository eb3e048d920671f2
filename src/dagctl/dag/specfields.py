"""The values of a DAG file's keys, as annotated types with their checks: names, durations (and the timeouts
and cache lifetimes that may not be 0), cache globs, environment names and values, params. No IO.

The models of :mod:`dagctl.dag.spec` are built of these; a value's own rule lives here, a rule that needs other
keys of the same mapping lives with its model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints, WithJsonSchema

from .durations import MAX_DURATION_S, parse_duration
from .names import NAME_PATTERN
from .params import unfit_value

MAX_ARG_BYTES = 128 * 1024 - 1
"""The longest single argument or environment entry Linux passes to a program (MAX_ARG_STRLEN, with its NUL)."""


def _not_a_folder_name(value: str) -> str:
    if value in (".", ".."):
        raise ValueError(
            f"{value!r} is not a valid name — ids and names become file names, where '.' and '..' mean folders; "
            "use 1-64 letters, digits, '_', '.' or '-'"
        )
    return value


Name = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=NAME_PATTERN),
    AfterValidator(_not_a_folder_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN, "not": {"enum": [".", ".."]}}),
]

_DIGITS = "[0-9](?: *[0-9])*"
_NUMBER = f"{_DIGITS}(?: *\\. *{_DIGITS})?"
_UNIT = "(?:[mM] *[sS]|[sSmMhHdDwW])"
DURATION_TEXT = f"^\\s*(?:{_NUMBER}|{_NUMBER} *{_UNIT}(?: *{_NUMBER} *{_UNIT})*)\\s*$"
"""The duration strings :func:`~dagctl.dag.durations.parse_duration` reads, as a JSON Schema pattern: numbers and
units in any case, with spaces anywhere inside (``"1h 30m"``, ``"30 s"``, ``"2D"``)."""


def duration_schema(*, zero: bool) -> dict[str, Any]:
    """A duration's JSON Schema: seconds (0 to 365 days) or a duration string; not 0 unless ``zero``. A string
    without a digit other than 0 is a duration of nothing."""
    number: dict[str, Any] = {"type": "number", "minimum" if zero else "exclusiveMinimum": 0, "maximum": MAX_DURATION_S}
    text: dict[str, Any] = {"type": "string", "pattern": DURATION_TEXT}
    if not zero:
        text["not"] = {"pattern": "^[^1-9]*$"}
    return {"anyOf": [number, text], "description": 'Seconds, or a duration such as "30s", "10m", "1h30m".'}


Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(duration_schema(zero=True))]


def _no_time(key: str, effect: str, instead: str, example: str) -> Any:
    """A check that a duration given for ``key`` is not 0: a limit of nothing is a mistake, and leaving the key
    out is how "no limit" is written."""

    def check(value: float) -> float:
        if value == 0:
            raise ValueError(f"0 {effect} — leave {key}: out {instead}, or give a duration such as {example}")
        return value

    return AfterValidator(check)


Timeout = Annotated[
    Duration,
    _no_time("timeout", "would stop it at once", "for no time limit", "10m"),
    WithJsonSchema(duration_schema(zero=False)),
]
"""A Duration that is not 0: a timeout of nothing is a mistake (no timeout is written by leaving the key out)."""
Ttl = Annotated[
    Duration,
    _no_time("ttl", "would let no entry be used (each expires at once)", "to keep entries for ever", "7d"),
    WithJsonSchema(duration_schema(zero=False)),
]
"""A cache entry's lifetime: not 0, which would turn the cache off without saying so."""


def _glob(pattern: str) -> str:
    """A cache ``inputs`` pattern that can match files: one the glob would refuse, or that names no file (``""``,
    ``.``, ``/``), used to turn the task's cache off at run time without a word."""
    from pathlib import PurePath

    path = PurePath(pattern.strip())
    parts = path.parts[1:] if path.anchor else path.parts
    if not pattern.strip() or not parts:
        shown = "an empty glob" if not pattern.strip() else f"{pattern!r} names a folder, not files"
        raise ValueError(f"{shown} — give a pattern of files such as data/*.csv, or remove the entry")
    if any("**" in part and part != "**" for part in parts):
        raise ValueError(f"{pattern!r}: ** must be a whole part of the path — write e.g. data/**/*.csv")
    return pattern


Glob = Annotated[str, AfterValidator(_glob), WithJsonSchema({"type": "string", "pattern": "\\S"})]
Retries = Annotated[int, Strict(), Field(ge=0, le=100)]
Backoff = Annotated[float, Strict(), Field(ge=1.0, le=100.0)]


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValueError("environment values must be strings or numbers — quote the value")


def _env_name(name: str) -> str:
    if not name or "=" in name or "\x00" in name:
        shown = repr(name)
        raise ValueError(
            f"{shown} is not an environment variable name"
            f" ({'empty' if not name else 'it holds ' + ('=' if '=' in name else 'a NUL character')})"
            " — use letters, digits and '_', e.g. LC_ALL"
        )
    return name


def arg_size(what: str, text: str) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_ARG_BYTES:
        raise ValueError(
            f"{what} is {size:,} bytes, over the {MAX_ARG_BYTES + 1:,} the system passes to a program"
            " — put the text in a file and pass its path"
        )
    return text


EnvValue = Annotated[
    str,
    BeforeValidator(_env_value),
    AfterValidator(lambda v: arg_size("environment value", v)),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
ENV_NAME_SCHEMA = {"type": "string", "minLength": 1, "pattern": "^[^=]+$"}
EnvName = Annotated[str, AfterValidator(_env_name), WithJsonSchema(ENV_NAME_SCHEMA)]
Env = Annotated[
    dict[EnvName, EnvValue],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": ENV_NAME_SCHEMA,
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }
    ),
]


def _json_params(value: dict[str, Any]) -> dict[str, Any]:
    found = unfit_value(value)
    if found is not None:
        where, why = found
        raise ValueError(f"params{where} is {why} — params are JSON: give a finite number, or text without NUL")
    return value


Params = Annotated[dict[str, Any], AfterValidator(_json_params)]
