"""Checks that need a fully typed DagSpec: template references and ``when:`` conditions.

Each check takes the parsed document (for positions) and the spec, and yields Problems.
"""

from __future__ import annotations

from .loader import Checker

DEFAULT_CHECKS: tuple[Checker, ...] = ()
