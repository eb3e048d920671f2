"""What a run adds to its tasks' environment besides ``env:``: ``.env`` files and secrets, and the masking
that keeps secret values out of what dagctl writes.

* ``env_file:`` (DAG key, relative to the DAG file) and ``dagctl run --env-file FILE`` are read with
  python-dotenv when the run starts; their variables come first, then the DAG's ``env:``, then the task's.
* ``secrets:`` (DAG and task level) name environment variables whose values come ``from_env`` (a variable of
  dagctl's own environment) or ``from_file`` (a file's content, trailing newline removed). They are read when
  the run starts: a missing one stops the run before any task, naming it. They are given to the tasks as
  environment variables, never templated, and their values are replaced by ``***`` in task logs, events,
  ``show``, JUnit, notifications and the terminal (:class:`Masker`).

What masking cannot catch: a value shorter than :data:`MIN_MASKED` characters (it would mask ordinary
words), a secret split across lines or written in pieces, or one the task transforms (base64, hex, URL
encoding, upper case); and a task log is masked when its attempt ends, so ``logs --follow`` of a running
task can show a secret the task prints (docs/operating.md).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dagctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from dagctl.dag.plan import Plan

MIN_MASKED = 4
MASK = "***"


def load_env_files(paths: Iterable[str | Path], base: Path) -> dict[str, str]:
    """The variables of ``.env`` files, later files winning; a missing or unreadable file is a UsageError."""
    found: dict[str, str] = {}
    for raw in paths:
        path = Path(raw) if Path(raw).is_absolute() else base / raw
        if not path.is_file():
            raise UsageError(f"env file {path} not found", hint="fix env_file: / --env-file, or create the file")
        try:
            from dotenv import dotenv_values
        except ImportError:
            raise UsageError(
                "env files need python-dotenv", hint="pip install python-dotenv (it is in dagctl's dependencies)"
            ) from None
        for key, value in _read_env_file(dotenv_values, path).items():
            if value is not None:
                found[key] = value
    return found


def _read_env_file(read: Any, path: Path) -> dict[str, str | None]:
    """``read(path)`` (python-dotenv's ``dotenv_values``), with a line it cannot parse (which it only logs, and
    skips) made a UsageError naming the file and the line."""
    import logging
    import re

    skipped: list[str] = []

    class Catch(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            skipped.append(record.getMessage())
            return False

    logger = logging.getLogger("dotenv.main")
    catch = Catch()
    logger.addFilter(catch)
    try:
        values: dict[str, str | None] = dict(read(path))
    finally:
        logger.removeFilter(catch)
    if skipped:
        line = re.search(r"line (\d+)", skipped[0])
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise UsageError(
            f"{where}: env file line is not NAME=value", hint="fix the line (quote a value with spaces), or remove it"
        )
    return values


def read_secret(name: str, source: Mapping[str, str], base: Path, environ: Mapping[str, str]) -> str:
    if "from_env" in source:
        value = environ.get(source["from_env"])
        if value is None:
            raise UsageError(
                f"secret {name}: environment variable {source['from_env']} is not set",
                hint=f"export {source['from_env']}=... before the run, or read it from_file:",
            )
        return value
    path = Path(source["from_file"])
    path = path if path.is_absolute() else base / path
    try:
        return path.read_text().removesuffix("\n")
    except OSError as exc:
        raise UsageError(
            f"secret {name}: cannot read {path}: {exc.strerror or exc}", hint="fix from_file:, or its permissions"
        ) from None


def run_environment(
    plan: Plan, extra_files: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None
) -> RunEnvironment | None:
    """The extra environment a run of ``plan`` gives its tasks (``--env-file`` adds ``extra_files``), or None when
    it has none: no ``.env`` file and no secret. A missing file or secret is a UsageError naming it. The runner and
    the dry run (whose cache prediction keys tasks with it) both get it here, so they see the same variables."""
    extra = list(extra_files)
    tasks = [*plan.tasks.values(), *plan.handlers.values()]
    if not (plan.dag.secrets or plan.dag.env_files or extra or any(t.secrets for t in tasks)):
        return None
    return RunEnvironment(plan, extra, environ)


class RunEnvironment:
    """The extra environment of one run: file variables for every task, secrets per task, and the masker."""

    def __init__(self, plan: Plan, extra_files: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None):
        source = plan.dag.source_path
        base = Path(source).resolve().parent if source else Path.cwd()
        env = os.environ if environ is None else environ
        self.files = load_env_files([*plan.dag.env_files], base)
        self.files.update(load_env_files(list(extra_files), Path.cwd()))
        self.dag_secrets = {k: read_secret(k, v, base, env) for k, v in plan.dag.secrets.items()}
        self.task_secrets: dict[str, dict[str, str]] = {}
        for task in [*plan.tasks.values(), *plan.handlers.values()]:
            if task.secrets:
                self.task_secrets[task.id] = {k: read_secret(k, v, base, env) for k, v in task.secrets.items()}
        values = [*self.dag_secrets.values(), *(v for s in self.task_secrets.values() for v in s.values())]
        self.masker = Masker(values)

    def secrets_of(self, task_id: str) -> dict[str, str]:
        own = self.task_secrets.get(task_id)
        return {**self.dag_secrets, **own} if own else self.dag_secrets


class Masker:
    """Replaces secret values with ``***``: in text, in event fields, in log files."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted({v for v in values if len(v) >= MIN_MASKED}, key=len, reverse=True)
        self._bytes = [v.encode() for v in self.values]

    def __bool__(self) -> bool:
        return bool(self.values)

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def value(self, value: Any) -> Any:
        """Strings anywhere inside dicts and lists masked; everything else as it is."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def file(self, path: str | Path) -> None:
        """Mask a log file in place (atomically: a reader sees the old or the new file, whole)."""
        try:
            data = Path(path).read_bytes()
        except OSError:
            return
        masked = data
        for raw in self._bytes:
            masked = masked.replace(raw, MASK.encode())
        if masked == data:
            return
        tmp = Path(f"{path}.masking")
        try:
            tmp.write_bytes(masked)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
