"""Task outputs: the small dict of facts a task hands to the tasks after it.

A shell task writes its outputs to the file named by ``$DAGCTL_OUTPUT``; :func:`read_output_file` reads it.
A Python task returns a dict; :func:`encode_outputs` checks it. Both enforce the same rules:

* Outputs are strict JSON data (``str`` keys; str, finite numbers, bools, null, lists, objects: no NaN or
  infinity, such as ``1e999``, and no NUL character in text, which no command or environment can carry) and
  at most :data:`OUTPUT_CAP_BYTES` once serialised. Outputs travel in events, state files and worker messages, so
  large data belongs in a file whose *path* is the output.
* Output file format, decided by its first non-blank character:

  - ``{`` — one JSON object, e.g. ``{"rows": 200, "path": "/tmp/x.csv"}``. Values keep their JSON types.
  - anything else — ``key=value`` lines, split at the first ``=``. Key and value are stripped of
    surrounding whitespace; values stay strings. Blank lines and lines starting with ``#`` are ignored.
    A repeated key keeps its last value (like a shell assignment).
  - a missing or empty file — no outputs, ``{}``.

Problems raise :class:`~dagctl.errors.TaskError`: the task ran but its outputs are unusable, so the attempt
fails with that one-line message.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from dagctl.dag.params import unfit_value
from dagctl.errors import TaskError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OUTPUT_CAP_BYTES = 1024 * 1024
_MIB = 1024 * 1024


def format_size(size: int) -> str:
    """``1.3 MiB``; never rounds a size that is over the cap down to ``1.0 MiB``."""
    text = f"{size / _MIB:.1f} MiB"
    if size > OUTPUT_CAP_BYTES and text == f"{OUTPUT_CAP_BYTES / _MIB:.1f} MiB":
        return f"{size:,} bytes"
    return text


def _over_cap(what: str, size: int, verb: str = "output") -> TaskError:
    cap = OUTPUT_CAP_BYTES // _MIB
    return TaskError(
        f"{what} {format_size(size)}, over the {cap} MiB cap — write large data to a file and {verb} its path"
    )


def read_output_file(path: str | Path) -> dict[str, Any]:
    """The outputs a shell task wrote to ``$DAGCTL_OUTPUT`` (see the module docstring for the format)."""
    file = os.fspath(path)
    if not os.access(file, os.F_OK):  # most tasks write no outputs: one syscall, no exception raised
        return {}
    try:
        size = os.stat(file).st_size
        if size > OUTPUT_CAP_BYTES:
            raise _over_cap("output file is", size)
        with open(file, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise TaskError(f"output file {file} is a folder — write key=value lines or a JSON object to it") from None
    except PermissionError:
        raise TaskError(f"output file {file} is not readable — check its permissions") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaskError(
            f"output file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}) — "
            "write key=value lines or a JSON object"
        ) from None
    if len(text.encode()) > OUTPUT_CAP_BYTES:  # the file grew between stat and read
        raise _over_cap("output file is", len(text.encode()))
    stripped = text.strip()
    if not stripped:
        return {}
    outputs = _parse_json(stripped) if stripped.startswith("{") else _parse_lines(text)
    _check_values(outputs)
    return outputs


def _check_values(outputs: dict[str, Any]) -> None:
    found = unfit_value(outputs)
    if found is not None:
        where, why = found
        raise TaskError(
            f"output '{where[1:]}' is {why} — outputs are JSON data: give finite numbers, and text without NUL"
        )


def _parse_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise TaskError(
            f"output file starts with '{{' but is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
            " — write one JSON object, or key=value lines"
        ) from None
    except ValueError as exc:
        raise TaskError(f"output file is not valid JSON: {exc} — use null or a string instead") from None
    except RecursionError:
        raise TaskError("output file nests JSON too deeply — keep outputs a flat object of values") from None
    if not isinstance(data, dict):  # pragma: no cover - text starting with '{' parses to an object or fails
        raise TaskError("output file must hold one JSON object")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_lines(text: str) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.strip()
        if not content or content.startswith("#"):
            continue
        key, sep, value = content.partition("=")
        if not sep:
            shown = content if len(content) <= 60 else content[:57] + "..."
            raise TaskError(
                f"output file line {number} has no '=': {shown!r} — write key=value lines "
                "(or one JSON object); lines starting with # are comments"
            )
        key = key.strip()
        if not key:
            raise TaskError(f"output file line {number} has an empty key before '=' — write key=value")
        outputs[key] = value.strip()
    return outputs


def encode_outputs(outputs: dict[str, Any]) -> str:
    """Serialise a Python task's outputs as strict JSON, or raise TaskError saying what is wrong and where."""
    bad_keys = [k for k in outputs if not isinstance(k, str)]
    if bad_keys:
        key = bad_keys[0]
        raise TaskError(f"output keys must be strings; got {key!r} ({type(key).__name__})")
    _check_values(outputs)
    try:
        encoded = json.dumps(outputs, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TaskError(
            f"outputs are not JSON-serialisable: {_first_bad_key(outputs, exc)} — "
            "return str, numbers, bools, None, lists and dicts (e.g. str(path), date.isoformat())"
        ) from None
    size = len(encoded.encode())
    if size > OUTPUT_CAP_BYTES:
        raise _over_cap("outputs are", size, "return")
    return encoded


def _first_bad_key(outputs: dict[str, Any], exc: Exception) -> str:
    for key, value in outputs.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as inner:
            if isinstance(value, float) and not math.isfinite(value):
                return f"key {key!r} is {value} (NaN and infinity are not JSON)"
            return f"key {key!r}: {inner}"
    return str(exc)  # pragma: no cover - the whole dict failed, so one of its values did
