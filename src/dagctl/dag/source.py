"""The bytes of a file dagctl reads as YAML (a DAG, a schedule file, a params file): read once, and bounded.

Kept apart from :mod:`dagctl.dag.yamlread` (which imports PyYAML) so that the plan cache reads a DAG file
without importing YAML, and both read it the same way: at most :data:`MAX_BYTES` + 1 bytes, whatever the file
is (``/dev/zero`` is refused, not read until memory runs out), and once (``<(cat dag.yaml)`` and
``/dev/stdin`` can be read only once).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from dagctl.errors import Problem, SpecError

MAX_BYTES = 5 * 1024 * 1024
"""The largest file dagctl reads as YAML: 5 MiB."""


def read_source(path: Path | str) -> tuple[bytes, bool]:
    """The file's bytes, and whether it is a regular file (a pipe, a device or ``/dev/stdin`` is not: it may not
    read the same twice, so nothing read from it is cached). A file over :data:`MAX_BYTES`, missing, a folder or
    unreadable is a :class:`~dagctl.errors.SpecError` at its line 1."""
    file = str(path)
    try:
        with open(path, "rb", buffering=0) as handle:  # unbuffered: not a byte past the limit is taken
            info = os.fstat(handle.fileno())
            regular = stat.S_ISREG(info.st_mode)
            if regular and info.st_size > MAX_BYTES:
                raise _too_big(file, info.st_size)
            raw = _read_at_most(handle, MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(file, 1, 1, "file not found", "check the path")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(file, 1, 1, "is a folder, not a file", "give a .yaml file")]) from None
    except PermissionError:
        raise SpecError([Problem(file, 1, 1, "permission denied", "make the file readable")]) from None
    if len(raw) > MAX_BYTES:  # a stream (its size is not known), or a file that grew since
        raise _too_big(file, None)
    return raw, regular


def _read_at_most(handle: io.RawIOBase, size: int) -> bytes:
    """Up to ``size`` bytes of ``handle``: fewer only at its end (a pipe gives what its writer wrote so far)."""
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = handle.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_big(file: str, size: int | None) -> SpecError:
    limit = f"the {MAX_BYTES // 1048576} MiB limit"
    what = f"file is {size / 1048576:.1f} MiB, over {limit}" if size else f"file is over {limit}"
    return SpecError([Problem(file, 1, 1, what, "split it into several files")])
