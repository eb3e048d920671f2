"""Reusable DAG templates: validated YAML files in one folder (``--templates``), ``<name>.yaml`` each.

A template is an ordinary DAG file; its ``params:`` are what a run started from it may set. It is validated
before it is written (every problem with its line and column, as ``dagctl validate`` says them), written with
one atomic rename (or, when it must not replace one, one hard link, which fails if the name is taken), and never
read or written outside its folder. Being plain files, templates can be kept in
git, edited by hand and run with ``dagctl run`` as well.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from dagctl.dag.checks import DEFAULT_CHECKS
from dagctl.dag.spec import DagSpec
from dagctl.dag.specread import dag_from_document
from dagctl.dag.yamlread import parse_document, read_text
from dagctl.errors import DagctlError, cannot
from dagctl.host import gc_paused

from .errors import Conflict, NotFound
from .security import check_name, contained

SUFFIX = ".yaml"


def _facts(name: str, spec: DagSpec) -> dict[str, Any]:
    return {
        "name": name,
        "dag_name": spec.name,
        "description": spec.description,
        "params": dict(spec.params),
        "tasks": [t.id for t in spec.tasks],
    }


def write_atomic(path: Path, text: str, *, replace: bool = True) -> bool:
    """Write ``text`` as ``path`` in one step: readers see the old file or the new one, never a part. Each write
    has a temporary file of its own (``mkstemp`` beside ``path``), so concurrent writes of the same name never
    share one. ``replace``: one rename, the last one wins. Otherwise one hard link, which fails when ``path``
    exists (even when it was made a moment ago by a write at the same time): then nothing is written and the
    answer is False."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot("write", path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a template is an ordinary DAG file
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                raise
            return _claim_then_replace(tmp, path)  # a file system without hard links
        return True
    except OSError as exc:
        raise cannot("write", path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _claim_then_replace(tmp: str, path: Path) -> bool:
    """Where there are no hard links: claim the name with an exclusive create, then rename over it (a reader may
    see it empty for a moment); False when the name is taken."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, path)
    return True


class TemplateStore:
    """The templates folder. Every name is checked (:func:`check_name`) and kept inside the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return contained(self.folder, check_name(name, "template") + SUFFIX, "template")

    def names(self) -> list[str]:
        try:
            files = sorted(os.listdir(self.folder))
        except OSError:
            return []
        return [f[: -len(SUFFIX)] for f in files if f.endswith(SUFFIX) and not f.startswith(".")]

    def list(self) -> list[dict[str, Any]]:
        found = []
        for name in self.names():
            try:
                found.append(self.get(name, with_text=False))
            except DagctlError as exc:  # edited by hand into something invalid: listed, with why
                found.append({"name": name, "valid": False, "problem": str(exc).splitlines()[0]})
        return found

    def get(self, name: str, *, with_text: bool = True) -> dict[str, Any]:
        path = self.path(name)
        if not path.is_file():
            raise NotFound(f"no template '{name}' in {self.folder}", hint="see GET /api/templates")
        text = read_text(path)
        facts = {**_facts(name, self._validate(text, str(path))), "valid": True}
        if with_text:
            facts["yaml"] = text
        return facts

    def save(self, name: str, text: str, *, overwrite: bool = False) -> dict[str, Any]:
        """Validate ``text`` as a DAG, then write it as the template ``name`` (atomically); 409 when the name is
        taken and not ``overwrite`` (of requests at once, one creates it)."""
        path = self.path(name)
        spec = self._validate(text, str(path))
        if path.exists() and not overwrite:
            raise Conflict(f"template '{name}' already exists", hint='send "overwrite": true to replace it')
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cannot("create the templates folder", self.folder, exc) from None
        if not write_atomic(path, text, replace=overwrite):  # made meanwhile, by a request at the same time
            raise Conflict(f"template '{name}' already exists", hint='send "overwrite": true to replace it')
        return {**_facts(name, spec), "valid": True}

    def delete(self, name: str) -> None:
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise NotFound(f"no template '{name}' in {self.folder}", hint="see GET /api/templates") from None
        except OSError as exc:
            raise cannot("delete", path, exc) from None

    @staticmethod
    def _validate(text: str, file: str) -> DagSpec:
        with gc_paused():
            return dag_from_document(parse_document(text, file), DEFAULT_CHECKS)
