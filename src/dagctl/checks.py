"""Checks that need a fully typed DagSpec: template references and ``when:`` conditions.

Each check takes the parsed document (for positions) and the spec, and yields Problems.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import Problem
from .loader import Checker
from .spec import DagSpec
from .yamlread import Document

DEFAULT_CHECKS: tuple[Checker, ...] = ()


def _unused(doc: Document, spec: DagSpec) -> Iterable[Problem]:  # pragma: no cover - placeholder
    return ()
